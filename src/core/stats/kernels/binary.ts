/**
 * The binary task's weighted kernels. The label metrics are the metrics module's own count formulas
 * (`BINARY_COUNT_METRICS`) applied to weighted confusion counts, so a resample's accuracy is computed
 * exactly as the reported one; the probability metrics are a mean of per-row terms (log_loss, brier), a
 * ranking pass (`ranking.ts`) or a binned sum (`calibration.ts`).
 */
import type { ModelRows, ScoredRows, Weights } from '../../evaluation/types.js'
import { BINARY_COUNT_METRICS, histogramBin, type BinaryCounts } from '../../metrics/binary.js'
import { clipProbability } from '../../metrics/formulas.js'
import { calibrationError, calibrationLeaveOneOut } from './calibration.js'
import { binaryData, predictedClasses, type BinaryData } from './inputs.js'
import { countKernel, meanOfTerms, rowTerms, weightArray, withLeaveOneOut, type MetricKernel } from './kernel.js'
import { aucLeaveOneOut, rankedTruth, weightedAuc, weightedAveragePrecision } from './ranking.js'

/**
 * The confusion counts from four weighted sums of 0/1 columns (truth, predicted, both, 1): branch-free,
 * which is what keeps the bootstrap's inner loop fast, and exact for whole-number weights.
 */
function binaryCounter(truth: Uint8Array, predicted: Uint8Array): (weights: Weights) => BinaryCounts {
  const n = truth.length
  const both = new Uint8Array(n)
  for (let i = 0; i < n; i++) both[i] = truth[i] & predicted[i]
  return (weights) => {
    const w = weightArray(weights, n)
    let total = 0
    let positives = 0
    let predictedPositives = 0
    let tp = 0
    for (let i = 0; i < n; i++) {
      const wi = w[i]
      total += wi
      positives += wi * truth[i]
      predictedPositives += wi * predicted[i]
      tp += wi * both[i]
    }
    const fn = positives - tp
    const fp = predictedPositives - tp
    return { tp, fp, fn, tn: total - positives - fp }
  }
}

/**
 * mcc of rows of total weight 0 (an empty slice or group) is NaN, undefined as accuracy is there (0/0):
 * the shared formula only ever sees rows that exist, and would say 0.
 */
function mccOfCounts(c: BinaryCounts): number {
  return c.tp + c.tn + c.fp + c.fn === 0 ? NaN : BINARY_COUNT_METRICS.mcc(c)
}

/** The counts less one row of the cell 2·truth + predicted: tn, fp, fn, tp. */
const WITHOUT_ONE: ((c: BinaryCounts) => BinaryCounts)[] = [
  (c) => ({ ...c, tn: c.tn - 1 }),
  (c) => ({ ...c, fp: c.fp - 1 }),
  (c) => ({ ...c, fn: c.fn - 1 }),
  (c) => ({ ...c, tp: c.tp - 1 }),
]

const termColumns = new WeakMap<BinaryData, Map<string, Float64Array>>()

/**
 * Each row's term of a mean-of-terms metric (log_loss, brier) on `d`, made once per data and metric: the
 * kernel and the fused bootstrap (fused.ts) read the same column.
 */
export function binaryTerms(d: BinaryData, name: 'log_loss' | 'brier'): Float64Array {
  const score = d.score
  if (!score) throw new Error(`${name} needs the model's probabilities`)
  let columns = termColumns.get(d)
  if (!columns) termColumns.set(d, (columns = new Map()))
  let column = columns.get(name)
  if (!column) {
    const truth = d.truth
    column =
      name === 'log_loss'
        ? rowTerms(d.n, (i) => -Math.log(clipProbability(truth[i] === 1 ? score[i] : 1 - score[i])))
        : rowTerms(d.n, (i) => (truth[i] - score[i]) ** 2)
    columns.set(name, column)
  }
  return column
}

export function binaryKernel(name: string, rows: ScoredRows, model: ModelRows): MetricKernel {
  const d = binaryData(rows, model)
  const formula = name === 'mcc' ? mccOfCounts : (BINARY_COUNT_METRICS[name] as ((c: BinaryCounts) => number) | undefined)
  if (formula) {
    const predicted = predictedClasses(d, name)
    const cell = (i: number) => 2 * d.truth[i] + predicted[i]
    return countKernel(d.n, binaryCounter(d.truth, predicted), formula, cell, (full, i) => WITHOUT_ONE[cell(i)](full))
  }
  const score = d.score
  if (!score) throw new Error(`${name} needs the model's probabilities`)
  switch (name) {
    case 'roc_auc': {
      const ranked = rankedTruth(d.truth, score)
      return withLeaveOneOut(
        (w) => weightedAuc(ranked, weightArray(w, d.n)),
        () => aucLeaveOneOut(ranked),
      )
    }
    case 'average_precision': {
      const ranked = rankedTruth(d.truth, score)
      return (w) => weightedAveragePrecision(ranked, weightArray(w, d.n))
    }
    case 'log_loss':
    case 'brier':
      return meanOfTerms(binaryTerms(d, name))
    case 'ece':
    case 'mce': {
      const bins = rows.eceBins ?? 10
      if (!Number.isInteger(bins) || bins < 1) throw new Error(`eceBins = ${String(bins)} must be a positive integer`)
      const bin = new Int32Array(d.n)
      for (let i = 0; i < d.n; i++) bin[i] = histogramBin(score[i], bins)
      return withLeaveOneOut(
        (w) => calibrationError(d.truth, score, bin, bins, weightArray(w, d.n))[name],
        () => calibrationLeaveOneOut(d.truth, score, bin, bins)[name],
      )
    }
  }
  throw new Error(`no weighted ${name} for a binary task`)
}
