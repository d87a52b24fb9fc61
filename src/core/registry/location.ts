import path from 'node:path'
import { UserError } from '../errors.js'

/** Where versions are recorded, parsed from `registry` (input, flag or manifest). */
export type RegistryLocation =
  | { kind: 'local'; root: string }
  | { kind: 'git'; repoDir: string; remote?: string }
  | { kind: 'oci'; reference: string }
  | { kind: 'mlflow'; trackingUri: string }

export const DEFAULT_REGISTRY = 'local:.modelgate/registry'

/**
 * `local:<folder>`, `git` / `git:<repository folder>`, `oci://host/prefix`, or `mlflow+http(s)://tracking-server`. Relative folders
 * are resolved against `baseDir` (the workspace for inputs, the manifest's folder for the manifest).
 */
export function parseRegistryUri(uri: string, baseDir: string, where = 'registry', file?: string): RegistryLocation {
  const text = uri.trim()
  if (text.startsWith('local:')) {
    const dir = text.slice('local:'.length)
    if (!dir) throw new UserError(`${where}: local: needs a folder, e.g. local:.modelgate/registry`, { file, field: where })
    return { kind: 'local', root: path.resolve(baseDir, dir) }
  }
  if (text === 'git') return { kind: 'git', repoDir: baseDir }
  if (text.startsWith('git:')) return { kind: 'git', repoDir: path.resolve(baseDir, text.slice('git:'.length) || '.') }
  if (text.startsWith('oci://')) {
    if (!/^oci:\/\/[^/\s]+\/[a-z0-9]/.test(text)) {
      throw new UserError(`${where}: '${uri}' needs a repository after the host, e.g. oci://ghcr.io/owner/models`, {
        file,
        field: where,
      })
    }
    return { kind: 'oci', reference: text }
  }
  if (/^mlflow\+https?:\/\/[^/\s]+/.test(text)) return { kind: 'mlflow', trackingUri: text.slice('mlflow+'.length).replace(/\/+$/, '') }
  throw new UserError(
    `${where}: '${uri}' is not a registry: use local:<folder>, git, git:<repository folder>, oci://<registry>/<prefix> or mlflow+https://<tracking server>`,
    { file, field: where },
  )
}

export function describeLocation(loc: RegistryLocation): string {
  if (loc.kind === 'local') return `local:${loc.root}`
  if (loc.kind === 'git') return `git:${loc.repoDir}`
  return loc.kind === 'oci' ? loc.reference : `mlflow+${loc.trackingUri}`
}
