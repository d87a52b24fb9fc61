import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'
import { UserError } from '../../core/errors.js'
import type { ArtifactPort, ArtifactUploadResult } from '../../ports/sinks.js'

/** Characters the Actions artifact service rejects in names; `/` and `\` would also escape a directory. */
const INVALID_NAME = /["':<>|*?\r\n\\/]/

/** One rule for artifact names whichever port stores them, so a name that works locally works on GitHub. */
export function validateArtifactName(name: string): void {
  if (name.trim() === '' || name === '.' || name === '..' || INVALID_NAME.test(name)) {
    throw new UserError(
      `Invalid artifact name ${JSON.stringify(name)}: it must not be empty nor contain any of " ' : < > | * ? \\ / or a line break.`,
      { field: 'artifact-name' },
    )
  }
}

/** The path of `file` relative to `rootDir`, checked to be an existing file inside the root. */
function relativeInside(rootDir: string, file: string): string {
  const absolute = path.resolve(rootDir, file)
  const relative = path.relative(rootDir, absolute)
  if (relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
    throw new UserError(`Cannot store ${file} in an artifact: it is not inside ${rootDir}.`, { file })
  }
  if (!statSync(absolute, { throwIfNoEntry: false })?.isFile()) {
    throw new UserError(`Cannot store ${file} in an artifact: it is not a file.`, { file })
  }
  return relative
}

/** Uploads through the Actions artifact service; only works inside a workflow run. */
export function createGitHubArtifactPort(): ArtifactPort {
  return {
    async upload(name: string, files: string[], rootDir: string): Promise<ArtifactUploadResult> {
      validateArtifactName(name)
      // The same containment rules as the directory port; the client itself resolves against the working directory.
      const root = path.resolve(rootDir)
      const absolute = files.map((file) => path.join(root, relativeInside(root, file)))
      // Loaded on use: the client pulls in the Azure storage SDK, which local runs never need.
      const { DefaultArtifactClient } = await import('@actions/artifact')
      const { id } = await new DefaultArtifactClient().uploadArtifact(name, absolute, root)
      const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_RUN_ID: runId } = process.env
      const location =
        server && repository && runId && id !== undefined
          ? `${server}/${repository}/actions/runs/${runId}/artifacts/${id}`
          : `artifact ${name}`
      return { id, location }
    },
  }
}

/**
 * Stores artifacts as directories, `dir/<name>/<path relative to rootDir>`: the local and CLI
 * stand-in for the artifact service. Uploading a name again replaces its earlier contents.
 */
export function createDirectoryArtifactPort(dir: string): ArtifactPort {
  return {
    async upload(name: string, files: string[], rootDir: string): Promise<ArtifactUploadResult> {
      validateArtifactName(name)
      const root = path.resolve(rootDir)
      const relatives = files.map((file) => relativeInside(root, file))
      const destination = path.resolve(dir, name)
      rmSync(destination, { recursive: true, force: true })
      for (const relative of relatives) {
        const target = path.join(destination, relative)
        mkdirSync(path.dirname(target), { recursive: true })
        copyFileSync(path.join(root, relative), target)
      }
      mkdirSync(destination, { recursive: true })
      return { location: destination }
    },
  }
}
