/*
 * A shard's state file: what one job of a matrix hands the merge job. It holds no verdict, only what
 * the merge needs to compute the one an unsharded run would give (the per-row answers and mergeable
 * counts) and what proves that the shards belong together: the settings' identity, the model digests,
 * each data file's digest and row count, the shard's place in the set.
 *
 * The file is JSON with typed arrays as base64 (little-endian, as every platform Node ships for is), so
 * it is readable, diffable and small enough for an artifact. It is input to the merge like any other:
 * read with one schema, and every problem is a UserError naming the file and the field.
 */
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { UserError } from '../errors.js'
import { fileProblem } from '../data/files.js'
import { parseJsonFile } from '../files.js'
import { scrub } from '../secrets.js'
import { displayPath } from '../workspace.js'
import type { Settings } from '../settings/index.js'
import { MAX_SHARDS, shardName, type ShardSpec } from './spec.js'

export const SHARD_FORMAT = 'modelgate-shard'
export const SHARD_FORMAT_VERSION = 1

export type ShardKind = 'validate' | 'robustness'

export interface ShardData {
  name: string
  /** The whole file's digest: every shard reads the same file. */
  digest: string
  /** Data rows in the whole file. */
  rows: number
  /** Of them, the rows this shard scored. */
  scored: number
}

export interface ShardState<P = unknown> {
  format: typeof SHARD_FORMAT
  version: typeof SHARD_FORMAT_VERSION
  kind: ShardKind
  tool: { name: string; version: string }
  shard: ShardSpec
  /** The run's settings, without the shard and without credentials; the digest is of `identity`. */
  settings: { digest: string; identity: Record<string, unknown> }
  models: { candidate: string; baseline?: string }
  data: ShardData[]
  payload: P
}

/** `modelgate-shard-2-of-3.json`: the default file name, and (without `.json`) the artifact's. */
export function shardFileName(spec: ShardSpec, prefix = 'modelgate-shard'): string {
  return `${prefix}-${spec.index}-of-${spec.count}.json`
}

/**
 * The settings as they decide the result, comparable across jobs: paths relative to the workspace
 * (runners may check out in different places), no credentials (headers, tokens), none of the shard itself,
 * nor what only says where an option came from or which status exits non-zero.
 */
export function settingsIdentity(settings: Settings): Record<string, unknown> {
  const ws = settings.workspace
  const skip = new Set(['workspace', 'confinement', 'shard', 'thresholdsFrom', 'failOn', 'headers', 'token', 'githubToken', 'where', 'env'])
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const rel = path.isAbsolute(v) ? path.relative(ws, v) : undefined
      return scrub(rel !== undefined && !rel.startsWith('..') ? rel.split(path.sep).join('/') : v)
    }
    if (Array.isArray(v)) return v.map(walk)
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(v).sort()) {
        const value = (v as Record<string, unknown>)[key]
        if (skip.has(key) || value === undefined || typeof value === 'function') continue
        out[key] = walk(value)
      }
      return out
    }
    return v
  }
  return walk(settings) as Record<string, unknown>
}

export function identityDigest(identity: Record<string, unknown>): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(identity)).digest('hex')}`
}

/** A path for another machine: relative to the workspace where it is inside it; URLs and commands as they are. */
export function portablePath(p: string, workspace: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) || !path.isAbsolute(p) ? p : displayPath(p, workspace)
}

/** A portable path back on this machine: relative ones resolved in its workspace (a command line stays as it is). */
export function restoredPath(p: string, workspace: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) || path.isAbsolute(p) || p.includes(' ') ? p : path.resolve(workspace, p)
}

/** Typed arrays in JSON: `{ "f64": base64 }`. */
export function encodeFloat64(a: Float64Array): { f64: string } {
  return { f64: Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64') }
}

export function decodeFloat64(v: { f64: string }): Float64Array {
  const bytes = Buffer.from(v.f64, 'base64')
  const out = new Float64Array(bytes.length / 8)
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 8))
  return out
}

export const float64Schema = z
  .object({ f64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64') })
  .strict()
  .refine((v) => Buffer.from(v.f64, 'base64').length % 8 === 0, 'a whole number of 8-byte values')

const envelopeSchema = z
  .object({
    format: z.literal(SHARD_FORMAT),
    version: z.literal(SHARD_FORMAT_VERSION),
    kind: z.enum(['validate', 'robustness']),
    tool: z.object({ name: z.string(), version: z.string() }).strict(),
    shard: z
      .object({ index: z.number().int().min(1).max(MAX_SHARDS), count: z.number().int().min(1).max(MAX_SHARDS) })
      .strict()
      .refine((s) => s.index <= s.count, 'index must not exceed count'),
    settings: z.object({ digest: z.string(), identity: z.record(z.string(), z.unknown()) }).strict(),
    models: z.object({ candidate: z.string(), baseline: z.string().optional() }).strict(),
    data: z
      .array(
        z
          .object({
            name: z.string(),
            digest: z.string(),
            rows: z.number().int().min(0),
            scored: z.number().int().min(0),
          })
          .strict(),
      )
      .min(1),
    payload: z.unknown(),
  })
  .strict()

/** The issue's path as `data[1].digest`. */
function issuePath(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('') || '(top level)'
}

/** Parses `value` with `schema`; the first problem is a UserError naming the file and the field. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, file: string, prefix: (string | number)[] = []): T {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const field = issuePath([...prefix, ...issue.path])
  throw new UserError(`${file}: ${field}: ${issue.message}`, { file, field })
}

/** Reads one state file; its payload is the kind's own to check (shard/validate.ts). */
export function readShardState(file: string): ShardState {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new UserError(`${file}: cannot read the shard state (${fileProblem(e)})`, { file, cause: e })
  }
  const value = parseJsonFile(text, file, 'a modelgate shard state')
  if (value && typeof value === 'object' && (value as { format?: unknown }).format !== SHARD_FORMAT)
    throw new UserError(`${file}: not a modelgate shard state (format is not "${SHARD_FORMAT}"); give the files \`--shard\` wrote`, {
      file,
      field: 'format',
    })
  const state = parseWith(envelopeSchema, value, file) as ShardState
  if (state.settings.digest !== identityDigest(state.settings.identity))
    throw new UserError(`${file}: settings.digest does not match settings.identity: the file was edited or damaged`, {
      file,
      field: 'settings.digest',
    })
  return state
}

/** A shard's file and what it holds, as the merge checks them. */
export interface LoadedShard<P = unknown> {
  file: string
  state: ShardState<P>
}

/**
 * The shards must be one complete set made by one configuration: every index 1..n exactly once, one kind,
 * the merge's own settings, the same model digests and the same data files. Anything else would give a
 * verdict on part of the data, or on a mixture of models: refused, naming the shard and what differs.
 */
export function checkShardSet(shards: LoadedShard[], expected: { kind: ShardKind; identity: Record<string, unknown> }): void {
  if (shards.length === 0) throw new UserError('merge: no shard state files given')
  const first = shards[0]
  const count = first.state.shard.count
  const seen = new Map<number, string>()
  for (const { file, state } of shards) {
    if (state.kind !== expected.kind)
      throw new UserError(`${file}: a ${state.kind} shard, but this merge is of ${expected.kind} shards`, { file, field: 'kind' })
    if (state.shard.count !== count)
      throw new UserError(
        `${file}: shard ${shardName(state.shard)} belongs to a set of ${state.shard.count}, but ${first.file} is shard ${shardName(first.state.shard)} of ${count}`,
        { file, field: 'shard.count' },
      )
    const twice = seen.get(state.shard.index)
    if (twice !== undefined)
      throw new UserError(`${file}: shard ${shardName(state.shard)} is given twice (also ${twice}); each shard must be merged once`, {
        file,
        field: 'shard.index',
      })
    seen.set(state.shard.index, file)
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i))
  if (missing.length > 0)
    throw new UserError(
      `merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} missing: ${shards.length} of ${count} given (${shards.map((s) => path.basename(s.file)).join(', ')}); a verdict on part of the data is not given`,
      { field: 'shard' },
    )
  const digest = identityDigest(expected.identity)
  for (const { file, state } of shards) {
    if (state.settings.digest !== digest) {
      const fields = differingFields(state.settings.identity, expected.identity)
      throw new UserError(
        `${file}: shard ${shardName(state.shard)} was made with other settings than this merge's (they differ in ${fields.join(', ')}); run the merge with the shards' manifest and inputs`,
        { file, field: `settings.${fields[0] ?? ''}` },
      )
    }
    if (state.models.candidate !== first.state.models.candidate)
      throw new UserError(
        `${file}: shard ${shardName(state.shard)} scored model ${state.models.candidate}, but ${first.file} scored ${first.state.models.candidate}: every shard must score the same model file`,
        { file, field: 'models.candidate' },
      )
    if (state.models.baseline !== first.state.models.baseline)
      throw new UserError(
        `${file}: shard ${shardName(state.shard)} compared with baseline ${state.models.baseline ?? '(none)'}, but ${first.file} with ${first.state.models.baseline ?? '(none)'}: the production version may have moved between the jobs`,
        { file, field: 'models.baseline' },
      )
    const names = state.data.map((d) => d.name).join(', ')
    if (names !== first.state.data.map((d) => d.name).join(', '))
      throw new UserError(`${file}: data sets ${names}, but ${first.file} has ${first.state.data.map((d) => d.name).join(', ')}`, {
        file,
        field: 'data',
      })
    state.data.forEach((d, i) => {
      const f = first.state.data[i]
      if (d.digest !== f.digest || d.rows !== f.rows)
        throw new UserError(
          `${file}: data set "${d.name}" is ${d.digest} (${d.rows} rows), but in ${first.file} it is ${f.digest} (${f.rows} rows): every shard must read the same file`,
          { file, field: `data[${i}].digest` },
        )
    })
  }
  // validate's shards split the rows; robustness's split the units of work (checked by its merge).
  if (expected.kind === 'validate')
    first.state.data.forEach((d, i) => {
      const scored = shards.reduce((n, s) => n + s.state.data[i].scored, 0)
      if (scored !== d.rows)
        throw new UserError(
          `merge: data set "${d.name}": the shards scored ${scored} rows in all, but the file has ${d.rows}; the shards do not cover it exactly once`,
          { field: `data[${i}].scored` },
        )
    })
}

/**
 * A state file's text. JSON has no NaN or Infinity, which metrics can be (an undefined precision, a
 * difference against NaN): they are written as `{"$number": "NaN"}` and read back by reviveNumbers.
 */
export function shardStateText(state: ShardState): string {
  return JSON.stringify(state, (_key, value: unknown) =>
    typeof value === 'number' && !Number.isFinite(value) ? { $number: String(value) } : value,
  )
}

export function reviveNumbers<T>(value: T): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk)
    if (v && typeof v === 'object') {
      const keys = Object.keys(v)
      const n = (v as { $number?: unknown }).$number
      if (keys.length === 1 && (n === 'NaN' || n === 'Infinity' || n === '-Infinity')) return Number(n)
      return Object.fromEntries(keys.map((k) => [k, walk((v as Record<string, unknown>)[k])]))
    }
    return v
  }
  return walk(value) as T
}

/** The top-level keys (and one level below) where two identities differ, for the message. */
function differingFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const out: string[] = []
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const x = a[key]
    const y = b[key]
    if (JSON.stringify(x) === JSON.stringify(y)) continue
    if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) {
      const inner = differingFields(x as Record<string, unknown>, y as Record<string, unknown>)
      out.push(...inner.map((k) => `${key}.${k}`))
    } else out.push(key)
  }
  return out.length > 0 ? out : ['(unknown)']
}

/**
 * The state files a merge is given: files as they are, and for a folder every `*.json` beneath it (an
 * artifact download puts each shard's file in a folder of its own), sorted so the order is the same everywhere.
 */
export function expandShardFiles(paths: string[], cwd: string): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.isFile() && entry.name.endsWith('.json')) out.push(full)
    }
  }
  for (const given of paths) {
    const p = path.resolve(cwd, given)
    const st = statSync(p, { throwIfNoEntry: false })
    if (!st) throw new UserError(`${given}: no such shard state file or folder`, { file: given })
    if (st.isDirectory()) walk(p)
    else out.push(p)
  }
  return out
}
