import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { UserError, errorText } from '../errors.js'
import { BatchBuilder, selectColumns } from './batching.js'
import { fileError } from './files.js'
import type { Batch, Cell, ReadOptions, TableSource } from './types.js'

type JsonRow = Record<string, unknown>

/**
 * JSON Lines: one JSON object per line, blank lines skipped.
 *
 * The columns are the keys of the first object, in its order: a stream cannot know later rows'
 * keys without reading the whole file, and a well-formed data set has the same keys on every
 * line. A key missing from a later row reads as null; keys that only later rows have are ignored
 * (and asking for one is a missing-column error). Nested values (objects, arrays) are passed
 * through untouched for the consumer to reject or use.
 */
export class JsonlSource implements TableSource {
  readonly format = 'jsonl' as const

  constructor(readonly path: string) {}

  /** The first object's keys; none for a file without objects. */
  async columns(): Promise<string[]> {
    for await (const { row } of this.rows()) return Object.keys(row)
    return []
  }

  async *batches(opts: ReadOptions): AsyncGenerator<Batch> {
    let builder: BatchBuilder | undefined
    for await (const { row } of this.rows()) {
      builder ??= new BatchBuilder(selectColumns(this.path, Object.keys(row), opts.columns), opts.batchSize)
      const { names, arrays } = builder
      for (let c = 0; c < names.length; c++) {
        const value = row[names[c]]
        arrays[c].push(value === undefined ? null : (value as Cell))
      }
      builder.length++
      if (builder.full) yield builder.take()
    }
    if (builder !== undefined && builder.length > 0) yield builder.take()
  }

  /** The file's objects, read line by line. */
  private async *rows(): AsyncGenerator<{ row: JsonRow; line: number }> {
    const stream = createReadStream(this.path, { encoding: 'utf8' })
    const lines = createInterface({ input: stream, crlfDelay: Infinity })
    const iterator = lines[Symbol.asyncIterator]()
    try {
      for (let line = 1; ; line++) {
        let next: IteratorResult<string>
        try {
          next = await iterator.next()
        } catch (e) {
          throw fileError(this.path, e)
        }
        if (next.done) break
        const text = line === 1 && next.value.charCodeAt(0) === 0xfeff ? next.value.slice(1) : next.value
        if (text.trim() === '') continue
        yield { row: this.parseLine(text, line), line }
      }
    } finally {
      lines.close()
      stream.destroy()
    }
  }

  private parseLine(text: string, line: number): JsonRow {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (e) {
      throw new UserError(`${this.path}: line ${line}: not valid JSON (${errorText(e)})`, {
        file: this.path,
        field: `line ${line}`,
      })
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
      throw new UserError(`${this.path}: line ${line}: expected a JSON object, found ${kind}`, {
        file: this.path,
        field: `line ${line}`,
      })
    }
    return value as JsonRow
  }
}
