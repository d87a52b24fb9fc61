import { existsSync, readFileSync } from 'node:fs'
import { LineCounter, parseDocument, type Node } from 'yaml'
import type { z } from 'zod'
import { UserError } from '../errors.js'
import { manifestSchema, type Manifest } from './schema.js'

export const DEFAULT_MANIFEST = 'modelgate.yml'

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
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new UserError(`${displayName}: cannot read the manifest (${(e as Error).message})`, { file: displayName })
  }
  return parseManifest(text, displayName)
}

export function parseManifest(text: string, file: string): Manifest {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const pos = lines.linePos(e.pos[0])
    const what = e.message.split('\n')[0]
    throw new UserError(`${file}:${pos.line}:${pos.col}: invalid YAML: ${what}`, { file })
  }
  const value: unknown = doc.toJS()
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
    return { field: where, text: `${where || '(top level)'} (${line}${describeIssue(issue)})` }
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
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p)
  return out
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s): ${issue.keys.join(', ')}`
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
