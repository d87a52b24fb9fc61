/**
 * Shared pieces of the property-based fuzz tests (issue 12, "Hostile and careless input"): how many
 * runs and which seed, the property every rejected input must meet, and mutations of valid inputs.
 *
 * Runs are bounded and seeded, so CI is repeatable: every property runs its own fixed number of times
 * from the seed DEFAULT_SEED. To explore further, or to replay a failure fast-check printed:
 *   MODELGATE_FUZZ_SEED=<seed>  another seed (fast-check prints the seed and the shrunk counterexample of a failure)
 *   MODELGATE_FUZZ_RUNS=<n>     every property runs n times instead of its default
 */
import { expect } from '@jest/globals'
import fc from 'fast-check'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isUserError } from '../../src/core/errors.js'

export const DEFAULT_SEED = 20260412

function envInteger(name: string): number | undefined {
  const text = process.env[name]
  if (text === undefined || text.trim() === '') return undefined
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`)
  return value
}

/** The fast-check parameters of a property whose default is `runs` runs. */
export function fuzzParams(runs: number): { seed: number; numRuns: number; timeout: number } {
  const override = envInteger('MODELGATE_FUZZ_RUNS')
  // A run of an async property that takes this long is a hang (the reads are of a few KiB), and fails as one.
  return { seed: envInteger('MODELGATE_FUZZ_SEED') ?? DEFAULT_SEED, numRuns: override ?? runs, timeout: 5000 }
}

/** A line of a V8 stack trace. */
const STACK_LINE = /\n\s+at \S/

export interface Rejection {
  /** The file the message must name, at its start, and as `file`. */
  file?: string
  /** Whether the message may have more lines (the manifest lists every problem, each on a line of its own). */
  multiline?: boolean
}

/**
 * The property of a rejected input: a UserError (never a TypeError, RangeError or an internal error)
 * with a message a user can act on: not empty, no stack trace, one line unless allowed more, naming the
 * file. Throws (failing the property) otherwise, with the original error as the cause to see its stack.
 */
export function expectUserError(e: unknown, want: Rejection = {}): void {
  if (!isUserError(e)) {
    const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    throw new Error(`expected a UserError, got ${text}`, { cause: e })
  }
  expect(e.message.trim()).not.toBe('')
  expect(e.message).not.toMatch(STACK_LINE)
  // The path is the user's own, line breaks and all: only the rest of the message must be one line.
  const own = want.file === undefined ? e.message : e.message.replaceAll(want.file, '')
  if (want.multiline !== true) expect(own).not.toMatch(/[\r\n]/)
  if (want.file !== undefined) {
    expect(e.message.startsWith(want.file)).toBe(true)
    expect(e.file).toBe(want.file)
  }
}

/** Runs `work`; a throw must be a rejection as `want` says. */
export async function succeedsOrRejects(work: () => unknown, want: Rejection = {}): Promise<void> {
  try {
    await work()
  } catch (e) {
    expectUserError(e, want)
  }
}

/** Pieces of text that make readers and parsers take their rare paths. */
export const NASTY_PIECES: readonly string[] = [
  '"',
  '""',
  ',',
  '\n',
  '\r',
  '\r\n',
  '\n\n',
  ' ',
  '\t',
  '\uFEFF',
  '\u0000',
  '\u2028',
  '\u202e',
  'é',
  '日本',
  '😀',
  '\uD800',
  '\uFFFD',
  '1e400',
  '-1e400',
  '-0',
  '0x1F',
  '1_000',
  'NaN',
  'Infinity',
  'NA',
  'null',
  '__proto__',
  'constructor',
  '\\',
  '\\u0000',
]

/** Raw bytes no valid UTF-8 text has, or that mark another encoding. */
const NASTY_BYTES: readonly number[][] = [
  [0xef, 0xbb, 0xbf],
  [0xff, 0xfe],
  [0xfe, 0xff],
  [0x00],
  [0xc3],
  [0xf0, 0x9f],
  [0x80],
  [0xff],
  [0xed, 0xa0, 0x80],
]

/** One edit of a byte string; positions are taken modulo its length, so every edit applies to every input. */
export type Mutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'truncate'; at: number }
  | { op: 'delete'; at: number; length: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'repeat'; at: number; length: number; times: number }

const textBytes = (text: string): number[] => [...Buffer.from(text, 'utf8')]

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.constantFrom(...NASTY_PIECES).map(textBytes),
      fc.constantFrom(...NASTY_BYTES),
      fc.string({ unit: 'binary', maxLength: 8 }).map(textBytes),
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => [...b]),
    ),
  }),
  // A field or line far longer than the rest, within reason (the readers' bounds are set small to cross them).
  fc.record({
    op: fc.constant('repeat' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 8 }),
    times: fc.integer({ min: 2, max: 400 }),
  }),
)

export function applyMutations(input: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(input)
  for (const m of mutations) {
    const n = bytes.length
    const at = n === 0 ? 0 : m.at % (n + 1)
    switch (m.op) {
      case 'flip':
        if (n > 0) bytes[at % n] ^= m.mask
        break
      case 'truncate':
        bytes = bytes.subarray(0, at)
        break
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)])
        break
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(m.bytes), bytes.subarray(at)])
        break
      case 'repeat': {
        const piece = bytes.subarray(at, at + m.length)
        bytes = Buffer.concat([bytes.subarray(0, at), ...Array.from({ length: m.times }, () => piece), bytes.subarray(at)])
        break
      }
    }
  }
  return bytes
}

/** One of `seeds` with a few edits; fast-check shrinks towards fewer edits and the unedited seed. */
export function mutated(seeds: readonly (string | Uint8Array)[]): fc.Arbitrary<Buffer> {
  const bytes = seeds.map((s) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s)))
  return fc
    .tuple(fc.constantFrom(...bytes), fc.array(mutationArb, { minLength: 1, maxLength: 6 }))
    .map(([seed, mutations]) => applyMutations(seed, mutations))
}

/** Text assembled from the nasty pieces and short random strings: far likelier than uniform noise to hit a parser's edges. */
export function nastyText(extra: readonly string[] = [], maxPieces = 40): fc.Arbitrary<string> {
  return fc
    .array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NASTY_PIECES, ...extra) }, fc.string({ unit: 'binary', maxLength: 6 })), {
      maxLength: maxPieces,
    })
    .map((pieces) => pieces.join(''))
}

/** A fresh directory under the OS temp dir for one test file's inputs. */
export function scratchDir(prefix: string): { file: (name: string, content: string | Uint8Array) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `modelgate-fuzz-${prefix}-`))
  return {
    file: (name, content) => {
      const path = join(dir, name)
      writeFileSync(path, content)
      return path
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
