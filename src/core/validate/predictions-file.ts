import { createWriteStream, renameSync, rmSync, type WriteStream } from 'node:fs'
import path from 'node:path'
import { ParquetWriter, fileWriter } from 'hyparquet-writer'
import type { Cell } from '../data/types.js'
import { UserError, errorText } from '../errors.js'
import type { StagedFiles } from '../files.js'
import type { PredictionBatch } from '../runners/types.js'

/**
 * The model's per-row answers as a file the `predictions` runner reads back unchanged: `row_index`
 * (0-based, as pandas numbers rows), the id column when the manifest names one, the true label, then
 * what the model gave: `label`, `probability_<class>` columns, or `value`. Probabilities are written as
 * scored (after float32 overshoots were clipped), in the shortest text that reads back to the same
 * double, so a run on this file gives the same metrics to the last bit.
 *
 * Streamed: CSV is written batch by batch, Parquet in row groups, to a temporary file renamed into place
 * by `commit()`; `abort()` leaves nothing behind.
 */
export interface PredictionsFile {
  readonly path: string
  write(offset: number, pred: PredictionBatch, labels: Cell[], ids?: Cell[]): Promise<void>
  commit(): Promise<void>
  abort(): Promise<void>
}

/** Where a data set's predictions go: the path itself for a single data set. */
export function predictionsPathFor(file: string, dataset: string, datasets: number): string {
  if (datasets <= 1) return file
  const ext = path.extname(file)
  return `${file.slice(0, file.length - ext.length)}-${dataset}${ext}`
}

/** Column names the predictions runner reads as model outputs: the true label must not take one. */
const RESERVED = /^(?:label|prediction|predicted_label|output_label|value|predicted_value|row_index|(?:probability|proba)_.+)$/

export function trueLabelColumn(label: string): string {
  return RESERVED.test(label) ? `true_${label}` : label
}

/**
 * `staged`: the run's other outputs; the file is then written to a path they reserve and moved into place
 * with them (commit() only closes it). Without it, commit() renames it into place itself.
 */
export function createPredictionsFile(file: string, opts: { label: string; id?: string; staged?: StagedFiles }): PredictionsFile {
  const format = /\.parquet$/i.test(file) ? 'parquet' : /\.csv$/i.test(file) ? 'csv' : undefined
  if (!format)
    throw new UserError(`predictions ${file}: the file name must end in .csv or .parquet (it sets the format)`, {
      file,
      field: 'predictions',
    })
  const tmp = opts.staged?.reserve(file) ?? path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`)
  const names = { label: trueLabelColumn(opts.label), id: opts.id }
  const staged = opts.staged !== undefined
  return format === 'csv' ? new CsvPredictions(file, tmp, names, staged) : new ParquetPredictions(file, tmp, names, staged)
}

/** The output columns of a batch, in file order. */
function outputColumns(pred: PredictionBatch): { header: string[]; cells: (i: number) => (number | string)[] } {
  const header: string[] = []
  const parts: ((i: number) => (number | string)[])[] = []
  if (pred.labels) {
    header.push('label')
    parts.push((i) => [pred.labels![i]])
  }
  if (pred.probabilities && pred.classes) {
    const k = pred.classes.length
    header.push(...pred.classes.map((c) => `probability_${String(c)}`))
    parts.push((i) => Array.from(pred.probabilities!.subarray(i * k, (i + 1) * k)))
  }
  if (pred.values) {
    header.push('value')
    parts.push((i) => [pred.values![i]])
  }
  return { header, cells: (i) => parts.flatMap((p) => p(i)) }
}

abstract class Base implements PredictionsFile {
  protected header?: string[]
  constructor(
    readonly path: string,
    protected readonly tmp: string,
    protected readonly names: { label: string; id?: string },
    /** Moved into place with the run's other outputs, not by commit(). */
    private readonly staged = false,
  ) {}

  abstract write(offset: number, pred: PredictionBatch, labels: Cell[], ids?: Cell[]): Promise<void>
  protected abstract finish(): Promise<void>

  /** The header of the first batch is the file's; a model whose outputs change between batches is already refused upstream. */
  protected columns(pred: PredictionBatch): { header: string[]; cells: (i: number) => (number | string)[] } {
    const out = outputColumns(pred)
    const header = ['row_index', ...(this.names.id ? [this.names.id] : []), this.names.label, ...out.header]
    if (this.header === undefined) {
      const seen = new Set<string>()
      for (const h of header)
        if (seen.has(h))
          throw new UserError(`predictions ${this.path}: two columns would be named "${h}"; rename the id or label column`, {
            file: this.path,
            field: 'predictions',
          })
        else seen.add(h)
      this.header = header
    }
    return { header, cells: out.cells }
  }

  async commit(): Promise<void> {
    try {
      await this.finish()
      if (!this.staged) renameSync(this.tmp, this.path)
    } catch (e) {
      rmSync(this.tmp, { force: true })
      throw new UserError(`predictions ${this.path}: cannot write (${errorText(e)})`, { file: this.path, field: 'predictions' })
    }
  }

  async abort(): Promise<void> {
    await this.finish().catch(() => {})
    rmSync(this.tmp, { force: true })
  }
}

class CsvPredictions extends Base {
  private stream?: WriteStream
  private failed?: Error

  async write(offset: number, pred: PredictionBatch, labels: Cell[], ids?: Cell[]): Promise<void> {
    const { header } = this.columns(pred)
    let text = ''
    if (!this.stream) {
      this.stream = createWriteStream(this.tmp)
      this.stream.on('error', (e) => (this.failed = e))
      text += `${header.map(csvField).join(',')}\n`
    }
    // One string per batch, built field by field: this runs once per data row, so no arrays per row.
    const { labels: predicted, probabilities: p, values } = pred
    const k = p ? (pred.classes?.length ?? 0) : 0
    const withId = this.names.id !== undefined
    for (let i = 0; i < pred.length; i++) {
      text += offset + i
      if (withId) text += `,${csvField(ids?.[i] ?? null)}`
      text += `,${csvField(labels[i] ?? null)}`
      if (predicted) text += `,${csvField(predicted[i])}`
      for (let j = 0; j < k; j++) text += `,${p![i * k + j]}`
      if (values) text += `,${values[i]}`
      text += '\n'
    }
    if (this.failed) throw this.failed
    // Back-pressure: wait for the stream to drain so that memory holds one batch, not the file.
    if (!this.stream.write(text)) await new Promise<void>((resolve) => this.stream!.once('drain', resolve))
  }

  protected async finish(): Promise<void> {
    const stream = this.stream
    if (!stream) {
      // No rows at all: the data set was empty, which validate refuses before anything is committed.
      return
    }
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject)
      stream.end(() => resolve())
    })
    if (this.failed) throw this.failed
  }
}

/** RFC 4180: quote fields holding a comma, a quote or a line break. */
function csvField(v: Cell | number | string): string {
  if (v === null || v === undefined) return ''
  const text = typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : v
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** Rows buffered before a Parquet row group is written: memory holds at most this many rows. */
const ROW_GROUP_ROWS = 65_536

class ParquetPredictions extends Base {
  private writer?: ParquetWriter
  private buffer: (Cell | number | string)[][] = []
  private types?: ('DOUBLE' | 'STRING')[]

  async write(offset: number, pred: PredictionBatch, labels: Cell[], ids?: Cell[]): Promise<void> {
    const { header, cells } = this.columns(pred)
    if (this.buffer.length === 0) this.buffer = header.map(() => [])
    for (let i = 0; i < pred.length; i++) {
      const row: (Cell | number | string)[] = [offset + i]
      if (this.names.id) row.push(ids?.[i] ?? null)
      row.push(labels[i] ?? null, ...cells(i))
      row.forEach((v, j) => this.buffer[j].push(v))
    }
    if (this.buffer[0].length >= ROW_GROUP_ROWS) await this.flush()
  }

  private async flush(): Promise<void> {
    if (this.buffer.length === 0 || this.buffer[0].length === 0) return
    const header = this.header!
    // Each column's type is fixed by the first row group: numbers stay DOUBLE (exact for every double), text STRING.
    this.types ??= this.buffer.map((column) => (column.every((v) => v === null || typeof v === 'number') ? 'DOUBLE' : 'STRING'))
    if (!this.writer) {
      this.writer = new ParquetWriter({
        writer: fileWriter(this.tmp),
        schema: [
          { name: 'root', num_children: header.length },
          ...header.map((name, j) => ({
            name,
            repetition_type: 'OPTIONAL' as const,
            ...(this.types![j] === 'DOUBLE'
              ? { type: 'DOUBLE' as const }
              : { type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const }),
          })),
        ],
        createdBy: 'modelgate',
      })
    }
    const columnData = header.map((name, j) => ({
      name,
      data: this.types![j] === 'DOUBLE' ? this.buffer[j].map((v) => this.number(name, v)) : this.buffer[j].map(textOf),
    }))
    await this.writer.write({ columnData, rowGroupSize: ROW_GROUP_ROWS })
    this.buffer = header.map(() => [])
  }

  private number(column: string, v: Cell | number | string): number | null {
    if (v === null || v === undefined) return null
    if (typeof v === 'number') return v
    throw new UserError(
      `predictions ${this.path}: column "${column}" held numbers in its first ${ROW_GROUP_ROWS} rows and then ${JSON.stringify(v)}; write CSV, or make the column's type consistent`,
      { file: this.path, field: column },
    )
  }

  protected async finish(): Promise<void> {
    if (this.header === undefined) return
    await this.flush()
    await this.writer?.finish()
  }
}

function textOf(v: Cell | number | string): string | null {
  return v === null || v === undefined ? null : typeof v === 'string' ? v : String(v)
}
