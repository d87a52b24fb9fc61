import { isAscii } from 'node:buffer'
import { open, type FileHandle } from 'node:fs/promises'
import { UserError } from '../errors.js'
import { BatchBuilder, selectColumns } from './batching.js'
import { MAX_RECORD_BYTES, SNIFF_BYTES, assertText, excerpt, fileError } from './files.js'
import type { Batch, Cell, ReadOptions, TableSource } from './types.js'

/** Field texts read as a missing value (case-sensitive), besides the empty field. */
export const CSV_MISSING_VALUES: readonly string[] = ['NA', 'NaN', 'nan', 'N/A', 'null']

const MISSING = new Set(['', ...CSV_MISSING_VALUES])

const COMMA = 44
const QUOTE = 34
const LF = 10
const CR = 13

const CHUNK_BYTES = 1 << 20

export { MAX_RECORD_BYTES }

/**
 * One CSV field as a cell: missing → null, a field that is wholly a finite decimal number → number,
 * anything else stays the string. Quoted fields are converted the same way.
 *
 * A decimal beyond the range of a double (`1e400`, which Number() makes Infinity) stays text too: the
 * reader cannot tell a feature from an id or a label column, where such text is no error. The ONNX
 * runner, which knows that the column feeds a number, says that it is out of range.
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

/** The powers of ten a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k)

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

/** `x`, `o`, `b` in either case: the second character of `0x1F`, `0o17`, `0b101`. */
function isRadixLetter(code: number): boolean {
  const lower = code | 0x20
  return lower === 120 || lower === 111 || lower === 98
}

/**
 * An RFC 4180 record parser over text handed over piece by piece. A record cut by the end of the
 * text so far is left unconsumed (cells only reach the targets whole) and parsed again once the
 * reader has carried it over in front of the next piece.
 */
class CsvParser {
  /** 1-based line the next record starts on. */
  line = 1
  private text = ''
  private pos = 0
  private final = false
  private fieldCount = 0
  /** Field j is kept as its text (a string model input: "007" must not become 7); only the empty field is missing. */
  textual: boolean[] = []

  /** The line a quoted field cut by the end of the text so far opened on (the last cut record's, if any). */
  private openQuoteLine: number | undefined

  constructor(
    private readonly path: string,
    private readonly maxRecordBytes: number = MAX_RECORD_BYTES,
  ) {}

  /** Replaces the text with `text`, which starts with whatever `remaining()` returned. */
  load(text: string, final: boolean): void {
    this.openQuoteLine = undefined
    this.text = text
    this.pos = 0
    this.final = final
  }

  /** The text not consumed yet: at most one partial record (and blank lines). */
  remaining(): string {
    return this.text.slice(this.pos)
  }

  /** All text consumed and no more to come. */
  get done(): boolean {
    return this.final && this.pos >= this.text.length
  }

  /** The header's names, or undefined when more text is needed first. */
  header(): string[] | undefined {
    this.skipBlankLines()
    if (this.done) throw new UserError(`${this.path}: the file is empty; a header row is required`, { file: this.path })
    const names: string[] = []
    return this.record(names, []) ? names : undefined
  }

  /**
   * Parses up to `limit` records, pushing field `j` into `targets[j]` when that is set.
   * Returns how many records were added; fewer than `limit` means more text is needed (or the end).
   */
  rows(targets: (Cell[] | undefined)[], expected: number, limit: number): number {
    let added = 0
    while (added < limit) {
      this.skipBlankLines()
      if (this.pos >= this.text.length) break
      const startLine = this.line
      if (!this.record(undefined, targets)) break
      if (this.fieldCount !== expected) {
        throw new UserError(`${this.path}: line ${startLine}: expected ${expected} fields as in the header, found ${this.fieldCount}`, {
          file: this.path,
          field: `line ${startLine}`,
        })
      }
      added++
    }
    return added
  }

  private skipBlankLines(): void {
    const text = this.text
    for (;;) {
      const c = text.charCodeAt(this.pos)
      if (c === LF) {
        this.pos++
      } else if (c === CR) {
        if (this.pos + 1 >= text.length && !this.final) return
        this.pos += text.charCodeAt(this.pos + 1) === LF ? 2 : 1
      } else {
        return
      }
      this.line++
    }
  }

  /**
   * Parses the record at `pos`. Field `j` goes to `raw` (as text) when given, else to `targets[j]`
   * (as a cell) when that is set. Returns false, consuming nothing, when the text ends first.
   */
  private record(raw: string[] | undefined, targets: (Cell[] | undefined)[]): boolean {
    const text = this.text
    const n = text.length
    const final = this.final
    let i = this.pos
    let line = this.line
    let j = 0
    /** Where the last field parsed ends: the record's end once the loop is left. */
    let end: number
    for (;;) {
      const target = raw === undefined ? targets[j] : undefined
      const asText = target !== undefined && this.textual[j] === true
      const keep = raw !== undefined || target !== undefined
      let value = ''
      let number = NaN
      if (i < n && text.charCodeAt(i) === QUOTE) {
        const open = i + 1
        let escaped = false
        let q = text.indexOf('"', open)
        // Doubled quotes are skipped while looking for the closing one and undone once, on the
        // whole field: piecing a field together per quote makes huge fields slow.
        while (q >= 0 && text.charCodeAt(q + 1) === QUOTE) {
          escaped = true
          q = text.indexOf('"', q + 2)
        }
        if (q < 0 || (q + 1 >= n && !final)) {
          if (!final) {
            if (q < 0) this.openQuoteLine = line
            return undo(targets, j)
          }
          throw new UserError(`${this.path}: line ${line}: unterminated quoted field`, {
            file: this.path,
            field: `line ${line}`,
          })
        }
        line += countNewlines(text, open, q)
        if (keep) value = escaped ? text.slice(open, q).replaceAll('""', '"') : text.slice(open, q)
        i = q + 1
        if (i < n) {
          const c = text.charCodeAt(i)
          if (c !== COMMA && c !== LF && c !== CR) {
            throw new UserError(`${this.path}: line ${line}: unexpected text after a closing quote`, {
              file: this.path,
              field: `line ${line}`,
            })
          }
        }
      } else if (target === undefined || asText) {
        const start = i
        i = fieldEnd(text, i, n)
        if (keep) value = text.slice(start, i)
      } else {
        // Most cells are plain decimals: they are parsed while being scanned, with no substring.
        const start = i
        const sign = text.charCodeAt(i)
        if (sign === 45 /* - */ || sign === 43 /* + */) i++
        let mantissa = 0
        let digits = 0
        let dot = -1
        for (; i < n; i++) {
          const c = text.charCodeAt(i)
          const digit = c - 48
          if (digit >= 0 && digit <= 9) {
            mantissa = mantissa * 10 + digit
            digits++
          } else if (c === 46 /* . */ && dot < 0) {
            dot = i
          } else {
            break
          }
        }
        if (i < n && !isFieldEnd(text.charCodeAt(i))) {
          i = fieldEnd(text, i, n)
          digits = 0
        }
        if (digits > 0 && digits <= 15) {
          // Up to 15 digits fit a double exactly and 10^k (k ≤ 22) is exact, so one division
          // gives the correctly rounded value: the very double Number() would give.
          number = dot < 0 ? mantissa : mantissa / POW10[i - dot - 1]
          if (sign === 45) number = -number
        } else {
          value = text.slice(start, i)
        }
      }
      if (i >= n && !final) return undo(targets, j)
      if (raw !== undefined) raw.push(value)
      else if (target !== undefined) target.push(asText ? (value === '' ? null : value) : number === number ? number : csvCell(value))
      j++
      end = i
      if (i >= n) break
      const c = text.charCodeAt(i)
      if (c === COMMA) {
        i++
        continue
      }
      if (c === CR) {
        if (i + 1 >= n && !final) return undo(targets, j)
        i += text.charCodeAt(i + 1) === LF ? 2 : 1
      } else {
        i++
      }
      line++
      break
    }
    // The record's bytes, its line end aside. Bytes ≥ characters and ≤ 3 per character: only a record
    // that may be too long is measured.
    if (end - this.pos > this.maxRecordBytes / 3 && Buffer.byteLength(text.slice(this.pos, end)) > this.maxRecordBytes) {
      throw this.tooLong(this.line, false)
    }
    this.pos = i
    this.line = line
    this.fieldCount = j
    return true
  }

  /** The text carried over to the next read, `bytes` long, is a record cut short: refused past the bound. */
  checkCarried(bytes: number): void {
    if (bytes > this.maxRecordBytes) throw this.tooLong(this.line, this.openQuoteLine !== undefined)
  }

  private tooLong(line: number, inQuote: boolean): UserError {
    const hint = inQuote ? `; the quote opened on line ${this.openQuoteLine} is not closed within it (a missing closing quote?)` : ''
    return new UserError(
      `${this.path}: line ${line}: the record starting on this line is longer than ${mib(this.maxRecordBytes)}, the most one record may take${hint}`,
      { file: this.path, field: `line ${line}` },
    )
  }
}

/** `bytes` as the messages say it: `16 MiB`, or a byte count below 1 MiB (tests use small bounds). */
function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${+(bytes / (1 << 20)).toFixed(1)} MiB` : `${bytes} bytes`
}

/** Takes back the cells a cut record pushed into fields `0..fields-1`; returns false for the caller to pass on. */
function undo(targets: (Cell[] | undefined)[], fields: number): false {
  for (let k = 0; k < fields && k < targets.length; k++) targets[k]?.pop()
  return false
}

function isFieldEnd(code: number): boolean {
  return code === COMMA || code === LF || code === CR
}

/** The index of the comma or line end closing the unquoted field at `from` (or `n`). */
function fieldEnd(text: string, from: number, n: number): number {
  let i = from
  while (i < n && !isFieldEnd(text.charCodeAt(i))) i++
  return i
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0
  for (let k = from; k < to; k++) if (text.charCodeAt(k) === LF) count++
  return count
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

export interface CsvOptions {
  /** Bytes read from the file at a time (1 MiB); small values exercise records split across reads. */
  chunkBytes?: number
  /** The most bytes one record may take (MAX_RECORD_BYTES); small values let tests cross it cheaply. */
  maxRecordBytes?: number
}

/** A CSV file with a header row, read in batches. */
export class CsvSource implements TableSource {
  readonly format = 'csv' as const
  private readonly chunkBytes: number
  private readonly maxRecordBytes: number

  constructor(
    readonly path: string,
    options: CsvOptions = {},
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
      const builder = new BatchBuilder(names, opts.batchSize)
      const slots = names.map((name) => header.indexOf(name))
      if (opts.text) reader.parser.textual = header.map((h) => opts.text!.includes(h))
      const targets: (Cell[] | undefined)[] = new Array(header.length).fill(undefined)
      const bind = (): void => {
        slots.forEach((slot, c) => {
          targets[slot] = builder.arrays[c]
        })
      }
      bind()
      for (;;) {
        builder.length += reader.parser.rows(targets, header.length, builder.room)
        if (builder.full) {
          yield builder.take()
          bind()
        } else if (reader.parser.done) {
          break
        } else {
          await reader.more()
        }
      }
      if (builder.length > 0) yield builder.take()
    } finally {
      await reader.close()
    }
  }

  private open(): CsvReader {
    return new CsvReader(this.path, this.chunkBytes, this.maxRecordBytes)
  }
}

/**
 * Feeds the parser from the file through one reusable buffer. Text is decoded straight from that
 * buffer, so each piece is a flat string (a concatenated one makes every character access slow)
 * and pure-ASCII pieces take the much faster latin1 decoder.
 */
class CsvReader {
  readonly parser: CsvParser
  private handle: FileHandle | undefined
  private buffer: Buffer
  /** Bytes of a UTF-8 character split by the end of the last read. */
  private split = Buffer.alloc(0)
  private eof = false
  /** No text decoded yet, so a byte order mark may still come. */
  private first = true
  /** Bytes read from the file so far. */
  private offset = 0

  constructor(
    private readonly path: string,
    chunkBytes: number,
    maxRecordBytes: number,
  ) {
    this.parser = new CsvParser(path, maxRecordBytes)
    this.buffer = Buffer.allocUnsafe(chunkBytes)
  }

  /** Hands the parser its unconsumed text plus the next piece of the file; false once at the end. */
  async more(): Promise<boolean> {
    if (this.eof) return false
    try {
      this.handle ??= await open(this.path, 'r')
      const rest = this.parser.remaining()
      const carried = Buffer.byteLength(rest) + this.split.length
      // Refused before the buffer grows for it: a record without end would otherwise take all memory.
      this.parser.checkCarried(carried)
      // A record longer than half the buffer doubles it, so re-parsing a huge field stays linear.
      if (carried * 2 > this.buffer.length) this.buffer = Buffer.allocUnsafe(Math.max(this.buffer.length, carried) * 2)
      const buffer = this.buffer
      let filled = buffer.write(rest, 0, 'utf8')
      filled += this.split.copy(buffer, filled)
      const fresh = filled
      while (filled < buffer.length) {
        const { bytesRead } = await this.handle.read(buffer, filled, buffer.length - filled, null)
        if (bytesRead === 0) {
          this.eof = true
          break
        }
        filled += bytesRead
      }
      if (this.offset < SNIFF_BYTES) assertText(this.path, buffer.subarray(fresh, filled), this.offset)
      this.offset += filled - fresh
      const end = this.eof ? filled : utf8Boundary(buffer, filled)
      this.split = Buffer.from(buffer.subarray(end, filled))
      const bytes = buffer.subarray(0, end)
      let text = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8')
      if (this.first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
        this.first = false
      }
      this.parser.load(text, this.eof)
      return true
    } catch (e) {
      throw fileError(this.path, e)
    }
  }

  async header(): Promise<string[]> {
    for (;;) {
      const names = this.parser.header()
      if (names !== undefined) {
        validateHeader(this.path, names)
        return names
      }
      // At the end of the file the parser either completes the header or reports it missing.
      await this.more()
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
