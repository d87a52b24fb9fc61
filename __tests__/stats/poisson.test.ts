/**
 * The Poisson bootstrap: counter-based weights (a pure function of seed, resample and row, Poisson(1)
 * distributed), the fused kernel against the weighted kernels on the same weights, replicates independent
 * of the thread count and of how the rows are split, and the width of an interval against theory.
 */
import { describe, it, expect } from '@jest/globals'
import { syntheticBinaryRows } from '../../bench/compare.js'
import type { ScoredRows, Weights } from '../../src/core/evaluation/types.js'
import {
  bootstrap,
  bootstrapReplicates,
  deltaStatistic,
  jackknifeGroup,
  jackknifeKey,
  metricStatistic,
} from '../../src/core/stats/bootstrap.js'
import { fusedStates, planFused, type FusedStatistic } from '../../src/core/stats/fused.js'
import { poisson1, poissonWeight, poissonWeights, weightKey } from '../../src/core/stats/random.js'
import { metricKernel } from '../../src/core/stats/weighted.js'
import { THREAD_MIN_WORK, parallelStates, workersUsable } from '../../src/core/stats/workers.js'

const rows = syntheticBinaryRows(3000, 11)
const METRICS = ['accuracy', 'f1', 'precision', 'recall', 'balanced_accuracy', 'mcc', 'log_loss', 'brier', 'roc_auc']

describe('Poisson(1) weights', () => {
  it('are a pure function of (seed, resample, row)', () => {
    const a = new Int32Array(500)
    poissonWeights(42, 7, 1000, 1500, a)
    for (let i = 0; i < 500; i += 37) expect(a[i]).toBe(poissonWeight(42, 7, 1000 + i))
    const b = new Int32Array(500)
    poissonWeights(42, 7, 1000, 1500, b)
    expect(b).toEqual(a)
    poissonWeights(43, 7, 1000, 1500, b)
    expect(b).not.toEqual(a)
    poissonWeights(42, 8, 1000, 1500, b)
    expect(b).not.toEqual(a)
  })

  it('have mean and variance 1 over 1e6 draws, and Poisson(1) frequencies', () => {
    const n = 1_000_000
    const w = new Int32Array(n)
    let sum = 0
    let sq = 0
    const freq = new Float64Array(13)
    for (let b = 0; b < 4; b++) {
      poissonWeights(20261126, b, 0, n / 4, w)
      for (let i = 0; i < n / 4; i++) {
        sum += w[i]
        sq += w[i] * w[i]
        freq[w[i]]++
      }
    }
    const mean = sum / n
    const variance = sq / n - mean * mean
    // Standard errors: 0.001 for the mean, ~0.0022 for the variance.
    expect(Math.abs(mean - 1)).toBeLessThan(0.005)
    expect(Math.abs(variance - 1)).toBeLessThan(0.01)
    const p = [Math.exp(-1), Math.exp(-1), Math.exp(-1) / 2, Math.exp(-1) / 6]
    p.forEach((pk, k) => expect(Math.abs(freq[k] / n - pk)).toBeLessThan(5 * Math.sqrt(pk / n)))
  })

  it('map uint32 to counts by the Poisson(1) CDF', () => {
    expect(poisson1(0)).toBe(0)
    expect(poisson1(1580030167)).toBe(0)
    expect(poisson1(1580030168)).toBe(1)
    expect(poisson1(3160060337)).toBe(2)
    expect(poisson1(4294967295)).toBe(12)
  })
})

describe('the fused kernel', () => {
  const statistics: FusedStatistic[] = METRICS.flatMap((metric) => [
    { metric, side: 'candidate' as const },
    { metric, side: 'baseline' as const },
  ])
  const plan = planFused(rows, statistics)
  const key = weightKey(5)

  it('equals the weighted kernels on the same weights, bit for bit', () => {
    // Resamples 0..39: more than one batch of the fused loop; the weights drawn again by poissonWeights.
    const states = fusedStates({ ...plan.job, key, bStart: 0, bEnd: 40 })
    const seen = Array.from({ length: 40 }, (_, b) => {
      const w = new Int32Array(rows.n)
      poissonWeights(5, b, 0, rows.n, w)
      return w
    })
    seen.forEach((w, b) => {
      statistics.forEach((s, k) => {
        const expected = metricKernel(s.metric, rows, s.side as 'candidate' | 'baseline')(w)
        expect([b, s.metric, s.side, plan.value(k, states, b * plan.stride)]).toEqual([b, s.metric, s.side, expected])
      })
    })
  })

  it('equals the kernels over several row blocks, with tied scores in some blocks and distinct ones in others', () => {
    // 10,000 rows: three blocks of 4,096 and a short one; the baseline's scores rounded to 2 decimals (ties
    // everywhere), the candidate's rounded below 0.2 only (ties in its first blocks in score order, none after).
    const big = syntheticBinaryRows(10_000, 3)
    const round = (v: number) => Math.round(v * 100) / 100
    for (let i = 0; i < big.n; i++) {
      const b = round(big.baseline!.score![i])
      big.baseline!.score![i] = b
      big.baseline!.proba![2 * i] = 1 - b
      big.baseline!.proba![2 * i + 1] = b
      if (big.candidate!.score![i] < 0.2) {
        const c = round(big.candidate!.score![i])
        big.candidate!.score![i] = c
        big.candidate!.proba![2 * i] = 1 - c
        big.candidate!.proba![2 * i + 1] = c
      }
    }
    const aucs: FusedStatistic[] = [
      { metric: 'roc_auc', side: 'candidate' },
      { metric: 'roc_auc', side: 'baseline' },
    ]
    const bigPlan = planFused(big, aucs)
    const states = fusedStates({ ...bigPlan.job, key, bStart: 0, bEnd: 20 })
    for (let b = 0; b < 20; b++) {
      const w = new Int32Array(big.n)
      poissonWeights(5, b, 0, big.n, w)
      aucs.forEach((s, k) => {
        const expected = metricKernel(s.metric, big, s.side as 'candidate' | 'baseline')(w)
        expect([b, s.side, bigPlan.value(k, states, b * bigPlan.stride)]).toEqual([b, s.side, expected])
      })
    }
  })

  it('equals the kernels when a tie group runs across a block edge into a block of distinct scores', () => {
    // In score order, rows 4094..4096 share one score (a group across the edge at 4096, ending on its first row); all others distinct.
    const edge = syntheticBinaryRows(9000, 4)
    const score = edge.candidate!.score!
    const order = Array.from({ length: edge.n }, (_, i) => i).sort((a, b) => score[a] - score[b])
    for (let j = 4094; j <= 4096; j++) {
      const i = order[j]
      score[i] = score[order[4094]]
      edge.candidate!.proba![2 * i] = 1 - score[i]
      edge.candidate!.proba![2 * i + 1] = score[i]
    }
    const auc: FusedStatistic[] = [{ metric: 'roc_auc', side: 'candidate' }]
    const edgePlan = planFused(edge, auc)
    const states = fusedStates({ ...edgePlan.job, key, bStart: 0, bEnd: 8 })
    for (let b = 0; b < 8; b++) {
      const w = new Int32Array(edge.n)
      poissonWeights(5, b, 0, edge.n, w)
      const expected = metricKernel('roc_auc', edge, 'candidate')(w)
      expect([b, edgePlan.value(0, states, b * edgePlan.stride)]).toEqual([b, expected])
    }
  })

  it('equals the kernels when one tie group spans many blocks and its weights multiply past 2³¹', () => {
    // 125,000 rows of one score among 130,000: that group's wp·wn (about 50,000 · 75,000) is past 2³¹.
    const wide = syntheticBinaryRows(130000, 6)
    const score = wide.candidate!.score!
    for (let i = 0; i < 125000; i++) {
      score[i] = 0.5
      wide.candidate!.proba![2 * i] = 0.5
      wide.candidate!.proba![2 * i + 1] = 0.5
    }
    const auc: FusedStatistic[] = [{ metric: 'roc_auc', side: 'candidate' }]
    const widePlan = planFused(wide, auc)
    const states = fusedStates({ ...widePlan.job, key, bStart: 0, bEnd: 4 })
    for (let b = 0; b < 4; b++) {
      const w = new Int32Array(wide.n)
      poissonWeights(5, b, 0, wide.n, w)
      const expected = metricKernel('roc_auc', wide, 'candidate')(w)
      expect([b, widePlan.value(0, states, b * widePlan.stride)]).toEqual([b, expected])
    }
  })

  it('gives the kernels’ values on explicit weight vectors (via the statistics), and NaN for a resample of weight 0', () => {
    const ws = new Int32Array(rows.n)
    for (let b = 0; b < 10; b++) {
      poissonWeights(5, b, 0, rows.n, ws)
      const replicates = bootstrapReplicates(
        rows.n,
        METRICS.map((m) => deltaStatistic(m, rows)),
        { resamples: b + 1, seed: 5, threads: 1 },
      )
      METRICS.forEach((m, k) => {
        const expected = metricKernel(m, rows, 'candidate')(ws) - metricKernel(m, rows, 'baseline')(ws)
        expect([m, replicates[k][b]]).toEqual([m, expected])
      })
    }
  })

  it('has states of two halves of the rows adding up to those of all rows (counts and ranked weights exactly, sums to 1e-12)', () => {
    const B = 16
    const whole = fusedStates({ ...plan.job, key, bStart: 0, bEnd: B })
    const half = Math.floor(rows.n / 2) + 17
    const first = fusedStates({ ...plan.job, key, bStart: 0, bEnd: B, rowEnd: half })
    const second = fusedStates({ ...plan.job, key, bStart: 0, bEnd: B, rowStart: half })
    for (let b = 0; b < B; b++) {
      const at = b * plan.stride
      // Total weight and the 8 cells: sums of whole numbers.
      for (let c = 0; c < 9; c++) expect(first[at + c] + second[at + c]).toBe(whole[at + c])
      // Each column of terms: sum + compensation.
      for (let t = 0; t < plan.job.terms.length; t++) {
        const sum = (s: Float64Array) => s[at + 9 + 2 * t] + s[at + 10 + 2 * t]
        expect(Math.abs(sum(first) + sum(second) - sum(whole))).toBeLessThan(1e-12 * Math.abs(sum(whole)))
      }
      // Each ranking's weights of positives and of negatives (its 2U counts pairs across the halves too).
      for (let r = 0; r < plan.job.rankings.length; r++) {
        const base = at + 9 + 2 * plan.job.terms.length + 3 * r
        for (const c of [base + 1, base + 2]) expect(first[c] + second[c]).toBe(whole[c])
      }
    }
  })
})

describe('threads', () => {
  it('give the same replicates and intervals for 1, 2 and 3 threads', () => {
    expect(workersUsable()).toBe(true)
    const big = syntheticBinaryRows(30_000, 4)
    const resamples = Math.ceil(THREAD_MIN_WORK / big.n) + 3
    const plan = planFused(
      big,
      ['accuracy', 'roc_auc', 'log_loss'].map((metric) => ({ metric, side: 'delta' as const })),
    )
    const job = { ...plan.job, key: weightKey(9) }
    const one = parallelStates(job, resamples, 1)
    expect(parallelStates(job, resamples, 2)).toEqual(one)
    expect(parallelStates(job, resamples, 3)).toEqual(one)
    const opts = { resamples, confidence: 0.95, method: 'bca' as const, seed: 9 }
    const results = [1, 2, 3].map((threads) => bootstrap(big.n, deltaStatistic('roc_auc', big), { ...opts, threads }))
    expect(results[1]).toEqual(results[0])
    expect(results[2]).toEqual(results[0])
  })
})

describe('the grouped jackknife', () => {
  it('puts a row in a group by a hash of its number: the same for any split', () => {
    const key = jackknifeKey(3)
    const counts = new Int32Array(1000)
    for (let i = 0; i < 100_000; i++) counts[jackknifeGroup(key, i, 1000)]++
    // ~100 rows a group (binomial sd ~10).
    expect(Math.min(...counts)).toBeGreaterThan(50)
    expect(Math.max(...counts)).toBeLessThan(150)
    expect(jackknifeGroup(key, 12345, 1000)).toBe(jackknifeGroup(jackknifeKey(3), 12345, 1000))
  })
})

describe('interval width', () => {
  it('of a mean difference at n = 10,000 is within 5% of 2·1.96·SE', () => {
    // Paired differences d_i = candidate brier term − baseline brier term; the delta of brier is their mean.
    const r: ScoredRows = syntheticBinaryRows(10_000, 21)
    const y = r.yTrue!
    const d = Float64Array.from({ length: r.n }, (_, i) => (y[i] - r.candidate.score![i]) ** 2 - (y[i] - r.baseline!.score![i]) ** 2)
    const mean = d.reduce((a, b) => a + b, 0) / r.n
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.n - 1))
    const se = sd / Math.sqrt(r.n)
    const result = bootstrap(r.n, deltaStatistic('brier', r), {
      resamples: 4000,
      confidence: 0.95,
      method: 'percentile',
      seed: 2,
      threads: 1,
    })
    expect(result.estimate).toBeCloseTo(mean, 12)
    const width = result.interval.high - result.interval.low
    expect(Math.abs(width / (2 * 1.959964 * se) - 1)).toBeLessThan(0.05)
  })

  it('makes a resample of total weight 0 a NaN replicate', () => {
    const one: ScoredRows = { ...rows, n: 1, yTrue: rows.yTrue!.slice(0, 1), candidate: { score: rows.candidate.score!.slice(0, 1) } }
    const [r] = bootstrapReplicates(1, [metricStatistic('brier', one, 'candidate')], { resamples: 200, seed: 3, threads: 1 })
    r.forEach((v, b) => expect([b, Number.isNaN(v)]).toEqual([b, poissonWeight(3, b, 0) === 0]))
    expect(r.filter(Number.isNaN).length).toBeGreaterThan(40)
  })

  it('of a statistic without a fused form (a closure) uses the same weights', () => {
    const kernel = metricKernel('accuracy', rows, 'candidate')
    const closure = (w: Weights) => kernel(w)
    const opts = { resamples: 50, seed: 8, threads: 1 }
    const [a] = bootstrapReplicates(rows.n, [closure], opts)
    const [b] = bootstrapReplicates(rows.n, [metricStatistic('accuracy', rows, 'candidate')], opts)
    expect(a).toEqual(b)
  })
})
