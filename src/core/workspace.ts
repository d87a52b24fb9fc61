import { readFileSync, realpathSync, statSync, type Stats } from 'node:fs'
import path from 'node:path'
import { UserError } from './errors.js'
import { redactUrl } from './secrets.js'
import type { RegistryLocation } from './registry/location.js'

/**
 * Where a run may read and write. A manifest and its data often come from a pull request, and the job
 * that reads them holds tokens: a `data: /proc/self/environ` (or a symlink to it) would print the job's
 * environment into the summary. So every path from the manifest, the inputs or the flags must resolve,
 * after symlinks and `..`, inside one of the roots, unless the person who wrote the workflow or typed
 * the command opted out. The manifest cannot opt out: it is the part a pull request controls.
 */
export interface Confinement {
  /** Absolute folders; empty means the user opted out and any path is allowed. */
  roots: string[]
  /** How messages name the opt-out: `--allow-outside-workspace`, `input allow-outside-workspace`. */
  optOut: string
}

/** The opt-out's name, the same for the action input and the CLI flag. */
export const ALLOW_OUTSIDE_WORKSPACE = 'allow-outside-workspace'

/** What an adapter knows of the confinement: its roots, the opt-out, and whether the manifest's folder is a root. */
export interface WorkspacePolicy {
  roots: string[]
  allowOutside: boolean
  optOut: string
  /** The CLI's rule: the manifest's folder tree is part of the workspace (the action's is the repository alone). */
  manifestFolder: boolean
}

/** The confinement of a run under `policy` whose manifest (given explicitly) is `manifestPath`. */
export function confinementFor(policy: WorkspacePolicy, manifestPath?: string): Confinement {
  const roots = [...policy.roots, ...(policy.manifestFolder && manifestPath ? [path.dirname(path.resolve(manifestPath))] : [])]
  return { roots: policy.allowOutside ? [] : [...new Set(roots.map((r) => realOrResolved(r)))], optOut: policy.optOut }
}

/**
 * `p` with symlinks resolved; for a path that does not exist yet (an output), its nearest existing
 * folder resolved and the rest appended, so a symlinked folder cannot carry an output elsewhere.
 */
export function realOrResolved(p: string): string {
  const abs = path.resolve(p)
  const rest: string[] = []
  let at = abs
  for (;;) {
    try {
      return path.join(realpathSync(at), ...rest.reverse())
    } catch {
      const up = path.dirname(at)
      if (up === at) return abs
      rest.push(path.basename(at))
      at = up
    }
  }
}

const isUrl = (p: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(p)

/** True when `p` (absolute) is `root` or below it. */
function within(p: string, root: string): boolean {
  const rel = path.relative(root, p)
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel))
}

/**
 * Refuses `p` (a file or folder the run reads or writes) when it resolves outside every root.
 * `where` names where the path was given: the manifest and its key, or the input/flag.
 */
export function confine(p: string | undefined, rule: Confinement | undefined, where: { file?: string; field: string }): void {
  if (!p || !rule || rule.roots.length === 0 || isUrl(p)) return
  const real = realOrResolved(p)
  if (rule.roots.some((root) => within(real, root))) return
  const shown = real === path.resolve(p) ? p : `${p} (which resolves to ${real})`
  const roots = rule.roots.length === 1 ? rule.roots[0] : rule.roots.join(' or ')
  throw new UserError(
    `${where.file ? `${where.file}: ` : ''}${where.field}: ${shown} is outside the workspace (${roots}); modelgate reads and writes only inside it. Use a path inside it, or, if every path of this run is trusted, opt out with ${rule.optOut}`,
    { file: where.file, field: where.field },
  )
}

/**
 * Before any work starts: every output inside the workspace, none of them on a file the run reads (after
 * symlinks and `..`: it would be destroyed), and no two on one path (one would overwrite the other).
 */
export function checkOutputs(
  outputs: { path?: string; label: string }[],
  inputs: { path: string; what: string }[],
  rule: Confinement | undefined,
  cwd: string,
): void {
  const real = (p: string) => realOrResolved(path.resolve(cwd, p))
  const read = inputs.map((f) => ({ ...f, real: real(f.path) }))
  const seen = new Map<string, string>()
  for (const o of outputs) {
    if (!o.path) continue
    confine(path.resolve(cwd, o.path), rule, { field: o.label })
    const r = real(o.path)
    const hit = read.find((i) => i.real === r)
    if (hit)
      throw new UserError(`${o.label} ${o.path}: is ${hit.what}, which this run reads; give the output another path`, {
        file: o.path,
        field: o.label,
      })
    const other = seen.get(r)
    if (other)
      throw new UserError(`${o.label} ${o.path}: is also given as ${other}; give each output its own path`, {
        file: o.path,
        field: o.label,
      })
    seen.set(r, o.label)
  }
}

/**
 * The folders a registry at `registry` reads and writes on this machine, for checkOutputsOutside: a
 * local registry's root (only the model's folder, `<root>/<name>`, when the root holds the whole
 * workspace: every output would be in it), and a git registry's repository data (its `.git`, and the
 * folder a `.git` file points to). None for a remote registry.
 */
export function registryFolders(registry: RegistryLocation, name: string, workspace: string): { path: string; what: string }[] {
  if (registry.kind === 'local') {
    const root = path.resolve(registry.root)
    if (!within(realOrResolved(workspace), realOrResolved(root))) return [{ path: root, what: `the local registry ${root}` }]
    const dir = path.join(root, ...name.split('/'))
    return [{ path: dir, what: `${dir}, the folder of ${name} in the local registry ${root}` }]
  }
  if (registry.kind !== 'git') return []
  const data = (p: string) => ({ path: p, what: `the git registry's repository data ${p}` })
  // The repository's .git is in the registry's folder or in the nearest folder above it that has one.
  for (let at = path.resolve(registry.repoDir); ; at = path.dirname(at)) {
    const dotGit = path.join(at, '.git')
    let stat: Stats
    try {
      stat = statSync(dotGit)
    } catch {
      if (path.dirname(at) === at) return [data(path.join(path.resolve(registry.repoDir), '.git'))]
      continue
    }
    if (!stat.isFile()) return [data(dotGit)]
    // A worktree or a submodule: .git is a file naming the git folder.
    let text = ''
    try {
      text = readFileSync(dotGit, 'utf8')
    } catch {
      // unreadable: git cannot use it either
    }
    const gitDir = /^gitdir:\s*(.+?)\s*$/m.exec(text)?.[1]
    return gitDir ? [data(dotGit), data(path.resolve(at, gitDir))] : [data(dotGit)]
  }
}

/**
 * Before any work starts, beside checkOutputs: no output at or below a folder the run reads and
 * writes (a registry's, an environment's), after symlinks and `..`: it would overwrite a version's
 * record or card, or be overwritten.
 */
export function checkOutputsOutside(
  outputs: { path?: string; label: string }[],
  folders: { path: string; what: string }[],
  cwd: string,
): void {
  const real = (p: string) => realOrResolved(path.resolve(cwd, p))
  const dirs = folders.map((f) => ({ ...f, real: real(f.path) }))
  for (const o of outputs) {
    if (!o.path) continue
    const r = real(o.path)
    const hit = dirs.find((d) => within(r, d.real))
    if (hit)
      throw new UserError(
        `${o.label} ${o.path}: is ${r === hit.real ? '' : 'inside '}${hit.what}, which this run reads and writes; give the output a path outside it`,
        { file: o.path, field: o.label },
      )
  }
}

/** A message with the workspace's absolute prefix removed, so paths read as the user wrote them. */
export function stripWorkspace(text: string, workspace: string): string {
  return text.split(`${path.resolve(workspace)}${path.sep}`).join('')
}

/** Paths in messages: relative to the workspace when inside it, so they read like the user wrote them. */
export function displayPath(p: string, cwd: string): string {
  // A URL is not a path: path.relative would fold its `//` into `http:/host`. Shown without credentials.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) return redactUrl(p)
  const rel = path.relative(cwd, p)
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p
}

/** Runs `fn`; a UserError out of it names files as the user wrote them: relative to the workspace, not /home/runner/work/…. */
export async function withWorkspaceMessages<T>(workspace: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    if (e instanceof UserError) throw new UserError(stripWorkspace(e.message, workspace), { file: e.file, field: e.field, cause: e.cause })
    throw e
  }
}
