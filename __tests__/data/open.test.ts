import { afterAll, describe, expect, it } from '@jest/globals'
import { CsvSource } from '../../src/core/data/csv.js'
import { JsonlSource } from '../../src/core/data/jsonl.js'
import { digestFile, inferFormat, openTable } from '../../src/core/data/open.js'
import { ParquetSource } from '../../src/core/data/parquet.js'
import { FIXTURES, expectUserError, fixture, readColumns, tempDir } from './helpers.js'

const tmp = tempDir()
afterAll(() => tmp.remove())

describe('openTable', () => {
  it('picks the reader from the extension, case-insensitively', () => {
    expect(openTable(fixture('plain.csv'))).toBeInstanceOf(CsvSource)
    expect(openTable(fixture('good.jsonl'))).toBeInstanceOf(JsonlSource)
    expect(openTable(fixture('mixed.parquet'))).toBeInstanceOf(ParquetSource)
    expect(inferFormat('x/y.NDJSON')).toBe('jsonl')
    expect(inferFormat('y.Parquet')).toBe('parquet')
    expect(inferFormat('z.CSV')).toBe('csv')
  })

  it('reads .ndjson as JSON Lines', async () => {
    const path = tmp.file('rows.ndjson', '{"a":1}\n{"a":2}\n')
    const source = openTable(path)
    expect(source.format).toBe('jsonl')
    expect(await readColumns(source, { batchSize: 1 })).toEqual({ a: [1, 2] })
  })

  it('takes an explicit format over the extension', async () => {
    const source = openTable(fixture('data.txt'), 'csv')
    expect(source.format).toBe('csv')
    expect(source.path).toBe(fixture('data.txt'))
    expect(await readColumns(source, { batchSize: 5 })).toEqual({ a: [1], b: [2] })
  })

  it('rejects an unknown extension, listing the supported ones', async () => {
    const path = fixture('data.txt')
    await expectUserError(
      () => openTable(path),
      `${path}: cannot tell the data format from the extension .txt; supported: .csv, .jsonl, .ndjson, .parquet (or give the format explicitly)`,
      path,
    )
    await expectUserError(
      () => openTable('data/noext'),
      'data/noext: cannot tell the data format from the extension (none); supported: .csv, .jsonl, .ndjson, .parquet (or give the format explicitly)',
    )
  })

  it('rejects a missing file and a directory', async () => {
    const path = fixture('missing.parquet')
    await expectUserError(() => openTable(path), `${path}: file not found`, path)
    await expectUserError(() => openTable(FIXTURES, 'csv'), `${FIXTURES}: is a directory, not a file`, FIXTURES)
  })
})

describe('digestFile', () => {
  it('returns the sha256 of the bytes', async () => {
    expect(await digestFile(tmp.file('abc.txt', 'abc'))).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(await digestFile(tmp.file('empty.txt', ''))).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('streams a file larger than one read', async () => {
    // 3 MiB of "a": sha256 computed independently (`head -c 3145728 /dev/zero | tr '\0' a | sha256sum`).
    const path = tmp.file('big.txt', Buffer.alloc(3 * 1024 * 1024, 'a'))
    expect(await digestFile(path)).toBe(BIG_A_SHA256)
  })

  it('reports a missing file', async () => {
    const path = fixture('absent.csv')
    await expectUserError(digestFile(path), `${path}: file not found`, path)
  })
})

const BIG_A_SHA256 = 'sha256:6f850bc94ae6f7de14297c01616c36d712d22864497b28a63b81d776b035e656'
