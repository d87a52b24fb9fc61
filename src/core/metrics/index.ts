/**
 * Metrics of one data set from the model's outputs, by task.
 *
 * Which output each metric uses (recorded per metric in `sources`):
 * - Binary, probabilities only: the label metrics (accuracy … mcc, confusion matrix) use the positive-class
 *   probability thresholded at `threshold` (positive iff p >= threshold, default 0.5); every metric's
 *   source is `probabilities`.
 * - Binary, labels only: the label metrics use the model's labels (source `labels`); the probability metrics
 *   (roc_auc, average_precision, log_loss, brier, ece, mce) are not computed.
 * - Binary, both: label metrics use the model's labels (`labels`), the probability metrics use the
 *   probabilities (`probabilities`); `threshold` is then unused.
 * - Multiclass: the same rules, with the most probable class (first on ties) in place of the threshold.
 * - Regression: the model's numeric `values` (or numeric `yPred`); source `values`.
 *
 * The positive class is `positiveClass`; else `classes[1]` when two classes are given (scikit-learn's
 * `predict_proba` column 1); else the larger of the two labels seen, which is scikit-learn's default
 * `pos_label=1` for 0/1 labels; else, when one numeric label occurs, 1 (scikit-learn's default).
 *
 * A metric that the data leave undefined (roc_auc when y_true has one class, r2 on one row) is left out of
 * `metrics` and explained in `notes`: scikit-learn raises or returns NaN there, and NaN cannot go in JSON.
 * Inconsistent inputs (lengths, shapes, unknown labels, a third label in a binary task) throw a plain Error.
 */
import type { ConfusionMatrix, PerClassRow, Task } from '../result/types.js'
import * as binary from './binary.js'
import { metricsNeeding, type MetricSource } from './catalog.js'
import { describeLabel, sortedLabels, type Label } from './labels.js'
import * as multiclass from './multiclass.js'
import * as regression from './regression.js'
import { assertNonEmpty, assertPaired, assertProbabilities, assertProbabilityMatrix } from './validate.js'

export type { Label } from './labels.js'
export type { MetricSource } from './catalog.js'
export { METRIC_DIRECTIONS, PERFORMANCE_METRIC_NAMES, metricNames } from './catalog.js'

/** Probabilities at the precision they were kept: float32 where every value is one (see validate/accumulate.ts). */
export type FloatArray = Float32Array | Float64Array

export interface MetricsInput {
  yTrue: Label[]
  /** The model's predicted labels. */
  yPred?: Label[]
  /** Row-major n × classes.length probabilities; for binary also accepted as n positive-class probabilities. */
  proba?: FloatArray
  /** The class of each probability column. */
  classes?: Label[]
  /** Regression predictions. */
  values?: Float64Array
  positiveClass?: Label
  /** Binary decision threshold on the positive-class probability (default 0.5). */
  threshold?: number
  /** Calibration bins for ece/mce (default 10). */
  eceBins?: number
}

export interface MetricsResult {
  metrics: Record<string, number>
  sources: Record<string, MetricSource>
  confusionMatrix?: ConfusionMatrix
  perClass?: PerClassRow[]
  /** Metrics that were skipped, and why. */
  notes: string[]
}

/** Most distinct integer labels still read as classes rather than as a numeric target. */
export const MAX_INFERRED_CLASSES = 100

/**
 * The task a label column implies, when the manifest does not say:
 * 1. `classesCount` (the model's number of probability columns) of 2 → binary, of 3 or more → multiclass;
 * 2. otherwise at most 2 distinct labels → binary;
 * 3. any string label, or only integers with at most `MAX_INFERRED_CLASSES` distinct values → multiclass;
 * 4. otherwise (some non-integer number, or many distinct integers) → regression.
 * Integer-valued regression targets with few values read as multiclass: set the task explicitly for those.
 */
export function inferTask(yTrue: readonly Label[], classesCount?: number): Task {
  if (classesCount !== undefined && classesCount >= 2) return classesCount === 2 ? 'binary' : 'multiclass'
  const distinct = new Set(yTrue)
  if (distinct.size <= 2) return 'binary'
  let integers = true
  for (const label of distinct) {
    if (typeof label === 'string') return 'multiclass'
    if (!Number.isInteger(label)) integers = false
  }
  return integers && distinct.size <= MAX_INFERRED_CLASSES ? 'multiclass' : 'regression'
}

/** Collects metrics, leaving out undefined (NaN) ones with a note. */
class MetricsBuilder {
  readonly result: MetricsResult = { metrics: {}, sources: {}, notes: [] }

  put(name: string, value: number, source: MetricSource, whyUndefined = 'it is undefined for this data'): void {
    if (Number.isNaN(value)) {
      this.result.notes.push(`${name} not computed: ${whyUndefined}`)
      return
    }
    this.result.metrics[name] = value
    this.result.sources[name] = source
  }
}

/** Computes every metric of `task` that the given outputs allow; see the rules at the top of this file. */
export function computeMetrics(task: Task, input: MetricsInput): MetricsResult {
  assertNonEmpty('yTrue', input.yTrue)
  for (const [name, values] of [
    ['yPred', input.yPred],
    ['values', input.values],
  ] as const) {
    if (values !== undefined) assertPaired('yTrue', input.yTrue, name, values)
  }
  if (task === 'binary') return binaryMetrics(input)
  if (task === 'multiclass') return multiclassMetrics(input)
  if (task === 'regression') return regressionMetrics(input)
  throw new Error(`unknown task ${JSON.stringify(task)}: expected binary, multiclass or regression`)
}

function binaryMetrics(input: MetricsInput): MetricsResult {
  const { yTrue, yPred, proba, classes } = input
  if (classes !== undefined && classes.length !== 2) {
    throw new Error(`binary task but ${classes.length} classes given: [${classes.map(describeLabel).join(', ')}]`)
  }
  const seen = sortedLabels({ yTrue, ...(yPred && { yPred }), ...(classes && { classes }) })
  const positive = input.positiveClass ?? defaultPositiveClass(classes, seen)
  const labels = sortedLabels({ labels: seen, positiveClass: [positive] })
  if (labels.length > 2) {
    throw new Error(`binary task but the data have ${labels.length} labels: [${labels.map(describeLabel).join(', ')}]`)
  }
  const negative = labels.find((label) => label !== positive)

  const truth = binary.positiveIndicator(yTrue, positive)
  const pPositive = proba && positiveProbabilities(proba, classes, yTrue.length, positive)
  let predicted: Uint8Array
  let labelSource: MetricSource
  if (yPred) {
    predicted = binary.positiveIndicator(yPred, positive)
    labelSource = 'labels'
  } else if (pPositive) {
    predicted = binary.thresholdProbabilities(pPositive, input.threshold ?? 0.5)
    labelSource = 'probabilities'
  } else {
    throw new Error('binary metrics need the predicted labels (yPred) or the probabilities (proba)')
  }

  const out = new MetricsBuilder()
  const counts = binary.binary_counts(truth, predicted)
  for (const name of metricsNeeding('binary', 'labels')) out.put(name, binary.BINARY_COUNT_METRICS[name](counts), labelSource)
  if (pPositive) {
    const curve = binary.thresholdCurve(truth, pPositive)
    out.put('roc_auc', binary.roc_auc(truth, pPositive, curve), 'probabilities', 'y_true has only one class')
    out.put('average_precision', binary.average_precision(truth, pPositive, curve), 'probabilities')
    out.put('log_loss', binary.log_loss(truth, pPositive), 'probabilities')
    out.put('brier', binary.brier(truth, pPositive), 'probabilities')
    const calibration = binary.ece(truth, pPositive, input.eceBins ?? 10)
    out.put('ece', calibration.ece, 'probabilities')
    out.put('mce', calibration.mce, 'probabilities')
  }
  if (negative !== undefined) {
    out.result.confusionMatrix = binary.confusion_matrix(truth, predicted, positive, negative)
  } else if (predicted.includes(0)) {
    out.result.notes.push('confusion matrix not computed: rows are predicted negative but no negative class is named')
  } else {
    out.result.confusionMatrix = { labels: [positive], matrix: [[truth.length]] }
  }
  return out.result
}

/** See the top of this file; with a single label seen, scikit-learn's `pos_label=1` default applies. */
function defaultPositiveClass(classes: Label[] | undefined, seen: Label[]): Label {
  if (classes) return classes[1]
  if (seen.length === 2) return seen[1]
  if (typeof seen[0] === 'number') return 1
  throw new Error(`only the label ${describeLabel(seen[0])} occurs: set positiveClass or classes to name the positive class`)
}

/** The positive-class column of `proba`, or `proba` itself when it holds one probability per row. */
function positiveProbabilities(proba: FloatArray, classes: Label[] | undefined, rows: number, positive: Label) {
  if (classes === undefined) {
    if (proba.length !== rows) {
      throw new Error(`proba has ${proba.length} values for ${rows} rows: pass classes to name its columns`)
    }
    assertProbabilities('proba', proba)
    return proba
  }
  assertProbabilityMatrix('proba', proba, rows, classes.length)
  const column = classes.indexOf(positive)
  if (column < 0) {
    throw new Error(`positive class ${describeLabel(positive)} is not one of classes [${classes.map(describeLabel).join(', ')}]`)
  }
  // At the probabilities' own precision: the same numbers, in half the memory when they are float32.
  const p = proba instanceof Float32Array ? new Float32Array(rows) : new Float64Array(rows)
  for (let i = 0; i < rows; i++) p[i] = proba[i * classes.length + column]
  return p
}

function multiclassMetrics(input: MetricsInput): MetricsResult {
  const { yTrue, proba, classes } = input
  if (proba && !classes) throw new Error('multiclass probabilities need classes to name their columns')
  let yPred = input.yPred
  let labelSource: MetricSource = 'labels'
  if (!yPred) {
    if (!proba || !classes) {
      throw new Error('multiclass metrics need the predicted labels (yPred) or proba with classes')
    }
    assertProbabilityMatrix('proba', proba, yTrue.length, classes.length)
    yPred = multiclass.argmaxLabels(proba, classes)
    labelSource = 'probabilities'
  }

  const out = new MetricsBuilder()
  const counts = multiclass.classStats(yTrue, yPred)
  for (const name of metricsNeeding('multiclass', 'labels')) {
    out.put(name, multiclass.MULTICLASS_COUNT_METRICS[name](counts), labelSource)
  }
  if (proba && classes) {
    out.put('roc_auc_ovr', multiclass.roc_auc_ovr(yTrue, proba, classes), 'probabilities', 'some class has no row in y_true')
    out.put('log_loss', multiclass.log_loss(yTrue, proba, classes), 'probabilities')
  }
  out.result.confusionMatrix = multiclass.confusion_matrix(yTrue, yPred)
  out.result.perClass = multiclass.per_class(yTrue, yPred)
  return out.result
}

function toNumbers(name: string, values: readonly Label[]): Float64Array {
  const out = new Float64Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v !== 'number') throw new Error(`${name}[${i}] = ${describeLabel(v)}: regression needs numbers`)
    out[i] = v
  }
  return out
}

function regressionMetrics(input: MetricsInput): MetricsResult {
  const yTrue = toNumbers('yTrue', input.yTrue)
  const predictions = input.values ?? (input.yPred && toNumbers('yPred', input.yPred))
  if (!predictions) throw new Error('regression metrics need the predicted values (values)')
  const out = new MetricsBuilder()
  for (const name of metricsNeeding('regression', 'values')) {
    out.put(name, regression.REGRESSION_METRICS[name](yTrue, predictions), 'values', 'it needs at least two rows')
  }
  return out.result
}
