import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs'
import { LineCounter, parseDocument, type Node } from 'yaml'
import type { z } from 'zod'
import { assertText, fileProblem, shownName } from '../data/files.js'
import { UserError, errorText } from '../errors.js'
import { manifestSchema, type Manifest } from './schema.js'

export const DEFAULT_MANIFEST = 'modelgate.yml'

/**
 * The most bytes a manifest may have: 1 MiB. A hand-written manifest is a few KiB (the longest, with
 * slices and gates for many groups, tens); a file past 1 MiB is another file given by mistake (a data
 * set, a log), and parsing it whole would hold several times its size in YAML nodes.
 */
export const MAX_MANIFEST_BYTES = 1024 * 1024

/**
 * How many times the manifest's aliases may be expanded while it is turned into a value (the yaml
 * library's `maxAliasCount`, its default made explicit): an anchor reused for a few gates or slices
 * is far below it, while a "billion laughs" document of nested aliases expands a few hundred bytes
 * into billions of nodes.
 */
export const MAX_MANIFEST_ALIASES = 100

const MIB = 1024 * 1024

/** Reads and validates a manifest (`displayName` is how messages name it: relative to the workspace). Every problem names the file, the path inside it, its line, and what was expected. */
export function loadManifest(file: string, displayName: string = file, givenBy?: string): Manifest {
  if (!existsSync(file)) {
    // The CLI resolves a relative --config from the working directory, the action from the workspace.
    const where = givenBy?.startsWith('--') ? 'the working directory' : 'the repository root (the workspace)'
    throw new UserError(
      `${displayName}: manifest not found; check the path ${givenBy ? `given with ${givenBy}` : '(config input or --config)'}, relative to ${where}`,
      { file: displayName },
    )
  }
  const bytes = readManifestBytes(file, displayName)
  assertText(displayName, bytes)
  return parseManifest(bytes.toString('utf8'), displayName)
}

/**
 * The manifest's bytes, refused past MAX_MANIFEST_BYTES: a regular file by its size before a byte is
 * read, anything else (a pipe, a device) once the limit is crossed, so no input is held whole.
 */
function readManifestBytes(file: string, displayName: string): Buffer {
  const tooBig = (what: string) => new UserError(`${displayName}: the manifest is ${what}`, { file: displayName })
  let fd: number | undefined
  try {
    fd = openSync(file, 'r')
    const stat = fstatSync(fd)
    if (stat.isFile() && stat.size > MAX_MANIFEST_BYTES) {
      // Bytes when rounding would make the size look like the limit.
      const mib = (stat.size / MIB).toFixed(1)
      const size = +mib > MAX_MANIFEST_BYTES / MIB ? `${mib} MiB` : `${stat.size} bytes`
      throw tooBig(`${size}; the limit is ${MAX_MANIFEST_BYTES / MIB} MiB (is it the right file?)`)
    }
    const buffer = Buffer.allocUnsafe(MAX_MANIFEST_BYTES + 1)
    let filled = 0
    while (filled < buffer.length) {
      const n = readSync(fd, buffer, filled, buffer.length - filled, null)
      if (n === 0) break
      filled += n
    }
    if (filled > MAX_MANIFEST_BYTES) throw tooBig(`larger than the limit of ${MAX_MANIFEST_BYTES / MIB} MiB (is it the right file?)`)
    return buffer.subarray(0, filled)
  } catch (e) {
    if (e instanceof UserError) throw e
    throw new UserError(`${displayName}: cannot read the manifest (${fileProblem(e)})`, { file: displayName, cause: e })
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

export function parseManifest(text: string, file: string): Manifest {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const pos = lines.linePos(e.pos[0])
    const what = oneLine(e.message.split('\n')[0])
    throw new UserError(`${file}:${pos.line}:${pos.col}: invalid YAML: ${what}`, { file })
  }
  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: MAX_MANIFEST_ALIASES })
  } catch (e) {
    // yaml throws (a ReferenceError) for an alias it cannot or may not resolve.
    const what = oneLine(errorText(e).split('\n')[0])
    if (/excessive alias count/i.test(what)) {
      throw new UserError(
        `${file}: invalid YAML: its aliases expand past the limit of ${MAX_MANIFEST_ALIASES} alias expansions (a "billion laughs" document?)`,
        { file },
      )
    }
    throw new UserError(`${file}: invalid YAML: ${what}`, { file })
  }
  if (value === null || value === undefined) throw new UserError(`${file}: the manifest is empty`, { file })
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError(`${file}: the manifest must be a mapping of keys (name, model, features, label, data, …)`, { file })
  }
  const parsed = manifestSchema.safeParse(value)
  if (parsed.success) return parsed.data
  const problems = flattenIssues(parsed.error.issues).map((issue) => {
    // An unknown key is pointed at by its own name and line, not its parent's.
    const at = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path
    const where = formatPath(at)
    const node = (doc.getIn(at, true) ?? doc.getIn(issue.path, true)) as Node | undefined
    const line = node?.range ? `line ${lines.linePos(node.range[0]).line}, ` : ''
    return { field: where, text: `${where || '(top level)'} (${line}${oneLine(describeIssue(issue))})` }
  })
  const first = problems[0]
  const more =
    problems.length > 1
      ? `\n${problems
          .slice(1)
          .map((p) => `  also: ${p.text}`)
          .join('\n')}`
      : ''
  throw new UserError(`${file}: invalid manifest: ${first.text}${more}`, { file, field: first.field })
}

/** `thresholds[2].op`, the way a user would point at it. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${shownName(String(p))}` : shownName(String(p))
  return out
}

/** `text` with control characters and line separators escaped as JSON writes them: a problem stays one line. */
function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, (c) => {
    const escaped = JSON.stringify(c).slice(1, -1)
    return escaped.length > 1 ? escaped : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  })
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s): ${issue.keys.map(shownName).join(', ')}`
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) return `required: expected ${String(issue.expected)}`
  return issue.message.replace(/^Invalid input: /, '')
}

/**
 * A union reports "invalid input" for all its branches; a user wants the problem in the branch that
 * matches the shape they wrote (an object for an object). Pick the branch with the deepest issue.
 */
function flattenIssues(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const out: z.core.$ZodIssue[] = []
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((branch) => flattenIssues(branch.map((i) => ({ ...i, path: [...issue.path, ...i.path] }))))
      const typeOnly = (b: z.core.$ZodIssue[]) => b.every((i) => i.code === 'invalid_type' && i.path.length === issue.path.length)
      const candidates = branches.filter((b) => !typeOnly(b))
      if (candidates.length === 0) {
        out.push({ ...issue, message: `expected ${describeExpected(branches)}` } as z.core.$ZodIssue)
      } else {
        candidates.sort((a, b) => Math.max(...b.map((i) => i.path.length)) - Math.max(...a.map((i) => i.path.length)))
        out.push(...candidates[0])
      }
    } else {
      out.push(issue)
    }
  }
  return out
}

function describeExpected(branches: z.core.$ZodIssue[][]): string {
  const kinds = new Set<string>()
  for (const b of branches) for (const i of b) if (i.code === 'invalid_type') kinds.add(String(i.expected))
  return [...kinds].join(' or ') || 'another value'
}
