import type { ColumnMetaData, Compressors, DataReader, DecodedArray, PageHeader, SchemaTree } from 'hyparquet'
import { parquetHeader, readPage } from 'hyparquet/src/column.js'
import { DEFAULT_PARSERS, convert, convertWithDictionary } from 'hyparquet/src/convert.js'
import { decompressPage, readDataPage, readDataPageV2 } from 'hyparquet/src/datapage.js'
import { getMaxDefinitionLevel } from 'hyparquet/src/schema.js'
import { snappyUncompress } from './parquet-snappy.js'
import type { Cell, Column } from './types.js'

/*
 * A flat column (a top-level primitive, not repeated) decoded page by page straight into cells.
 *
 * hyparquet's readColumn does the same page loop, then "assembles" each page through its Dremel
 * code, copying every value into a new array even where nothing is nested; the reader then copied
 * it into cells and once more into the batch. Here each page is decoded with hyparquet's own
 * functions (headers, decompression, every encoding, dictionaries, logical types: the same values),
 * and the only step replaced is that assembly, which for a flat column is: a value where the
 * definition level is the maximum, else missing. Cells go from the decoded page into the batch.
 */

/** What hyparquet's page functions take: derived, as hyparquet does not export the type. */
type ColumnDecoder = Parameters<typeof readDataPageV2>[2]

/** One data page's entries: `rows` of them, the next value of `values` where `defs[i] === maxDef`, else missing. */
interface Page {
  values: DecodedArray
  /** Definition levels, one per entry; undefined when every entry has a value (then entries are `values`). */
  defs: ArrayLike<number> | undefined
  rows: number
  /** Values are numbers (a typed array of them): the cells are the numbers, NaN missing. */
  numeric: boolean
}

const NUMBER_ARRAYS = [Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array]

/**
 * Byte buffers nothing points into any more, for later bytes to be written over. A read keeps two
 * pools: decompressed pages, shared by every column's cursor of every row group, and the row groups'
 * compressed column chunks (parquet.ts). So a file's pages and chunks reuse a few dozen buffers instead
 * of each taking fresh memory, which the system must fault in and zero, and the GC then free: at 1M rows
 * × 30 columns that cost more than decompressing them.
 */
export class SpareBuffers {
  private readonly free: Uint8Array[] = []
  /** Buffers kept at most: a few per column is all the cursors ever hold. */
  constructor(private readonly max = 256) {}

  /** A free buffer of at least `bytes` (taken from the pool), or undefined. */
  take(bytes: number): Uint8Array | undefined {
    const free = this.free
    for (let i = free.length - 1; i >= 0; i--) {
      const buffer = free[i]
      if (buffer.byteLength >= bytes) {
        free[i] = free[free.length - 1]
        free.pop()
        return buffer
      }
    }
    return undefined
  }

  /** Bytes nothing points into any more. */
  give(buffer: Uint8Array): void {
    if (this.free.length < this.max) this.free.push(buffer)
  }
}

/** Reads one flat column chunk of a row group: `take` appends its cells in row order, decoding pages as needed. */
export class FlatColumnCursor {
  private readonly reader: DataReader
  private readonly decoder: ColumnDecoder
  /** The same column declared required: what reads a page's values once its levels are known to say nothing. */
  private readonly required: ColumnDecoder
  private readonly maxDef: number
  private dictionary: DecodedArray | undefined
  /** Rows of pages decoded so far (as hyparquet counts them to know when the chunk is done). */
  private rowCount = 0
  /** Rows of the pages hyparquet skips before the first page with entries (see nextPage). */
  private leadingSkip = 0
  /** A page with entries was decoded. */
  private started = false
  /** What a page that did not decode threw. */
  private failure: { error: unknown } | undefined
  private page: Page | undefined
  /** Next entry of `page`, and the next value of its `values`. */
  private entry = 0
  private value = 0
  /** Cells handed out so far. */
  taken = 0
  /**
   * The decompressed bytes behind `page` when it is a page of numbers: free once the page is used up,
   * since its numbers are copied out and nothing else points into them (a page of byte arrays may hand
   * out views of its bytes as cells, and a dictionary lives on: neither is reused).
   */
  private pageBytes: Uint8Array | undefined
  /** What the last decompression returned. */
  private decompressed: Uint8Array | undefined

  constructor(
    chunk: Uint8Array,
    meta: ColumnMetaData,
    schemaPath: SchemaTree[],
    private readonly groupRows: number,
    private readonly buffers = new SpareBuffers(),
  ) {
    this.reader = { view: new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength), offset: 0 }
    const compressors: Compressors = {
      SNAPPY: (input, outputLength) => {
        const reuse = buffers.take(outputLength)
        const out = snappyUncompress(input, outputLength, reuse)
        // The kernel wrote elsewhere (the reference decoded the page): the buffer is still free.
        if (reuse !== undefined && out.buffer !== reuse.buffer) buffers.give(reuse)
        return (this.decompressed = out)
      },
    }
    // The fields readRowGroup gives hyparquet's page functions (its read options add nothing they use).
    this.decoder = {
      pathInSchema: meta.path_in_schema,
      element: schemaPath[schemaPath.length - 1].element,
      schemaPath,
      type: meta.type,
      codec: meta.codec,
      parsers: DEFAULT_PARSERS,
      compressors,
    }
    this.maxDef = getMaxDefinitionLevel(schemaPath)
    const [root, leaf] = schemaPath
    const element = { ...leaf.element, repetition_type: 'REQUIRED' as const }
    this.required = { ...this.decoder, element, schemaPath: [root, { ...leaf, element }] }
  }

  /**
   * Writes the next `count` cells to `out[at]`, `out[at + 1]`, …. Returns how many it could: fewer
   * only when the chunk ends before the row group does (the caller reports that).
   */
  take(out: Column, at: number, count: number): number {
    let done = 0
    while (done < count) {
      const page = this.page
      if (page === undefined || this.entry >= page.rows) {
        if (!this.advance()) break
        continue
      }
      const n = Math.min(count - done, page.rows - this.entry)
      this.copy(page, out, at + done, n)
      done += n
    }
    this.taken += done
    // Used up: its bytes are free now, not only once the next page is read (the chunk's last page never is).
    if (this.page !== undefined && this.entry >= this.page.rows) this.releasePage()
    return done
  }

  /** Hands the used-up page's bytes back to the pool. */
  private releasePage(): void {
    if (this.pageBytes === undefined) return
    // The whole buffer: a reused one may be longer than the page it held.
    this.buffers.give(new Uint8Array(this.pageBytes.buffer))
    this.pageBytes = undefined
  }

  /** Writes `n` cells of `page` from the next entry on to `out[at…]`. */
  private copy(page: Page, out: Column, at: number, n: number): void {
    if (out instanceof Float64Array) {
      this.copyNumbers(page, out, at, n)
      return
    }
    const { values, defs } = page
    const start = this.entry
    const shift = at - start
    const end = start + n
    if (defs === undefined) {
      if (page.numeric) {
        const numbers = values as Float64Array
        for (let i = start; i < end; i++) {
          const v = numbers[i]
          out[i + shift] = v === v ? v : null
        }
      } else {
        for (let i = start; i < end; i++) out[i + shift] = parquetCell(values[i])
      }
      this.value = end
    } else {
      const maxDef = this.maxDef
      let v = this.value
      if (page.numeric) {
        const numbers = values as Float64Array
        for (let i = start; i < end; i++) {
          if (defs[i] === maxDef) {
            const x = numbers[v++]
            out[i + shift] = x === x ? x : null
          } else out[i + shift] = null
        }
      } else {
        for (let i = start; i < end; i++) out[i + shift] = defs[i] === maxDef ? parquetCell(values[v++]) : null
      }
      this.value = v
    }
    this.entry = end
  }

  /** `copy` into a typed column (a double or float column without a logical type): NaN where missing. */
  private copyNumbers(page: Page, out: Float64Array, at: number, n: number): void {
    const { values, defs } = page
    const start = this.entry
    const shift = at - start
    const end = start + n
    const number = (value: unknown): number => {
      const cell = parquetCell(value)
      if (cell === null) return NaN
      if (typeof cell !== 'number') throw new Error(`parquet: a ${typeof cell} in a column of numbers`)
      return cell
    }
    let v = this.value
    if (defs === undefined) {
      if (page.numeric) out.set((values as Float64Array).subarray(start, end), at)
      else for (let i = start; i < end; i++) out[i + shift] = number(values[i])
      v = end
    } else {
      const maxDef = this.maxDef
      for (let i = start; i < end; i++) out[i + shift] = defs[i] === maxDef ? number(values[v++]) : NaN
    }
    this.value = v
    this.entry = end
  }

  /**
   * Decodes the rest of the chunk, handing out nothing, and returns how many rows it had in all (at
   * most the group's): what the old reader, which decoded whole row groups, knew before it reported.
   */
  drain(): number {
    let rows = this.taken
    do {
      if (this.page !== undefined) {
        rows += this.page.rows - this.entry
        this.entry = this.page.rows
      }
    } while (this.advance())
    return Math.min(rows, this.groupRows)
  }

  /** nextPage, once more failing as it failed if it failed: a page that did not decode leaves the chunk unreadable. */
  private advance(): boolean {
    if (this.failure !== undefined) throw this.failure.error
    try {
      return this.nextPage()
    } catch (e) {
      this.failure = { error: e }
      throw e
    }
  }

  /** Decodes the next page with entries; false at the end of the chunk (as hyparquet's readColumn ends a flat column). */
  private nextPage(): boolean {
    const reader = this.reader
    this.releasePage()
    while (this.rowCount < this.groupRows) {
      if (reader.offset >= reader.view.byteLength - 1) break
      const header = parquetHeader(reader)
      this.boundPage(header)
      if (header.type === 'DICTIONARY_PAGE') {
        const { data } = readPage(reader, header, this.decoder, this.dictionary, undefined, 0)
        if (data) this.dictionary = convert(data, this.decoder)
        continue
      }
      this.decompressed = undefined
      const page = this.readDataPage(header)
      if (typeof page === 'number') {
        if (!this.started) this.leadingSkip += page
        this.rowCount += page
        continue
      }
      if (page.rows === 0) continue
      this.rowCount += page.rows
      this.started = true
      // Pages skipped up front (only a damaged header makes hyparquet skip any) shift where its rows
      // land: past the group's start, none line up (the pages are still decoded, for their errors);
      // before it, the first ones fall outside the group.
      if (this.leadingSkip > 0) continue
      this.page = page
      this.pageBytes = page.numeric ? this.decompressed : undefined
      this.entry = 0
      this.value = 0
      if (this.leadingSkip < 0) {
        const n = Math.min(-this.leadingSkip, page.rows)
        this.skip(page, n)
        this.leadingSkip += n
        if (this.entry >= page.rows) continue
      }
      return true
    }
    return false
  }

  /**
   * A page claiming more bytes than its chunk has left is read (by hyparquet as here) as a typed array
   * over the chunk's buffer, which fails only past the buffer's end. A chunk read into a reused buffer
   * (parquet.ts) may not end its buffer: then the chunk moves to a buffer of its own first, so the page
   * fails as it does there instead of reading the stale bytes after the chunk. Damaged files only.
   */
  private boundPage(header: PageHeader): void {
    const view = this.reader.view
    if (this.reader.offset + header.compressed_page_size <= view.byteLength) return
    if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) return
    const own = new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice()
    this.reader.view = new DataView(own.buffer)
  }

  /** Passes over `n` entries of `page` from the next one on. */
  private skip(page: Page, n: number): void {
    const end = this.entry + n
    if (page.defs === undefined) this.value = end
    else for (let i = this.entry; i < end; i++) if (page.defs[i] === this.maxDef) this.value++
    this.entry = end
  }

  /** hyparquet's readPage for a data page, without the assembly; a number is a page it skips (rows). */
  private readDataPage(header: PageHeader): Page | number {
    const reader = this.reader
    const decoder = this.decoder
    const compressed = new Uint8Array(reader.view.buffer, reader.view.byteOffset + reader.offset, header.compressed_page_size)
    reader.offset += header.compressed_page_size
    // The page's first row is the one hyparquet asks for (this.rowCount rows in): it skips a page that ends before it.
    const pageStart = -this.rowCount
    let levels: number[] | undefined
    let data: DecodedArray
    let encoding
    const maxDef = this.maxDef
    if (header.type === 'DATA_PAGE') {
      const daph = header.data_page_header
      if (!daph) throw new Error('parquet data page header is undefined')
      if (pageStart > daph.num_values) return daph.num_values
      const bytes = decompressPage(compressed, Number(header.uncompressed_page_size), decoder.codec, decoder.compressors)
      // Levels of one run saying every entry has its value are all hyparquet would find: the values follow them.
      const valuesAt = maxDef > 0 ? allDefined(bytes, 4, levelsEnd(bytes), daph.num_values, maxDef) : -1
      const page = valuesAt >= 0 ? readDataPage(bytes.subarray(valuesAt), daph, this.required) : readDataPage(bytes, daph, decoder)
      levels = page.definitionLevels
      data = page.dataPage
      encoding = daph.encoding
    } else if (header.type === 'DATA_PAGE_V2') {
      const daph2 = header.data_page_header_v2
      if (!daph2) throw new Error('parquet data page header v2 is undefined')
      if (pageStart > daph2.num_rows) return daph2.num_rows
      const levelsAt = daph2.repetition_levels_byte_length
      const valuesAt = levelsAt + daph2.definition_levels_byte_length
      if (maxDef > 0 && daph2.num_nulls === 0 && allDefined(compressed, levelsAt, valuesAt, daph2.num_values, maxDef) >= 0) {
        // The same page read as a required column's, its levels taken for part of the repetition levels it does not have.
        const required = { ...daph2, repetition_levels_byte_length: valuesAt, definition_levels_byte_length: 0 }
        const page = readDataPageV2(compressed, { ...header, data_page_header_v2: required }, this.required)
        const values = convertWithDictionary(page.dataPage, this.dictionary, daph2.encoding, decoder)
        const numeric = NUMBER_ARRAYS.some((type) => values instanceof type)
        // hyparquet takes one value per level: a value count that differs (a corrupt page) is cut, or padded with missing.
        if (values.length === daph2.num_values) return { values, defs: undefined, rows: values.length, numeric }
        const defs = new Uint8Array(daph2.num_values).fill(maxDef)
        return { values, defs, rows: defs.length, numeric: numeric && values.length >= defs.length }
      }
      const page = readDataPageV2(compressed, header, decoder)
      levels = page.definitionLevels
      data = page.dataPage
      encoding = daph2.encoding
    } else {
      throw new Error(`parquet unsupported page type: ${header.type}`)
    }
    const values = convertWithDictionary(data, this.dictionary, encoding, decoder)
    const numeric = NUMBER_ARRAYS.some((type) => values instanceof type)
    // hyparquet's assembly: no levels (a required column, or no nulls in a v1 page) is the values as they are.
    if (!levels?.length) return { values, defs: undefined, rows: values.length, numeric }
    let defined = 0
    for (let i = 0; i < levels.length; i++) if (levels[i] === maxDef) defined++
    // Every entry has its value: the levels say nothing more.
    if (defined === levels.length && defined === values.length) return { values, defs: undefined, rows: values.length, numeric }
    // Fewer values than defined entries (a corrupt page): hyparquet reads past the end, which is missing.
    return { values, defs: levels, rows: levels.length, numeric: numeric && defined <= values.length }
  }
}

/** Where the length-prefixed definition levels at the start of a v1 page end (past the bytes: none there). */
function levelsEnd(bytes: Uint8Array): number {
  if (bytes.length < 4) return -1
  const end = 4 + (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16)) + bytes[3] * 2 ** 24
  return end <= bytes.length ? end : -1
}

/**
 * `end` when the RLE/bit-packed levels in `bytes[start, end)` are one run of `count` entries at `maxDef`
 * (every entry has its value), else -1: then hyparquet expands them as usual.
 */
function allDefined(bytes: Uint8Array, start: number, end: number, count: number, maxDef: number): number {
  if (end < 0 || end > bytes.length || count <= 0) return -1
  let pos = start
  let header = 0
  for (let shift = 0; ; shift += 7) {
    if (pos >= end || shift > 28) return -1
    const byte = bytes[pos++]
    header |= (byte & 0x7f) << shift
    if (!(byte & 0x80)) break
  }
  // An even header is a run: its length, then the value in whole bytes.
  if (header & 1 || header >>> 1 !== count) return -1
  const width = (32 - Math.clz32(maxDef) + 7) >> 3
  if (pos + width > end) return -1
  let value = 0
  for (let i = 0; i < width; i++) value |= bytes[pos + i] << (i << 3)
  return value === maxDef ? end : -1
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * A decoded Parquet value as a cell: NaN is missing (as in CSV), 64-bit integers become numbers
 * when exact and decimal strings otherwise, dates become ISO 8601 text. Nested values pass through
 * for the consumer to reject.
 */
export function parquetCell(value: unknown): Cell {
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? null : value
    case 'string':
    case 'boolean':
      return value
    case 'bigint':
      return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value.toString()
    case 'undefined':
      return null
    default:
      if (value instanceof Date) return value.toISOString()
      return value as Cell
  }
}
