import { open, type FileHandle } from 'node:fs/promises'
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet'
import { UserError, errorText } from '../errors.js'
import { BatchBuilder, selectColumns } from './batching.js'
import { excerpt, fileError } from './files.js'
import type { Batch, Cell, ReadOptions, TableSource } from './types.js'

/**
 * A Parquet file read one row group at a time through positioned reads, so memory holds one
 * row group of the requested columns, never the whole file.
 */
export class ParquetSource implements TableSource {
  readonly format = 'parquet' as const

  constructor(readonly path: string) {}

  async columns(): Promise<string[]> {
    return this.withFile(async (_, metadata) => topLevelColumns(metadata))
  }

  async *batches(opts: ReadOptions): AsyncGenerator<Batch> {
    const handle = await this.open()
    try {
      const file = await fileBuffer(this.path, handle)
      const metadata = await this.metadata(file)
      const names = selectColumns(this.path, topLevelColumns(metadata), opts.columns)
      const builder = new BatchBuilder(names, opts.batchSize)
      let groupStart = 0
      for (const group of metadata.row_groups) {
        const groupRows = Number(group.num_rows)
        const data = await this.readGroup(file, metadata, names, groupStart, groupRows)
        for (let start = 0; start < groupRows;) {
          const end = Math.min(groupRows, start + builder.room)
          builder.appendSlice(data, start, end)
          start = end
          if (builder.full) yield builder.take()
        }
        groupStart += groupRows
      }
      if (builder.length > 0) yield builder.take()
    } finally {
      await handle.close()
    }
  }

  /** One row group's columns (in `names` order), converted to cells. */
  private async readGroup(
    file: AsyncBuffer,
    metadata: FileMetaData,
    names: readonly string[],
    groupStart: number,
    groupRows: number,
  ): Promise<Cell[][]> {
    if (names.length === 0 || groupRows === 0) return names.map(() => [])
    const chunks = new Map<string, { rowStart: number; values: ArrayLike<unknown> }[]>(names.map((name) => [name, []]))
    try {
      await parquetRead({
        file,
        metadata,
        columns: [...names],
        rowStart: groupStart,
        rowEnd: groupStart + groupRows,
        onChunk: ({ columnName, columnData, rowStart }) => chunks.get(columnName)?.push({ rowStart, values: columnData }),
      })
    } catch (e) {
      // A read the file system refused is that, not bad data.
      if (e instanceof UserError) throw e
      throw new UserError(`${this.path}: cannot read the Parquet data (${errorText(e)})`, { file: this.path, cause: e })
    }
    return names.map((name) => {
      // Cells are pushed in row order (not written into a pre-sized array) so that all-number
      // columns stay unboxed; chunks may overlap or reach outside the group, so rows are placed by index.
      const cells: Cell[] = []
      for (const { rowStart, values } of (chunks.get(name) ?? []).sort((a, b) => a.rowStart - b.rowStart)) {
        // Index in this chunk of the next row wanted; a chunk starting past it leaves a gap.
        const next = groupStart + cells.length - rowStart
        if (next < 0) break
        for (let i = next; i < values.length && cells.length < groupRows; i++) cells.push(parquetCell(values[i]))
      }
      if (cells.length !== groupRows) {
        throw new UserError(`${this.path}: column ${excerpt(name)} has ${cells.length} of the ${groupRows} rows of a row group`, {
          file: this.path,
          field: name,
        })
      }
      return cells
    })
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

function topLevelColumns(metadata: FileMetaData): string[] {
  return parquetSchema(metadata).children.map((child) => child.element.name)
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

/** An AsyncBuffer reading byte ranges from an open file on demand; a failed read is a UserError naming `path`. */
async function fileBuffer(path: string, handle: FileHandle): Promise<AsyncBuffer> {
  let size: number
  try {
    size = (await handle.stat()).size
  } catch (e) {
    throw fileError(path, e)
  }
  return {
    byteLength: size,
    async slice(start: number, end: number = size): Promise<ArrayBuffer> {
      const length = Math.max(0, Math.min(end, size) - start)
      const bytes = new Uint8Array(length)
      try {
        for (let done = 0; done < length;) {
          const { bytesRead } = await handle.read(bytes, done, length - done, start + done)
          if (bytesRead === 0) break
          done += bytesRead
        }
      } catch (e) {
        throw fileError(path, e)
      }
      return bytes.buffer
    },
  }
}
