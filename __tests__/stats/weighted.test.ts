/**
 * Weighted metrics equal the unweighted ones of src/core/metrics (scikit-learn's definitions) on the rows
 * repeated as many times as their weight, for every metric of every task; and each kernel's O(n)
 * leave-one-out equals the metric with one row's weight set to 0.
 */
import { describe, it, expect } from '@jest/globals'
import type { ScoredRows, Side, Weights } from '../../src/core/evaluation/types.js'
import * as binary from '../../src/core/metrics/binary.js'
import * as multiclass from '../../src/core/metrics/multiclass.js'
import * as regression from '../../src/core/metrics/regression.js'
import { createRng, resampleCounts } from '../../src/core/stats/random.js'
import { correctness } from '../../src/core/stats/kernels/inputs.js'
import {
  hasWeightedMetric,
  metricKernel,
  supportsWeightedMetric,
  weightedMetric,
  WEIGHTED_METRICS,
  WEIGHTED_METRICS_BY_TASK,
} from '../../src/core/stats/weighted.js'

const rng = createRng(99)

/** Row indices repeated by weight. */
function repeated(weights: Weights, n: number): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) for (let k = 0; k < (weights === null ? 1 : weights[i]); k++) out.push(i)
  return out
}

function pick<T>(values: ArrayLike<T>, rows: number[]): T[] {
  return rows.map((i) => values[i])
}

function pickRows(matrix: Float32Array | Float64Array, k: number, rows: number[]): Float64Array {
  const out = new Float64Array(rows.length * k)
  rows.forEach((i, r) => out.set(matrix.subarray(i * k, (i + 1) * k), r * k))
  return out
}

/** Weight vectors: none, bootstrap counts, 0/1 subsets (as Float64Array too), sparse ones that drop classes. */
function weightVectors(n: number): Weights[] {
  const out: Weights[] = [null]
  for (let r = 0; r < 12; r++) out.push(resampleCounts(n, rng).slice())
  for (let r = 0; r < 6; r++) out.push(Float64Array.from({ length: n }, () => (rng() < 0.5 ? 1 : 0)))
  for (let r = 0; r < 6; r++) out.push(Int32Array.from({ length: n }, () => (rng() < 0.15 ? 1 + Math.floor(rng() * 3) : 0)))
  return out
}

function expectSame(actual: number, expected: number, what: string): void {
  if (Number.isNaN(expected)) {
    if (!Number.isNaN(actual)) throw new Error(`${what}: got ${actual}, expected NaN`)
    return
  }
  if (!(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)))) {
    throw new Error(`${what}: got ${actual}, expected ${expected}`)
  }
}

function binaryRows(n: number, withLabels: boolean): ScoredRows {
  const yTrue = Int32Array.from({ length: n }, () => (rng() < 0.35 ? 1 : 0))
  const model = () => {
    // Scores on a 0.05 grid: plenty of ties.
    const score = Float64Array.from(yTrue, (y) => Math.round(Math.min(1, Math.max(0, 0.3 * y + 0.7 * rng())) * 20) / 20)
    const proba = new Float64Array(2 * n)
    score.forEach((p, i) => {
      proba[2 * i] = 1 - p
      proba[2 * i + 1] = p
    })
    const predIndex = withLabels ? Int32Array.from(score, (p) => (p > 0.45 || rng() < 0.1 ? 1 : 0)) : undefined
    return { score, proba, ...(predIndex && { predIndex }) }
  }
  return { n, task: 'binary', classes: [0, 1], positiveIndex: 1, eceBins: 7, yTrue, candidate: model(), baseline: model(), columns: {} }
}

const CLASSES = ['ant', 'bee', 'cat', 'dog']

function multiclassRows(n: number): ScoredRows {
  const k = CLASSES.length
  // The last class is rare, so resamples and subsets often lose it.
  const yTrue = Int32Array.from({ length: n }, () => (rng() < 0.06 ? 3 : Math.floor(rng() * 3)))
  const model = () => {
    const proba = new Float64Array(n * k)
    for (let i = 0; i < n; i++) {
      const raw = Array.from({ length: k }, (_, j) => Math.round((rng() + (j === yTrue[i] ? 0.8 : 0)) * 4) / 4 + 0.01)
      const total = raw.reduce((a, b) => a + b, 0)
      raw.forEach((v, j) => (proba[i * k + j] = v / total))
    }
    return { proba }
  }
  return { n, task: 'multiclass', classes: CLASSES, yTrue, candidate: model(), baseline: model(), columns: {} }
}

function regressionRows(n: number): ScoredRows {
  const yValue = Float64Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : Math.round(rng() * 1000) / 10 - 20))
  const model = () => ({ values: Float64Array.from(yValue, (y) => y + (rng() - 0.5) * 8) })
  return { n, task: 'regression', yValue, candidate: model(), baseline: model(), columns: {} }
}

/** The unweighted metric of `side` on the rows `take` (repeated indices), by src/core/metrics. */
function reference(name: string, rows: ScoredRows, side: Side, take: number[]): number {
  const model = rows[side]!
  if (rows.task === 'binary') {
    const truth = pick(rows.yTrue!, take)
    const score = pick(model.score!, take)
    const predicted = model.predIndex ? pick(model.predIndex, take) : score.map((p) => (p >= 0.5 ? 1 : 0))
    switch (name) {
      case 'roc_auc':
      case 'average_precision':
      case 'log_loss':
      case 'brier':
        return binary[name](truth, score)
      case 'ece':
      case 'mce':
        return binary.ece(truth, score, rows.eceBins)[name]
      default:
        return (binary as unknown as Record<string, (t: number[], p: number[]) => number>)[name](truth, predicted)
    }
  }
  if (rows.task === 'multiclass') {
    const labels = (idx: number[]) => idx.map((c) => CLASSES[c])
    const yTrue = labels(pick(rows.yTrue!, take))
    const proba = pickRows(model.proba!, CLASSES.length, take)
    if (name === 'roc_auc_ovr' || name === 'log_loss') return multiclass[name](yTrue, proba, CLASSES)
    const yPred = multiclass.argmaxLabels(proba, CLASSES)
    return (multiclass as unknown as Record<string, (t: string[], p: unknown[]) => number>)[name](yTrue, yPred)
  }
  const y = Float64Array.from(pick(rows.yValue!, take))
  const v = Float64Array.from(pick(model.values!, take))
  return (regression as unknown as Record<string, (t: Float64Array, p: Float64Array) => number>)[name](y, v)
}

const datasets: [string, ScoredRows][] = [
  ['binary with labels', binaryRows(57, true)],
  ['binary from probabilities', binaryRows(43, false)],
  ['multiclass', multiclassRows(64)],
  ['regression', regressionRows(50)],
]

describe('weighted metric = unweighted metric on repeated rows', () => {
  for (const [label, rows] of datasets) {
    it.each(WEIGHTED_METRICS_BY_TASK[rows.task].map((m) => [m]))(`${label}: %s`, (metric) => {
      for (const side of ['candidate', 'baseline'] as const) {
        for (const weights of weightVectors(rows.n)) {
          const take = repeated(weights, rows.n)
          if (take.length === 0) continue
          let expected: number
          try {
            expected = reference(metric, rows, side, take)
          } catch {
            // scikit-learn raises where the weighted kernel returns NaN (e.g. r2 / roc_auc_ovr undefined).
            expected = NaN
          }
          expectSame(weightedMetric(metric, rows, side, weights), expected, `${label} ${metric} ${side}`)
        }
      }
    })
  }

  it('covers every metric the metrics module computes, and nothing else', () => {
    expect(new Set(WEIGHTED_METRICS)).toEqual(
      new Set([...WEIGHTED_METRICS_BY_TASK.binary, ...WEIGHTED_METRICS_BY_TASK.multiclass, ...WEIGHTED_METRICS_BY_TASK.regression]),
    )
    expect(supportsWeightedMetric('roc_auc')).toBe(true)
    expect(supportsWeightedMetric('roc_auc', 'multiclass')).toBe(false)
    expect(supportsWeightedMetric('latency_p50_ms')).toBe(false)
  })

  it('is NaN on rows of total weight 0 and exact for the ROC AUC Mann–Whitney count', () => {
    const rows = datasets[0][1]
    expect(weightedMetric('accuracy', rows, 'candidate', new Int32Array(rows.n))).toBeNaN()
    expect(weightedMetric('log_loss', rows, 'candidate', new Int32Array(rows.n))).toBeNaN()
    const w = resampleCounts(rows.n, createRng(5))
    const take = repeated(w, rows.n)
    expect(weightedMetric('roc_auc', rows, 'candidate', w)).toBe(binary.roc_auc(pick(rows.yTrue!, take), pick(rows.candidate.score!, take)))
  })
})

describe('leave-one-out', () => {
  for (const [label, rows] of datasets) {
    it.each(WEIGHTED_METRICS_BY_TASK[rows.task].filter((m) => m !== 'average_precision').map((m) => [m]))(
      `${label}: %s has an exact O(n) leave-one-out`,
      (metric) => {
        const kernel = metricKernel(metric, rows, 'candidate')
        expect(kernel.leaveOneOut).toBeDefined()
        const fast = kernel.leaveOneOut!()
        const w = new Int32Array(rows.n).fill(1)
        for (let i = 0; i < rows.n; i++) {
          w[i] = 0
          const slow = kernel(w)
          w[i] = 1
          if (Number.isNaN(slow)) expect(fast[i]).toBeNaN()
          else expect(Math.abs(fast[i] - slow)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(slow)))
        }
      },
    )
  }

  it('average_precision has none (the bootstrap then uses weights)', () => {
    expect(metricKernel('average_precision', datasets[0][1], 'candidate').leaveOneOut).toBeUndefined()
  })
})

describe('inputs', () => {
  it('says which metrics the outputs allow and refuses the others', () => {
    const labelsOnly: ScoredRows = { ...datasets[0][1], candidate: { predIndex: datasets[0][1].candidate.predIndex } }
    expect(hasWeightedMetric('accuracy', labelsOnly, 'candidate')).toBe(true)
    expect(hasWeightedMetric('roc_auc', labelsOnly, 'candidate')).toBe(false)
    expect(() => weightedMetric('roc_auc', labelsOnly, 'candidate', null)).toThrow("roc_auc needs the model's probabilities")
    expect(() => weightedMetric('r2', labelsOnly, 'candidate', null)).toThrow('no weighted r2 for a binary task')
    const noBaseline: ScoredRows = { ...datasets[3][1], baseline: undefined }
    expect(() => weightedMetric('mae', noBaseline, 'baseline', null)).toThrow('no baseline predictions on these rows')
    expect(() => weightedMetric('mae', datasets[3][1], 'candidate', new Int32Array(3))).toThrow(
      'weights have length 3 but there are 50 rows',
    )
    const badClass: ScoredRows = { ...datasets[2][1], yTrue: Int32Array.from({ length: 64 }, () => 4) }
    expect(() => weightedMetric('accuracy', badClass, 'candidate', null)).toThrow('yTrue[0] = 4 is not a class index in [0, 4)')
  })

  it('marks each row correct or not as the label metrics see it', () => {
    const rows = datasets[1][1]
    const correct = correctness(rows, 'candidate')
    const accuracy = correct.reduce((a, b) => a + b, 0) / rows.n
    expect(accuracy).toBe(weightedMetric('accuracy', rows, 'candidate', null))
  })
})
