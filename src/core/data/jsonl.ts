import { open, type FileHandle } from 'node:fs/promises'
import { UserError, errorText } from '../errors.js'
import { BatchBuilder, selectColumns } from './batching.js'
import { EXCERPT_CHARS, MAX_RECORD_BYTES, SNIFF_BYTES, assertText, fileError, shownName } from './files.js'
import type { Batch, Cell, ReadOptions, TableSource } from './types.js'

type JsonRow = Record<string, unknown>

/** Bytes read from the file at a time. */
const CHUNK_BYTES = 1 << 16
const LF = 10
const CR = 13

export interface JsonlOptions {
  /** Bytes read from the file at a time (64 KiB); small values exercise lines split across reads. */
  chunkBytes?: number
  /** The most bytes one line may take (MAX_RECORD_BYTES); small values let tests cross it cheaply. */
  maxLineBytes?: number
}

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
  private readonly chunkBytes: number
  private readonly maxLineBytes: number

  constructor(
    readonly path: string,
    options: JsonlOptions = {},
  ) {
    this.chunkBytes = Math.max(1, options.chunkBytes ?? CHUNK_BYTES)
    this.maxLineBytes = options.maxLineBytes ?? MAX_RECORD_BYTES
  }

  /** The first object's keys; none for a file without objects. */
  async columns(): Promise<string[]> {
    for await (const { texts, first } of this.lines()) {
      for (let k = 0; k < texts.length; k++) if (texts[k].trim() !== '') return Object.keys(this.parseLine(texts[k], first + k))
    }
    return []
  }

  async *batches(opts: ReadOptions): AsyncGenerator<Batch> {
    let builder: BatchBuilder | undefined
    for await (const { texts, first, bytes } of this.lines()) {
      for (let k = 0; k < texts.length; k++) {
        const text = texts[k]
        if (text.trim() === '') continue
        const row = this.parseLine(text, first + k)
        builder ??= new BatchBuilder(selectColumns(this.path, Object.keys(row), opts.columns), opts.batchSize)
        const { names, arrays } = builder
        for (let c = 0; c < names.length; c++) {
          const value = row[names[c]]
          // JSON has no infinities: an infinite number is a literal beyond the range of a double.
          if (typeof value === 'number' && value - value !== 0) throw this.outOfRange(text, first + k, names[c], value)
          arrays[c].push(value === undefined ? null : (value as Cell))
        }
        builder.length++
        if (builder.full) yield builder.take()
      }
      opts.onBytesRead?.(bytes)
    }
    if (builder !== undefined && builder.length > 0) yield builder.take()
  }

  /**
   * The file's lines as text, without their ends (LF, CRLF or a lone CR, as readline splits them)
   * and the byte order mark taken off the first; a read's worth at a time, `first` being the number
   * of the first. A line is decoded whole, so a UTF-8 character split by a read is intact; one longer
   * than the bound is refused before it is held.
   */
  /** Lines read so far in groups, with the bytes of the file read through the last of them. */
  private async *lines(): AsyncGenerator<{ texts: string[]; first: number; bytes: number }> {
    let handle: FileHandle
    try {
      handle = await open(this.path, 'r')
    } catch (e) {
      throw fileError(this.path, e)
    }
    try {
      const buffer = Buffer.allocUnsafe(this.chunkBytes)
      /** The bytes of the line being read, from earlier reads. */
      let pending: Buffer[] = []
      let pendingBytes = 0
      let offset = 0
      let line = 1
      /** The last read ended with CR: an LF starting the next one ends the same line. */
      let afterCr = false
      const take = (piece: Buffer): string => {
        if (pendingBytes + piece.length > this.maxLineBytes) throw this.tooLong(line)
        const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece])
        pending = []
        pendingBytes = 0
        const text = bytes.toString('utf8')
        return line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
      }
      for (;;) {
        let read: number
        try {
          read = (await handle.read(buffer, 0, buffer.length, null)).bytesRead
        } catch (e) {
          throw fileError(this.path, e)
        }
        if (read === 0) break
        const chunk = buffer.subarray(0, read)
        if (offset < SNIFF_BYTES) assertText(this.path, chunk, offset)
        offset += read
        const first = line
        const texts: string[] = []
        let start = afterCr && chunk[0] === LF ? 1 : 0
        afterCr = false
        let lf = chunk.indexOf(LF, start)
        let cr = chunk.indexOf(CR, start)
        while (lf >= 0 || cr >= 0) {
          const end = cr < 0 || (lf >= 0 && lf < cr) ? lf : cr
          texts.push(take(chunk.subarray(start, end)))
          line++
          start = end + 1
          if (end === cr) {
            if (start === read) afterCr = true
            else if (chunk[start] === LF) start++
          }
          if (lf >= 0 && lf < start) lf = chunk.indexOf(LF, start)
          if (cr >= 0 && cr < start) cr = chunk.indexOf(CR, start)
        }
        if (start < read) {
          if (pendingBytes + read - start > this.maxLineBytes) throw this.tooLong(line)
          pending.push(Buffer.from(chunk.subarray(start)))
          pendingBytes += read - start
        }
        if (texts.length > 0) yield { texts, first, bytes: offset }
      }
      if (pendingBytes > 0) yield { texts: [take(Buffer.alloc(0))], first: line, bytes: offset }
    } finally {
      await handle.close()
    }
  }

  private tooLong(line: number): UserError {
    const limit = this.maxLineBytes >= 1 << 20 ? `${+(this.maxLineBytes / (1 << 20)).toFixed(1)} MiB` : `${this.maxLineBytes} bytes`
    return new UserError(`${this.path}: line ${line}: the line is longer than ${limit}, the most one line may take`, {
      file: this.path,
      field: `line ${line}`,
    })
  }

  /** A number JSON.parse made infinite, as the line wrote it when it can be found. */
  private outOfRange(text: string, line: number, column: string, value: number): UserError {
    const key = JSON.stringify(column)
    let literal: string | undefined
    for (let at = text.indexOf(key); at >= 0 && literal === undefined; at = text.indexOf(key, at + 1)) {
      const match = /\s*:\s*(-?[0-9][0-9.eE+-]*)/y
      match.lastIndex = at + key.length
      const found = match.exec(text)?.[1]
      if (found !== undefined && Number(found) === value)
        literal = found.length <= EXCERPT_CHARS ? found : `${found.slice(0, EXCERPT_CHARS)}… (${found.length} characters)`
    }
    return new UserError(
      `${this.path}: line ${line}: column '${column}': ${literal ?? 'a number'} is out of the range of a double (float64; the largest is about 1.8e308)`,
      { file: this.path, field: column },
    )
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
    for (const [key, cell] of Object.entries(value)) {
      if (cell !== null && typeof cell === 'object' && nestedDeeperThan(cell, MAX_NESTING))
        throw new UserError(
          `${this.path}: line ${line}: the value of "${shownName(key)}" is nested more than ${MAX_NESTING} levels deep; a cell is a number, a string, a boolean or null`,
          { file: this.path, field: key },
        )
    }
    return value as JsonRow
  }
}

/** Deeper lists and objects are no feature any model takes, and converting them (String, JSON) recurses. */
const MAX_NESTING = 32

/** Walks with its own stack: the point is a value too deep for the call stack. */
function nestedDeeperThan(value: object, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (depth > limit) return true
    if (v !== null && typeof v === 'object')
      for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
  }
  return false
}
