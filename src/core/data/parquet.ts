import { open, type FileHandle } from 'node:fs/promises'
import {
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type AsyncBuffer,
  type ColumnMetaData,
  type Compressors,
  type FileMetaData,
  type RowGroup,
  type SchemaTree,
} from 'hyparquet'
import { isFlatColumn } from 'hyparquet/src/schema.js'
import { UserError, errorText } from '../errors.js'
import { BatchBuilder, selectColumns } from './batching.js'
import { excerpt, fileError } from './files.js'
import { FlatColumnCursor, SpareBuffers, parquetCell } from './parquet-pages.js'
import { snappyUncompress } from './parquet-snappy.js'
import type { Batch, Cell, Column, ReadOptions, TableSource } from './types.js'

export { parquetCell } from './parquet-pages.js'

/** Decompressors given to hyparquet: the same codecs it reads itself, snappy faster (see parquet-snappy.ts). */
const COMPRESSORS: Compressors = { SNAPPY: snappyUncompress }

/** The next row group is read ahead while one is decoded when its requested columns take at most this many bytes. */
const PREFETCH_MAX = 64 * 1024 * 1024

/** A row group's flat column chunks (undefined: a flat column the group has no chunk of) and their bytes. */
interface FetchedGroup {
  groupStart: number
  groupRows: number
  chunks: ReadonlyMap<string, ColumnMetaData | undefined>
  bytes: ReadonlyMap<ColumnMetaData, Uint8Array>
}

/** What a report of a row group that does not read needs: the requested columns, each one's place in the file, the group's rows. */
interface GroupFailure {
  names: readonly string[]
  order: ReadonlyMap<string, number>
  groupRows: number
}

/** One requested column of one row group: hands out its cells in row order. */
interface GroupColumn {
  /** Writes the next `count` cells to `out[at…]`; fewer only when the column ends before the row group. */
  take(out: Column, at: number, count: number): number
  /** Reads the rest of the column, handing out nothing: how many rows it has in all (at most the group's). */
  drain(): number
}

/**
 * A Parquet file read one row group at a time through positioned reads, so memory holds one row
 * group of the requested columns (compressed, with the page being decoded of each; the next group's
 * compressed bytes too while they are read ahead), never the whole file. Flat columns (every column
 * of a table, short of nested ones) are decoded page by page straight into the batches; nested ones
 * go through hyparquet's reader, a row group at a time, as before.
 */
export class ParquetSource implements TableSource {
  readonly format = 'parquet' as const

  constructor(readonly path: string) {}

  async columns(): Promise<string[]> {
    return this.withFile(async (_, metadata) => topLevelColumns(metadata))
  }

  async *batches(opts: ReadOptions): AsyncGenerator<Batch> {
    const handle = await this.open()
    let fetching: Promise<FetchedGroup> | undefined
    try {
      const file = await fileBuffer(this.path, handle)
      const metadata = await this.metadata(file)
      const names = selectColumns(this.path, topLevelColumns(metadata), opts.columns)
      const builder = new BatchBuilder<Column>(names, opts.batchSize)
      const pages = new SpareBuffers()
      const flat = flatColumns(parquetSchema(metadata), names)
      const numeric = names.map((name) => isNumberColumn(flat.get(name)))
      const order = new Map<string, number>()
      for (const [i, name] of topLevelColumns(metadata).entries()) if (!order.has(name)) order.set(name, i)
      const groups = metadata.row_groups
      const totalRows = groups.reduce((sum, group) => sum + Number(group.num_rows), 0)
      const chunkBuffers = new SpareBuffers()
      const fetch = (g: number, groupStart: number): Promise<FetchedGroup> =>
        this.fetchGroup(file, groups[g], names, flat, groupStart, chunkBuffers)
      let groupStart = 0
      let reached = 0
      for (let g = 0; g < groups.length; g++) {
        const groupRows = Number(groups[g].num_rows)
        const fetched = await (fetching ?? fetch(g, groupStart))
        fetching = undefined
        // The next group's bytes are read while this one is decoded, unless they are many.
        if (g + 1 < groups.length && requestedBytes(groups[g + 1], names) <= PREFETCH_MAX) {
          fetching = fetch(g + 1, groupStart + groupRows)
          // Awaited in its turn (or before the file is closed): a failure is reported then, not as unhandled.
          fetching.catch(() => undefined)
        }
        const columns = await this.groupColumns(file, metadata, fetched, names, flat, pages)
        // How far into the file this group reaches (the whole file after the last): progress's percent.
        reached = Math.max(reached, g + 1 === groups.length ? file.byteLength : groupEnd(groups[g]))
        opts.onBytesRead?.(reached)
        for (let start = 0; start < groupRows;) {
          // Each batch's arrays are made at their final size and written in place, which is faster than pushing.
          if (builder.length === 0) {
            const size = Math.max(0, Math.min(opts.batchSize, totalRows - (groupStart + start)))
            builder.arrays = numeric.map((typed) => (typed ? new Float64Array(size) : new Array<Cell>(size)))
          }
          const count = Math.min(groupRows - start, builder.room)
          this.fill(columns, builder.arrays, builder.length, count, { names, order, groupRows })
          builder.length += count
          start += count
          if (builder.full) yield builder.take()
        }
        recycleChunks(fetched, chunkBuffers)
        groupStart += groupRows
      }
      if (builder.length > 0) yield builder.take()
    } finally {
      await fetching?.catch(() => undefined)
      await handle.close()
    }
  }

  /**
   * Which of `names` this row group holds as one flat column chunk, and those chunks' bytes; the
   * other names are left to hyparquet. Reads the file, decodes nothing.
   */
  private async fetchGroup(
    file: FileBytes,
    group: RowGroup,
    names: readonly string[],
    flat: ReadonlyMap<string, SchemaTree[]>,
    groupStart: number,
    reuse: SpareBuffers,
  ): Promise<FetchedGroup> {
    const groupRows = Number(group.num_rows)
    const chunks = new Map<string, ColumnMetaData | undefined>()
    if (names.length === 0 || groupRows === 0) return { groupStart, groupRows, chunks, bytes: new Map() }
    try {
      // What hyparquet's planner refuses, for any column of the group.
      for (const chunk of group.columns) {
        if (chunk.file_path) throw new Error('parquet file_path not supported')
        if (!chunk.meta_data) throw new Error('parquet column metadata is undefined')
      }
      for (const name of names) {
        if (!flat.has(name)) continue
        const matching = group.columns.filter((chunk) => chunk.meta_data!.path_in_schema[0] === name)
        // One chunk of the one leaf: anything else is hyparquet's to sort out, as before.
        if (matching.length === 1 && matching[0].meta_data!.path_in_schema.length === 1) chunks.set(name, matching[0].meta_data!)
        else if (matching.length === 0) chunks.set(name, undefined)
      }
    } catch (e) {
      throw this.dataError(e)
    }
    const metas = [...chunks.values()].filter((meta) => meta !== undefined)
    return { groupStart, groupRows, chunks, bytes: await readChunks(file, metas, reuse) }
  }

  /** The requested columns of one row group (in `names` order), ready to hand out cells. */
  private async groupColumns(
    file: AsyncBuffer,
    metadata: FileMetaData,
    { groupStart, groupRows, chunks, bytes }: FetchedGroup,
    names: readonly string[],
    flat: ReadonlyMap<string, SchemaTree[]>,
    pages: SpareBuffers,
  ): Promise<GroupColumn[]> {
    if (names.length === 0 || groupRows === 0) return names.map(() => new CellColumn([]))
    const others = names.filter((name) => !chunks.has(name))
    const rest = others.length > 0 ? await this.readCells(file, metadata, others, groupStart, groupRows) : new Map<string, Cell[]>()
    return names.map((name) => {
      if (!chunks.has(name)) return new CellColumn(rest.get(name)!)
      const meta = chunks.get(name)
      // A flat column with no chunk in this group: none of its rows are there.
      if (meta === undefined) return new CellColumn([])
      return new FlatColumnCursor(bytes.get(meta)!, meta, flat.get(name)!, groupRows, pages)
    })
  }

  /**
   * Writes `count` cells of each column to the batch arrays from `at` on. A column that does not
   * decode, or ends before the row group, is reported as the old reader, which decoded whole row
   * groups before handing out a row, reported it: the first column (in file order) that does not
   * decode, else the first requested one that is short, with all the rows it has.
   */
  private fill(columns: readonly GroupColumn[], arrays: Column[], at: number, count: number, failure: GroupFailure): void {
    for (let c = 0; c < columns.length; c++) {
      let got: number
      try {
        got = columns[c].take(arrays[c], at, count)
      } catch (e) {
        if (e instanceof UserError) throw e
        throw this.groupError(columns, failure)
      }
      if (got < count) throw this.groupError(columns, failure)
    }
  }

  private groupError(columns: readonly GroupColumn[], { names, order, groupRows }: GroupFailure): UserError {
    const ends = columns.map((column) => {
      try {
        return { rows: column.drain() }
      } catch (e) {
        return { rows: 0, error: e }
      }
    })
    const failed = names.map((name, c) => ({ name, ...ends[c] })).filter((end) => 'error' in end)
    if (failed.length > 0) {
      const first = failed.reduce((a, b) => ((order.get(b.name) ?? 0) < (order.get(a.name) ?? 0) ? b : a))
      return this.dataError(first.error)
    }
    const c = ends.findIndex((end) => end.rows < groupRows)
    return new UserError(`${this.path}: column ${excerpt(names[c])} has ${ends[c].rows} of the ${groupRows} rows of a row group`, {
      file: this.path,
      field: names[c],
    })
  }

  /** Columns hyparquet reads (nested ones) for one row group, converted to cells; short ones are left short. */
  private async readCells(
    file: AsyncBuffer,
    metadata: FileMetaData,
    names: readonly string[],
    groupStart: number,
    groupRows: number,
  ): Promise<Map<string, Cell[]>> {
    const chunks = new Map<string, { rowStart: number; values: ArrayLike<unknown> }[]>(names.map((name) => [name, []]))
    try {
      await parquetRead({
        file,
        metadata,
        columns: [...names],
        rowStart: groupStart,
        rowEnd: groupStart + groupRows,
        compressors: COMPRESSORS,
        onChunk: ({ columnName, columnData, rowStart }) => chunks.get(columnName)?.push({ rowStart, values: columnData }),
      })
    } catch (e) {
      throw this.dataError(e)
    }
    return new Map(
      names.map((name) => {
        // Chunks may overlap or reach outside the group, so rows are placed by index.
        const cells: Cell[] = []
        for (const { rowStart, values } of (chunks.get(name) ?? []).sort((a, b) => a.rowStart - b.rowStart)) {
          // Index in this chunk of the next row wanted; a chunk starting past it leaves a gap.
          const next = groupStart + cells.length - rowStart
          if (next < 0) break
          for (let i = next; i < values.length && cells.length < groupRows; i++) cells.push(parquetCell(values[i]))
        }
        return [name, cells]
      }),
    )
  }

  /** Data that does not decode, as a UserError; a read the file system refused is that, not bad data. */
  private dataError(e: unknown): UserError {
    if (e instanceof UserError) return e
    return new UserError(`${this.path}: cannot read the Parquet data (${errorText(e)})`, { file: this.path, cause: e })
  }

  private async withFile<T>(use: (file: AsyncBuffer, metadata: FileMetaData) => Promise<T>): Promise<T> {
    const handle = await this.open()
    try {
      const file = await fileBuffer(this.path, handle)
      return await use(file, await this.metadata(file))
    } finally {
      await handle.close()
    }
  }

  private async open(): Promise<FileHandle> {
    try {
      return await open(this.path, 'r')
    } catch (e) {
      throw fileError(this.path, e)
    }
  }

  private async metadata(file: AsyncBuffer): Promise<FileMetaData> {
    try {
      return await parquetMetadataAsync(file)
    } catch (e) {
      if (e instanceof UserError) throw e
      throw new UserError(`${this.path}: not a valid Parquet file (${errorText(e)})`, { file: this.path, cause: e })
    }
  }
}

/** Cells already converted, handed out in order. */
class CellColumn implements GroupColumn {
  private taken = 0
  constructor(private readonly cells: readonly Cell[]) {}

  drain(): number {
    return this.cells.length
  }

  take(out: Column, at: number, count: number): number {
    const end = Math.min(this.cells.length, this.taken + count)
    if (out instanceof Float64Array) {
      for (let i = this.taken; i < end; i++) {
        const cell = this.cells[i]
        out[at + i - this.taken] = typeof cell === 'number' ? cell : NaN
      }
    } else for (let i = this.taken; i < end; i++) out[at + i - this.taken] = this.cells[i]
    const got = end - this.taken
    this.taken = end
    return got
  }
}

/**
 * A flat double or float column with no logical type: its values are numbers or missing, so the batch
 * holds it as a typed column (data/types.ts Column). Integers, decimals, dates and text stay cells: their
 * conversions (a 64-bit integer beyond 2⁵³ as text, a date as ISO text) are parquetCell's.
 */
function isNumberColumn(path: SchemaTree[] | undefined): boolean {
  const leaf = path?.[path.length - 1]?.element
  if (!leaf) return false
  return (leaf.type === 'DOUBLE' || leaf.type === 'FLOAT') && leaf.converted_type === undefined && leaf.logical_type === undefined
}

function topLevelColumns(metadata: FileMetaData): string[] {
  return parquetSchema(metadata).children.map((child) => child.element.name)
}

/** The schema path (root, leaf) of each of `names` that is a flat column: a top-level primitive, not repeated, named once. */
function flatColumns(schema: SchemaTree, names: readonly string[]): Map<string, SchemaTree[]> {
  const flat = new Map<string, SchemaTree[]>()
  for (const name of names) {
    const children = schema.children.filter((child) => child.element.name === name)
    if (children.length === 1 && isFlatColumn([schema, children[0]])) flat.set(name, [schema, children[0]])
  }
  return flat
}

/** The file offset where a row group's last column chunk ends. */
function groupEnd(group: RowGroup): number {
  let end = 0
  for (const chunk of group.columns) {
    const meta = chunk.meta_data
    if (!meta) continue
    const data = Number(meta.data_page_offset)
    const dictionary = Number(meta.dictionary_page_offset ?? 0)
    const first = dictionary > 0 ? Math.min(dictionary, data) : data
    end = Math.max(end, first + Number(meta.total_compressed_size))
  }
  return end
}

/** The compressed bytes of the chunks of `names` in a row group. */
function requestedBytes(group: RowGroup, names: readonly string[]): number {
  const wanted = new Set(names)
  let bytes = 0
  for (const chunk of group.columns) {
    const meta = chunk.meta_data
    if (meta && wanted.has(meta.path_in_schema[0])) bytes += Number(meta.total_compressed_size)
  }
  return bytes
}

/**
 * The bytes of each column chunk, each read apart from the others: a page that claims more bytes than
 * its chunk has fails as it did when hyparquet read the chunk, rather than reading the next one. A
 * snappy chunk is read into a spare buffer of `reuse` when one is free (see `recycleChunks`; the
 * cursor's `boundPage` keeps that failure the same there); any other chunk into fresh memory, since its
 * pages' values may be views of it.
 */
async function readChunks(
  file: FileBytes,
  chunks: readonly ColumnMetaData[],
  reuse: SpareBuffers,
): Promise<Map<ColumnMetaData, Uint8Array>> {
  const read = await Promise.all(
    chunks.map(async (meta) => {
      const offset = Number(meta.dictionary_page_offset || meta.data_page_offset)
      const length = Number(meta.total_compressed_size)
      const into = meta.codec === 'SNAPPY' ? reuse.take(length) : undefined
      return [meta, await file.read(offset, offset + length, into)] as const
    }),
  )
  return new Map(read)
}

/**
 * A row group's snappy chunks, done with: every page of theirs was decompressed into a buffer of its
 * own, so nothing points into them, and the group after next reads into them. A million rows of 30
 * columns are 8 groups of 27 MB: read into fresh memory each, they stood on the heap until a GC.
 */
function recycleChunks(group: FetchedGroup, reuse: SpareBuffers): void {
  for (const [meta, bytes] of group.bytes) if (meta.codec === 'SNAPPY') reuse.give(new Uint8Array(bytes.buffer))
}

/** An AsyncBuffer that can also read a range into a buffer it is given (a subarray of it returned). */
interface FileBytes extends AsyncBuffer {
  read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array>
}

/** An AsyncBuffer reading byte ranges from an open file on demand; a failed read is a UserError naming `path`. */
async function fileBuffer(path: string, handle: FileHandle): Promise<FileBytes> {
  let size: number
  try {
    size = (await handle.stat()).size
  } catch (e) {
    throw fileError(path, e)
  }
  const read = async (start: number, end: number, into?: Uint8Array): Promise<Uint8Array> => {
    const length = Math.max(0, Math.min(end, size) - start)
    const bytes = into !== undefined && into.byteLength >= length ? into.subarray(0, length) : new Uint8Array(length)
    try {
      for (let done = 0; done < length;) {
        const { bytesRead } = await handle.read(bytes, done, length - done, start + done)
        if (bytesRead === 0) {
          // A file cut short (the reader's checks report it): the rest reads as zeros, as a fresh buffer would.
          bytes.fill(0, done)
          break
        }
        done += bytesRead
      }
    } catch (e) {
      throw fileError(path, e)
    }
    return bytes
  }
  return {
    byteLength: size,
    read,
    async slice(start: number, end: number = size): Promise<ArrayBuffer> {
      return (await read(start, end)).buffer as ArrayBuffer
    },
  }
}
