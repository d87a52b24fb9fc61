import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from '@jest/globals'
import { parquetMetadataAsync } from 'hyparquet'
import { ParquetSource, parquetCell } from '../../src/core/data/parquet.js'
import { escapeRegExp, expectUserError, fixture, readBatches, readColumns, tempDir } from './helpers.js'

const tmp = tempDir()
afterAll(() => tmp.remove())

// The rows scripts/fixtures/make-parquet-fixtures.mjs wrote, as cells.
const MIXED = {
  id: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  count: [3, null, -7, 0, 2147483647, 12, null, 5, 6, -1],
  big: [1, -2, null, 9007199254740991, '9007199254740993', 0, 42, '-9007199254740993', 7, 8],
  score: [0.5, 1.25, null, -3.75, null, 1e-9, 2.5, 100, null, 0.1],
  name: ['a', 'b', null, 'café', '', 'x,y', 'line\nbreak', 'h', 'i', null],
  flag: [true, false, true, null, false, true, false, true, false, true],
}
const NAMES = ['id', 'count', 'big', 'score', 'name', 'flag']

describe('ParquetSource', () => {
  it('lists the columns in file order', async () => {
    const source = new ParquetSource(fixture('mixed.parquet'))
    expect(source.format).toBe('parquet')
    expect(await source.columns()).toEqual(NAMES)
  })

  it('reads ints, doubles, strings, booleans and nulls across row groups into exact batches', async () => {
    const path = fixture('mixed.parquet')
    const metadata = await parquetMetadataAsync(new Uint8Array(readFileSync(path)).buffer)
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([4, 4, 2])
    const batches = await readBatches(new ParquetSource(path), { batchSize: 3 })
    expect(batches.map((b) => [b.offset, b.length])).toEqual([
      [0, 3],
      [3, 3],
      [6, 3],
      [9, 1],
    ])
    expect(batches[1]).toEqual({
      offset: 3,
      length: 3,
      columns: {
        id: [4, 5, 6],
        count: [0, 2147483647, 12],
        big: [9007199254740991, '9007199254740993', 0],
        score: [-3.75, null, 1e-9],
        name: ['café', '', 'x,y'],
        flag: [null, false, true],
      },
    })
    expect(await readColumns(new ParquetSource(path), { batchSize: 3 })).toEqual(MIXED)
    expect(await readColumns(new ParquetSource(path), { batchSize: 100 })).toEqual(MIXED)
  })

  it('gives identical batches for a file with reordered columns, an extra one and other row groups', async () => {
    for (const batchSize of [1, 4, 7]) {
      const plain = await readBatches(new ParquetSource(fixture('mixed.parquet')), { batchSize, columns: NAMES })
      const reordered = await readBatches(new ParquetSource(fixture('mixed-reordered.parquet')), { batchSize, columns: NAMES })
      expect(reordered).toEqual(plain)
      expect(plain.length).toBe(Math.ceil(10 / batchSize))
    }
  })

  it('materialises only the requested columns', async () => {
    const batches = await readBatches(new ParquetSource(fixture('mixed-reordered.parquet')), {
      batchSize: 10,
      columns: ['name', 'id'],
    })
    expect(batches).toEqual([{ offset: 0, length: 10, columns: { name: MIXED.name, id: MIXED.id } }])
    expect(Object.keys(batches[0].columns)).toEqual(['name', 'id'])
  })

  it('counts rows when no column is requested', async () => {
    const batches = await readBatches(new ParquetSource(fixture('mixed.parquet')), { batchSize: 6, columns: [] })
    expect(batches).toEqual([
      { offset: 0, length: 6, columns: {} },
      { offset: 6, length: 4, columns: {} },
    ])
  })

  it('names missing columns', async () => {
    const path = fixture('mixed.parquet')
    await expectUserError(
      readBatches(new ParquetSource(path), { batchSize: 3, columns: ['id', 'target'] }),
      `${path}: missing column(s) "target"; the file has: id, count, big, score, name, flag`,
      path,
    )
  })

  it('reports a file that is not Parquet or is cut short', async () => {
    const text = tmp.file('text.parquet', 'id,value\n1,2\n')
    await expectUserError(new ParquetSource(text).columns(), new RegExp(`^${escapeRegExp(text)}: not a valid Parquet file \\(.+\\)$`), text)
    const cut = tmp.file('cut.parquet', readFileSync(fixture('mixed.parquet')).subarray(0, 900))
    await expectUserError(
      readBatches(new ParquetSource(cut), { batchSize: 3 }),
      new RegExp(`^${escapeRegExp(cut)}: not a valid Parquet file \\(.+\\)$`),
      cut,
    )
    const missing = fixture('absent.parquet')
    await expectUserError(new ParquetSource(missing).columns(), `${missing}: file not found`, missing)
  })

  it('reports a read the file system refuses as that, not as an invalid file', async () => {
    await expectUserError(new ParquetSource(tmp.dir).columns(), `${tmp.dir}: is a directory, not a file`, tmp.dir)
    await expectUserError(readBatches(new ParquetSource(tmp.dir), { batchSize: 3 }), `${tmp.dir}: is a directory, not a file`, tmp.dir)
  })

  it('reports corrupt column data', async () => {
    const bytes = Buffer.from(readFileSync(fixture('mixed.parquet')))
    // Overwrites the start of the first column chunk (page headers live there), keeping the footer intact.
    bytes.fill(0xff, 4, 200)
    const path = tmp.file('corrupt-data.parquet', bytes)
    expect(await new ParquetSource(path).columns()).toEqual(NAMES)
    await expectUserError(
      readBatches(new ParquetSource(path), { batchSize: 3 }),
      new RegExp(`^${escapeRegExp(path)}: cannot read the Parquet data \\(.+\\)$`),
      path,
    )
  })
})

describe('parquetCell', () => {
  it('converts 64-bit integers to numbers only when exact, NaN to null and dates to ISO text', () => {
    expect(parquetCell(9007199254740991n)).toBe(9007199254740991)
    expect(parquetCell(-9007199254740991n)).toBe(-9007199254740991)
    expect(parquetCell(9007199254740992n)).toBe('9007199254740992')
    expect(parquetCell(Number.NaN)).toBeNull()
    expect(parquetCell(undefined)).toBeNull()
    expect(parquetCell(new Date(Date.UTC(2024, 1, 29, 12, 30)))).toBe('2024-02-29T12:30:00.000Z')
    expect(parquetCell('x')).toBe('x')
    expect(parquetCell(false)).toBe(false)
  })
})
