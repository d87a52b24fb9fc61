import { stat } from 'node:fs/promises'
import { digestFile, openTable } from '../data/open.js'
import { fileError } from '../data/files.js'
import { cellAt, type Batch, type Cell, type TableFormat } from '../data/types.js'
import { UserError } from '../errors.js'
import { chooseColumns, columnSources, fromColumns, toPredictionBatch, type ColumnChoice, type Label, type Task } from './output.js'
import type { FeatureBatch, ModelInfo, ModelRunner, PredictionBatch } from './types.js'

export interface PredictionsRunnerOptions {
  /** CSV, JSONL or Parquet file with one row per data row, in the same order. */
  path: string
  /** Default: from the file extension. */
  format?: TableFormat
  /** Default: `label`, else `prediction`. */
  labelColumn?: string
  /** Default: the columns named `probability_<class>` or `proba_<class>`. */
  probabilityColumns?: string[]
  /** Default: `value` (or, for regression, `value` then `prediction`). */
  valueColumn?: string
  /** Class labels of the probability columns. Default: from their names (`probability_1` → 1). */
  classes?: Label[]
  /** Which default columns to look for; without it, `prediction` is read as labels. */
  task?: Task
}

/** A ModelRunner over a file of predictions, which can also tell whether the file had rows left over. */
export interface PredictionsRunner extends ModelRunner {
  readonly kind: 'predictions'
  /** Rows of the file that predict() has not handed out yet; reads the rest of the file to count them. */
  remainingRows(): Promise<number>
  /**
   * Call after the last predict(): a UserError saying both counts unless the file had exactly
   * `dataRows` rows.
   */
  checkRowCount(dataRows: number): Promise<void>
}

/** Rows read from the file at a time, independently of the callers' batch sizes. */
const READ_BATCH_ROWS = 4096

export async function createPredictionsRunner(opts: PredictionsRunnerOptions): Promise<PredictionsRunner> {
  const source = openTable(opts.path, opts.format)
  const choice = chooseColumns(opts.path, await source.columns(), opts)
  return new FilePredictionsRunner(
    opts.path,
    source.format,
    choice,
    source.batches({ batchSize: READ_BATCH_ROWS, columns: usedColumns(choice) }),
  )
}

function usedColumns(choice: ColumnChoice): string[] {
  const all = [choice.label, choice.value, ...(choice.probabilities ?? [])].filter((c): c is string => c !== undefined)
  return [...new Set(all)]
}

class FilePredictionsRunner implements PredictionsRunner {
  readonly kind = 'predictions' as const
  private readonly reader: AsyncIterator<Batch>
  /** The file batch being handed out, and how far into it. */
  private current?: Batch
  private position = 0
  /** Rows handed out so far: the offset the next predict() must ask for. */
  private consumed = 0
  private ended = false
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly path: string,
    private readonly format: TableFormat,
    private readonly choice: ColumnChoice,
    batches: AsyncIterable<Batch>,
  ) {
    this.reader = batches[Symbol.asyncIterator]()
  }

  async describe(): Promise<ModelInfo> {
    let size: number
    try {
      size = (await stat(this.path)).size
    } catch (e) {
      throw fileError(this.path, e)
    }
    const notes = [`predictions made beforehand (${this.format}); the features are not used`]
    if (this.choice.classes !== undefined) notes.push(`probability classes: ${this.choice.classes.join(', ')}`)
    return {
      source: this.path,
      runner: 'predictions',
      digest: await digestFile(this.path),
      sizeBytes: size,
      inputs: [],
      outputs: usedColumns(this.choice).map((name) => ({ name, dtype: 'unknown', shape: [-1], kind: 'column' })),
      notes,
    }
  }

  predict(batch: FeatureBatch): Promise<PredictionBatch> {
    return this.serially(async () => {
      if (batch.offset < this.consumed)
        throw new UserError(
          `${this.path}: predictions are read in order; asked for row ${batch.offset} but the next row is ${this.consumed}`,
          { file: this.path },
        )
      // A shard scores some blocks of rows and not others: the rows between are read past.
      if (batch.offset > this.consumed) await this.take(batch.offset - this.consumed)
      const columns = await this.take(batch.length)
      const raw = fromColumns(this.choice, (name) => columns[name]!)
      return toPredictionBatch(this.path, batch, raw, columnSources(this.choice))
    })
  }

  remainingRows(): Promise<number> {
    return this.serially(async () => {
      let rows = (this.current?.length ?? 0) - this.position
      this.current = undefined
      this.position = 0
      for (let b = await this.next(); b !== undefined; b = await this.next()) rows += b.length
      this.consumed += rows
      return rows
    })
  }

  async checkRowCount(dataRows: number): Promise<void> {
    const total = this.consumed + (await this.remainingRows())
    if (total !== dataRows) throw rowCountError(this.path, total, `${dataRows}`)
  }

  async close(): Promise<void> {
    this.ended = true
    await this.reader.return?.()
  }

  /** The next `n` rows of the used columns, across file batches. */
  private async take(n: number): Promise<Record<string, Cell[]>> {
    const out: Record<string, Cell[]> = Object.fromEntries(usedColumns(this.choice).map((c) => [c, []]))
    let missing = n
    while (missing > 0) {
      if (this.current === undefined || this.position >= this.current.length) {
        this.current = await this.next()
        this.position = 0
        if (this.current === undefined) {
          const have = this.consumed + (n - missing)
          throw rowCountError(this.path, have, `at least ${this.consumed + n}`)
        }
      }
      const count = Math.min(missing, this.current.length - this.position)
      for (const [name, column] of Object.entries(out)) {
        const cells = this.current.columns[name]!
        for (let i = this.position; i < this.position + count; i++) column.push(cellAt(cells, i))
      }
      this.position += count
      missing -= count
    }
    this.consumed += n
    return out
  }

  private async next(): Promise<Batch | undefined> {
    if (this.ended) return undefined
    const step = await this.reader.next()
    if (step.done) {
      this.ended = true
      return undefined
    }
    return step.value
  }

  /** Reading is stateful, so calls take turns. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work)
    this.queue = run.catch(() => {})
    return run
  }
}

function rowCountError(path: string, fileRows: number, dataRows: string): UserError {
  return new UserError(
    `${path}: the predictions file has ${fileRows} rows but the data has ${dataRows}; it needs exactly one row per data row, in the same order`,
    { file: path },
  )
}
