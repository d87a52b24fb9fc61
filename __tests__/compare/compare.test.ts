/** Champion/challenger comparisons: values, intervals, tests, verdicts and the words a reviewer reads. */
import { describe, it, expect } from '@jest/globals'
import { benchmarkCompare, syntheticBinaryRows } from '../../bench/compare.js'
import { comparableMetrics, compareModels, signed, verdictOf } from '../../src/core/compare/compare.js'
import type { ScoredRows } from '../../src/core/evaluation/types.js'
import * as binary from '../../src/core/metrics/binary.js'
import { bootstrap, deltaStatistic } from '../../src/core/stats/bootstrap.js'
import { delong } from '../../src/core/stats/delong.js'
import { mcnemar } from '../../src/core/stats/mcnemar.js'
import { correctness } from '../../src/core/stats/kernels/inputs.js'

const opts = { resamples: 1000, confidence: 0.95, method: 'bca' as const, seed: 1 }
const rows = syntheticBinaryRows(2000, 3)
/** The same models the other way round: the new model is the weaker one. */
const swapped: ScoredRows = { ...rows, candidate: rows.baseline!, baseline: rows.candidate }

describe('compareModels on a binary data set', () => {
  const [auc, accuracy, logLoss, brier, f1] = compareModels(
    rows,
    'test',
    [
      { metric: 'roc_auc', superiority: 0.01 },
      { metric: 'accuracy', nonInferiority: 0.01 },
      { metric: 'log_loss' },
      { metric: 'brier', superiority: 0 },
      { metric: 'f1' },
    ],
    opts,
  )

  it('reports both models’ values and their difference, as the unweighted metrics give them', () => {
    const truth = rows.yTrue!
    expect(auc.candidate).toBe(binary.roc_auc(truth, rows.candidate.score!))
    expect(auc.baseline).toBe(binary.roc_auc(truth, rows.baseline!.score!))
    expect(auc.delta).toBe(auc.candidate - auc.baseline)
    expect(logLoss.candidate).toBeCloseTo(binary.log_loss(truth, rows.candidate.score!), 14)
    expect(accuracy).toMatchObject({ dataset: 'test', metric: 'accuracy', n: 2000, candidate: 0.8, baseline: 0.779 })
  })

  it('gives each metric the paired bootstrap interval of its delta alone with the same seed', () => {
    for (const c of [auc, accuracy, logLoss, brier, f1]) {
      const alone = bootstrap(rows.n, deltaStatistic(c.metric, rows), opts)
      expect(c.interval).toEqual(alone.interval)
      expect(c.interval).toMatchObject({ confidence: 0.95, method: 'bca', resamples: 1000 })
      expect(c.interval.low).toBeLessThan(c.delta)
      expect(c.interval.high).toBeGreaterThan(c.delta)
    }
  })

  it('adds McNemar to accuracy, DeLong to roc_auc, and no test to the others', () => {
    const m = mcnemar(correctness(rows, 'candidate'), correctness(rows, 'baseline'))
    expect(accuracy.pValue).toBe(m.pValue)
    expect(accuracy.test).toEqual({ name: 'mcnemar-chi2', statistic: m.statistic, discordant: { candidateOnly: 221, baselineOnly: 179 } })
    // 221 − 179 = 42 = 2000 · (0.8 − 0.779): the discordant rows are the accuracy difference.
    expect(m.b - m.c).toBe(Math.round(2000 * accuracy.delta))
    const d = delong(rows.yTrue!, rows.candidate.score!, rows.baseline!.score!)
    expect(auc.pValue).toBe(d.pValue)
    expect(auc.test).toEqual({ name: 'delong', statistic: d.z })
    for (const c of [logLoss, brier, f1]) {
      expect(c.pValue).toBeNull()
      expect(c.test).toBeUndefined()
    }
  })

  it('says how the interval and the test were made', () => {
    expect(accuracy.method).toBe(
      'paired bootstrap (BCa, 1000 resamples, seed 1, 95% CI); McNemar test, chi-square with continuity correction ' +
        '(221 rows right only by the candidate, 179 only by the baseline; p = 0.04)',
    )
    expect(auc.method).toBe(
      'paired bootstrap (BCa, 1000 resamples, seed 1, 95% CI); DeLong test (Sun & Xu algorithm; z = 2.161, p = 0.031; ' +
        'its 95% Wald CI [+0.001, +0.030])',
    )
    expect(f1.method).toBe('paired bootstrap (BCa, 1000 resamples, seed 1, 95% CI)')
  })

  it('words the result for a reviewer, saying when lower is better', () => {
    expect(auc.message).toBe(
      'the new model is better on roc_auc: +0.015, 95% CI [+0.002, +0.031] (DeLong p = 0.031); ' +
        'superiority by 0.010: inconclusive (the CI includes a gain of 0.010; more rows would narrow it)',
    )
    expect(accuracy.message).toBe(
      'no detectable difference on accuracy: +0.021, 95% CI [\u22120.001, +0.039] (McNemar p = 0.04); ' +
        'non-inferiority within 0.010: pass (the CI excludes a loss of 0.010)',
    )
    expect(logLoss.message).toBe('no detectable difference on log_loss: \u22120.015, 95% CI [\u22120.033, +0.002] (lower is better)')
    expect(brier.message).toBe(
      'the new model is better on brier: \u22120.008, 95% CI [\u22120.015, \u22120.001] (lower is better); superiority: pass (the whole CI is a reduction)',
    )
  })

  it('judges margins: pass, inconclusive, and no verdict without a margin', () => {
    expect([auc.verdict, auc.margin]).toEqual(['inconclusive', { kind: 'superiority', delta: 0.01 }])
    expect([accuracy.verdict, accuracy.margin]).toEqual(['pass', { kind: 'non-inferiority', delta: -0.01 }])
    expect([brier.verdict, brier.margin]).toEqual(['pass', { kind: 'superiority', delta: 0 }])
    expect(f1.verdict).toBeUndefined()
    expect(f1.margin).toBeUndefined()
  })

  it('reads a positive delta of a lower-is-better metric as worse, and fails a margin the data exclude', () => {
    const [logLossWorse, accuracyWorse, aucWorse] = compareModels(
      swapped,
      'test',
      [
        { metric: 'log_loss', nonInferiority: 0.01 },
        { metric: 'accuracy', nonInferiority: 0.001 },
        { metric: 'roc_auc', superiority: 0 },
      ],
      opts,
    )
    expect(logLossWorse.delta).toBeGreaterThan(0)
    expect(logLossWorse.message).toBe(
      'no detectable difference on log_loss: +0.015, 95% CI [\u22120.002, +0.033] (lower is better); ' +
        'non-inferiority within 0.010: inconclusive (the CI includes an increase of 0.010; more rows would narrow it)',
    )
    expect(accuracyWorse.verdict).toBe('inconclusive')
    expect(accuracyWorse.message).toBe(
      'no detectable difference on accuracy: \u22120.021, 95% CI [\u22120.039, +0.001] (McNemar p = 0.04); ' +
        'non-inferiority within 0.001: inconclusive (the CI includes a loss of 0.001; more rows would narrow it)',
    )
    expect(accuracyWorse.test?.discordant).toEqual({ candidateOnly: 179, baselineOnly: 221 })
    expect(aucWorse.verdict).toBe('fail')
    expect(aucWorse.message).toMatch(/^the new model is worse on roc_auc: .*; superiority: fail \(the CI excludes any gain\)$/)
  })

  it('finds no difference between a model and itself', () => {
    const same: ScoredRows = { ...rows, baseline: rows.candidate }
    const [acc, a] = compareModels(same, 'test', [{ metric: 'accuracy', superiority: 0 }, { metric: 'roc_auc' }], opts)
    expect([acc.delta, acc.interval.low, acc.interval.high, acc.pValue]).toEqual([0, 0, 0, 1])
    expect(acc.test).toEqual({ name: 'mcnemar-exact', statistic: 0, discordant: { candidateOnly: 0, baselineOnly: 0 } })
    expect(acc.verdict).toBe('fail')
    expect(acc.message).toBe(
      'no detectable difference on accuracy: 0.000, 95% CI [0.000, 0.000] (McNemar p = 1); superiority: fail (the CI excludes any gain)',
    )
    expect(a.pValue).toBe(1)
  })
})

describe('verdict rule', () => {
  // Improvement interval [gL, gH] against the margin m in improvement units; the claim is "gain > m".
  it.each([
    [0.02, 0.05, 0.01, 'pass'],
    [0.01, 0.05, 0.01, 'inconclusive'],
    [-0.01, 0.005, 0.01, 'fail'],
    [-0.01, 0.01, 0.01, 'fail'],
    [-0.01, 0.0101, 0.01, 'inconclusive'],
    [0, 0, 0, 'fail'],
    [-0.02, -0.005, -0.005, 'fail'],
    [-0.004, 0.02, -0.005, 'pass'],
    [-0.02, -0.006, -0.005, 'fail'],
    [-0.02, 0.02, -0.005, 'inconclusive'],
  ] as const)('[%p, %p] against %p is %s', (low, high, m, expected) => {
    expect(verdictOf({ low, high }, m)).toBe(expected)
  })
})

describe('other tasks and inputs', () => {
  it('compares multiclass accuracy with McNemar and macro F1 without a test', () => {
    const n = 300
    const yTrue = Int32Array.from({ length: n }, (_, i) => i % 3)
    const predicted = (errEvery: number) => Int32Array.from(yTrue, (y, i) => (i % errEvery === 0 ? (y + 1) % 3 : y))
    const mc: ScoredRows = {
      n,
      task: 'multiclass',
      classes: ['a', 'b', 'c'],
      yTrue,
      candidate: { predIndex: predicted(10) },
      baseline: { predIndex: predicted(4) },
      columns: {},
    }
    const [acc, f1] = compareModels(mc, 'mc', [{ metric: 'accuracy', superiority: 0.05 }, { metric: 'f1_macro' }], opts)
    // Candidate wrong on rows ≡ 0 mod 10 (30), baseline on rows ≡ 0 mod 4 (75); both on rows ≡ 0 mod 20 (15).
    expect([acc.candidate, acc.baseline]).toEqual([0.9, 0.75])
    expect(acc.test?.discordant).toEqual({ candidateOnly: 60, baselineOnly: 15 })
    expect(acc.verdict).toBe('pass')
    expect(f1.pValue).toBeNull()
  })

  it('compares regression metrics, lower is better', () => {
    const n = 400
    const yValue = Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 10)
    const reg: ScoredRows = {
      n,
      task: 'regression',
      yValue,
      candidate: { values: Float64Array.from(yValue, (y, i) => y + Math.cos(i * 1.3)) },
      baseline: { values: Float64Array.from(yValue, (y, i) => y + 2 * Math.cos(i * 1.3)) },
      columns: {},
    }
    const [mae] = compareModels(reg, 'reg', [{ metric: 'mae', superiority: 0.1 }], { ...opts, method: 'percentile' })
    expect(mae.delta).toBeLessThan(0)
    expect(mae.verdict).toBe('pass')
    expect(mae.method).toBe('paired bootstrap (percentile, 1000 resamples, seed 1, 95% CI)')
    expect(mae.message).toMatch(
      /^the new model is better on mae: −0\.\d+, 95% CI \[−0\.\d+, −0\.\d+\] \(lower is better\); superiority by 0\.100: pass/,
    )
  })

  it('refuses what it cannot compare, and says which metrics it can', () => {
    expect(() => compareModels({ ...rows, baseline: undefined }, 'test', [{ metric: 'accuracy' }], opts)).toThrow(
      'data set test: no baseline predictions on the same rows to compare with',
    )
    const labelsOnly: ScoredRows = { ...rows, baseline: { predIndex: rows.baseline!.predIndex } }
    expect(() => compareModels(labelsOnly, 'test', [{ metric: 'roc_auc' }], opts)).toThrow(
      'data set test: roc_auc cannot be compared: both models need the outputs it is computed from',
    )
    expect(comparableMetrics(labelsOnly, ['accuracy', 'roc_auc', 'r2'])).toEqual(['accuracy'])
    expect(() => compareModels(rows, 'test', [{ metric: 'accuracy', superiority: 0.01, nonInferiority: 0.01 }], opts)).toThrow(
      'accuracy: give a superiority or a non-inferiority margin, not both',
    )
    expect(() => compareModels(rows, 'test', [{ metric: 'accuracy', superiority: -1 }], opts)).toThrow(
      'accuracy: superiority margin = -1 must be a number >= 0',
    )
  })

  it('formats signed values with a true minus sign', () => {
    expect([signed(0.0123, 3), signed(-0.0031, 3), signed(0.0001, 3)]).toEqual(['+0.012', '\u22120.003', '0.000'])
  })

  it('runs the benchmark comparison and returns its time', () => {
    expect(benchmarkCompare(500, 50)).toBeGreaterThan(0)
  })
})
