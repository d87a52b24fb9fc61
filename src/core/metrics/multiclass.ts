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

/** Confusion-matrix cells and marginals per class (classes in `labels` order). */
interface ClassStats {
  labels: Label[]
  /** counts[i * k + j]: rows with true labels[i] and predicted labels[j]. */
  counts: Float64Array
  tp: Float64Array
  trueSum: Float64Array
  predSum: Float64Array
  n: number
}

function classStats(yTrue: readonly Label[], yPred: readonly Label[]): ClassStats {
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
  return { labels, counts, tp, trueSum, predSum, n: t.length }
}

function total(values: Float64Array): number {
  return values.reduce((a, b) => a + b, 0)
}

/** Per-class precision, recall and F1, as `precision_recall_fscore_support(average=None)`. */
function perClassScores(s: ClassStats): Record<Score, Float64Array> {
  const precision = s.tp.map((tp, i) => ratio(tp, s.predSum[i]))
  const recall = s.tp.map((tp, i) => ratio(tp, s.trueSum[i]))
  const f1 = precision.map((p, i) => harmonicF1(p, recall[i]))
  return { precision, recall, f1 }
}

/**
 * scikit-learn's averages: macro = unweighted mean over classes; weighted = mean weighted by support
 * (true count); micro = the score of the pooled counts (Σtp / Σpredicted, Σtp / Σtrue), which for
 * single-label data equals accuracy.
 */
function averaged(yTrue: readonly Label[], yPred: readonly Label[], score: Score, average: Average): number {
  const s = classStats(yTrue, yPred)
  if (average === 'micro') {
    const tp = total(s.tp)
    const p = ratio(tp, total(s.predSum))
    const r = ratio(tp, total(s.trueSum))
    return score === 'precision' ? p : score === 'recall' ? r : harmonicF1(p, r)
  }
  const values = perClassScores(s)[score]
  if (average === 'macro') return total(values) / values.length
  return ratio(total(values.map((v, i) => v * s.trueSum[i])), total(s.trueSum))
}

/** sklearn `accuracy_score`: fraction of rows whose predicted label equals the true label. */
export function accuracy(yTrue: readonly Label[], yPred: readonly Label[]): number {
  const s = classStats(yTrue, yPred)
  return total(s.tp) / s.n
}

/** sklearn `balanced_accuracy_score` (Brodersen et al. 2010): mean recall over the classes present in y_true. */
export function balanced_accuracy(yTrue: readonly Label[], yPred: readonly Label[]): number {
  const s = classStats(yTrue, yPred)
  let sum = 0
  let present = 0
  s.tp.forEach((tp, i) => {
    if (s.trueSum[i] === 0) return
    sum += tp / s.trueSum[i]
    present++
  })
  return sum / present
}

/** sklearn `precision_score(average="macro")`. */
export function precision_macro(yTrue: readonly Label[], yPred: readonly Label[]): number {
  return averaged(yTrue, yPred, 'precision', 'macro')
}

/** sklearn `precision_score(average="micro")`. */
export function precision_micro(yTrue: readonly Label[], yPred: readonly Label[]): number {
  return averaged(yTrue, yPred, 'precision', 'micro')
}

/** sklearn `precision_score(average="weighted")`. */
export function precision_weighted(yTrue: readonly Label[], yPred: readonly Label[]): number {
  return averaged(yTrue, yPred, 'precision', 'weighted')
}

/** sklearn `recall_score(average="macro")`. */
export function recall_macro(yTrue: readonly Label[], yPred: readonly Label[]): number {
  return averaged(yTrue, yPred, 'recall', 'macro')
}

/** sklearn `recall_score(average="micro")`. */
export function recall_micro(yTrue: readonly Label[], yPred: readonly Label[]): number {
  return averaged(yTrue, yPred, 'recall', 'micro')
}

/** sklearn `recall_score(average="weighted")`. */
export function recall_weighted(yTrue: readonly Label[], yPred: readonly Label[]): number {
  return averaged(yTrue, yPred, 'recall', 'weighted')
}

/** sklearn `f1_score(average="macro")`: the mean of per-class F1 (not the F1 of mean P and R). */
export function f1_macro(yTrue: readonly Label[], yPred: readonly Label[]): number {
  return averaged(yTrue, yPred, 'f1', 'macro')
}

/** sklearn `f1_score(average="micro")`. */
export function f1_micro(yTrue: readonly Label[], yPred: readonly Label[]): number {
  return averaged(yTrue, yPred, 'f1', 'micro')
}

/** sklearn `f1_score(average="weighted")`. */
export function f1_weighted(yTrue: readonly Label[], yPred: readonly Label[]): number {
  return averaged(yTrue, yPred, 'f1', 'weighted')
}

/** sklearn `matthews_corrcoef`: Gorodkin's (2004) R_K from the confusion matrix; 0 when undefined. */
export function mcc(yTrue: readonly Label[], yPred: readonly Label[]): number {
  const s = classStats(yTrue, yPred)
  return mccFromMarginals(s.trueSum, s.predSum, total(s.tp))
}

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
  const scores = perClassScores(s)
  return s.labels.map((label, i) => ({
    label,
    precision: scores.precision[i],
    recall: scores.recall[i],
    f1: scores.f1[i],
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
  for (let i = 0; i < yTrue.length; i++) {
    let rowSum = 0
    for (let j = 0; j < k; j++) rowSum += proba[i * k + j]
    if (!(Math.abs(rowSum - 1) <= 1e-8 + 1e-5)) {
      throw new Error(`proba row ${i} sums to ${rowSum}: roc_auc_ovr needs probabilities that sum to 1 over classes`)
    }
  }
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
  const out: Label[] = new Array(proba.length / k)
  for (let i = 0; i < out.length; i++) {
    let best = 0
    for (let j = 1; j < k; j++) if (proba[i * k + j] > proba[i * k + best]) best = j
    out[i] = classes[best]
  }
  return out
}
