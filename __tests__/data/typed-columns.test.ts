/**
 * Typed columns (src/core/data/types.ts Column): the readers hand out number columns as Float64Arrays
 * (NaN where missing) and every other column as cells; consumers read either through cellAt, and the
 * ONNX runner copies a typed column straight into its tensor. What a consumer sees is the same as
 * the cells the readers gave before.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { CsvSource } from '../../src/core/data/csv.js'
import { ParquetSource } from '../../src/core/data/parquet.js'
import { cellAt, columnCells, isBlankAt, type Cell } from '../../src/core/data/types.js'
import { CellError } from '../../src/core/errors.js'
import { buildFeeds, planInputs } from '../../src/core/runners/onnx-feeds.js'
import type { ValueSignature } from '../../src/core/onnx/proto.js'
import { readBatches, readTypedBatches, tempDir } from './helpers.js'

const tmp = tempDir()
afterAll(() => tmp.remove())

describe('cellAt, columnCells and isBlankAt', () => {
  it('read NaN in a typed column as missing, and cells as they are', () => {
    const typed = Float64Array.of(1.5, NaN, -0, Infinity)
    expect([0, 1, 2, 3].map((i) => cellAt(typed, i))).toEqual([1.5, null, -0, Infinity])
    expect(Object.is(cellAt(typed, 2), -0)).toBe(true)
    expect(columnCells(typed)).toEqual([1.5, null, -0, Infinity])
    const cells: Cell[] = ['a', null, 2, true]
    expect(columnCells(cells)).toBe(cells)
    expect([0, 1, 2, 3].map((i) => cellAt(cells, i))).toEqual(cells)
    expect([0, 1, 2, 3].map((i) => isBlankAt(typed, i))).toEqual([false, true, false, false])
    expect([0, 1, 2, 3, 4].map((i) => isBlankAt(cells, i))).toEqual([false, true, false, false, true])
    expect(cellAt(typed, 9)).toBeNull()
  })
})

describe('CSV batches', () => {
  const csv = 'x,y,name,code\n1,2.5,a,007\n,NA,b,1.50\n-0,1e-320,c,\n3,text,d,4\n'

  it('hold number columns as Float64Arrays, switch a column with text to cells for its batch, keep text columns as cells', async () => {
    const path = tmp.file('typed.csv', csv)
    for (const workers of [0, 2]) {
      const [a, b] = await readTypedBatches(new CsvSource(path, { workers }), { batchSize: 3, text: ['code'] })
      expect(a.columns.x).toBeInstanceOf(Float64Array)
      expect(Array.from(a.columns.x as Float64Array)).toEqual([1, NaN, -0])
      expect(a.columns.y).toBeInstanceOf(Float64Array)
      expect((a.columns.y as Float64Array)[2]).toBe(1e-320)
      expect(a.columns.name).toEqual(['a', 'b', 'c'])
      expect(a.columns.code).toEqual(['007', '1.50', null])
      // The last batch is one row: its typed columns are that long.
      expect(b.length).toBe(1)
      expect(b.columns.x).toEqual(Float64Array.of(3))
      expect(b.columns.y).toEqual(['text'])
    }
  })

  it('give the same cells as before through cellAt, in batches of any size', async () => {
    const path = tmp.file('cells.csv', csv)
    const expected = { x: [1, null, -0, 3], y: [2.5, null, 1e-320, 'text'], name: ['a', 'b', 'c', 'd'] }
    for (const batchSize of [1, 2, 3, 4, 100]) {
      const batches = await readBatches(new CsvSource(path), { batchSize, columns: ['x', 'y', 'name'] })
      const got = { x: batches.flatMap((b) => b.columns.x as Cell[]), y: batches.flatMap((b) => b.columns.y as Cell[]) }
      expect(got).toEqual({ x: expected.x, y: expected.y })
      expect(batches.flatMap((b) => b.columns.name as Cell[])).toEqual(expected.name)
    }
  })

  it('switch to cells when the first text cell comes after numbers in the same batch, keeping the numbers before it', async () => {
    const path = tmp.file('late.csv', 'v\n1\n2\n\nx\n5\n')
    const [batch] = await readTypedBatches(new CsvSource(path), { batchSize: 10 })
    expect(batch.columns.v).toEqual([1, 2, 'x', 5])
  })
})

describe('Parquet batches', () => {
  it('hold double and float columns as Float64Arrays (NaN missing), integers and text as cells', async () => {
    const bytes = parquetWriteBuffer({
      columnData: [
        { name: 'd', data: [1.25, null, -0, 4], type: 'DOUBLE' },
        { name: 'f', data: [0.5, 2, null, NaN], type: 'FLOAT' },
        { name: 'i', data: [1, 2, null, 4], type: 'INT32' },
        { name: 's', data: ['a', null, 'c', 'd'], type: 'STRING' },
      ],
      rowGroupSize: [3, 1],
    })
    const path = tmp.file('typed.parquet', Buffer.from(bytes))
    const batches = await readTypedBatches(new ParquetSource(path), { batchSize: 2 })
    expect(batches.map((b) => b.length)).toEqual([2, 2])
    for (const b of batches) {
      expect(b.columns.d).toBeInstanceOf(Float64Array)
      expect(b.columns.f).toBeInstanceOf(Float64Array)
      expect(Array.isArray(b.columns.i)).toBe(true)
      expect(Array.isArray(b.columns.s)).toBe(true)
    }
    const cells = (name: string) => batches.flatMap((b) => columnCells(b.columns[name]))
    expect(cells('d')).toEqual([1.25, null, -0, 4])
    expect(cells('f')).toEqual([0.5, 2, null, null])
    expect(cells('i')).toEqual([1, 2, null, 4])
    expect(cells('s')).toEqual(['a', null, 'c', 'd'])
  })
})

describe('ONNX feeds from typed columns', () => {
  const sig = (dtype: string): ValueSignature => ({ name: 'X', kind: 'tensor', dtype, shape: [-1, 2] }) as ValueSignature
  const typed = { offset: 10, length: 3, features: ['a', 'b'], columns: [Float64Array.of(1, NaN, 3), Float64Array.of(0.1, 2, 4)] }
  const cells = { ...typed, columns: typed.columns.map(columnCells) }

  it('fill a float or double matrix exactly as from cells', () => {
    for (const dtype of ['float', 'double']) {
      const plan = planInputs('m.onnx', [sig(dtype)])
      expect(Array.from(buildFeeds('m.onnx', plan, typed).X.data as Float32Array)).toEqual(
        Array.from(buildFeeds('m.onnx', plan, cells).X.data as Float32Array),
      )
    }
  })

  it('refuse a missing value or a fraction for an integer input, naming the row and feature as from cells', () => {
    const plan = planInputs('m.onnx', [sig('int64')])
    const error = (batch: typeof typed | typeof cells) => {
      try {
        buildFeeds('m.onnx', plan, batch)
      } catch (e) {
        return e as CellError
      }
      throw new Error('expected a CellError')
    }
    for (const batch of [typed, cells]) {
      const e = error(batch)
      expect(e).toBeInstanceOf(CellError)
      expect([e.column, e.row, e.reason]).toEqual(['a', 12, "missing value, but the model's input is int64"])
    }
    const fraction = { ...typed, columns: [Float64Array.of(1, 2, 3), Float64Array.of(1, 2.5, 4)] }
    expect([error(fraction).row, error(fraction).reason]).toEqual([12, "2.5 is not an integer, but the model's input is int64"])
    const whole = { ...typed, columns: [Float64Array.of(1, 2, 3), Float64Array.of(-4, 5, 6)] }
    expect(Array.from(buildFeeds('m.onnx', plan, whole).X.data as BigInt64Array)).toEqual([1n, -4n, 2n, 5n, 3n, 6n])
  })
})

describe('onBytesRead in the JSON Lines and Parquet readers', () => {
  it('rises to the file size as the rows are read', async () => {
    const { JsonlSource } = await import('../../src/core/data/jsonl.js')
    const { statSync } = await import('node:fs')
    const lines = Array.from({ length: 500 }, (_, i) => JSON.stringify({ a: i, b: `row ${i}` })).join('\n')
    const jsonl = tmp.file('progress.jsonl', `${lines}\n`)
    const parquet = tmp.file(
      'progress.parquet',
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'a', data: Array.from({ length: 500 }, (_, i) => i * 0.5), type: 'DOUBLE' },
            { name: 'b', data: Array.from({ length: 500 }, (_, i) => `row ${i}`), type: 'STRING' },
          ],
          rowGroupSize: 100,
        }),
      ),
    )
    for (const [source, path] of [
      [new JsonlSource(jsonl, { chunkBytes: 1000 }), jsonl],
      [new ParquetSource(parquet), parquet],
    ] as const) {
      const seen: number[] = []
      let rows = 0
      for await (const batch of source.batches({ batchSize: 50, columns: ['a'], onBytesRead: (n) => seen.push(n) })) rows += batch.length
      expect(rows).toBe(500)
      expect(seen.length).toBeGreaterThan(3)
      expect(seen).toEqual([...seen].sort((x, y) => x - y))
      expect(seen[seen.length - 1]).toBe(statSync(path).size)
    }
  })
})
