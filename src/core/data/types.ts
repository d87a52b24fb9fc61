/** One cell as read from a file. `null` is a missing value (empty field, `NA`, `NaN`, JSON null). */
export type Cell = number | string | boolean | null

/**
 * A batch of rows, column-major: `columns[name][i]` is row `offset + i`.
 * Readers only materialise the columns they were asked for.
 */
export interface Batch {
  /** Index of the first row of this batch in the whole file (0-based, data rows only). */
  offset: number
  length: number
  columns: Record<string, Cell[]>
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
