import { isUtf8 } from 'node:buffer'
import { open, type FileHandle } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { UserError } from '../errors.js'
import { BatchBuilder, selectColumns } from './batching.js'
import {
  ERROR_AFTER_QUOTE,
  ERROR_EMPTY,
  ERROR_FIELD_COUNT,
  ERROR_TOO_LONG,
  ERROR_UNTERMINATED,
  FIELD_CELL,
  FIELD_SKIP,
  FIELD_TEXT,
  KIND_MISSING,
  KIND_NUMBER,
  STOP_CUT,
  STOP_ERROR,
  parseCsvChunk,
  type CsvChunk,
} from './csv-chunk.js'
import { ParallelFallback, parallelChunks, workersUsable, type ChunkSpec, type ParallelSettings } from './csv-workers.js'
import { MAX_RECORD_BYTES, SNIFF_BYTES, assertText, excerpt, fileError } from './files.js'
import type { Batch, Cell, Column, ReadOptions, TableSource } from './types.js'

/**
 * The CSV reader: RFC 4180 records (quoted fields may hold commas, doubled quotes and line breaks),
 * a header row, LF, CRLF or CR line ends, blank lines skipped, a UTF-8 byte order mark dropped.
 *
 * Bytes are parsed as they are read (csv-chunk.ts): a numeric field becomes its double without a
 * string, and only the requested columns are converted. A small file is read on the main thread in
 * reads of `chunkBytes`; a large one is cut into chunks at line ends that worker threads parse while
 * the batches of the chunks before are consumed (csv-workers.ts). Both give the same batches and the
 * same errors: anything the parallel path cannot vouch for (a record near the bound on its bytes, a
 * worker that fails) is read again by the main-thread path, which is exact by construction.
 */

/** Field texts read as a missing value (case-sensitive), besides the empty field. */
export const CSV_MISSING_VALUES: readonly string[] = ['NA', 'NaN', 'nan', 'N/A', 'null']

const MISSING = new Set(['', ...CSV_MISSING_VALUES])

const CHUNK_BYTES = 1 << 20

/**
 * Below this many bytes of records, a file is parsed on the main thread only: it takes ~2.5 ms a MiB
 * there, and starting a worker (~35 ms, then a first chunk at cold-JIT speed) would not pay.
 */
const PARALLEL_MIN_BYTES = 16 << 20

/**
 * Bytes a worker parses at a time. Up to 3 × workers + 1 chunks and their parsed cells are in flight, so
 * this sets most of the reader's memory: at 1M rows × 30 columns, 1 MiB chunks peaked ~50 MB lower than
 * 4 MiB ones at no measurable cost in time (alternating runs, 2026-12-03).
 */
const PARALLEL_CHUNK_BYTES = 1 << 20

/**
 * The most worker threads one file is parsed on. One worker already parses faster than `modelgate
 * validate` consumes the batches (inference, metrics and building the batches' arrays take the main
 * thread at least twice the parse time); on 2 cores a second worker measured no faster than one.
 */
const MAX_WORKERS = 2

export { MAX_RECORD_BYTES }

/**
 * One CSV field as a cell: missing → null, a field that is wholly a finite decimal number → number,
 * anything else stays the string. Quoted fields are converted the same way.
 *
 * A decimal beyond the range of a double (`1e400`, which Number() makes Infinity) stays text too: the
 * reader cannot tell a feature from an id or a label column, where such text is no error. The ONNX
 * runner, which knows that the column feeds a number, says that it is out of range.
 *
 * The reader applies this rule on bytes (csv-chunk.ts) with the same outcome for every field.
 */
export function csvCell(text: string): Cell {
  const n = text.length
  if (n === 0) return null
  const first = text.charCodeAt(0)
  if (isDigit(first) || first === 45 /* - */ || first === 43 /* + */ || first === 46 /* . */) {
    // A cheap shape test on the first and last characters keeps Number() (which accepts
    // whitespace, hex and "Infinity") from seeing anything but decimal-looking text.
    const last = text.charCodeAt(n - 1)
    if ((isDigit(last) || last === 46) && !(first === 48 && n > 1 && isRadixLetter(text.charCodeAt(1)))) {
      const value = +text
      if (value - value === 0) return value
    }
    return text
  }
  return MISSING.has(text) ? null : text
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

/** `x`, `o`, `b` in either case: the second character of `0x1F`, `0o17`, `0b101`. */
function isRadixLetter(code: number): boolean {
  const lower = code | 0x20
  return lower === 120 || lower === 111 || lower === 98
}

/** `bytes` as the messages say it: `16 MiB`, or a byte count below 1 MiB (tests use small bounds). */
function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${+(bytes / (1 << 20)).toFixed(1)} MiB` : `${bytes} bytes`
}

function lineError(path: string, line: number, what: string): UserError {
  return new UserError(`${path}: line ${line}: ${what}`, { file: path, field: `line ${line}` })
}

function tooLong(path: string, line: number, maxRecordBytes: number, openQuoteLine?: number): UserError {
  const hint =
    openQuoteLine !== undefined ? `; the quote opened on line ${openQuoteLine} is not closed within it (a missing closing quote?)` : ''
  return lineError(
    path,
    line,
    `the record starting on this line is longer than ${mib(maxRecordBytes)}, the most one record may take${hint}`,
  )
}

/** The error a chunk stopped on; `line` is the line the chunk starts on. */
function chunkError(path: string, chunk: CsvChunk, line: number, fields: number, maxRecordBytes: number): UserError {
  const at = line + chunk.errorLine
  switch (chunk.error) {
    case ERROR_UNTERMINATED:
      return lineError(path, at, 'unterminated quoted field')
    case ERROR_AFTER_QUOTE:
      return lineError(path, at, 'unexpected text after a closing quote')
    case ERROR_FIELD_COUNT:
      return lineError(path, at, `expected ${fields} fields as in the header, found ${chunk.found}`)
    case ERROR_TOO_LONG:
      return tooLong(path, at, maxRecordBytes)
    case ERROR_EMPTY:
      return new UserError(`${path}: the file is empty; a header row is required`, { file: path })
    default:
      throw new Error(`CSV chunk error ${chunk.error}`)
  }
}

function validateHeader(path: string, names: string[]): void {
  const seen = new Set<string>()
  names.forEach((name, index) => {
    if (name.trim() === '') {
      throw new UserError(`${path}: line 1: header column ${index + 1} has an empty name`, {
        file: path,
        field: `column ${index + 1}`,
      })
    }
    if (seen.has(name)) {
      throw new UserError(`${path}: line 1: duplicate column name ${excerpt(name)} in the header`, { file: path, field: name })
    }
    seen.add(name)
  })
}

/**
 * Batches of up to this many rows get their cell arrays at full length up front, filled in place:
 * twice as fast as growing them (and push() is slower still). Past it V8 would give such an array
 * slow dictionary storage, so longer batches grow theirs. Number columns are typed arrays, always
 * made at full length.
 */
const PREALLOCATE_ROWS = 1 << 15

/**
 * Writes records `[from, to)` of `chunk` into the batch's columns (`width` of them) from index `at` on.
 * A column of numbers and missing values stays a Float64Array (NaN for missing); at its first text cell
 * in the batch it becomes an array of cells, the numbers written so far carried over.
 */
function deliver(chunk: CsvChunk, from: number, to: number, arrays: Column[], width: number, at: number): void {
  const { values, kinds, strings, capacity } = chunk
  for (let c = 0; c < width; c++) {
    let n = at
    let k = c * capacity + from
    const end = c * capacity + to
    const typed = arrays[c]
    if (typed instanceof Float64Array) {
      for (; k < end; k++) {
        const kind = kinds[k]
        if (kind === KIND_NUMBER) typed[n++] = values[k]
        else if (kind === KIND_MISSING) typed[n++] = NaN
        else break
      }
      if (k === end) continue
      arrays[c] = cellsOf(typed, n)
    }
    const column = arrays[c] as Cell[]
    for (; k < end; k++) {
      const kind = kinds[k]
      column[n++] = kind === KIND_NUMBER ? values[k] : kind === KIND_MISSING ? null : strings[values[k]]
    }
  }
}

/** The first `n` numbers of a typed column as cells (NaN: missing), in an array as long as the column. */
function cellsOf(typed: Float64Array, n: number): Cell[] {
  const cells = new Array<Cell>(typed.length)
  for (let i = 0; i < n; i++) {
    const v = typed[i]
    cells[i] = v === v ? v : null
  }
  return cells
}

export interface CsvOptions {
  /** Bytes read from the file at a time on the main thread (1 MiB); small values exercise records split across reads. */
  chunkBytes?: number
  /** The most bytes one record may take (MAX_RECORD_BYTES); small values let tests cross it cheaply. */
  maxRecordBytes?: number
  /**
   * Worker threads that parse the records; 0: the main thread does. By default 0 below
   * PARALLEL_MIN_BYTES of records, else one per core but the one that consumes the batches (none on
   * one core, at most MAX_WORKERS).
   */
  workers?: number
  /** Bytes a worker parses at a time (4 MiB); small values exercise records split across chunks. */
  parallelChunkBytes?: number
  /** For tests: cut chunks at any byte, not only after a line end, so that every chunk but the first starts mid-record. */
  splitAnywhere?: boolean
}

/** How many worker threads parse `bytes` bytes of records. */
function defaultWorkers(bytes: number): number {
  if (bytes < PARALLEL_MIN_BYTES) return 0
  return Math.max(0, Math.min(MAX_WORKERS, availableParallelism() - 1))
}

/** A CSV file with a header row, read in batches. */
export class CsvSource implements TableSource {
  readonly format = 'csv' as const
  private readonly chunkBytes: number
  private readonly maxRecordBytes: number

  constructor(
    readonly path: string,
    private readonly options: CsvOptions = {},
  ) {
    this.chunkBytes = Math.max(4, options.chunkBytes ?? CHUNK_BYTES)
    this.maxRecordBytes = options.maxRecordBytes ?? MAX_RECORD_BYTES
  }

  async columns(): Promise<string[]> {
    const reader = this.open()
    try {
      return await reader.header()
    } finally {
      await reader.close()
    }
  }

  async *batches(opts: ReadOptions): AsyncGenerator<Batch> {
    const reader = this.open()
    try {
      const header = await reader.header()
      const names = selectColumns(this.path, header, opts.columns)
      const builder = new BatchBuilder<Column>(names, opts.batchSize)
      const text = new Set(opts.text ?? [])
      const modes = new Uint8Array(header.length).fill(FIELD_SKIP)
      const slots = new Int32Array(header.length)
      names.forEach((name, c) => {
        const j = header.indexOf(name)
        modes[j] = text.has(name) ? FIELD_TEXT : FIELD_CELL
        slots[j] = c
      })
      const spec: ChunkSpec = { fields: header.length, modes, slots, width: names.length, maxRecordBytes: this.maxRecordBytes }
      /** Rows handed out in batches so far. */
      let yielded = 0
      /** Tells opts.onBytesRead how far the file has been read, never less than before (a fall-back reads it again). */
      let reported = 0
      const report = (bytes: number): void => {
        if (bytes <= reported) return
        reported = bytes
        opts.onBytesRead?.(bytes)
      }
      const preallocate = opts.batchSize <= PREALLOCATE_ROWS
      // Columns read as text are cells from the start; the others start as numbers (see deliver).
      const textColumn = names.map((name) => text.has(name))
      const fresh = (): Column[] =>
        textColumn.map((isText) => (isText ? (preallocate ? new Array<Cell>(opts.batchSize) : []) : new Float64Array(opts.batchSize)))
      /** The batches that the records of `chunk` fill. */
      function* fill(chunk: CsvChunk): Generator<Batch> {
        for (let r = 0; r < chunk.rows;) {
          if (builder.length === 0) builder.arrays = fresh()
          const n = Math.min(builder.room, chunk.rows - r)
          deliver(chunk, r, r + n, builder.arrays, spec.width, builder.length)
          builder.length += n
          r += n
          if (builder.full) {
            yielded += builder.length
            yield builder.take()
          }
        }
      }
      /** The last batch, shorter than the others. */
      const last = (): Batch => {
        builder.arrays = builder.arrays.map((column) => {
          if (column instanceof Float64Array) return column.subarray(0, builder.length)
          column.length = builder.length
          return column
        })
        return builder.take()
      }
      const parallel = await reader.parallelStart(this.options)
      if (parallel !== undefined) {
        let line = reader.line
        let fallBack = false
        // Each chunk starts where the one before stopped, so the bytes whose records are handed out add up.
        let through = parallel.from
        try {
          for await (const chunk of parallelChunks(reader.fileHandle(), parallel.from, spec, parallel)) {
            yield* fill(chunk)
            through += chunk.next
            report(through)
            if (chunk.stop === STOP_ERROR) {
              // An error well inside the bound on a record's bytes is the same however the file was
              // cut; near the bound it may not be, and the main-thread path, which reads the file as
              // it always has, says what it is.
              if (chunk.error !== ERROR_TOO_LONG && chunk.extent * 3 + 2 < this.maxRecordBytes) {
                throw chunkError(this.path, chunk, line, spec.fields, this.maxRecordBytes)
              }
              fallBack = true
              break
            }
            line += chunk.lines
          }
        } catch (e) {
          if (!(e instanceof ParallelFallback)) throw e
          fallBack = true
        }
        if (!fallBack) {
          if (builder.length > 0) yield last()
          return
        }
        // Again from the start on the main thread, past the rows already handed out.
        await reader.close()
        reader.restart()
        await reader.header()
        builder.arrays = builder.arrays.map(() => [])
        builder.length = 0
        await reader.skipRows(spec, yielded)
      }
      for (;;) {
        const line = reader.line
        const chunk = reader.parse(spec, Infinity)
        yield* fill(chunk)
        if (chunk.stop === STOP_ERROR) throw chunkError(this.path, chunk, line, spec.fields, this.maxRecordBytes)
        reader.consumed(chunk, line)
        report(reader.bytesRead)
        if (reader.done) break
        await reader.more(chunk, line)
      }
      if (builder.length > 0) yield last()
    } finally {
      await reader.close()
    }
  }

  private open(): CsvReader {
    return new CsvReader(this.path, this.chunkBytes, this.maxRecordBytes)
  }
}

/**
 * Reads the file on the main thread through one buffer, in reads of `chunkBytes`, and parses what is
 * in it. A record cut by the end of a read stays in the buffer and is parsed again with the next read;
 * the buffer doubles when such a record takes more than half of it, so re-parsing a huge field stays
 * linear. The buffer holds the file's bytes but for a cut record that is not valid UTF-8, which is
 * carried over re-encoded (U+FFFD for each bad sequence) as its text would be: the bound on a record's
 * bytes applies to its text.
 */
class CsvReader {
  private handle: FileHandle | undefined
  /** `size` bytes and one more, which the parser may overwrite while it runs (a stop byte). */
  private buffer: Buffer
  private size: number
  /** Where the unparsed bytes start. */
  private start = 0
  /** Bytes in the buffer. */
  private filled = 0
  /** The end of the bytes parsed: `filled` less a UTF-8 character cut by the end of the read. */
  private visible = 0
  private eof = false
  /** Nothing read yet, so a byte order mark may still come. */
  private first = true
  /** Bytes read from the file so far. */
  private offset = 0
  /** 1-based line `start` is on. */
  line = 1
  /** Records per byte so far, to size the parser's arrays. */
  private rowBytes = 0

  constructor(
    private readonly path: string,
    private readonly chunkBytes: number,
    private readonly maxRecordBytes: number,
  ) {
    this.size = chunkBytes
    this.buffer = Buffer.allocUnsafe(chunkBytes + 1)
  }

  /** Back to the start of the file, as if just opened. */
  restart(): void {
    this.size = this.chunkBytes
    this.buffer = Buffer.allocUnsafe(this.chunkBytes + 1)
    this.start = this.filled = this.visible = this.offset = 0
    this.eof = false
    this.first = true
    this.line = 1
  }

  /** Bytes read from the file so far. */
  get bytesRead(): number {
    return this.offset
  }

  /** All bytes parsed and no more to come. */
  get done(): boolean {
    return this.eof && this.start >= this.visible
  }

  fileHandle(): FileHandle {
    return this.handle!
  }

  /** Parses from `start` on; `limit` records at most. */
  parse(spec: ChunkSpec, limit: number): CsvChunk {
    const length = this.visible - this.start
    const capacity = this.rowBytes > 0 ? Math.ceil(length / this.rowBytes) + 16 : Math.ceil(length / (4 * spec.fields + 4)) + 16
    const chunk = parseCsvChunk(
      this.buffer,
      this.start,
      this.visible,
      this.eof,
      spec.fields,
      spec.modes,
      spec.slots,
      spec.width,
      this.maxRecordBytes,
      Math.min(capacity, limit),
      limit,
    )
    if (chunk.rows > 16) this.rowBytes = (chunk.next - this.start) / chunk.rows
    return chunk
  }

  /** Moves past what `chunk`, parsed from line `line`, consumed. */
  consumed(chunk: CsvChunk, line: number): void {
    this.start = chunk.next
    this.line = line + chunk.lines
  }

  /** Parses and drops `rows` records. */
  async skipRows(spec: ChunkSpec, rows: number): Promise<void> {
    const skip: ChunkSpec = { ...spec, modes: new Uint8Array(spec.fields), width: 0 }
    let left = rows
    while (left > 0) {
      const line = this.line
      const chunk = this.parse(skip, left)
      if (chunk.stop === STOP_ERROR) throw chunkError(this.path, chunk, line, spec.fields, this.maxRecordBytes)
      this.consumed(chunk, line)
      left -= chunk.rows
      if (left > 0) {
        if (this.done) throw new Error(`CSV: ${rows} rows to skip, the file has fewer`)
        await this.more(chunk, line)
      }
    }
  }

  /**
   * Keeps the bytes not consumed (at most one cut record, which `chunk`, parsed from line `line`,
   * stopped on) and reads more after them.
   */
  async more(chunk?: CsvChunk, line = this.line): Promise<void> {
    try {
      this.handle ??= await open(this.path, 'r')
      const view = this.buffer.subarray(this.start, this.visible)
      const rest = isUtf8(view) ? view : Buffer.from(view.toString('utf8'))
      const split = this.filled - this.visible
      const carried = rest.length + split
      // Refused before the buffer grows for it: a record without end would otherwise take all memory.
      if (carried > this.maxRecordBytes) {
        const quote = chunk !== undefined && chunk.stop === STOP_CUT && chunk.openQuoteLine >= 0 ? line + chunk.openQuoteLine : undefined
        throw tooLong(this.path, this.line, this.maxRecordBytes, quote)
      }
      let buffer = this.buffer
      // A record longer than half the buffer doubles it, so re-parsing a huge field stays linear.
      if (carried * 2 > this.size) {
        this.size = Math.max(this.size, carried) * 2
        buffer = Buffer.allocUnsafe(this.size + 1)
      }
      if (buffer === this.buffer && rest === view) {
        buffer.copyWithin(0, this.start, this.filled)
      } else {
        const cut = Buffer.from(this.buffer.subarray(this.visible, this.filled))
        buffer.set(rest, 0)
        buffer.set(cut, rest.length)
      }
      this.buffer = buffer
      let filled = carried
      const fresh = filled
      while (filled < this.size) {
        const { bytesRead } = await this.handle.read(buffer, filled, this.size - filled, null)
        if (bytesRead === 0) {
          this.eof = true
          break
        }
        filled += bytesRead
      }
      if (this.offset < SNIFF_BYTES) assertText(this.path, buffer.subarray(fresh, filled), this.offset)
      this.offset += filled - fresh
      this.start = 0
      this.filled = filled
      this.visible = this.eof ? filled : utf8Boundary(buffer, filled)
      if (this.first && this.visible > 0) {
        if (buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf && this.visible >= 3) this.start = 3
        this.first = false
      }
    } catch (e) {
      throw fileError(this.path, e)
    }
  }

  async header(): Promise<string[]> {
    const spec: ChunkSpec = {
      fields: -1,
      modes: new Uint8Array(0),
      slots: new Int32Array(0),
      width: 0,
      maxRecordBytes: this.maxRecordBytes,
    }
    await this.more()
    for (;;) {
      const line = this.line
      const chunk = this.parse(spec, 1)
      if (chunk.stop === STOP_ERROR) throw chunkError(this.path, chunk, line, 0, this.maxRecordBytes)
      this.consumed(chunk, line)
      if (chunk.rows === 1) {
        validateHeader(this.path, chunk.strings)
        return chunk.strings
      }
      // At the end of the file the parser either completes the header or reports it missing.
      await this.more(chunk, line)
    }
  }

  /**
   * Whether to parse the records after the header on worker threads, and from which file offset. Not
   * when the file is small, nor when its first bytes are not text (the main-thread path says so where
   * it always has).
   */
  async parallelStart(options: CsvOptions): Promise<({ from: number } & ParallelSettings) | undefined> {
    if (this.done) return undefined
    const handle = this.handle!
    const from = this.offset - this.filled + this.start
    const size = (await handle.stat()).size
    const workers = options.workers ?? defaultWorkers(size - from)
    if (workers < 1 || size <= from || !workersUsable()) return undefined
    const head = Buffer.alloc(Math.min(size, SNIFF_BYTES))
    await handle.read(head, 0, head.length, 0)
    try {
      assertText(this.path, head)
    } catch {
      return undefined
    }
    return {
      from,
      workers,
      chunkBytes: Math.max(1, options.parallelChunkBytes ?? PARALLEL_CHUNK_BYTES),
      splitAnywhere: options.splitAnywhere === true,
    }
  }

  async close(): Promise<void> {
    await this.handle?.close()
    this.handle = undefined
  }
}

/** The length of `buffer[0, filled)` without a UTF-8 character cut off at its end. */
function utf8Boundary(buffer: Buffer, filled: number): number {
  for (let k = filled - 1, seen = 1; k >= 0 && seen <= 4; k--, seen++) {
    const byte = buffer[k]
    if ((byte & 0x80) === 0) return filled
    if ((byte & 0xc0) === 0xc0) {
      const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2
      return seen >= size ? filled : k
    }
  }
  return filled
}
