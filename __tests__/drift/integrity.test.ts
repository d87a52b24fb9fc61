import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from '@jest/globals'
import { openTable } from '../../src/core/data/open.js'
import type { Batch, Cell, Column } from '../../src/core/data/types.js'
import { IntegrityAccumulator, ReferenceProfile, type IntegrityResult } from '../../src/core/drift/integrity.js'
import { RowHasher, Table64 } from '../../src/core/drift/rowhash.js'
import { UserError } from '../../src/core/errors.js'

const DIR = fileURLToPath(new URL('../fixtures/drift/integrity/', import.meta.url))
const expected = JSON.parse(readFileSync(join(DIR, 'pandas-reference.json'), 'utf8')) as {
  nearConstant: number
  columns: string[]
  leakSubset: string[]
  current: IntegrityResult
  currentLeakSubset: IntegrityResult
  referenceAlone: IntegrityResult
}
const COLUMNS = expected.columns

async function profile(batchSize: number, leakageColumns?: string[]): Promise<ReferenceProfile> {
  const reference = new ReferenceProfile(COLUMNS, { leakageColumns })
  for await (const batch of openTable(join(DIR, 'reference.csv')).batches({ batchSize })) reference.add(batch)
  return reference
}

async function check(file: string, batchSize: number, reference?: ReferenceProfile): Promise<IntegrityResult> {
  const acc = new IntegrityAccumulator({ columns: COLUMNS, nearConstant: expected.nearConstant }, reference)
  for await (const batch of openTable(join(DIR, file)).batches({ batchSize })) acc.add(batch)
  return acc.result()
}

function batch(offset: number, columns: Record<string, Column>): Batch {
  const length = Object.values(columns)[0]?.length ?? 0
  return { offset, length, columns }
}

describe('integrity checks against pandas 1.5.3 (scripts/fixtures/integrity.py)', () => {
  it('current against the reference: every column check, duplicate rows and columns, leakage', async () => {
    const result = await check('current.csv', 7, await profile(7))
    expect(result).toEqual(expected.current)
    // What the fixture was built to contain (the generator's pandas numbers say the same).
    expect(result.duplicateRows).toBe(12)
    expect(result.duplicateColumns).toEqual([
      ['code', 'code_copy'],
      ['age', 'age_copy'],
    ])
    expect(result.leakage?.rows).toBe(10)
    const byName = Object.fromEntries(result.columns.map((c) => [c.name, c]))
    expect(byName.const_num.constant).toBe(true)
    expect(byName.near.nearConstant).toBe(true)
    expect(byName.empty).toMatchObject({ constant: true, missingShare: 1, nearConstant: false })
    expect(byName.code.mixedTypes).toBe(true)
    expect(byName.city.newCategories?.count).toBeGreaterThan(0)
    expect(byName.age.outOfRange).toBeGreaterThan(0)
  })

  it('leakage over a subset of the columns', async () => {
    const result = await check('current.csv', 7, await profile(5, expected.leakSubset))
    expect(result).toEqual(expected.currentLeakSubset)
    expect(result.leakage?.rows).toBe(12)
  })

  it('the reference alone, without a reference: no range, category or leakage fields', async () => {
    const result = await check('reference.csv', 7)
    expect(result).toEqual(expected.referenceAlone)
    expect(result.leakage).toBeUndefined()
  })

  it('does not depend on the batch size', async () => {
    // At 7 rows a batch the mixed column arrives both as a Float64Array and as cells.
    const kinds = new Set<string>()
    for await (const b of openTable(join(DIR, 'current.csv')).batches({ batchSize: 7 }))
      kinds.add(b.columns.code instanceof Float64Array ? 'typed' : 'cells')
    expect([...kinds].sort()).toEqual(['cells', 'typed'])
    const results: IntegrityResult[] = []
    for (const size of [1, 2, 7, 13, 64, 100_000]) results.push(await check('current.csv', size, await profile(size === 1 ? 3 : size)))
    for (const r of results) expect(r).toEqual(results[0])
    expect(results[0]).toEqual(expected.current)
  })
})

describe('integrity checks on hand-made batches', () => {
  it('normalises numbers (1, 1.0, -0, 0) but keeps the text "1" apart from the number 1', () => {
    const acc = new IntegrityAccumulator({ columns: ['x', 'y'] })
    acc.add(batch(0, { x: new Float64Array([1, -0, NaN]), y: ['a', 'b', null] }))
    acc.add(batch(3, { x: [1, 0, null, '1'], y: ['a', 'b', null, 'a'] }))
    const r = acc.result()
    expect(r.duplicateRows).toBe(3)
    expect(r.columns[0]).toMatchObject({ missing: 2, mixedTypes: true, constant: false })
  })

  it('text is not trimmed, and booleans are their own kind', () => {
    const acc = new IntegrityAccumulator({ columns: ['t', 'b'] })
    acc.add(batch(0, { t: ['a', 'a ', ' a', 'a'], b: [true, 1, true, true] }))
    const r = acc.result()
    expect(r.duplicateRows).toBe(1)
    expect(r.columns[0].topShare).toBe(0.5)
    expect(r.columns[1]).toMatchObject({ mixedTypes: true, topShare: 0.75 })
    expect(r.duplicateColumns).toEqual([])
  })

  it('finds duplicate columns across column representations and batches, and drops them at the first difference', () => {
    const acc = new IntegrityAccumulator({ columns: ['a', 'b', 'c', 'd', 'e'] })
    acc.add(batch(0, { a: new Float64Array([1, NaN]), b: [1, null], c: new Float64Array([1, NaN]), d: ['x', 'y'], e: ['x', 'y'] }))
    acc.add(batch(2, { a: ['k', 2], b: ['k', 2], c: new Float64Array([3, 2]), d: [null, 'z'], e: new Float64Array([NaN, NaN]) }))
    expect(acc.result().duplicateColumns).toEqual([['a', 'b']])
  })

  it('many sparse columns equal over a long prefix: split by hash, then compared exactly', () => {
    const n = 20_000
    const k = 200
    const columns: Record<string, Column> = {}
    const names: string[] = []
    for (let c = 0; c < k; c++) {
      const col = new Float64Array(n)
      col[n - 1 - (c % 150)] = 1 // columns c and c + 150 are equal
      columns[`h${c}`] = col
      names.push(`h${c}`)
    }
    const acc = new IntegrityAccumulator({ columns: names })
    acc.add(batch(0, columns))
    expect(acc.result().duplicateColumns).toEqual(Array.from({ length: k - 150 }, (_, c) => [`h${c}`, `h${c + 150}`]))
  })

  it('a constant column and a near-constant one; missing values only is constant', () => {
    const n = 100
    const near = new Float64Array(n)
    near[3] = 5
    const acc = new IntegrityAccumulator({ columns: ['c', 'near', 'gone'], nearConstant: 0.99 })
    acc.add(batch(0, { c: new Float64Array(n).fill(2), near, gone: new Float64Array(n).fill(NaN) }))
    const [c, nearCol, gone] = acc.result().columns
    expect(c).toMatchObject({ constant: true, nearConstant: false, topShare: 1 })
    expect(nearCol).toMatchObject({ constant: false, nearConstant: true, topShare: 0.99 })
    expect(gone).toEqual({ name: 'gone', missing: n, missingShare: 1, constant: true, nearConstant: false, mixedTypes: false })
  })

  it('beyond maxDistinct the top share stays exact when the top value dominates, and says when it is a lower bound', () => {
    const dominated = new Float64Array(1000)
    for (let i = 0; i < 1000; i++) dominated[i] = i % 2 === 0 ? 0 : i
    const spread = new Float64Array(1000).map((_, i) => i)
    const acc = new IntegrityAccumulator({ columns: ['d', 's'], maxDistinct: 10 })
    acc.add(batch(0, { d: dominated, s: spread }))
    const [d, s] = acc.result().columns
    expect(d.topShare).toBe(0.5)
    expect(d.notes).toBeUndefined()
    expect(s.topShare).toBe(0.001)
    expect(s.notes?.[0]).toMatch(/more than 10 distinct values: topShare is a lower bound/)
  })

  it('a reference with too many categories is not checked for new ones, and says so', () => {
    const reference = new ReferenceProfile(['t'], { maxCategories: 3 })
    reference.add(batch(0, { t: ['a', 'b', 'c', 'd'] }))
    const acc = new IntegrityAccumulator({ columns: ['t', 'u'] }, reference)
    acc.add(batch(0, { t: ['e'], u: ['x'] }))
    const [t, u] = acc.result().columns
    expect(t.newCategories).toBeUndefined()
    expect(t.notes).toEqual(['the reference has more than 3 distinct texts: not checked for new categories'])
    expect(u.notes).toEqual(['not in the reference profile: not compared with the reference'])
  })

  it('new categories: distinct count, rows, the first five in order; out-of-range numbers', () => {
    const reference = new ReferenceProfile(['t'])
    reference.add(batch(0, { t: ['a', 'b', 3, 10, null] }))
    const acc = new IntegrityAccumulator({ columns: ['t'] }, reference)
    acc.add(batch(0, { t: ['a', 'z', 'y', 'z', 'x', 'w', 'v', 'u', 2, 3, 10, 11, null] }))
    expect(acc.result().columns[0]).toMatchObject({
      outOfRange: 2,
      newCategories: { count: 6, rows: 7, examples: ['z', 'y', 'x', 'w', 'v'] },
    })
  })

  it('names a column missing from a batch', () => {
    const acc = new IntegrityAccumulator({ columns: ['a', 'b'] })
    expect(() => acc.add(batch(0, { a: new Float64Array(2) }))).toThrow(UserError)
    expect(() => acc.add(batch(0, { a: new Float64Array(2) }))).toThrow(/column "b" is not in the data \(rows 0–1 have: a\)/)
  })

  it('no false duplicates among 300,000 distinct rows; the hash table grows and keeps every key', () => {
    const n = 300_000
    const a = new Float64Array(n).map((_, i) => i % 1000)
    const b = new Float64Array(n).map((_, i) => Math.floor(i / 1000) + 0.5)
    const t = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : `id${i % 3}`))
    const acc = new IntegrityAccumulator({ columns: ['a', 'b', 't'] })
    for (let o = 0; o < n; o += 65_536) {
      const end = Math.min(n, o + 65_536)
      acc.add(batch(o, { a: a.subarray(o, end), b: b.subarray(o, end), t: t.slice(o, end) }))
    }
    expect(acc.result().duplicateRows).toBe(0)
    // Every row once more: all duplicates.
    acc.add(batch(n, { a, b, t }))
    expect(acc.result().duplicateRows).toBe(n)

    const table = new Table64(true)
    for (let i = 0; i < 5000; i++) table.count(i, i * 7, 1, true)
    for (let i = 0; i < 5000; i += 2) table.count(i, i * 7, 2, false)
    expect(table.size).toBe(5000)
    expect(table.maxCount()).toBe(3)
    expect(table.count(1, 1, 1, false)).toBe(false)
  })

  it('agrees with a naive exact implementation on random data in random batches', () => {
    let seed = 12345
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) | 0) >>> 0) / 2 ** 32
    const pool: Cell[] = [0, -0, 1, 2.5, null, NaN, 'a', 'b', '1', true, false]
    const names = ['p', 'q', 'r', 's']
    const makeRows = (n: number): Cell[][] =>
      Array.from({ length: n }, () =>
        names.map((_, c) => (c === 3 ? (rnd() < 0.5 ? 1 : null) : pool[Math.floor(rnd() * (c === 0 ? 6 : pool.length))])),
      )
    const feed = (rows: Cell[][], add: (b: Batch) => void): void => {
      for (let o = 0; o < rows.length;) {
        const n = Math.min(rows.length - o, 1 + Math.floor(rnd() * 40))
        const columns: Record<string, Column> = {}
        names.forEach((name, c) => {
          const cells = rows.slice(o, o + n).map((r) => r[c])
          const numeric = cells.every((v) => v === null || typeof v === 'number')
          columns[name] = numeric && rnd() < 0.7 ? Float64Array.from(cells, (v) => (v === null ? NaN : (v as number))) : cells
        })
        add(batch(o, columns))
        o += n
      }
    }
    const key = (row: Cell[]): string =>
      row
        .map((v) => (v === null || (typeof v === 'number' && v !== v) ? 'M' : typeof v === 'number' ? `n${v + 0}` : `${typeof v}:${v}`))
        .join('\u0000')
    const refRows = makeRows(400)
    const curRows = makeRows(900)
    const reference = new ReferenceProfile(names)
    feed(refRows, (b) => reference.add(b))
    const acc = new IntegrityAccumulator({ columns: names }, reference)
    feed(curRows, (b) => acc.add(b))
    const r = acc.result()

    const seen = new Set<string>()
    let duplicates = 0
    for (const row of curRows) {
      const k = key(row)
      if (seen.has(k)) duplicates++
      seen.add(k)
    }
    const refKeys = new Set(refRows.map(key))
    expect(r.duplicateRows).toBe(duplicates)
    expect(r.leakage?.rows).toBe(curRows.filter((row) => refKeys.has(key(row))).length)
    expect(r.duplicateRows).toBeGreaterThan(100)
    expect(r.leakage?.rows).toBeGreaterThan(100)
    const [p] = r.columns
    expect(p.missing).toBe(curRows.filter((row) => row[0] === null || Number.isNaN(row[0])).length)
    expect(r.duplicateColumns).toEqual([])
  })

  it('row hashes depend on the column order and the cell kinds', () => {
    const h = new RowHasher(['a', 'b'])
    h.hash(batch(0, { a: [1, 'x', null, 2], b: [2, 1, 'x', 1] }))
    const keys = new Set(Array.from(h.hi, (hi, i) => `${hi}:${h.lo[i]}`))
    expect(keys.size).toBe(4)
  })
})
