/**
 * Multiclass metrics, each equal to the scikit-learn function named in its comment.
 *
 * Label metrics take the true and predicted labels; like scikit-learn with `labels=None`, the classes are
 * the sorted union of both (`unique_labels`). Probability metrics take a row-major `n × classes.length`
 * matrix whose column j is the probability of `classes[j]`; scikit-learn reads columns in sorted-class
 * order, so the two agree whenever `classes` is sorted, as a scikit-learn model's `classes_` is.
 * Zero divisions give 0, scikit-learn's result under its default `zero_division="warn"`.
 */
import type { ConfusionMatrix, PerClassRow } from '../result/types.js'
import { roc_auc as binaryRocAuc } from './binary.js'
import { clipProbability, harmonicF1, mccFromMarginals, ratio } from './formulas.js'
import { describeLabel, encodeLabels, encodeSorted, labelIndex, type Label } from './labels.js'
import { Sum } from './sum.js'
import { assertNonEmpty, assertPaired, assertProbabilityMatrix } from './validate.js'

export type Average = 'macro' | 'micro' | 'weighted'
type Score = 'precision' | 'recall' | 'f1'

/**
 * Confusion-matrix marginals per class, all the label metrics need. The weighted kernels
 * (`src/core/stats/kernels`) build them from weighted rows and call the same `MULTICLASS_COUNT_METRICS`.
 */
export interface ClassCounts {
  tp: ArrayLike<number>
  trueSum: ArrayLike<number>
  predSum: ArrayLike<number>
  /**
   * The classes among the true or predicted labels, ascending: scikit-learn's `unique_labels`. With rows
   * counted once that is every class of `classStats`; with weights, a class of weight 0 is absent.
   */
  present: readonly number[]
}

/** The confusion matrix and its marginals (classes in `labels` order). */
export interface ClassStats extends ClassCounts {
  labels: Label[]
  /** counts[i * k + j]: rows with true labels[i] and predicted labels[j]. */
  counts: Float64Array
  tp: Float64Array
  trueSum: Float64Array
  predSum: Float64Array
  n: number
}

export function classStats(yTrue: readonly Label[], yPred: readonly Label[]): ClassStats {
  assertPaired('yTrue', yTrue, 'yPred', yPred)
  const {
    labels,
    codes: [t, p],
  } = encodeSorted({ yTrue, yPred })
  const k = labels.length
  const counts = new Float64Array(k * k)
  for (let i = 0; i < t.length; i++) counts[t[i] * k + p[i]]++
  const tp = new Float64Array(k)
  const trueSum = new Float64Array(k)
  const predSum = new Float64Array(k)
  for (let i = 0; i < k; i++) {
    tp[i] = counts[i * k + i]
    for (let j = 0; j < k; j++) {
      trueSum[i] += counts[i * k + j]
      predSum[j] += counts[i * k + j]
    }
  }
  const present = Array.from(labels, (_, i) => i)
  return { labels, counts, tp, trueSum, predSum, present, n: t.length }
}

/** Σ value(c) over `classes`, in their order (an absent class would only add exact zeros). */
function sumOver(classes: readonly number[], value: (c: number) => number): number {
  let sum = 0
  for (const c of classes) sum += value(c)
  return sum
}

/** One class's precision, recall or F1, as `precision_recall_fscore_support(average=None)`. */
function classScore(s: ClassCounts, c: number, score: Score): number {
  const p = ratio(s.tp[c], s.predSum[c])
  const r = ratio(s.tp[c], s.trueSum[c])
  return score === 'precision' ? p : score === 'recall' ? r : harmonicF1(p, r)
}

/**
 * scikit-learn's averages over the present classes: macro = unweighted mean over classes; weighted = mean
 * weighted by support (true count); micro = the score of the pooled counts (Σtp / Σpredicted, Σtp / Σtrue),
 * which for single-label data equals accuracy.
 */
function averaged(s: ClassCounts, score: Score, average: Average): number {
  const { present } = s
  if (average === 'micro') {
    const tp = sumOver(present, (c) => s.tp[c])
    const p = ratio(
      tp,
      sumOver(present, (c) => s.predSum[c]),
    )
    const r = ratio(
      tp,
      sumOver(present, (c) => s.trueSum[c]),
    )
    return score === 'precision' ? p : score === 'recall' ? r : harmonicF1(p, r)
  }
  if (average === 'macro') return sumOver(present, (c) => classScore(s, c, score)) / present.length
  return ratio(
    sumOver(present, (c) => classScore(s, c, score) * s.trueSum[c]),
    sumOver(present, (c) => s.trueSum[c]),
  )
}

/** The label metrics as functions of the class counts: one formula for `computeMetrics` and the weighted kernels. */
export const MULTICLASS_COUNT_METRICS: Readonly<Record<string, (s: ClassCounts) => number>> = {
  /** sklearn `accuracy_score`: fraction of rows whose predicted label equals the true label. */
  accuracy: (s) => sumOver(s.present, (c) => s.tp[c]) / sumOver(s.present, (c) => s.trueSum[c]),
  /** sklearn `balanced_accuracy_score` (Brodersen et al. 2010): mean recall over the classes present in y_true. */
  balanced_accuracy: (s) => {
    let sum = 0
    let withTruth = 0
    for (const c of s.present) {
      if (s.trueSum[c] === 0) continue
      sum += s.tp[c] / s.trueSum[c]
      withTruth++
    }
    return sum / withTruth
  },
  /** sklearn `precision_score(average=…)`, `recall_score`, `f1_score` (macro F1: the mean of per-class F1, not the F1 of mean P and R). */
  precision_macro: (s) => averaged(s, 'precision', 'macro'),
  precision_micro: (s) => averaged(s, 'precision', 'micro'),
  precision_weighted: (s) => averaged(s, 'precision', 'weighted'),
  recall_macro: (s) => averaged(s, 'recall', 'macro'),
  recall_micro: (s) => averaged(s, 'recall', 'micro'),
  recall_weighted: (s) => averaged(s, 'recall', 'weighted'),
  f1_macro: (s) => averaged(s, 'f1', 'macro'),
  f1_micro: (s) => averaged(s, 'f1', 'micro'),
  f1_weighted: (s) => averaged(s, 'f1', 'weighted'),
  /** sklearn `matthews_corrcoef`: Gorodkin's (2004) R_K from the confusion matrix; 0 when undefined. */
  mcc: (s) =>
    mccFromMarginals(
      s.trueSum,
      s.predSum,
      sumOver(s.present, (c) => s.tp[c]),
    ),
}

/** The count metrics under scikit-learn's names, on label rows: `f1_macro(yTrue, yPred)`. */
export const {
  accuracy,
  balanced_accuracy,
  precision_macro,
  precision_micro,
  precision_weighted,
  recall_macro,
  recall_micro,
  recall_weighted,
  f1_macro,
  f1_micro,
  f1_weighted,
  mcc,
} = Object.fromEntries(
  Object.entries(MULTICLASS_COUNT_METRICS).map(([name, metric]) => [
    name,
    (yTrue: readonly Label[], yPred: readonly Label[]) => metric(classStats(yTrue, yPred)),
  ]),
)

/** sklearn `confusion_matrix`: matrix[i][j] counts rows with true labels[i] predicted as labels[j]. */
export function confusion_matrix(yTrue: readonly Label[], yPred: readonly Label[]): ConfusionMatrix {
  const s = classStats(yTrue, yPred)
  const k = s.labels.length
  const matrix = s.labels.map((_, i) => Array.from(s.counts.subarray(i * k, (i + 1) * k)))
  return { labels: s.labels, matrix }
}

/** sklearn `precision_recall_fscore_support(average=None)`: one row per label, support = true count. */
export function per_class(yTrue: readonly Label[], yPred: readonly Label[]): PerClassRow[] {
  const s = classStats(yTrue, yPred)
  return s.labels.map((label, i) => ({
    label,
    precision: classScore(s, i, 'precision'),
    recall: classScore(s, i, 'recall'),
    f1: classScore(s, i, 'f1'),
    support: s.trueSum[i],
  }))
}

/** The column of each row's true class, after checking the matrix shape and that every label is a class. */
function trueColumns(yTrue: readonly Label[], proba: ArrayLike<number>, classes: readonly Label[]): Int32Array {
  const index = labelIndex(classes)
  if (index.size !== classes.length) throw new Error(`classes [${classes.map(describeLabel).join(', ')}] repeat a label`)
  assertProbabilityMatrix('proba', proba, yTrue.length, classes.length)
  return encodeLabels(yTrue, index, 'yTrue')
}

/**
 * sklearn `roc_auc_score(multi_class="ovr", average="macro")` (Provost & Domingos 2000): the mean over
 * classes of the binary ROC AUC of "this class vs the rest" on that class's probability column. Like
 * scikit-learn, rows must sum to 1 (`np.allclose`: |Σ − 1| ≤ 1e-8 + 1e-5). NaN when some class has no row
 * in y_true, where scikit-learn raises.
 */
export function roc_auc_ovr(yTrue: readonly Label[], proba: ArrayLike<number>, classes: readonly Label[]): number {
  assertNonEmpty('yTrue', yTrue)
  const columns = trueColumns(yTrue, proba, classes)
  const k = classes.length
  assertRowsSumToOne(proba, yTrue.length, k)
  const indicator = new Uint8Array(yTrue.length)
  const score = new Float64Array(yTrue.length)
  let sum = 0
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < yTrue.length; i++) {
      indicator[i] = columns[i] === j ? 1 : 0
      score[i] = proba[i * k + j]
    }
    sum += binaryRocAuc(indicator, score)
  }
  return sum / k
}

/** roc_auc_ovr's check, shared with its weighted kernel: each of the `rows` rows of `proba` sums to 1 within `np.allclose`. */
export function assertRowsSumToOne(proba: ArrayLike<number>, rows: number, k: number): void {
  for (let i = 0; i < rows; i++) {
    let rowSum = 0
    for (let j = 0; j < k; j++) rowSum += proba[i * k + j]
    if (!(Math.abs(rowSum - 1) <= 1e-8 + 1e-5)) {
      throw new Error(`proba row ${i} sums to ${rowSum}: roc_auc_ovr needs probabilities that sum to 1 over classes`)
    }
  }
}

/**
 * sklearn `log_loss` (multiclass cross-entropy), current rule (scikit-learn ≥ 1.5): each probability is
 * clipped to [eps, 1 − eps] with eps = float64 machine epsilon, rows are not renormalised, and the loss is
 * −mean(log p[true class]). scikit-learn 1.2 also clipped with float64 eps but then renormalised each row;
 * for rows that sum to 1 with no entry within 1e-15 of 0 or 1 the two agree.
 */
export function log_loss(yTrue: readonly Label[], proba: ArrayLike<number>, classes: readonly Label[]): number {
  assertNonEmpty('yTrue', yTrue)
  const columns = trueColumns(yTrue, proba, classes)
  const k = classes.length
  const sum = new Sum()
  for (let i = 0; i < yTrue.length; i++) sum.add(-Math.log(clipProbability(proba[i * k + columns[i]])))
  return sum.value / yTrue.length
}

/** Each row's most probable class; ties go to the first column, like `np.argmax` and `predict`. */
export function argmaxLabels(proba: ArrayLike<number>, classes: readonly Label[]): Label[] {
  const k = classes.length
  if (k === 0 || proba.length % k !== 0) {
    throw new Error(`proba has ${proba.length} values, not a whole number of rows of ${k} classes`)
  }
  return Array.from(argmaxColumns(proba, k), (best) => classes[best])
}

/** `argmaxLabels` as column indices, for a matrix already checked to have whole rows of `k`. */
export function argmaxColumns(proba: ArrayLike<number>, k: number): Int32Array {
  const out = new Int32Array(proba.length / k)
  for (let i = 0; i < out.length; i++) {
    let best = 0
    for (let j = 1; j < k; j++) if (proba[i * k + j] > proba[i * k + best]) best = j
    out[i] = best
  }
  return out
}
