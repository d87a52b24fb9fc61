/**
 * Bootstrap intervals: (a) percentile and BCa equal scipy's on scipy's own replicates (fixture:
 * scripts/fixtures/stats_bootstrap.py); (b) coverage of a known difference on seeded simulations;
 * (c) determinism per seed; and the degenerate cases.
 */
import { describe, it, expect } from '@jest/globals'
import type { ScoredRows, Weights } from '../../src/core/evaluation/types.js'
import {
  acceleration,
  bcaInterval,
  bootstrap,
  bootstrapMany,
  deltaStatistic,
  JACKKNIFE_GROUPS,
  jackknifeMany,
  percentileInterval,
  quantileSorted,
} from '../../src/core/stats/bootstrap.js'
import { normalCdf, normalQuantile } from '../../src/core/stats/normal.js'
import { createRng } from '../../src/core/stats/random.js'
import { expectClose, statsFixture } from './fixture.js'

interface Fixture {
  cases: {
    name: string
    n: number
    confidence: number
    estimate: number
    jackknife: number[]
    replicates: number[]
    bca: number[]
    percentile: number[]
  }[]
}

const fixture = statsFixture<Fixture>('bootstrap.json')

describe('intervals on fixed replicates vs scipy.stats.bootstrap', () => {
  it.each(fixture.cases.map((c) => [`${c.name}, ${c.confidence}, B = ${c.replicates.length}`, c] as const))('%s', (_, c) => {
    const pct = percentileInterval(c.replicates, c.confidence)
    expectClose(pct.low, c.percentile[0], 1e-12, 'percentile low')
    expectClose(pct.high, c.percentile[1], 1e-12, 'percentile high')
    const bca = bcaInterval(c.replicates, c.estimate, c.jackknife, c.confidence)
    expect(bca.method).toBe('bca')
    expectClose(bca.low, c.bca[0], 1e-12, 'BCa low')
    expectClose(bca.high, c.bca[1], 1e-12, 'BCa high')
  })

  it('uses numpy’s linear percentile rule', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75)
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4)
    expect(quantileSorted([5], 0.3)).toBe(5)
  })

  it('computes the acceleration as Σd³ / (6·(Σd²)^1.5)', () => {
    // Jackknife values 1, 2, 6: mean 3, d = 2, 1, −3: Σd² = 14, Σd³ = 8 + 1 − 27 = −18.
    expect(acceleration([1, 2, 6]).value).toBeCloseTo(-18 / (6 * 14 ** 1.5), 15)
    expect(acceleration([2, 2, 2])).toEqual({ value: 0, note: 'jackknife values do not vary: acceleration 0' })
    expect(acceleration([1, NaN, 2, 6]).value).toBeCloseTo(-18 / (6 * 14 ** 1.5), 15)
  })
})

describe('degenerate cases', () => {
  const opts = { resamples: 200, confidence: 0.95, method: 'bca' as const, seed: 1 }

  it('gives the common value when every replicate is equal', () => {
    const r = bootstrap(50, () => 0.25, opts)
    expect([r.interval.low, r.interval.high]).toEqual([0.25, 0.25])
    expect(r.interval.note).toBe('every resample gave the same value')
    expect(percentileInterval([3, 3, 3], 0.9)).toMatchObject({ low: 3, high: 3 })
  })

  it('falls back to the percentile interval when all replicates lie on one side of the estimate', () => {
    const i = bcaInterval([1, 2, 3, 4], 10, [1, 2, 3], 0.9)
    expect(i.method).toBe('percentile')
    expect(i.note).toBe('BCa not applicable (every resample lies on one side of the estimate): percentile interval')
    expect([i.low, i.high]).toEqual([quantileSorted([1, 2, 3, 4], 0.05), quantileSorted([1, 2, 3, 4], 0.95)])
  })

  it('leaves NaN replicates out and counts them; throws when nothing is defined', () => {
    // Undefined whenever row 0 is not drawn (about 37% of resamples).
    const statistic = (w: Weights) => (w === null || w[0] > 0 ? (w === null ? 1 : w[1]) : NaN)
    const r = bootstrap(3, statistic, { ...opts, method: 'percentile' })
    const nan = r.replicates.filter(Number.isNaN).length
    expect(nan).toBeGreaterThan(0)
    expect(r.interval.undefinedResamples).toBe(nan)
    expect(Number.isFinite(r.interval.low) && Number.isFinite(r.interval.high)).toBe(true)
    expect(() => bootstrap(3, () => NaN, opts)).toThrow('statistic 0 is undefined (NaN) on the full data')
    expect(() => bootstrap(3, (w) => (w === null ? 1 : NaN), opts)).toThrow('statistic 0 is undefined (NaN) on every bootstrap resample')
  })

  it('checks its options', () => {
    expect(() => bootstrap(5, () => 1, { ...opts, resamples: 1 })).toThrow('resamples = 1 must be a whole number >= 2')
    expect(() => bootstrap(5, () => 1, { ...opts, confidence: 1 })).toThrow('confidence = 1 must lie strictly between 0 and 1')
    expect(() => bootstrap(0, () => 1, opts)).toThrow('at least one row')
  })
})

describe('the jackknife', () => {
  const mean = (x: Float64Array) => (w: Weights) => {
    let s = 0
    let t = 0
    for (let i = 0; i < x.length; i++) {
      const wi = w === null ? 1 : w[i]
      s += wi * x[i]
      t += wi
    }
    return s / t
  }

  it('is leave-one-out up to 2,000 rows, grouped above, and prefers a statistic’s own leaveOneOut', () => {
    const x = Float64Array.from({ length: 10 }, (_, i) => i * i)
    const exact = jackknifeMany(10, [mean(x)], 1)
    expect(exact.grouped).toEqual([false])
    const total = x.reduce((a, b) => a + b, 0)
    exact.values[0].forEach((v, i) => expect(v).toBeCloseTo((total - x[i]) / 9, 12))

    const big = Float64Array.from({ length: 5000 }, (_, i) => Math.sin(i))
    const grouped = jackknifeMany(5000, [mean(big)], 1)
    expect(grouped.grouped).toEqual([true])
    expect(grouped.values[0].length).toBe(JACKKNIFE_GROUPS)
    const own = Object.assign(mean(big), { leaveOneOut: () => new Float64Array(5000).fill(7) })
    expect(jackknifeMany(5000, [own], 1)).toEqual({ values: [new Float64Array(5000).fill(7)], grouped: [false] })
  })

  it('estimates the acceleration with groups close to the exact leave-one-out value', () => {
    const n = 5000
    const x = Float64Array.from({ length: n }, (_, i) => Math.exp(2 * Math.sin(i * 12.9898)))
    const total = x.reduce((a, b) => a + b, 0)
    const exactValues = Float64Array.from(x, (v) => (total - v) / (n - 1))
    const exact = acceleration(exactValues).value
    const grouped = acceleration(jackknifeMany(n, [mean(x)], 1).values[0]).value
    expect(exact).toBeGreaterThan(0.001)
    expect(Math.abs(grouped / exact - 1)).toBeLessThan(0.3)
    // The interval barely moves: the same replicates, the exact vs the grouped jackknife.
    const opts = { resamples: 1000, confidence: 0.95, method: 'bca' as const, seed: 8 }
    const withGroups = bootstrap(n, mean(x), opts).interval
    const withExact = bootstrap(n, Object.assign(mean(x), { leaveOneOut: () => exactValues }), opts).interval
    const width = withExact.high - withExact.low
    expect(Math.abs(withGroups.low - withExact.low)).toBeLessThan(0.01 * width)
    expect(Math.abs(withGroups.high - withExact.high)).toBeLessThan(0.01 * width)
  })

  it('says in the interval when BCa used a grouped jackknife', () => {
    const big = Float64Array.from({ length: 3000 }, (_, i) => Math.exp(Math.sin(i) * 2))
    const r = bootstrap(3000, mean(big), { resamples: 100, confidence: 0.95, method: 'bca', seed: 4 })
    expect(r.interval.note).toBe(`acceleration from a grouped jackknife (${JACKKNIFE_GROUPS} random groups of rows)`)
  })
})

/**
 * Binary rows from a binormal model: score = logistic(μ·y + √ρ·shared + √(1 − ρ)·own), so each model's
 * ROC AUC is Φ(μ/√2) and its accuracy at threshold ½ with P(y = 1) = ½ is Φ(μ/2).
 */
function binormalRows(n: number, muA: number, muB: number, rng: () => number): ScoredRows {
  const gauss = () => normalQuantile(Math.min(1 - 1e-15, Math.max(1e-15, rng())))
  const yTrue = new Int32Array(n)
  const a = new Float64Array(n)
  const b = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const y = rng() < 0.5 ? 1 : 0
    yTrue[i] = y
    const shared = gauss()
    const logistic = (x: number) => 1 / (1 + Math.exp(-x))
    const centred = y === 1 ? 0.5 : -0.5
    a[i] = logistic(centred * muA + Math.sqrt(0.5) * shared + Math.sqrt(0.5) * gauss())
    b[i] = logistic(centred * muB + Math.sqrt(0.5) * shared + Math.sqrt(0.5) * gauss())
  }
  return { n, task: 'binary', classes: [0, 1], positiveIndex: 1, yTrue, candidate: { score: a }, baseline: { score: b }, columns: {} }
}

describe('coverage on seeded simulations', () => {
  // μ is the distance between the class means in noise sd units: AUC = Φ(μ/√2), accuracy = Φ(μ/2).
  const muA = 1.6
  const muB = 1.2
  const truth = {
    roc_auc: normalCdf(muA / Math.SQRT2) - normalCdf(muB / Math.SQRT2),
    accuracy: normalCdf(muA / 2) - normalCdf(muB / 2),
  }

  it.each(['bca', 'percentile'] as const)(
    '95%% %s intervals of the paired deltas cover the true differences 90–99%% of 200 data sets',
    (method) => {
      const rng = createRng(2026)
      const covered = { roc_auc: 0, accuracy: 0 }
      const datasets = 200
      for (let d = 0; d < datasets; d++) {
        const rows = binormalRows(300, muA, muB, rng)
        const metrics = ['roc_auc', 'accuracy'] as const
        const results = bootstrapMany(
          rows.n,
          metrics.map((m) => deltaStatistic(m, rows)),
          { resamples: 400, confidence: 0.95, method, seed: d },
        )
        metrics.forEach((m, s) => {
          if (results[s].interval.low <= truth[m] && truth[m] <= results[s].interval.high) covered[m]++
        })
      }
      for (const m of ['roc_auc', 'accuracy'] as const) {
        expect(covered[m] / datasets).toBeGreaterThanOrEqual(0.9)
        expect(covered[m] / datasets).toBeLessThanOrEqual(0.99)
      }
    },
  )
})

describe('determinism', () => {
  it('gives identical replicates and intervals for a seed, different ones for another seed', () => {
    const rows = binormalRows(500, 1.5, 1.3, createRng(9))
    const opts = { resamples: 300, confidence: 0.95, method: 'bca' as const, seed: 123 }
    const one = bootstrap(rows.n, deltaStatistic('roc_auc', rows), opts)
    const two = bootstrap(rows.n, deltaStatistic('roc_auc', rows), opts)
    expect(two.replicates).toEqual(one.replicates)
    expect(two.interval).toEqual(one.interval)
    const other = bootstrap(rows.n, deltaStatistic('roc_auc', rows), { ...opts, seed: 124 })
    expect(other.replicates).not.toEqual(one.replicates)
    expect(other.estimate).toBe(one.estimate)
  })

  it('shows every statistic of bootstrapMany the same resamples as bootstrap alone', () => {
    const rows = binormalRows(200, 1.5, 1.3, createRng(10))
    const opts = { resamples: 100, confidence: 0.9, method: 'percentile' as const, seed: 5 }
    const [auc, acc] = bootstrapMany(rows.n, [deltaStatistic('roc_auc', rows), deltaStatistic('accuracy', rows)], opts)
    expect(bootstrap(rows.n, deltaStatistic('accuracy', rows), opts).replicates).toEqual(acc.replicates)
    expect(bootstrap(rows.n, deltaStatistic('roc_auc', rows), opts).replicates).toEqual(auc.replicates)
  })
})
