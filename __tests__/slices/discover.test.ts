import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Cell } from '../../src/core/data/types.js'
import { computeMetrics } from '../../src/core/metrics/index.js'
import { createRng } from '../../src/core/stats/random.js'
import type { BootstrapOptions } from '../../src/core/stats/types.js'
import { discoverWeakSlices, encodeFeature, numpyLinearQuantile, quantileEdges } from '../../src/core/slices/discover.js'
import { slicesSchema, type SlicesInput } from '../../src/core/slices/schema.js'
import { binaryRows, regressionRows } from './rows.js'

const QUICK: BootstrapOptions = { resamples: 300, confidence: 0.9, method: 'percentile', seed: 3 }
const config = (c: SlicesInput) => slicesSchema.parse(c)

/** np.quantile(x, [k / bins for k in range(bins + 1)]); made by __tests__/fixtures/slices/make_fixtures.py. */
const quantiles = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/slices/quantiles.json', import.meta.url)), 'utf8')) as {
  arrays: Record<string, number[]>
  cases: { array: string; bins: number; quantiles: number[] }[]
}

describe('quantile bins', () => {
  it('are numpy’s linear quantiles, bit for bit', () => {
    for (const c of quantiles.cases) {
      const sorted = Float64Array.from(quantiles.arrays[c.array]).sort()
      const got = c.quantiles.map((_, k) => numpyLinearQuantile(sorted, k / c.bins))
      expect([c.array, c.bins, got]).toEqual([c.array, c.bins, c.quantiles])
    }
  })

  it('merge equal edges and close the last bin', () => {
    const ties = Float64Array.from(quantiles.arrays.ties).sort()
    // numpy: [1, 1, 2, 4.75, 10] for 4 bins.
    expect(quantiles.cases.find((c) => c.array === 'ties' && c.bins === 4)!.quantiles).toEqual([1, 1, 2, 4.75, 10])
    expect(quantileEdges(ties, 4)).toEqual([1, 2, 4.75, 10])
    // Four distinct values are more than 3 bins: edges 1, 4/3, 8/3, 10 (shown to 6 digits).
    const f = encodeFeature('x', [1, 1, 1, 2, 2, 3, 10, 10, null], 3)
    expect(f.labels).toEqual(['x in [1, 1.33333)', 'x in [1.33333, 2.66667)', 'x in [2.66667, 10]'])
    expect([...f.codes]).toEqual([0, 0, 0, 1, 1, 2, 2, 2, -1])
  })

  it('treat few distinct numbers, and anything else, as categories: the 20 commonest, missing in none', () => {
    expect(encodeFeature('k', [0, 1, 1, null, 0, 1], 4)).toEqual({
      name: 'k',
      codes: Int32Array.from([1, 0, 0, -1, 1, 0]),
      labels: ['k == 1', 'k == 0'],
    })
    const many: Cell[] = Array.from({ length: 30 }, (_, i) => `v${String(i).padStart(2, '0')}`)
    many.push('v29', 'v28', true)
    const f = encodeFeature('s', many, 4)
    // By count, then by the value as written ("v00" before true).
    expect(f.labels.slice(0, 3)).toEqual(['s == "v28"', 's == "v29"', 's == "v00"'])
    expect(f.labels).toHaveLength(20)
    expect([f.codes[0], f.codes[17], f.codes[18], f.codes[32]]).toEqual([2, 19, -1, -1])
  })
})

describe('discoverWeakSlices', () => {
  /*
   * 40 rows; x = row; c = "a" (rows 0–19), "b" (20–37), "z" (38, 39). Wrong on rows 30–33 and 38.
   * x bins (numpy, 4): [0, 9.75) [9.75, 19.5) [19.5, 29.25) [29.25, 39].
   */
  function small() {
    const x: Cell[] = Array.from({ length: 40 }, (_, i) => i)
    const c: Cell[] = x.map((_, i) => (i < 20 ? 'a' : i < 38 ? 'b' : 'z'))
    const y = x.map((_, i) => i % 2)
    const wrong = new Set([30, 31, 32, 33, 38])
    const pred = y.map((v, i) => (wrong.has(i) ? 1 - v : v))
    return { y, pred, features: { x, c } }
  }

  it('ranks every candidate, worst first, ties by size then by text', () => {
    const s = small()
    const rows = binaryRows({ y: s.y, pred: s.pred })
    const d = discoverWeakSlices(rows, 'test', config({ 'min-size': 2, discover: { top: 6 } }), QUICK, s.features)
    // 4 bins + 3 values + 5 non-empty pairs, all of 2 to 38 rows.
    expect(d).toMatchObject({ metric: 'accuracy', overall: 35 / 40, candidates: 12, minRows: 2, maxRows: 38 })
    expect(d.slices.map((r) => [r.definition, r.rows, r.metrics.accuracy])).toEqual([
      ['x in [29.25, 39]', 10, 0.5],
      ['x in [29.25, 39] and c == "b"', 8, 0.5],
      ['c == "z"', 2, 0.5],
      ['x in [29.25, 39] and c == "z"', 2, 0.5],
      ['c == "b"', 18, 14 / 18],
      ['c == "a"', 20, 1],
    ])
    for (const r of d.slices) {
      expect(r).toMatchObject({ dataset: 'test', source: 'discovered', gated: false, name: r.definition })
      expect(r.intervals.accuracy).toMatchObject({ confidence: 0.9, method: 'percentile', resamples: 300 })
    }
    expect(d.note).toBe(
      'weak-slice discovery on "test": 12 candidate slices of 2–38 rows from 2 features (4 quantile bins or top 20 values, and pairs); accuracy overall 0.875; the 6 worst are reported, not gated',
    )
  })

  it('keeps slices of at least min-size and 5% of the rows, and at most 95%', () => {
    const s = small()
    const rows = binaryRows({ y: s.y, pred: s.pred })
    const sizes = (c: SlicesInput) => discoverWeakSlices(rows, 'test', config(c), QUICK, s.features)
    // min-size 9: only the four bins, c == "a", c == "b" and the four pairs of 10 or 8 rows... of at least 9.
    expect(sizes({ 'min-size': 9, discover: { top: 100 } }).slices.map((r) => r.rows)).toEqual([10, 18, 20, 10, 10, 10, 10, 10, 10])
    expect(sizes({ 'min-size': 3, discover: { top: 100, pairs: false } }).candidates).toBe(6)
    // 5% of 400 rows is 20: the same table repeated ten times keeps only c == "a" and c == "b" (200, 180).
    const ten = <T>(a: T[]) => Array.from({ length: 10 }, () => a).flat()
    const big = binaryRows({ y: ten(s.y), pred: ten(s.pred) })
    const d = discoverWeakSlices(big, 'test', config({ 'min-size': 1, discover: { top: 100 } }), QUICK, {
      x: ten(s.features.x),
      c: ten(s.features.c),
    })
    expect(d.minRows).toBe(20)
    expect(d.maxRows).toBe(380)
    expect(Math.min(...d.slices.map((r) => r.rows))).toBe(20)
    // A feature that is one value for 96% of rows gives no candidate of that value.
    const flat: Cell[] = Array.from({ length: 100 }, (_, i) => (i < 96 ? 'same' : 'other'))
    const r100 = binaryRows({ y: Array(100).fill(1), pred: Array(100).fill(1) })
    expect(discoverWeakSlices(r100, 'test', config({ 'min-size': 1 }), QUICK, { f: flat }).candidates).toBe(0)
  })

  it('gives the same slices from probabilities as from the labels they threshold to', () => {
    const s = small()
    const score = s.pred.map((p, i) => (p === 1 ? 0.5 + (i % 5) / 10 : 0.45 - (i % 4) / 10))
    const fromLabels = discoverWeakSlices(
      binaryRows({ y: s.y, pred: s.pred }),
      'test',
      config({ 'min-size': 2, discover: { top: 12 } }),
      QUICK,
      s.features,
    )
    const fromScores = discoverWeakSlices(
      binaryRows({ y: s.y, score }),
      'test',
      config({ 'min-size': 2, discover: { top: 12 } }),
      QUICK,
      s.features,
    )
    expect(fromScores).toEqual(fromLabels)
  })

  it('ranks lower-is-better metrics with the largest first, and any metric by its weighted kernel', () => {
    const x: Cell[] = Array.from({ length: 40 }, (_, i) => i)
    const y = x.map((_, i) => i)
    const values = y.map((v, i) => v + (i >= 30 ? 3 : i % 2 === 0 ? 0.5 : -0.5))
    const rows = regressionRows({ y, values })
    const d = discoverWeakSlices(rows, 'test', config({ 'min-size': 2, discover: { top: 2 } }), QUICK, { x })
    expect(d.metric).toBe('mae')
    expect(d.slices.map((r) => [r.definition, r.metrics.mae])).toEqual([
      ['x in [29.25, 39]', 3],
      ['x in [0, 9.75)', 0.5],
    ])
    const r2 = discoverWeakSlices(rows, 'test', config({ 'min-size': 2, discover: { top: 1, metric: 'r2' } }), QUICK, { x })
    const last = Array.from({ length: 10 }, (_, i) => 30 + i)
    const expected = computeMetrics('regression', { yTrue: last, values: Float64Array.from(last.map((i) => values[i])) }).metrics.r2
    expect(r2.slices[0].definition).toBe('x in [29.25, 39]')
    expect(r2.slices[0].metrics.r2).toBeCloseTo(expected, 12)
  })

  it('refuses a metric the model outputs do not give', () => {
    const s = small()
    expect(() =>
      discoverWeakSlices(binaryRows({ y: s.y, pred: s.pred }), 'test', config({ discover: { metric: 'roc_auc' } }), QUICK, s.features),
    ).toThrow("slices.discover.metric: the model's outputs do not give roc_auc for a binary task")
  })

  /*
   * 3,000 rows, six features. The model is right on 95% of rows, except where x > its 75th percentile and
   * c == "b": 40% there.
   */
  function planted() {
    const rng = createRng(42)
    const n = 3000
    const x = Array.from({ length: n }, () => rng() * 100)
    const c = Array.from({ length: n }, () => 'abcd'[Math.floor(rng() * 4)])
    const noise = Array.from({ length: n }, () => rng())
    const group = Array.from({ length: n }, () => (rng() < 0.5 ? 'u' : 'v'))
    const level = Array.from({ length: n }, () => Math.floor(rng() * 3))
    const withGaps: Cell[] = Array.from({ length: n }, (_, i) => (i % 10 === 0 ? null : rng() * 5))
    const q75 = numpyLinearQuantile(Float64Array.from(x).sort(), 0.75)
    const weak = x.map((v, i) => v > q75 && c[i] === 'b')
    let k = 0
    let m = 0
    const right = weak.map((w) => (w ? k++ % 5 < 2 : m++ % 20 !== 0))
    const y = x.map((_, i) => i % 2)
    const pred = y.map((v, i) => (right[i] ? v : 1 - v))
    return {
      rows: binaryRows({ y, pred }),
      features: { x, c, noise, group, level, withGaps } as Record<string, Cell[]>,
      weak,
      right,
      q75,
      max: Math.max(...x),
    }
  }

  it('finds a planted weak slice and ranks it first', () => {
    const p = planted()
    const d = discoverWeakSlices(p.rows, 'test', config({ discover: {} }), QUICK, p.features)
    const size = p.weak.filter(Boolean).length
    const accuracy = p.weak.filter((w, i) => w && p.right[i]).length / size
    expect(size).toBeGreaterThan(150)
    expect(accuracy).toBeCloseTo(0.4, 2)
    const top = d.slices[0]
    const fmt = (v: number) => Number(v.toPrecision(6)).toString()
    expect(top.definition).toBe(`x in [${fmt(p.q75)}, ${fmt(p.max)}] and c == "b"`)
    expect(top.rows).toBe(size)
    expect(top.metrics.accuracy).toBe(accuracy)
    expect(top.intervals.accuracy.high).toBeLessThan(d.overall)
    expect(d.slices).toHaveLength(5)
    expect(d.overall).toBe(p.right.filter(Boolean).length / 3000)
    // Singles: x (4), c (4), noise (4), group (2), level (3), withGaps (4); pairs: their products.
    const cells = [4, 4, 4, 2, 3, 4]
    let pairs = 0
    for (let i = 0; i < cells.length; i++) for (let j = i + 1; j < cells.length; j++) pairs += cells[i] * cells[j]
    expect(d.candidates).toBeLessThanOrEqual(21 + pairs)
    expect(d.candidates).toBeGreaterThan(21 + pairs - 20)
  })

  it('is the same for the same seed', () => {
    const p = planted()
    const cfg = config({ discover: { top: 3 } })
    const a = discoverWeakSlices(p.rows, 'test', cfg, QUICK, p.features)
    expect(discoverWeakSlices(p.rows, 'test', cfg, QUICK, p.features)).toEqual(a)
    const b = discoverWeakSlices(p.rows, 'test', cfg, { ...QUICK, seed: 4 }, p.features)
    expect(b.slices.map((s) => [s.definition, s.metrics])).toEqual(a.slices.map((s) => [s.definition, s.metrics]))
    expect(b.slices[0].intervals).not.toEqual(a.slices[0].intervals)
  })
})
