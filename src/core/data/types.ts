/** One cell as read from a file. `null` is a missing value (empty field, `NA`, `NaN`, JSON null). */
export type Cell = number | string | boolean | null

/**
 * One column of a batch. A column whose cells in the batch are all numbers or missing is a Float64Array,
 * NaN where a value is missing; any other column is an array of cells, `null` where missing.
 *
 * NaN marks a missing number because the data layer already reads NaN as missing (a `NaN` field, a NaN
 * in a Parquet double): a validity bitmap would say nothing NaN does not, and would cost a second array
 * and a second read per cell. Numbers held this way cost 8 bytes a cell with no boxing, and go into a
 * model's float tensor with one strided copy. Read a cell of either kind with `cellAt`.
 */
export type Column = Float64Array | Cell[]

/** Cell `i` of a column: `null` for a missing value of either kind. */
export function cellAt(column: Column, i: number): Cell {
  const v = column[i]
  if (v === undefined) return null
  return typeof v === 'number' && v !== v && column instanceof Float64Array ? null : v
}

/** A column as an array of cells (a copy for a Float64Array, the column itself otherwise). */
export function columnCells(column: Column): Cell[] {
  if (!(column instanceof Float64Array)) return column
  const out = new Array<Cell>(column.length)
  for (let i = 0; i < column.length; i++) {
    const v = column[i]
    out[i] = v === v ? v : null
  }
  return out
}

/** Whether cell `i` has no value: missing, or NaN (which models and metrics cannot use either). */
export function isBlankAt(column: Column | undefined, i: number): boolean {
  const v = column?.[i]
  return v === null || v === undefined || (typeof v === 'number' && v !== v)
}

/**
 * A batch of rows, column-major: `columns[name][i]` is row `offset + i` (see `Column`).
 * Readers only materialise the columns they were asked for.
 */
export interface Batch {
  /** Index of the first row of this batch in the whole file (0-based, data rows only). */
  offset: number
  length: number
  columns: Record<string, Column>
}

export type TableFormat = 'csv' | 'jsonl' | 'parquet'

export interface ReadOptions {
  /** Rows per batch. */
  batchSize: number
  /** Columns to materialise; all when omitted. Missing ones are an error listing what is missing and what is there. */
  columns?: string[]
  /**
   * Columns read as text even where a field looks like a number or a missing-value marker ("007", "1.50",
   * "NA" are categories of a string model input). Only CSV guesses types; JSONL and Parquet say them.
   */
  text?: string[]
  /**
   * Told, as the file is read, how many of its bytes have been read so far (a running total): progress on
   * long runs gives a percent and an ETA against the file's size (core/progress.ts). Optional for a reader.
   */
  onBytesRead?: (bytes: number) => void
}

/** A tabular file read as a stream of batches, so that memory does not grow with the row count. */
export interface TableSource {
  readonly path: string
  readonly format: TableFormat
  /** Column names in file order. */
  columns(): Promise<string[]>
  batches(opts: ReadOptions): AsyncIterable<Batch>
}
