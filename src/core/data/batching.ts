import { UserError } from '../errors.js'
import { EXCERPT_CHARS, excerpt } from './files.js'
import type { Batch, Cell, Column } from './types.js'

/** The most column names a message lists; a file may have thousands. */
const LISTED_NAMES = 100

/** A name printable as it is (short, no control or invisible characters), else quoted as an excerpt. */
const PLAIN_NAME = new RegExp(`^[^\\x00-\\x1f\\x7f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]{0,${EXCERPT_CHARS}}$`)

/** `names` for a message: at most LISTED_NAMES, each as `show` gives it. */
function listNames(names: readonly string[], show: (name: string) => string): string {
  const listed = names.slice(0, LISTED_NAMES).map(show).join(', ')
  return names.length > LISTED_NAMES ? `${listed}, … (${names.length} in all)` : listed
}

/**
 * The columns to materialise, in the order asked for. Matching is by name only, so a file
 * whose columns are reordered or extended yields the same batches.
 */
export function selectColumns(path: string, available: readonly string[], requested?: readonly string[]): string[] {
  if (requested === undefined) return [...available]
  const wanted = [...new Set(requested)]
  const present = new Set(available)
  const missing = wanted.filter((name) => !present.has(name))
  if (missing.length > 0) {
    const list = listNames(missing, (name) => excerpt(name))
    const has = available.length > 0 ? listNames(available, (name) => (PLAIN_NAME.test(name) ? name : excerpt(name))) : '(no columns)'
    throw new UserError(`${path}: missing column(s) ${list}; the file has: ${has}`, {
      file: path,
      field: missing[0],
    })
  }
  return wanted
}

/**
 * Collects rows column by column and hands out batches of exactly `batchSize` rows (the last may be shorter).
 * `C` is the kind of column the reader fills: cells (JSON Lines), or typed numbers where it knows them (CSV, Parquet).
 */
export class BatchBuilder<C extends Column = Cell[]> {
  /** The column arrays of the batch being filled, in the order of `names`; readers write into them directly. */
  arrays: C[] = []
  length = 0
  private offset = 0

  constructor(
    readonly names: readonly string[],
    readonly batchSize: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`)
    }
    this.reset()
  }

  get full(): boolean {
    return this.length >= this.batchSize
  }

  /** Rows the current batch can still take. */
  get room(): number {
    return this.batchSize - this.length
  }

  /** Appends rows `[start, end)` of column-major data (one array per name, same order). */
  /** Returns the batch filled so far and starts the next one. */
  take(): Batch {
    // No prototype: a column named `__proto__` (or `toString`) is a column like any other, not a property of Object.
    const columns: Record<string, Column> = Object.create(null) as Record<string, Column>
    this.names.forEach((name, c) => {
      columns[name] = this.arrays[c]
    })
    const batch: Batch = { offset: this.offset, length: this.length, columns }
    this.offset += this.length
    this.reset()
    return batch
  }

  private reset(): void {
    this.arrays = this.names.map(() => [] as Cell[] as C)
    this.length = 0
  }
}
