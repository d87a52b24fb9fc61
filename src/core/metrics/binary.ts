/**
 * Binary classification metrics, each equal to the scikit-learn function named in its comment.
 *
 * Inputs are indicators (1 = positive class, 0 = negative) so that the positive class is chosen once, by
 * `positiveIndicator`, exactly like scikit-learn's `pos_label`. Scores are the positive-class probability.
 * Where scikit-learn's default `zero_division="warn"` would warn, the metric is 0, as scikit-learn returns.
 */
import type { ConfusionMatrix } from '../result/types.js'
import { describeLabel, type Label } from './labels.js'
import { clipProbability, harmonicF1, mccFromMarginals, ratio } from './formulas.js'
import { sortFloat64 } from './sort.js'
import { Sum } from './sum.js'
import { assertFinite, assertIndicator, assertPaired, assertProbabilities } from './validate.js'

/** 1 where the row belongs to the positive class, 0 elsewhere. */
export type Indicator = ArrayLike<number>

export interface BinaryCounts {
  tp: number
  fp: number
  fn: number
  tn: number
}

/** `labels[i] === positive` as 1/0 (scikit-learn: `y_true == pos_label`). */
export function positiveIndicator(labels: readonly Label[], positive: Label): Uint8Array {
  const out = new Uint8Array(labels.length)
  for (let i = 0; i < labels.length; i++) out[i] = labels[i] === positive ? 1 : 0
  return out
}

/** The predicted indicator for a decision threshold: positive iff `p >= threshold`. */
export function thresholdProbabilities(pPositive: ArrayLike<number>, threshold = 0.5): Uint8Array {
  if (!Number.isFinite(threshold)) throw new Error(`threshold = ${String(threshold)} is not a finite number`)
  return atThreshold(pPositive, threshold)
}

/**
 * `thresholdProbabilities` without its check of the threshold: the weighted kernels take the rows'
 * threshold as given (a NaN one predicts no positive), as they always have.
 */
export function atThreshold(pPositive: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(pPositive.length)
  for (let i = 0; i < pPositive.length; i++) out[i] = pPositive[i] >= threshold ? 1 : 0
  return out
}

/** The four cells of the binary confusion matrix; validates both indicators in the same pass. */
export function binary_counts(yTrue: Indicator, yPred: Indicator): BinaryCounts {
  assertPaired('yTrue', yTrue, 'yPred', yPred)
  let tp = 0
  let fp = 0
  let fn = 0
  let tn = 0
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]
    const p = yPred[i]
    if ((t !== 0 && t !== 1) || (p !== 0 && p !== 1)) {
      assertIndicator('yTrue', yTrue)
      assertIndicator('yPred', yPred)
    }
    if (t === 1) {
      if (p === 1) tp++
      else fn++
    } else if (p === 1) fp++
    else tn++
  }
  return { tp, fp, fn, tn }
}

/**
 * The label metrics as functions of the confusion counts. `computeMetrics` applies them to the rows' counts,
 * the weighted kernels (`src/core/stats/kernels`) to weighted counts: one formula, so the bootstrap's
 * metric is the reported one to the last bit.
 */
export const BINARY_COUNT_METRICS: Readonly<Record<string, (c: BinaryCounts) => number>> = {
  /** sklearn `accuracy_score`: (tp + tn) / n. */
  accuracy: (c) => (c.tp + c.tn) / (c.tp + c.tn + c.fp + c.fn),
  /**
   * sklearn `balanced_accuracy_score` (Brodersen et al. 2010): mean recall over the classes present in y_true,
   * so it is the recall of the only class when y_true has one class.
   */
  balanced_accuracy: (c) => {
    const recalls: number[] = []
    if (c.tp + c.fn > 0) recalls.push(c.tp / (c.tp + c.fn))
    if (c.tn + c.fp > 0) recalls.push(c.tn / (c.tn + c.fp))
    return recalls.reduce((a, b) => a + b, 0) / recalls.length
  },
  /** sklearn `precision_score(average="binary")`: tp / (tp + fp); 0 when nothing is predicted positive. */
  precision: (c) => ratio(c.tp, c.tp + c.fp),
  /** sklearn `recall_score(average="binary")`: tp / (tp + fn); 0 when y_true has no positive. */
  recall: (c) => ratio(c.tp, c.tp + c.fn),
  /** sklearn `f1_score(average="binary")`: 2PR / (P + R); 0 when P + R = 0. */
  f1: (c) => harmonicF1(ratio(c.tp, c.tp + c.fp), ratio(c.tp, c.tp + c.fn)),
  /** sklearn `matthews_corrcoef` (Matthews 1975), computed with scikit-learn's covariance form. */
  mcc: (c) => mccFromMarginals([c.tn + c.fp, c.fn + c.tp], [c.tn + c.fn, c.fp + c.tp], c.tp + c.tn),
}

/** The count metrics under scikit-learn's names, on indicator rows: `accuracy(yTrue, yPred)`. */
export const { accuracy, balanced_accuracy, precision, recall, f1, mcc } = Object.fromEntries(
  Object.entries(BINARY_COUNT_METRICS).map(([name, metric]) => [
    name,
    (yTrue: Indicator, yPred: Indicator) => metric(binary_counts(yTrue, yPred)),
  ]),
)

/**
 * sklearn `confusion_matrix` for the two named classes: rows are true labels, columns predicted labels,
 * both in sorted label order (so the positive class comes first when it sorts first).
 */
export function confusion_matrix(yTrue: Indicator, yPred: Indicator, positive: Label, negative: Label): ConfusionMatrix {
  if (positive === negative) throw new Error(`positive and negative class are both ${describeLabel(positive)}`)
  const c = binary_counts(yTrue, yPred)
  if (negative < positive)
    return {
      labels: [negative, positive],
      matrix: [
        [c.tn, c.fp],
        [c.fn, c.tp],
      ],
    }
  return {
    labels: [positive, negative],
    matrix: [
      [c.tp, c.fn],
      [c.fp, c.tn],
    ],
  }
}

/**
 * Cumulative true- and false-positive counts at each distinct score, highest score first: scikit-learn's
 * `_binary_clf_curve`, with tied scores forming one threshold. Positives and negatives are sorted apart with
 * `sortFloat64` (radix, in the arrays split here) and merged: linear passes, no comparator calls. ROC AUC
 * and average precision both read it: `binaryMetrics` builds it once for the two (on a million rows each
 * build holds ~40 MB and most of the two metrics' time).
 */
export interface ThresholdCurve {
  tps: Float64Array
  fps: Float64Array
}

export function thresholdCurve(yTrue: Indicator, score: ArrayLike<number>): ThresholdCurve {
  assertPaired('yTrue', yTrue, 'score', score)
  assertIndicator('yTrue', yTrue)
  assertFinite('score', score)
  let positives = 0
  for (let i = 0; i < yTrue.length; i++) positives += yTrue[i]
  const unsortedPos = new Float64Array(positives)
  const unsortedNeg = new Float64Array(yTrue.length - positives)
  for (let i = 0, a = 0, b = 0; i < yTrue.length; i++) {
    if (yTrue[i] === 1) unsortedPos[a++] = score[i]
    else unsortedNeg[b++] = score[i]
  }
  const pos = sortFloat64(unsortedPos)
  const neg = sortFloat64(unsortedNeg)
  // Two walks of the merge, the first to count the thresholds: float32 scores have far fewer distinct
  // values than rows, and arrays of exactly that many hold ~16 MB less at a million rows.
  const k = mergeThresholds(pos, neg)
  const tps = new Float64Array(k)
  const fps = new Float64Array(k)
  mergeThresholds(pos, neg, tps, fps)
  return { tps, fps }
}

/** The number of distinct scores in `pos` ∪ `neg` (ascending), highest first, with the cumulative counts when asked. */
function mergeThresholds(pos: Float64Array, neg: Float64Array, tps?: Float64Array, fps?: Float64Array): number {
  let a = pos.length - 1
  let b = neg.length - 1
  let tp = 0
  let fp = 0
  let k = 0
  while (a >= 0 || b >= 0) {
    const v = a < 0 ? neg[b] : b < 0 ? pos[a] : Math.max(pos[a], neg[b])
    while (a >= 0 && pos[a] === v) {
      tp++
      a--
    }
    while (b >= 0 && neg[b] === v) {
      fp++
      b--
    }
    if (tps !== undefined && fps !== undefined) {
      tps[k] = tp
      fps[k] = fp
    }
    k++
  }
  return k
}

/**
 * sklearn `roc_auc_score` (binary): the trapezoidal area under the ROC curve whose points are the distinct
 * scores (ties grouped), which equals the Mann–Whitney U / (P·N) with ties counting one half (Hanley &
 * McNeil 1982). Summed in integer counts, so exact up to the final division. NaN when y_true has one class,
 * where scikit-learn raises "Only one class present in y_true". `curve`: thresholdCurve(yTrue, score), when
 * the caller has it.
 */
export function roc_auc(yTrue: Indicator, score: ArrayLike<number>, curve = thresholdCurve(yTrue, score)): number {
  const { tps, fps } = curve
  const last = tps.length - 1
  const positives = tps[last]
  const negatives = fps[last]
  if (positives === 0 || negatives === 0) return NaN
  let twiceArea = 0
  let prevTp = 0
  let prevFp = 0
  for (let k = 0; k < tps.length; k++) {
    twiceArea += (fps[k] - prevFp) * (tps[k] + prevTp)
    prevTp = tps[k]
    prevFp = fps[k]
  }
  return twiceArea / (2 * positives * negatives)
}

/**
 * sklearn `average_precision_score`: AP = Σ_n (R_n − R_{n−1}) · P_n over the distinct scores in decreasing
 * order (ties grouped, no interpolation). With no positive in y_true scikit-learn sets recall to 1 at every
 * threshold and returns 0; so does this. `curve` as for roc_auc.
 */
export function average_precision(yTrue: Indicator, score: ArrayLike<number>, curve = thresholdCurve(yTrue, score)): number {
  const { tps, fps } = curve
  const positives = tps[tps.length - 1]
  if (positives === 0) return 0
  const sum = new Sum()
  let prevTp = 0
  for (let k = 0; k < tps.length; k++) {
    if (tps[k] !== prevTp) sum.add((tps[k] - prevTp) * (tps[k] / (tps[k] + fps[k])))
    prevTp = tps[k]
  }
  return sum.value / positives
}

function checkProbabilities(yTrue: Indicator, pPositive: ArrayLike<number>): void {
  assertPaired('yTrue', yTrue, 'pPositive', pPositive)
  assertIndicator('yTrue', yTrue)
  assertProbabilities('pPositive', pPositive)
}

/**
 * sklearn `log_loss` (binary), current rule (scikit-learn ≥ 1.5): p becomes the columns [1 − p, p], each is
 * clipped to [eps, 1 − eps] with eps = float64 machine epsilon, there is no renormalisation, and the loss is
 * −mean(log p_true). scikit-learn 1.2 clipped p before forming 1 − p and renormalised rows; the two agree
 * whenever no probability lies within 1e-15 of 0 or 1.
 */
export function log_loss(yTrue: Indicator, pPositive: ArrayLike<number>): number {
  checkProbabilities(yTrue, pPositive)
  const sum = new Sum()
  for (let i = 0; i < yTrue.length; i++) {
    const p = yTrue[i] === 1 ? pPositive[i] : 1 - pPositive[i]
    sum.add(-Math.log(clipProbability(p)))
  }
  return sum.value / yTrue.length
}

/** sklearn `brier_score_loss` (Brier 1950): mean((y − p)²) with y the positive indicator. */
export function brier(yTrue: Indicator, pPositive: ArrayLike<number>): number {
  checkProbabilities(yTrue, pPositive)
  const sum = new Sum()
  for (let i = 0; i < yTrue.length; i++) {
    const d = yTrue[i] - pPositive[i]
    sum.add(d * d)
  }
  return sum.value / yTrue.length
}

/**
 * The bin of `p` among `bins` equal-width bins on [0, 1], by numpy's `np.histogram(p, bins, range=(0, 1))`
 * rule: edges are `np.linspace(0, 1, bins + 1)` (edge i = i · (1/bins)), each bin is [left, right) except
 * the last, which is [left, 1]. The index guess is corrected against the edges exactly as numpy does, so a
 * value on an edge (0.3 lies below the edge 0.30000000000000004) lands where numpy puts it.
 */
export function histogramBin(p: number, bins: number): number {
  const step = 1 / bins
  let index = Math.trunc(p * bins)
  if (index === bins) index--
  if (p < index * step) index--
  else if (index !== bins - 1 && p >= (index + 1) * step) index++
  return index
}

/** Per equal-width bin of p(positive): rows, positives, and the (compensated) sum of p; the reliability table uses them too. */
export function calibrationBins(
  yTrue: ArrayLike<number>,
  pPositive: ArrayLike<number>,
  bins: number,
): { count: Float64Array; sumY: Float64Array; sumP: Sum[] } {
  const count = new Float64Array(bins)
  const sumY = new Float64Array(bins)
  const sumP = Array.from({ length: bins }, () => new Sum())
  for (let i = 0; i < yTrue.length; i++) {
    const b = histogramBin(pPositive[i], bins)
    count[b]++
    sumY[b] += yTrue[i]
    sumP[b].add(pPositive[i])
  }
  return { count, sumY, sumP }
}

/**
 * Expected and maximum calibration error (Naeini, Cooper & Hauskrecht 2015; Guo et al. 2017) on the
 * positive-class probability, binned by `histogramBin` (default 10 bins):
 * ECE = Σ_b |mean(y_b) − mean(p_b)| · n_b / n, MCE = max_b |mean(y_b) − mean(p_b)|, over non-empty bins.
 * scikit-learn has no ECE; the fixture generator computes it with `np.histogram` by the same rule.
 */
export function ece(yTrue: Indicator, pPositive: ArrayLike<number>, bins = 10): { ece: number; mce: number } {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`bins = ${String(bins)} must be a positive integer`)
  checkProbabilities(yTrue, pPositive)
  const { count, sumY, sumP } = calibrationBins(yTrue, pPositive, bins)
  return calibrationErrors(
    count,
    sumY,
    sumP.map((sum) => sum.value),
    yTrue.length,
  )
}

/**
 * ECE and MCE from each bin's row count, Σy and Σp over `total` rows; shared with the weighted kernels,
 * whose counts are weighted sums.
 */
export function calibrationErrors(
  count: ArrayLike<number>,
  sumY: ArrayLike<number>,
  sumP: ArrayLike<number>,
  total: number,
): { ece: number; mce: number } {
  let expected = 0
  let maximum = 0
  for (let b = 0; b < count.length; b++) {
    if (count[b] === 0) continue
    const gap = Math.abs(sumY[b] / count[b] - sumP[b] / count[b])
    expected += (gap * count[b]) / total
    maximum = Math.max(maximum, gap)
  }
  return { ece: expected, mce: maximum }
}
