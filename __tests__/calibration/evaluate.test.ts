import { describe, expect, it } from '@jest/globals'
import { calibrationNotes, evaluateCalibration, reliabilityTable } from '../../src/core/calibration/evaluate.js'
import { computeMetrics } from '../../src/core/metrics/index.js'
import type { BootstrapOptions } from '../../src/core/stats/types.js'
import { binaryRows } from '../fairness/scored-rows.js'

const QUICK: BootstrapOptions = { resamples: 200, confidence: 0.95, method: 'percentile', seed: 5 }

/** Reproducible probabilities and labels drawn from them (a small LCG: no dependence on Math.random). */
function sample(n: number, seed: number): { p: number[]; y: number[] } {
  let s = seed >>> 0
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
  const p: number[] = []
  const y: number[] = []
  for (let i = 0; i < n; i++) {
    const q = next() ** 1.5
    p.push(q)
    // Over-confident: the true rate is pulled toward 0.5, so the model is miscalibrated on purpose.
    y.push(next() < 0.25 + 0.5 * q ? 1 : 0)
  }
  return { p, y }
}

describe('evaluateCalibration on a hand-made table', () => {
  // 4 bins [0, .25) [.25, .5) [.5, .75) [.75, 1]; the third is empty.
  const p = [0.1, 0.2, 0.3, 0.45, 0.9, 1.0, 0.75]
  const y = [0, 0, 1, 0, 1, 1, 0]
  const rows = binaryRows({ y, pred: p.map((q) => (q >= 0.5 ? 1 : 0)), score: p, eceBins: 4 })

  it('gives the reliability table of the non-empty bins, summing to n', () => {
    const r = evaluateCalibration(rows, 'test', QUICK)!
    expect(r.dataset).toBe('test')
    expect(r.bins).toEqual([
      { low: 0, high: 0.25, rows: 2, mean_predicted: (0.1 + 0.2) / 2, fraction_positive: 0 },
      { low: 0.25, high: 0.5, rows: 2, mean_predicted: (0.3 + 0.45) / 2, fraction_positive: 0.5 },
      { low: 0.75, high: 1, rows: 3, mean_predicted: (0.9 + 1.0 + 0.75) / 3, fraction_positive: 2 / 3 },
    ])
    expect(r.bins.reduce((a, b) => a + b.rows, 0)).toBe(7)
  })

  it('ece, mce and brier by hand, and equal to the metrics module exactly', () => {
    const r = evaluateCalibration(rows, 'test', QUICK)!
    expect(r.ece).toBeCloseTo((0.15 * 2 + 0.125 * 2 + (0.8833333333333333 - 2 / 3) * 3) / 7, 15)
    expect(r.mce).toBeCloseTo(0.8833333333333333 - 2 / 3, 15)
    expect(r.brier).toBeCloseTo((0.01 + 0.04 + 0.49 + 0.2025 + 0.01 + 0 + 0.5625) / 7, 15)
    const m = computeMetrics('binary', { yTrue: y, proba: rows.candidate.proba, classes: [0, 1], eceBins: 4 }).metrics
    expect([r.ece, r.mce, r.brier]).toEqual([m.ece, m.mce, m.brier])
  })

  it('notes the empty bin and the bins too small for a stable MCE', () => {
    const r = evaluateCalibration(rows, 'test', QUICK)!
    expect(calibrationNotes(r)).toEqual([
      'calibration on test: 1 of 4 probability bins have no rows and are left out of the reliability table',
      'calibration on test: 3 of 3 non-empty bins have fewer than 10 rows ([0, 0.25] 2 rows, [0.25, 0.5] 2 rows, [0.75, 1] 3 rows); MCE, the largest gap over the bins, is noisy there',
    ])
  })
})

describe('bins by numpy histogram edges', () => {
  // np.linspace(0, 1, 11) = [0, 0.1, 0.2, 0.30000000000000004, …, 0.9, 1]; np.histogram([0.3, 1, 0, 0.1], 10, (0, 1))
  // counts [1, 1, 1, 0, 0, 0, 0, 0, 0, 1].
  it('puts a value on an edge where np.histogram does: 0.3 below the edge 3 × 0.1, 1 in the last bin', () => {
    const table = reliabilityTable([1, 0, 1, 0], [0.3, 1, 0, 0.1], 10)
    expect(table.map((b) => [b.low, b.high, b.rows])).toEqual([
      [0, 0.1, 1],
      [0.1, 0.2, 1],
      [0.2, 0.30000000000000004, 1],
      [0.9, 1, 1],
    ])
  })
})

describe('evaluateCalibration on a larger sample', () => {
  const { p, y } = sample(600, 42)
  const rows = binaryRows({ y, pred: p.map((q) => (q >= 0.5 ? 1 : 0)), score: p, eceBins: 15 })

  it('equals the metrics module exactly, with a table summing to n and no bin under 10 rows noted when none is', () => {
    const r = evaluateCalibration(rows, 'd', QUICK)!
    const m = computeMetrics('binary', { yTrue: y, proba: rows.candidate.proba, classes: [0, 1], eceBins: 15 }).metrics
    expect(r.ece).toBe(m.ece)
    expect(r.mce).toBe(m.mce)
    expect(r.brier).toBe(m.brier)
    expect(r.bins.reduce((a, b) => a + b.rows, 0)).toBe(600)
    // ECE is the row-weighted mean gap of the table's bins.
    const fromTable = r.bins.reduce((a, b) => a + (Math.abs(b.fraction_positive - b.mean_predicted) * b.rows) / 600, 0)
    expect(fromTable).toBeCloseTo(r.ece, 14)
    expect(calibrationNotes(r).some((n) => n.includes('fewer than 10 rows'))).toBe(r.bins.some((b) => b.rows < 10))
    expect(JSON.parse(JSON.stringify(r))).toEqual(r)
  })

  it('gives intervals that are the same for a seed and contain the estimate', () => {
    const bca: BootstrapOptions = { resamples: 300, confidence: 0.9, method: 'bca', seed: 99 }
    const a = evaluateCalibration(rows, 'd', bca)!
    const b = evaluateCalibration(rows, 'd', bca)!
    expect(b.intervals).toEqual(a.intervals)
    expect(evaluateCalibration(rows, 'd', { ...bca, seed: 100 })!.intervals.ece).not.toEqual(a.intervals.ece)
    for (const name of ['ece', 'mce', 'brier'] as const) {
      const i = a.intervals[name]
      expect(i).toMatchObject({ confidence: 0.9, resamples: 300 })
      expect(i.low).toBeLessThan(a[name])
      expect(i.high).toBeGreaterThan(a[name])
    }
  })
})

describe('when there is nothing to calibrate', () => {
  it('is undefined without probabilities, and for multiclass and regression tasks', () => {
    expect(evaluateCalibration(binaryRows({ y: [0, 1], pred: [0, 1] }), 'd', QUICK)).toBeUndefined()
    const withScore = binaryRows({ y: [0, 1], pred: [0, 1], score: [0.2, 0.7] })
    expect(evaluateCalibration({ ...withScore, task: 'multiclass' }, 'd', QUICK)).toBeUndefined()
    expect(
      evaluateCalibration(
        { n: 2, task: 'regression', yValue: Float64Array.from([1, 2]), candidate: { values: Float64Array.from([1, 2]) }, columns: {} },
        'd',
        QUICK,
      ),
    ).toBeUndefined()
  })
})
