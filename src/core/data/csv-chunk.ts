/**
 * The CSV record parser, on bytes: one call parses the whole records in `bytes[start, end)` into typed
 * arrays (a double and a kind per kept field of each record), with no string per numeric cell.
 *
 * `parseCsvChunk` is self-contained: no import, no reference to anything outside its body but the
 * globals of every Node context (typed arrays, Number, Math, Buffer). csv-workers.ts starts worker threads from its
 * source text (`parseCsvChunk.toString()`), so one function is the parser of the main thread and of
 * every worker, whether it runs from the TypeScript (ts-jest, tsx) or from the ncc bundle.
 *
 * Why a parser of our own rather than a library: measured on the benchmark's CSV (30 numeric
 * columns and a label, 300,000 rows, 84 MB), file in memory to Float64Array, one thread, CPU time,
 * median of 3 alternating runs: this parser 0.49 s; udsv 0.7.3 (typedCols, the fastest JS CSV parser
 * we know of) 1.17 s; papaparse 5.7 (dynamicTyping) 3.0 s; csv-parse 6.2 (already a dependency; cast)
 * 4.3 s. Each library makes a string per field before it becomes a number; this parser reads the
 * digits off the bytes and makes strings only for text fields. It also keeps the reader's own rules
 * (line numbers, records cut by the end of a read left for the next one, the bound on a record's
 * bytes, what is a number and what stays text), which no library exposes.
 */

/** How a field is read: skipped (not a requested column), as a cell (a number, text or missing), or as text. */
export const FIELD_SKIP = 0
export const FIELD_CELL = 1
export const FIELD_TEXT = 2

/** Cell kinds in `CsvChunk.kinds`. */
export const KIND_NUMBER = 0
export const KIND_MISSING = 1
/** The cell is `strings[values[k]]`. */
export const KIND_TEXT = 2

/** Why parsing stopped. */
export const STOP_END = 0
/** A record (or a CR that may start a CRLF) is cut by the end of the bytes; it starts at `next`. */
export const STOP_CUT = 1
export const STOP_ERROR = 2

/** Errors, with `errorLine` relative to the first line of the bytes. */
export const ERROR_UNTERMINATED = 1
export const ERROR_AFTER_QUOTE = 2
export const ERROR_FIELD_COUNT = 3
export const ERROR_TOO_LONG = 4
export const ERROR_EMPTY = 5

/** The records of one chunk, column by column: field `j` of record `r` is at `slots[j] * capacity + r`. */
export interface CsvChunk {
  /** Whole records parsed (before an error, if any). */
  rows: number
  values: Float64Array
  kinds: Uint8Array
  /** The text cells, in the order met. */
  strings: string[]
  /** Where parsing stopped: past the last whole record and the blank lines after it (or the start of a cut record). */
  next: number
  /** Line ends passed between `start` and `next`. */
  lines: number
  stop: number
  error: number
  /** The line of the error, relative: 0 is the line `start` is on. */
  errorLine: number
  /** For ERROR_FIELD_COUNT, the fields found. */
  found: number
  /** For STOP_CUT: the relative line of a quote the cut record opened and did not close, or -1. */
  openQuoteLine: number
  /** Bytes from the start of the record an error is in, or that is cut, to where it was seen. */
  extent: number
  /** The bytes of `values` and `kinds` hold this many records. */
  capacity: number
}

/**
 * Parses the records in `bytes[start, end)`. `final`: no byte follows `end`, so a record may end there
 * without a line end and a quote still open is an error; otherwise a record reaching `end` is left
 * (STOP_CUT) for the caller to parse again with more bytes. `fields` is the header's field count, or
 * -1 to parse one record (the header) into `strings`, every field as text. `modes[j]` says how field
 * `j` is read (FIELD_*), `slots[j]` where it goes among the `width` kept ones. A record's bytes (its
 * line end aside) beyond `maxRecordBytes` are an error. `capacity`: records to allocate for (grown as
 * needed). Parsing stops after `limit` records (STOP_END, at `next`).
 *
 * Cells follow csvCell (csv.ts): missing (empty, NA, NaN, nan, N/A, null) → KIND_MISSING; wholly a finite
 * decimal → KIND_NUMBER with the double Number(text) gives; anything else → KIND_TEXT. FIELD_TEXT keeps
 * the text (only the empty field is missing).
 */
/* istanbul ignore next: runs as the source text of worker threads too, where coverage counters would be undefined */
export function parseCsvChunk(
  bytes: Uint8Array,
  start: number,
  end: number,
  final: boolean,
  fields: number,
  modes: Uint8Array,
  slots: Int32Array,
  width: number,
  maxRecordBytes: number,
  capacity: number,
  limit: number,
): CsvChunk {
  const header = fields < 0
  const nmodes = header ? 0 : fields
  let cap = Math.max(1, capacity)
  let values = new Float64Array(cap * width)
  let kinds = new Uint8Array(cap * width)
  /** Where field j's column starts in `values` and `kinds`. */
  const columnStart = new Int32Array(nmodes)
  for (let j = 0; j < nmodes; j++) columnStart[j] = slots[j] * cap
  const strings: string[] = []
  // latin1Slice and utf8Slice are what toString(encoding, start, end) calls, without its argument checks.
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Buffer & {
    latin1Slice(start: number, end: number): string
    utf8Slice(start: number, end: number): string
  }
  // The powers of ten a double holds exactly: m * 10^e and m / 10^e are correctly rounded for an integer m < 2^53 (Clinger).
  const POW10 = [
    1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
  ]

  /** A decoded field as a cell, by csvCell's rule: the number, null (missing) or the text itself (undefined). */
  const cellOf = (text: string): number | null | undefined => {
    const n = text.length
    if (n === 0) return null
    const first = text.charCodeAt(0)
    if ((first >= 48 && first <= 57) || first === 45 || first === 43 || first === 46) {
      const last = text.charCodeAt(n - 1)
      const second = n > 1 ? text.charCodeAt(1) | 0x20 : 0
      if (((last >= 48 && last <= 57) || last === 46) && !(first === 48 && (second === 120 || second === 111 || second === 98))) {
        const value = +text
        if (value - value === 0) return value
      }
      return undefined
    }
    return text === 'NA' || text === 'NaN' || text === 'nan' || text === 'N/A' || text === 'null' ? null : undefined
  }

  /** Field bytes `[a, b)` that are wholly a decimal number: its double; else NaN (text, 1e400 included). */
  const numberAt = (a: number, b: number): number => {
    let k = a
    let c = k < b ? bytes[k] : -1
    const negative = c === 45
    if (c === 45 || c === 43) c = ++k < b ? bytes[k] : -1
    let m = 0
    let digits = 0
    while (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48)
      digits++
      c = ++k < b ? bytes[k] : -1
    }
    let scale = 0
    if (c === 46) {
      c = ++k < b ? bytes[k] : -1
      while (c >= 48 && c <= 57) {
        m = m * 10 + (c - 48)
        digits++
        scale--
        c = ++k < b ? bytes[k] : -1
      }
    }
    if (digits === 0) return NaN
    if (c === 101 || c === 69) {
      c = ++k < b ? bytes[k] : -1
      const down = c === 45
      if (c === 45 || c === 43) c = ++k < b ? bytes[k] : -1
      let exponent = 0
      let expDigits = 0
      while (c >= 48 && c <= 57) {
        if (exponent < 1e6) exponent = exponent * 10 + (c - 48)
        expDigits++
        c = ++k < b ? bytes[k] : -1
      }
      if (expDigits === 0) return NaN
      scale += down ? -exponent : exponent
    }
    if (k < b) return NaN
    let value: number
    // m stays exact while below 2^53: rounding is monotonic, so a value that ever passed 2^53 ends at or above it.
    if (m < 9007199254740992 && scale >= -22 && scale <= 22) value = scale < 0 ? m / POW10[-scale] : m * POW10[scale]
    else if (m === 0) value = 0
    else {
      value = Number(buf.latin1Slice(a, b))
      if (value - value !== 0) return NaN
      return value
    }
    return negative ? -value : value
  }

  // A line feed written past the end stops every scan without a bound check; the byte is put back at the end.
  if (end >= bytes.length) throw new RangeError('parseCsvChunk needs one byte of room past `end`')
  const saved = bytes[end]
  bytes[end] = 10

  let i = start
  let line = 0
  let rows = 0
  let next: number
  let nextLines: number
  let stop = 0
  let error = 0
  let errorLine = 0
  let found = 0
  let openQuoteLine = -1
  let extent = 0
  /** Text cells of the whole records. */
  let kept = 0

  records: for (;;) {
    // Blank lines before a record.
    for (;;) {
      if (i >= end) {
        next = i
        nextLines = line
        if (header && final) {
          stop = 2
          error = 5
        }
        break records
      }
      const c = bytes[i]
      if (c === 10) {
        i++
      } else if (c === 13) {
        if (i + 1 >= end && !final) {
          next = i
          nextLines = line
          stop = 1
          break records
        }
        i += i + 1 < end && bytes[i + 1] === 10 ? 2 : 1
      } else {
        break
      }
      line++
    }
    next = i
    nextLines = line
    if (rows === cap) {
      const grownValues = new Float64Array(2 * cap * width)
      const grownKinds = new Uint8Array(2 * cap * width)
      for (let c = 0; c < width; c++) {
        grownValues.set(values.subarray(c * cap, (c + 1) * cap), 2 * c * cap)
        grownKinds.set(kinds.subarray(c * cap, (c + 1) * cap), 2 * c * cap)
      }
      values = grownValues
      kinds = grownKinds
      cap *= 2
      for (let j = 0; j < nmodes; j++) columnStart[j] = slots[j] * cap
    }
    const recordStart = i
    const recordLine = line
    let j = 0
    let recordEnd: number
    for (;;) {
      const mode = header ? 2 : j < nmodes ? modes[j] : 0
      const at = mode === 0 || header ? 0 : columnStart[j] + rows
      let c = bytes[i]
      if (c === 34 && i < end) {
        // A quoted field: doubled quotes are skipped while looking for the closing one.
        const open = i + 1
        let k = open
        let newlines = 0
        let escaped = false
        for (;;) {
          c = bytes[k]
          while (c !== 34) {
            if (c === 10) {
              if (k >= end) break
              newlines++
            }
            c = bytes[++k]
          }
          if (k >= end) {
            extent = end - recordStart
            if (!final) {
              openQuoteLine = line
              stop = 1
            } else {
              stop = 2
              error = 1
              errorLine = line
            }
            break records
          }
          if (k + 1 < end && bytes[k + 1] === 34) {
            escaped = true
            k += 2
            continue
          }
          if (k + 1 >= end && !final) {
            extent = end - recordStart
            stop = 1
            break records
          }
          break
        }
        line += newlines
        i = k + 1
        c = bytes[i]
        if (c !== 44 && c !== 10 && c !== 13) {
          extent = i - recordStart
          stop = 2
          error = 2
          errorLine = line
          break records
        }
        if (mode !== 0) {
          let value = NaN
          if (mode === 1 && !escaped) value = numberAt(open, k)
          if (value === value) {
            values[at] = value
            kinds[at] = 0
          } else {
            let text = buf.utf8Slice(open, k)
            if (escaped) text = text.replaceAll('""', '"')
            const cell = mode === 2 ? (text === '' && !header ? null : undefined) : cellOf(text)
            if (header) {
              strings.push(text)
            } else if (cell === undefined) {
              values[at] = strings.length
              kinds[at] = 2
              strings.push(text)
            } else if (cell === null) {
              kinds[at] = 1
            } else {
              values[at] = cell
              kinds[at] = 0
            }
          }
        }
      } else if (mode === 1) {
        // Most cells are plain decimals: the digits are read while the field is scanned.
        const from = i
        const negative = c === 45
        if (c === 45 || c === 43) c = bytes[++i]
        let m = 0
        const intStart = i
        while (c >= 48 && c <= 57) {
          m = m * 10 + (c - 48)
          c = bytes[++i]
        }
        let digits = i - intStart
        let scale = 0
        if (c === 46) {
          const fracStart = ++i
          c = bytes[i]
          while (c >= 48 && c <= 57) {
            m = m * 10 + (c - 48)
            c = bytes[++i]
          }
          scale = fracStart - i
          digits -= scale
        }
        if (digits > 0 && (c === 44 || c === 10 || c === 13) && m < 9007199254740992 && scale >= -22) {
          const value = scale < 0 ? m / POW10[-scale] : m
          values[at] = negative ? -value : value
          kinds[at] = 0
        } else {
          // Anything else (an exponent, many digits, text, a missing marker): the whole field.
          while (c !== 44 && c !== 10 && c !== 13) c = bytes[++i]
          const value = from === i ? NaN : numberAt(from, i)
          if (value === value) {
            values[at] = value
            kinds[at] = 0
          } else if (from === i) {
            kinds[at] = 1
          } else {
            const text = buf.utf8Slice(from, i)
            const cell = cellOf(text)
            if (cell === undefined) {
              values[at] = strings.length
              kinds[at] = 2
              strings.push(text)
            } else if (cell === null) {
              kinds[at] = 1
            } else {
              values[at] = cell
              kinds[at] = 0
            }
          }
        }
      } else {
        const from = i
        while (c !== 44 && c !== 10 && c !== 13) c = bytes[++i]
        if (header) {
          strings.push(buf.utf8Slice(from, i))
        } else if (mode !== 0) {
          if (from === i) {
            kinds[at] = 1
          } else {
            values[at] = strings.length
            kinds[at] = 2
            strings.push(buf.utf8Slice(from, i))
          }
        }
      }
      j++
      if (i >= end) {
        if (!final) {
          extent = end - recordStart
          stop = 1
          break records
        }
        recordEnd = end
        i = end
        break
      }
      if (c === 44) {
        i++
        continue
      }
      recordEnd = i
      if (c === 13) {
        if (i + 1 >= end && !final) {
          extent = end - recordStart
          stop = 1
          break records
        }
        i += i + 1 < end && bytes[i + 1] === 10 ? 2 : 1
      } else {
        i++
      }
      line++
      break
    }
    // The record's bytes, its line end aside, as UTF-8 text: a byte that is not UTF-8 counts as the
    // three of U+FFFD it reads as. Only a record that may be too long is measured.
    const size = recordEnd - recordStart
    if (size * 3 > maxRecordBytes && (size > maxRecordBytes || Buffer.byteLength(buf.utf8Slice(recordStart, recordEnd)) > maxRecordBytes)) {
      extent = size
      stop = 2
      error = 4
      errorLine = recordLine
      break
    }
    if (!header && j !== fields) {
      extent = size
      stop = 2
      error = 3
      errorLine = recordLine
      found = j
      break
    }
    rows++
    next = i
    nextLines = line
    kept = strings.length
    if (header || rows === limit) break
  }
  bytes[end] = saved
  // The text cells of a record cut or in error are dropped with it.
  strings.length = kept
  return { rows, values, kinds, strings, next, lines: nextLines, stop, error, errorLine, found, openQuoteLine, extent, capacity: cap }
}
