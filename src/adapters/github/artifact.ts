import { copyFileSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'
import { UserError } from '../../core/errors.js'
import type { ArtifactPort, ArtifactUploadResult, DownloadedArtifact } from '../../ports/sinks.js'

/** Characters the Actions artifact service rejects in names; `/` and `\` would also escape a directory. */
const INVALID_NAME = /["':<>|*?\r\n\\/]/
/** The same characters minus the two wildcards a download pattern may use. */
const INVALID_PATTERN = /["':<>|\r\n\\/]/

function isValidArtifactName(name: string): boolean {
  return !(name.trim() === '' || name === '.' || name === '..' || INVALID_NAME.test(name))
}

/** One rule for artifact names whichever port stores them, so a name that works locally works on GitHub. */
export function validateArtifactName(name: string): void {
  if (!isValidArtifactName(name)) {
    throw new UserError(
      `Invalid artifact name ${JSON.stringify(name)}: it must not be empty nor contain any of " ' : < > | * ? \\ / or a line break.`,
      { field: 'artifact-name' },
    )
  }
}

/**
 * Checks a download pattern by the artifact-name rules, `*` (any run of characters) and `?` (one
 * character) allowed, and returns the whole-name matcher it stands for.
 */
export function artifactNamePattern(pattern: string): RegExp {
  if (pattern.trim() === '' || pattern === '.' || pattern === '..' || INVALID_PATTERN.test(pattern)) {
    throw new UserError(
      `Invalid artifact name pattern ${JSON.stringify(pattern)}: it must not be empty nor contain any of " ' : < > | \\ / or a line break; * and ? are wildcards.`,
      { field: 'artifact-name' },
    )
  }
  const source = [...pattern].map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')
  return new RegExp(`^${source}$`, 'su')
}

/** Orders by UTF-16 code units, as `Array.prototype.sort` does, whatever the locale. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function isInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child)
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative)
}

/**
 * Every file under `root`, absolute and sorted. Refuses symbolic links and anything but files and
 * directories, and any file whose real path is not inside `root`'s, so nothing listed can lead out.
 */
function filesInside(root: string, artifact: string): string[] {
  const realRoot = realpathSync(root)
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isSymbolicLink()) {
        throw new UserError(`Artifact ${artifact} contains a symbolic link, ${full}: refusing it.`, { file: full })
      }
      if (entry.isDirectory()) {
        walk(full)
      } else if (entry.isFile() && isInside(root, full) && isInside(realRoot, realpathSync(full))) {
        files.push(full)
      } else {
        throw new UserError(`Artifact ${artifact} contains ${full}, which is not a regular file inside ${root}: refusing it.`, {
          file: full,
        })
      }
    }
  }
  walk(root)
  return files.sort(byCodeUnits)
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

    async download(pattern: string, dir: string): Promise<DownloadedArtifact[]> {
      const matcher = artifactNamePattern(pattern)
      const root = path.resolve(dir)
      const { DefaultArtifactClient } = await import('@actions/artifact')
      const client = new DefaultArtifactClient()
      // The current run's artifacts through the results service; `latest` keeps one per name.
      const { artifacts } = await client.listArtifacts({ latest: true })
      const matching = artifacts.filter((a) => matcher.test(a.name)).sort((a, b) => byCodeUnits(a.name, b.name))
      const downloaded: DownloadedArtifact[] = []
      for (const artifact of matching) {
        // The name becomes a directory: the service's answer gets the same checks as ours.
        validateArtifactName(artifact.name)
        const target = path.join(root, artifact.name)
        rmSync(target, { recursive: true, force: true })
        mkdirSync(target, { recursive: true })
        const { digestMismatch } = await client.downloadArtifact(artifact.id, { path: target, expectedHash: artifact.digest })
        if (digestMismatch) {
          rmSync(target, { recursive: true, force: true })
          throw new Error(`Artifact ${artifact.name} (id ${artifact.id}) does not match its recorded digest ${artifact.digest}.`)
        }
        let files: string[]
        try {
          files = filesInside(target, artifact.name)
        } catch (e) {
          rmSync(target, { recursive: true, force: true })
          throw e
        }
        downloaded.push({ name: artifact.name, id: artifact.id, dir: target, files })
      }
      return downloaded
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

    async download(pattern: string, dest: string): Promise<DownloadedArtifact[]> {
      const matcher = artifactNamePattern(pattern)
      const store = path.resolve(dir)
      const target = path.resolve(dest)
      // Only directories `upload` could have made; a store that was never written to holds nothing.
      const names = (statSync(store, { throwIfNoEntry: false })?.isDirectory() ? readdirSync(store, { withFileTypes: true }) : [])
        .filter((entry) => entry.isDirectory() && isValidArtifactName(entry.name) && matcher.test(entry.name))
        .map((entry) => entry.name)
        .sort(byCodeUnits)
      const downloaded: DownloadedArtifact[] = []
      for (const name of names) {
        const source = path.join(store, name)
        const destination = path.join(target, name)
        const files = filesInside(source, name)
        if (destination !== source) {
          if (isInside(source, destination) || isInside(destination, source)) {
            throw new UserError(`Cannot download artifact ${name} into ${destination}: it overlaps the store ${source}.`, {
              file: destination,
            })
          }
          rmSync(destination, { recursive: true, force: true })
          mkdirSync(destination, { recursive: true })
          for (const file of files) {
            const copy = path.join(destination, path.relative(source, file))
            mkdirSync(path.dirname(copy), { recursive: true })
            copyFileSync(file, copy)
          }
        }
        downloaded.push({ name, dir: destination, files: filesInside(destination, name) })
      }
      return downloaded
    },
  }
}
