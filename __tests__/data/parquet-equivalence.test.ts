import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from '@jest/globals'
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { BatchBuilder, selectColumns } from '../../src/core/data/batching.js'
import { excerpt } from '../../src/core/data/files.js'
import { ParquetSource, parquetCell } from '../../src/core/data/parquet.js'
import type { Batch, Cell, ReadOptions } from '../../src/core/data/types.js'
import { UserError, errorText } from '../../src/core/errors.js'
import { fixture, plainBatch, tempDir } from './helpers.js'

/*
 * The reader decodes flat columns page by page itself (src/core/data/parquet-pages.ts). Here its batches
 * are checked against the reader it replaced, kept below as it was: hyparquet's parquetRead, one row
 * group at a time, every value through parquetCell. Files come from hyparquet-writer (data pages v2,
 * every type and encoding it writes, nested columns) and from a small writer below that makes what
 * hyparquet-writer does not: data pages v1 as pyarrow, Spark and DuckDB write them, definition levels
 * encoded either way, dictionaries, mixed page versions, a column chunk shorter than its row group.
 */

const tmp = tempDir()
afterAll(() => tmp.remove())

/** The Parquet reader as it was before the page-by-page decoding: the reference. */
async function referenceBatches(path: string, opts: ReadOptions): Promise<Batch[]> {
  const bytes = readFileSync(path)
  const file: AsyncBuffer = { byteLength: bytes.length, slice: async (start, end) => new Uint8Array(bytes.subarray(start, end)).buffer }
  let metadata
  try {
    metadata = await parquetMetadataAsync(file)
  } catch (e) {
    throw new UserError(`${path}: not a valid Parquet file (${errorText(e)})`, { file: path, cause: e })
  }
  const names = selectColumns(
    path,
    parquetSchema(metadata).children.map((child) => child.element.name),
    opts.columns,
  )
  const builder = new BatchBuilder(names, opts.batchSize)
  const batches: Batch[] = []
  let groupStart = 0
  for (const group of metadata.row_groups) {
    const groupRows = Number(group.num_rows)
    let data: Cell[][] = names.map(() => [])
    if (names.length > 0 && groupRows > 0) {
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
        throw new UserError(`${path}: cannot read the Parquet data (${errorText(e)})`, { file: path, cause: e })
      }
      data = names.map((name) => {
        const cells: Cell[] = []
        for (const { rowStart, values } of (chunks.get(name) ?? []).sort((a, b) => a.rowStart - b.rowStart)) {
          const next = groupStart + cells.length - rowStart
          if (next < 0) break
          for (let i = next; i < values.length && cells.length < groupRows; i++) cells.push(parquetCell(values[i]))
        }
        if (cells.length !== groupRows) {
          throw new UserError(`${path}: column ${excerpt(name)} has ${cells.length} of the ${groupRows} rows of a row group`, {
            file: path,
            field: name,
          })
        }
        return cells
      })
    }
    for (let start = 0; start < groupRows;) {
      const end = Math.min(groupRows, start + builder.room)
      for (let c = 0; c < data.length; c++) for (let i = start; i < end; i++) builder.arrays[c].push(data[c][i])
      builder.length += end - start
      start = end
      if (builder.full) batches.push(builder.take())
    }
    groupStart += groupRows
  }
  if (builder.length > 0) batches.push(builder.take())
  return batches
}

type Outcome = { batches: Batch[] } | { error: string; file: string | undefined }

async function outcome(read: () => AsyncIterable<Batch> | Promise<Batch[]>): Promise<Outcome> {
  try {
    const batches: Batch[] = []
    for await (const batch of await read()) batches.push(plainBatch(batch))
    return { batches }
  } catch (e) {
    if (!(e instanceof UserError)) throw e
    return { error: e.message, file: e.file }
  }
}

/** The new reader's batches equal the old reader's (or both fail with the same message), for each read. */
async function expectSameAsBefore(path: string, reads: ReadOptions[]): Promise<void> {
  for (const opts of reads) {
    const now = await outcome(() => new ParquetSource(path).batches(opts))
    const before = await outcome(() => referenceBatches(path, opts))
    // Strict: no holes in the batch arrays, no undefined where the old reader had a cell.
    expect({ opts, ...now }).toStrictEqual({ opts, ...before })
  }
}

/** Reads in several batch sizes, of every column and of projections (a subset, reordered, the same column twice, none). */
function readsOf(columns: string[]): ReadOptions[] {
  const subset = columns.filter((_, i) => i % 2 === 1)
  return [
    ...[1, 3, 64, 100_000].map((batchSize) => ({ batchSize })),
    { batchSize: 7, columns: [...subset].reverse() },
    { batchSize: 50, columns: [columns[columns.length - 1], columns[0], columns[0]] },
    { batchSize: 5, columns: [] },
  ]
}

// A seeded generator, so that every run checks the same files.
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A schema element as hyparquet-writer takes it (its own copy of hyparquet's types). */
type SchemaElement = NonNullable<Parameters<typeof parquetWriteBuffer>[0]['schema']>[number]

/** hyparquet-writer's file of every type it writes, flat and nested, with nulls, over row groups of several pages. */
function writerFile(name: string, codec: 'SNAPPY' | 'UNCOMPRESSED'): string {
  const n = 257
  const rand = random(7)
  const rows = Array.from({ length: n }, (_, i) => i)
  const maybe = <T>(every: number, value: (i: number) => T) => rows.map((i) => (i % every === 2 ? null : value(i)))
  const specials = [0.5, -0, Number.NaN, Infinity, -Infinity, 1e-300, Number.MAX_VALUE]
  const columnData = [
    { name: 'id', data: Int32Array.from(rows) },
    { name: 'i32', data: maybe(5, (i) => ((i * 7919) % 2001) - 1000) },
    { name: 'i64', data: maybe(6, (i) => [BigInt(i), -(2n ** 53n) - 1n, 2n ** 53n - 1n, 2n ** 62n, -5n][i % 5]) },
    { name: 'f64', data: maybe(4, (i) => (i % 9 === 0 ? specials[i % specials.length] : rand() * 1000 - 500)) },
    { name: 'f32', data: maybe(7, (i) => Math.fround(i / 3)) },
    { name: 'str', data: maybe(3, (i) => ['setosa', 'versicolor', 'virginica', '', 'é,"x"\n'][i % 5]) },
    { name: 'uniq', data: maybe(11, (i) => `row-${i}-${rand().toString(36)}`) },
    { name: 'flag', data: maybe(8, (i) => i % 3 === 0) },
    { name: 'ts', data: maybe(9, (i) => new Date(Date.UTC(2020, 0, 1, 0, 0, i))) },
    { name: 'json', data: maybe(10, (i) => ({ k: i, v: [i, 'x'] })) },
    { name: 'day', data: maybe(6, (i) => new Date(Date.UTC(2024, 1, 1 + (i % 60)))) },
    { name: 'dec', data: maybe(5, (i) => i * 1.25 - 100) },
    { name: 'u32', data: maybe(12, (i) => 4294967295 - i) },
    { name: 'fixed', data: maybe(13, (i) => new Uint8Array([i & 255, 7, 255 - (i & 255)])) },
    { name: 'delta', data: Int32Array.from(rows, (i) => i * i - 300), encoding: 'DELTA_BINARY_PACKED' as const },
    { name: 'split', data: Float64Array.from(rows, (i) => i / 7), encoding: 'BYTE_STREAM_SPLIT' as const },
    { name: 'words', data: rows.map((i) => `w${i % 17}`), encoding: 'DELTA_BYTE_ARRAY' as const },
    { name: 'tags', data: maybe(4, (i) => Array.from({ length: i % 3 }, (_, j) => i * 10 + j)) },
    { name: 's', data: maybe(5, (i) => ({ a: i, b: `b${i}` })) },
    { name: 'empty', data: rows.map(() => null) },
  ]
  const optional = (element: SchemaElement): SchemaElement => ({ ...element, repetition_type: 'OPTIONAL' })
  const schema: SchemaElement[] = [
    { name: 'root', num_children: columnData.length },
    { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
    optional({ name: 'i32', type: 'INT32' }),
    optional({ name: 'i64', type: 'INT64' }),
    optional({ name: 'f64', type: 'DOUBLE' }),
    optional({ name: 'f32', type: 'FLOAT' }),
    optional({ name: 'str', type: 'BYTE_ARRAY', converted_type: 'UTF8' }),
    optional({ name: 'uniq', type: 'BYTE_ARRAY', converted_type: 'UTF8' }),
    optional({ name: 'flag', type: 'BOOLEAN' }),
    optional({ name: 'ts', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' }),
    optional({ name: 'json', type: 'BYTE_ARRAY', converted_type: 'JSON' }),
    optional({ name: 'day', type: 'INT32', converted_type: 'DATE' }),
    optional({ name: 'dec', type: 'INT64', converted_type: 'DECIMAL', scale: 2, precision: 18 }),
    optional({ name: 'u32', type: 'INT32', converted_type: 'UINT_32' }),
    optional({ name: 'fixed', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 3 }),
    { name: 'delta', type: 'INT32', repetition_type: 'REQUIRED' },
    { name: 'split', type: 'DOUBLE', repetition_type: 'REQUIRED' },
    { name: 'words', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    optional({ name: 'tags', converted_type: 'LIST', num_children: 1 }),
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    optional({ name: 'element', type: 'INT32' }),
    optional({ name: 's', num_children: 2 }),
    optional({ name: 'a', type: 'INT32' }),
    optional({ name: 'b', type: 'BYTE_ARRAY', converted_type: 'UTF8' }),
    optional({ name: 'empty', type: 'DOUBLE' }),
  ]
  const bytes = parquetWriteBuffer({ columnData, schema, codec, rowGroupSize: [1, 50, 100, 6], pageSize: 256 })
  return tmp.file(name, Buffer.from(bytes))
}

// ——— A small Parquet writer for what hyparquet-writer does not write (field numbers: parquet.thrift) ———

/** A Thrift compact-protocol value. */
type Thrift =
  | { i32: number }
  | { i64: bigint | number }
  | { bin: string | Uint8Array }
  | { bool: boolean }
  | { list: Thrift[]; of: number }
  | { struct: [number, Thrift][] }

const I32 = 5
const I64 = 6
const BIN = 8
const STRUCT = 12

function varint(out: number[], value: number | bigint): void {
  let v = BigInt(value)
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80)
    v >>= 7n
  }
  out.push(Number(v))
}

const zigzag = (v: number | bigint): bigint => {
  const b = BigInt(v)
  return b >= 0n ? b << 1n : (-b << 1n) - 1n
}

function typeOf(v: Thrift): number {
  if ('i32' in v) return I32
  if ('i64' in v) return I64
  if ('bin' in v) return BIN
  if ('bool' in v) return v.bool ? 1 : 2
  if ('list' in v) return 9
  return STRUCT
}

function thrift(out: number[], v: Thrift): void {
  if ('i32' in v) varint(out, zigzag(v.i32))
  else if ('i64' in v) varint(out, zigzag(v.i64))
  else if ('bin' in v) {
    const bytes = typeof v.bin === 'string' ? new TextEncoder().encode(v.bin) : v.bin
    varint(out, bytes.length)
    out.push(...bytes)
  } else if ('list' in v) {
    if (v.list.length < 15) out.push((v.list.length << 4) | v.of)
    else {
      out.push(0xf0 | v.of)
      varint(out, v.list.length)
    }
    for (const item of v.list) thrift(out, item)
  } else if ('struct' in v) {
    let last = 0
    for (const [id, field] of v.struct) {
      out.push(((id - last) << 4) | typeOf(field))
      if (!('bool' in field)) thrift(out, field)
      last = id
    }
    out.push(0)
  }
}

const struct = (...fields: [number, Thrift | undefined][]): Thrift => ({
  struct: fields.filter((f): f is [number, Thrift] => f[1] !== undefined),
})

/** RLE/bit-packed hybrid: one run per value change, or everything bit-packed (in groups of 8). */
function hybrid(values: number[], width: number, style: 'rle' | 'bitpacked'): number[] {
  const out: number[] = []
  if (style === 'rle') {
    for (let i = 0; i < values.length;) {
      let j = i
      while (j < values.length && values[j] === values[i]) j++
      varint(out, (j - i) << 1)
      for (let b = 0; b < (width + 7) >> 3; b++) out.push((values[i] >> (8 * b)) & 0xff)
      i = j
    }
    return out
  }
  const groups = Math.ceil(values.length / 8)
  varint(out, (groups << 1) | 1)
  let acc = 0
  let bits = 0
  for (let i = 0; i < groups * 8; i++) {
    acc |= (values[i] ?? 0) << bits
    bits += width
    while (bits >= 8) {
      out.push(acc & 0xff)
      acc >>>= 8
      bits -= 8
    }
  }
  if (bits > 0) out.push(acc & 0xff)
  return out
}

type Physical = 'BOOLEAN' | 'INT32' | 'INT64' | 'DOUBLE' | 'BYTE_ARRAY'
const PHYSICAL: Record<Physical, number> = { BOOLEAN: 0, INT32: 1, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 }

function plain(type: Physical, values: unknown[]): number[] {
  const out: number[] = []
  if (type === 'BOOLEAN') {
    for (let i = 0; i < values.length; i += 8) {
      let byte = 0
      for (let j = 0; j < 8 && i + j < values.length; j++) if (values[i + j]) byte |= 1 << j
      out.push(byte)
    }
    return out
  }
  for (const v of values) {
    const view = new DataView(new ArrayBuffer(8))
    if (type === 'INT32') out.push(...new Uint8Array(view.buffer, 0, (view.setInt32(0, v as number, true), 4)))
    else if (type === 'INT64') out.push(...new Uint8Array(view.buffer, 0, (view.setBigInt64(0, v as bigint, true), 8)))
    else if (type === 'DOUBLE') out.push(...new Uint8Array(view.buffer, 0, (view.setFloat64(0, v as number, true), 8)))
    else {
      const bytes = new TextEncoder().encode(v as string)
      out.push(bytes.length & 0xff, (bytes.length >> 8) & 0xff, 0, 0, ...bytes)
    }
  }
  return out
}

/** Snappy as a compressor that finds no repeats: one literal, valid for any decoder. */
function snappyLiteral(bytes: number[]): number[] {
  const out: number[] = []
  varint(out, bytes.length)
  if (bytes.length === 0) return out
  const n = bytes.length - 1
  out.push(62 << 2, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff)
  out.push(...bytes)
  return out
}

interface RawPage {
  version: 1 | 2
  /** One entry per row: a value (a dictionary index for a dictionary column), or null. */
  entries: unknown[]
  levels?: 'rle' | 'bitpacked'
  /** Overrides the page header's value count (a damaged header). */
  numValues?: number
  /** Overrides the null count of a v2 header (a damaged header). */
  numNulls?: number
  /** Overrides the row count of a v2 header (a damaged header). */
  numRows?: number
  /** Levels as given rather than from the entries (a damaged page). */
  rawLevels?: number[]
}

interface RawColumn {
  name: string
  type: Physical
  required?: boolean
  utf8?: boolean
  codec?: 'UNCOMPRESSED' | 'SNAPPY'
  /** The dictionary written at the start of each chunk; the pages then hold indices. */
  dictionary?: unknown[]
  /** Per row group, the chunk's pages; null: the group has no chunk of the column (a damaged footer). */
  chunks: (RawPage[] | null)[]
  /** The chunks say they are in this other file (which Parquet allows and hyparquet does not read). */
  filePath?: string
}

/** A Parquet file of `columns`, each row group's rows as many as the first column's chunk holds unless `groupRows` says. */
function rawFile(name: string, columns: RawColumn[], groupRows?: number[]): string {
  const out: number[] = [...new TextEncoder().encode('PAR1')]
  const groups = columns[0].chunks.length
  const rowGroups: Thrift[] = []
  let total = 0
  for (let g = 0; g < groups; g++) {
    const rows = groupRows?.[g] ?? columns[0].chunks[g]!.reduce((sum, page) => sum + page.entries.length, 0)
    total += rows
    const chunks: Thrift[] = []
    for (const column of columns) {
      const pages = column.chunks[g]
      if (pages === null) continue
      const start = out.length
      const snappy = column.codec === 'SNAPPY'
      const compress = (bytes: number[]) => (snappy ? snappyLiteral(bytes) : bytes)
      let dictionaryOffset: number | undefined
      if (column.dictionary) {
        dictionaryOffset = out.length
        const body = plain(column.type, column.dictionary)
        const stored = compress(body)
        const header = struct(
          [1, { i32: 2 }],
          [2, { i32: body.length }],
          [3, { i32: stored.length }],
          [7, struct([1, { i32: column.dictionary.length }], [2, { i32: 2 }])],
        )
        thrift(out, header)
        out.push(...stored)
      }
      const dataOffset = out.length
      let values = 0
      for (const page of pages) {
        const present = page.entries.filter((e) => e !== null)
        const levels = page.rawLevels ?? page.entries.map((e) => (e === null ? 0 : 1))
        const levelBytes = column.required ? [] : hybrid(levels, 1, page.levels ?? 'rle')
        const width = column.dictionary ? Math.max(1, 32 - Math.clz32(column.dictionary.length - 1)) : 0
        const valueBytes = column.dictionary ? [width, ...hybrid(present as number[], width, 'bitpacked')] : plain(column.type, present)
        const encoding = column.dictionary ? (page.version === 1 ? 2 : 8) : 0
        const numValues = page.numValues ?? page.entries.length
        values += page.entries.length
        if (page.version === 1) {
          const body = [...(column.required ? [] : [...plain('INT32', [levelBytes.length])]), ...levelBytes, ...valueBytes]
          const stored = compress(body)
          thrift(
            out,
            struct(
              [1, { i32: 0 }],
              [2, { i32: body.length }],
              [3, { i32: stored.length }],
              [5, struct([1, { i32: numValues }], [2, { i32: encoding }], [3, { i32: 3 }], [4, { i32: 3 }])],
            ),
          )
          out.push(...stored)
        } else {
          const stored = compress(valueBytes)
          const nulls = page.numNulls ?? page.entries.length - present.length
          thrift(
            out,
            struct(
              [1, { i32: 3 }],
              [2, { i32: levelBytes.length + valueBytes.length }],
              [3, { i32: levelBytes.length + stored.length }],
              [
                8,
                struct(
                  [1, { i32: numValues }],
                  [2, { i32: nulls }],
                  [3, { i32: page.numRows ?? page.entries.length }],
                  [4, { i32: encoding }],
                  [5, { i32: levelBytes.length }],
                  [6, { i32: 0 }],
                  [7, { bool: snappy }],
                ),
              ],
            ),
          )
          out.push(...levelBytes, ...stored)
        }
      }
      const size = out.length - start
      const meta = struct(
        [1, { i32: PHYSICAL[column.type] }],
        [2, { list: [{ i32: 0 }, { i32: 3 }, ...(column.dictionary ? [{ i32: 2 }, { i32: 8 }] : [])], of: I32 }],
        [3, { list: [{ bin: column.name }], of: BIN }],
        [4, { i32: snappy ? 1 : 0 }],
        [5, { i64: values }],
        [6, { i64: size }],
        [7, { i64: size }],
        [9, { i64: dataOffset }],
        [11, dictionaryOffset === undefined ? undefined : { i64: dictionaryOffset }],
      )
      chunks.push(struct([1, column.filePath === undefined ? undefined : { bin: column.filePath }], [2, { i64: start }], [3, meta]))
    }
    rowGroups.push(struct([1, { list: chunks, of: STRUCT }], [2, { i64: 0 }], [3, { i64: rows }]))
  }
  const schema: Thrift[] = [
    struct([4, { bin: 'schema' }], [5, { i32: columns.length }]),
    ...columns.map((c) =>
      struct([1, { i32: PHYSICAL[c.type] }], [3, { i32: c.required ? 0 : 1 }], [4, { bin: c.name }], [6, c.utf8 ? { i32: 0 } : undefined]),
    ),
  ]
  const footer: number[] = []
  thrift(
    footer,
    struct(
      [1, { i32: 1 }],
      [2, { list: schema, of: STRUCT }],
      [3, { i64: total }],
      [4, { list: rowGroups, of: STRUCT }],
      [6, { bin: 'modelgate tests' }],
    ),
  )
  out.push(...footer, ...plain('INT32', [footer.length]), ...new TextEncoder().encode('PAR1'))
  return tmp.file(name, Buffer.from(out))
}

/** `n` entries from `value`, every `every`-th missing (none when 0). */
function entries<T>(n: number, every: number, value: (i: number) => T): (T | null)[] {
  return Array.from({ length: n }, (_, i) => (every > 0 && i % every === every - 1 ? null : value(i)))
}

const WORDS = ['setosa', 'versicolor', 'virginica', 'café', '']

/** Pages v1 and v2, levels as runs and bit-packed, with and without nulls, dictionaries, snappy and not. */
function pagesFile(): string {
  const x = (seed: number) => (i: number) => Math.sin(seed * 1000 + i) * 100
  return rawFile('pages.parquet', [
    {
      name: 'x',
      type: 'DOUBLE',
      chunks: [
        [
          { version: 1, entries: entries(20, 4, x(1)), levels: 'bitpacked' },
          { version: 1, entries: entries(30, 0, x(2)) },
          { version: 1, entries: entries(9, 0, x(3)), levels: 'bitpacked' },
          { version: 2, entries: entries(17, 3, x(4)) },
          { version: 2, entries: entries(24, 0, x(5)) },
          { version: 2, entries: entries(8, 0, x(6)), levels: 'bitpacked' },
        ],
        [
          { version: 2, entries: entries(40, 0, x(7)) },
          { version: 1, entries: [Number.NaN, null, -0, 1e-310, ...entries(36, 5, x(8))] },
        ],
      ],
    },
    {
      name: 'n',
      type: 'INT32',
      required: true,
      codec: 'SNAPPY',
      chunks: [
        [
          { version: 1, entries: entries(50, 0, (i) => i * 3 - 70) },
          { version: 2, entries: entries(58, 0, (i) => -i) },
        ],
        [{ version: 1, entries: entries(80, 0, (i) => i ** 2) }],
      ],
    },
    {
      name: 's',
      type: 'BYTE_ARRAY',
      utf8: true,
      codec: 'SNAPPY',
      dictionary: WORDS,
      chunks: [
        [
          { version: 1, entries: entries(60, 7, (i) => i % 5) },
          { version: 2, entries: entries(48, 0, (i) => (i * 3) % 5) },
        ],
        [
          { version: 1, entries: entries(40, 0, (i) => i % 4) },
          { version: 2, entries: entries(40, 6, (i) => i % 5) },
        ],
      ],
    },
    {
      name: 'big',
      type: 'INT64',
      chunks: [
        [{ version: 1, entries: entries(108, 9, (i) => [BigInt(i), 2n ** 53n + 1n, -(2n ** 60n)][i % 3]) }],
        [{ version: 2, entries: entries(80, 0, (i) => BigInt(-i)) }],
      ],
    },
    {
      name: 'flag',
      type: 'BOOLEAN',
      codec: 'SNAPPY',
      chunks: [
        [{ version: 1, entries: entries(108, 5, (i) => i % 3 === 0) }],
        [{ version: 2, entries: entries(80, 0, (i) => i % 2 === 0) }],
      ],
    },
  ])
}

describe('ParquetSource gives the batches the reader before it gave', () => {
  it('for every type and encoding hyparquet-writer writes, flat and nested, snappy or not', async () => {
    for (const codec of ['SNAPPY', 'UNCOMPRESSED'] as const) {
      const path = writerFile(`writer-${codec}.parquet`, codec)
      const columns = await new ParquetSource(path).columns()
      expect(columns).toHaveLength(20)
      await expectSameAsBefore(path, readsOf(columns))
    }
  })

  it('for the committed fixtures', async () => {
    for (const name of ['mixed.parquet', 'mixed-reordered.parquet']) {
      const path = fixture(name)
      await expectSameAsBefore(path, readsOf(await new ParquetSource(path).columns()))
    }
    const bc40 = fixture('../e2e/bc40.parquet')
    await expectSameAsBefore(bc40, readsOf(await new ParquetSource(bc40).columns()))
  })

  it('for data pages v1 and v2, definition levels as runs or bit-packed, dictionaries and nulls', async () => {
    const path = pagesFile()
    const batches = await outcome(() => new ParquetSource(path).batches({ batchSize: 1000 }))
    // The writer above did write what the reader reads: one batch of both row groups.
    expect('batches' in batches && batches.batches.map((b) => b.length)).toEqual([188])
    await expectSameAsBefore(path, readsOf(['x', 'n', 's', 'big', 'flag']))
  })

  it('for pages whose headers or levels disagree with their values', async () => {
    const x = (i: number) => i + 0.5
    const cases: RawPage[][] = [
      // More levels than the header counts; fewer.
      [{ version: 1, entries: entries(16, 0, x), numValues: 12 }],
      [{ version: 1, entries: entries(16, 0, x), numValues: 20 }],
      [{ version: 2, entries: entries(16, 0, x), numValues: 12 }],
      // Levels saying a value is missing in a v2 page counting no nulls, and the reverse.
      [{ version: 2, entries: entries(16, 0, x), rawLevels: [...Array(15).fill(1), 0], numNulls: 0 }],
      [{ version: 2, entries: entries(16, 4, x), numNulls: 0 }],
      [{ version: 1, entries: entries(16, 0, x), rawLevels: Array(16).fill(0) }],
      // A v2 header counting rows below zero, first or later in the chunk: hyparquet skips the page.
      [
        { version: 2, entries: entries(6, 0, x), numRows: -3 },
        { version: 1, entries: entries(10, 0, x) },
      ],
      [
        { version: 1, entries: entries(10, 0, x) },
        { version: 2, entries: entries(6, 0, x), numRows: -3 },
      ],
      [
        { version: 2, entries: entries(6, 0, x), numRows: -30 },
        { version: 1, entries: entries(40, 0, x) },
      ],
    ]
    for (const [i, pages] of cases.entries()) {
      const path = rawFile(`odd-${i}.parquet`, [
        { name: 'x', type: 'DOUBLE', chunks: [pages] },
        { name: 'n', type: 'INT32', required: true, chunks: [[{ version: 1, entries: entries(16, 0, (j) => j) }]] },
      ])
      await expectSameAsBefore(path, readsOf(['x', 'n']))
    }
  })

  it('for damaged pages: the same batches or the same error', async () => {
    const path = pagesFile()
    const bytes = readFileSync(path)
    const metadata = await parquetMetadataAsync(new Uint8Array(bytes).buffer)
    // Bytes changed at the start of each column chunk (page headers, levels, snappy streams), in its middle and at its end.
    // Not to 0xff: a byte that continues a varint can make a run count in the billions, which hyparquet's level
    // decoding (in the old reader as in the new) takes minutes over.
    for (const group of metadata.row_groups) {
      for (const chunk of group.columns) {
        const meta = chunk.meta_data!
        const start = Number(meta.dictionary_page_offset || meta.data_page_offset)
        const size = Number(meta.total_compressed_size)
        for (const at of [0, 1, 2, 5, 9, Math.floor(size / 2), size - 3]) {
          for (const value of [0x00, 0x7f]) {
            const damaged = Buffer.from(bytes)
            damaged[start + at] = value
            const file = tmp.file('damaged.parquet', damaged)
            await expectSameAsBefore(file, [{ batchSize: 64 }])
          }
        }
      }
    }
  })

  it('for damaged pages in row groups read into reused buffers: the same batches or the same error', async () => {
    // Snappy chunks are read into the buffers of the group before last (parquet.ts, recycleChunks), which
    // may be longer than the chunk: a damaged page size must still fail as it fails in a buffer of its own.
    const n = 400
    const rand = random(23)
    const columnData = [
      { name: 'x', data: Float64Array.from({ length: n }, () => rand()), type: 'DOUBLE' as const },
      { name: 'k', data: Int32Array.from({ length: n }, (_, i) => (i * 37) % 11), type: 'INT32' as const },
    ]
    const bytes = Buffer.from(parquetWriteBuffer({ columnData, codec: 'SNAPPY', rowGroupSize: [100, 100, 100, 60, 40], pageSize: 128 }))
    const metadata = await parquetMetadataAsync(new Uint8Array(bytes).buffer)
    const zigzag = (v: number) => {
      const out: number[] = []
      for (let z = v * 2; ; z >>>= 7) {
        if (z < 128) return [...out, z]
        out.push((z & 127) | 128)
      }
    }
    let overruns = 0
    for (const group of metadata.row_groups.slice(2)) {
      for (const chunk of group.columns) {
        const meta = chunk.meta_data!
        const start = Number(meta.dictionary_page_offset || meta.data_page_offset)
        const size = Number(meta.total_compressed_size)
        for (let at = 0; at < 12; at++) {
          for (const value of [0x00, 0x7f, 0x40]) {
            const damaged = Buffer.from(bytes)
            damaged[start + at] = value
            await expectSameAsBefore(tmp.file('damaged-reused.parquet', damaged), [{ batchSize: 64 }])
          }
        }
        // The first page's compressed size made to reach a few bytes past the chunk (its varint as long as before).
        const reader = { view: new DataView(bytes.buffer, bytes.byteOffset + start, size), offset: 0 }
        const header = parquetHeader(reader)
        const was = zigzag(header.compressed_page_size)
        for (const past of [1, 8, 40]) {
          const claim = zigzag(size - reader.offset + past)
          const at = bytes.subarray(start, start + reader.offset).indexOf(Buffer.from(was))
          if (at < 0 || claim.length !== was.length) continue
          const damaged = Buffer.from(bytes)
          damaged.set(claim, start + at)
          await expectSameAsBefore(tmp.file('overrun-reused.parquet', damaged), [{ batchSize: 64 }])
          overruns++
        }
      }
    }
    expect(overruns).toBeGreaterThan(3)
  })

  it('for row groups missing a column chunk, or with chunks in another file', async () => {
    const x = (i: number) => i / 4
    const missing = rawFile('missing-chunk.parquet', [
      { name: 'x', type: 'DOUBLE', chunks: [[{ version: 1, entries: entries(10, 3, x) }], [{ version: 2, entries: entries(6, 0, x) }]] },
      { name: 'y', type: 'INT32', required: true, chunks: [[{ version: 1, entries: entries(10, 0, x) }], null] },
    ])
    await expectSameAsBefore(missing, readsOf(['x', 'y']))
    expect(await outcome(() => new ParquetSource(missing).batches({ batchSize: 100 }))).toEqual({
      error: `${missing}: column "y" has 0 of the 6 rows of a row group`,
      file: missing,
    })
    const elsewhere = rawFile('file-path.parquet', [
      { name: 'x', type: 'DOUBLE', chunks: [[{ version: 1, entries: entries(10, 3, x) }]] },
      { name: 'y', type: 'INT32', required: true, filePath: 'other.parquet', chunks: [[{ version: 1, entries: entries(10, 0, x) }]] },
    ])
    await expectSameAsBefore(elsewhere, readsOf(['x', 'y']))
    expect(await outcome(() => new ParquetSource(elsewhere).batches({ batchSize: 100, columns: ['x'] }))).toEqual({
      error: `${elsewhere}: cannot read the Parquet data (parquet file_path not supported)`,
      file: elsewhere,
    })
  })

  it('reports a column chunk shorter than its row group as before', async () => {
    const path = rawFile(
      'short.parquet',
      [
        {
          name: 'x',
          type: 'DOUBLE',
          chunks: [[{ version: 1, entries: entries(10, 3, (i) => i) }], [{ version: 2, entries: entries(6, 0, (i) => i) }]],
        },
        {
          name: 'y',
          type: 'INT32',
          required: true,
          chunks: [[{ version: 1, entries: entries(10, 0, (i) => i) }], [{ version: 1, entries: entries(8, 0, (i) => i) }]],
        },
      ],
      [10, 8],
    )
    await expectSameAsBefore(path, readsOf(['x', 'y']))
    const now = await outcome(() => new ParquetSource(path).batches({ batchSize: 4, columns: ['x'] }))
    expect(now).toEqual({ error: `${path}: column "x" has 6 of the 8 rows of a row group`, file: path })
  })
})
