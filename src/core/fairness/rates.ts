/**
 * Group rates and the disparity metrics over them, as fairlearn defines them
 * (fairlearn/metrics/_fairness_metrics.py, _base_metrics.py, _disaggregated_result.py):
 *
 * - selection rate of a group = P(ŷ = positive);  TPR = P(ŷ = positive | y = positive);  FPR = P(ŷ = positive | y = negative)
 * - demographic_parity_difference = max − min of the selection rates; demographic_parity_ratio = min / max
 * - equalized_odds_difference = max(TPR difference, FPR difference), each difference max − min over the groups
 * - equalized_odds_ratio = min(TPR ratio, FPR ratio), each ratio min / max over the groups (agg="worst_case")
 *
 * Where fairlearn's numbers are artefacts of 0/0, these are not (the tests show both):
 * - A group with no positive (negative) rows has no TPR (FPR). fairlearn reports 0 there, because scikit-learn's
 *   `confusion_matrix(normalize="true")` turns 0/0 into 0, and that 0 then enters the max − min. Here the rate is
 *   undefined and left out of that rate's difference and ratio, which is what fairlearn's pandas aggregation
 *   (NaN-skipping max/min) would give if the rate were NaN. A rate defined in fewer than two groups measures no
 *   disparity and leaves the worst case to the other rate; with neither, equalized odds is undefined (NaN).
 * - A ratio whose groups all have rate 0 is 1, not fairlearn's NaN (pandas 0/0): every group has the same rate,
 *   the difference is 0, and fairlearn's own docstring says a ratio of 1 means all groups have the same rate.
 *
 * Everything is a weighted count, so a bootstrap resample (integer weights) gives the rates of the rows repeated.
 */
import type { Weights } from '../evaluation/types.js'
import type { FairnessMetric } from './schema.js'

/** Weighted counts per group, indexed by group code. */
export interface GroupCounts {
  rows: Float64Array
  selected: Float64Array
  positives: Float64Array
  truePositives: Float64Array
}

export interface GroupRates {
  selection_rate: number
  /** NaN when the group has no positive rows. */
  true_positive_rate: number
  /** NaN when the group has no negative rows. */
  false_positive_rate: number
}

/**
 * Each row's cell of the group × truth × prediction table, 4·group + 2·y + ŷ (y, ŷ: 1 for the positive class),
 * or -1 for a row in no group. Made once, so that a resample's counts are one indexed add per row.
 */
export function encodeCells(codes: Int32Array, y: Uint8Array, pred: Uint8Array): Int32Array {
  const cells = new Int32Array(codes.length)
  for (let i = 0; i < codes.length; i++) cells[i] = codes[i] < 0 ? -1 : 4 * codes[i] + 2 * y[i] + pred[i]
  return cells
}

export function groupCounts(cells: Int32Array, groups: number, weights: Weights): GroupCounts {
  const table = new Float64Array(4 * groups)
  if (weights === null) {
    for (let i = 0; i < cells.length; i++) if (cells[i] >= 0) table[cells[i]]++
  } else {
    for (let i = 0; i < cells.length; i++) if (cells[i] >= 0) table[cells[i]] += weights[i]
  }
  const counts: GroupCounts = {
    rows: new Float64Array(groups),
    selected: new Float64Array(groups),
    positives: new Float64Array(groups),
    truePositives: new Float64Array(groups),
  }
  for (let g = 0; g < groups; g++) {
    const [tn, fp, fn, tp] = table.subarray(4 * g, 4 * g + 4)
    counts.rows[g] = tn + fp + fn + tp
    counts.selected[g] = fp + tp
    counts.positives[g] = fn + tp
    counts.truePositives[g] = tp
  }
  return counts
}

export function groupRates(c: GroupCounts, g: number): GroupRates {
  const negatives = c.rows[g] - c.positives[g]
  const falsePositives = c.selected[g] - c.truePositives[g]
  return {
    selection_rate: c.rows[g] > 0 ? c.selected[g] / c.rows[g] : NaN,
    true_positive_rate: c.positives[g] > 0 ? c.truePositives[g] / c.positives[g] : NaN,
    false_positive_rate: negatives > 0 ? falsePositives / negatives : NaN,
  }
}

interface Disparity {
  difference: number
  ratio: number
}

/** max − min and min / max over the defined values; NaN for both when fewer than two are defined. */
function disparity(values: readonly number[]): Disparity {
  let min = Infinity
  let max = -Infinity
  let defined = 0
  for (const v of values) {
    if (Number.isNaN(v)) continue
    defined++
    if (v < min) min = v
    if (v > max) max = v
  }
  if (defined < 2) return { difference: NaN, ratio: NaN }
  return { difference: max - min, ratio: max === 0 ? 1 : min / max }
}

/** The worst of the defined values (by `pick`), NaN when none is. */
function worst(values: readonly number[], pick: (a: number, b: number) => number): number {
  const defined = values.filter((v) => !Number.isNaN(v))
  return defined.length === 0 ? NaN : defined.reduce((a, b) => pick(a, b))
}

/** The four disparity metrics over the groups listed; NaN where undefined. */
export function disparityMetrics(counts: GroupCounts, groups: readonly number[]): Record<FairnessMetric, number> {
  const rates = groups.map((g) => groupRates(counts, g))
  const dp = disparity(rates.map((r) => r.selection_rate))
  const tpr = disparity(rates.map((r) => r.true_positive_rate))
  const fpr = disparity(rates.map((r) => r.false_positive_rate))
  return {
    demographic_parity_difference: dp.difference,
    demographic_parity_ratio: dp.ratio,
    equalized_odds_difference: worst([tpr.difference, fpr.difference], Math.max),
    equalized_odds_ratio: worst([tpr.ratio, fpr.ratio], Math.min),
  }
}
