/**
 * Every metric of `src/core/metrics` with per-row weights, over `ScoredRows`.
 *
 * A weight is a row's multiplicity: the weighted metric equals the unweighted one (scikit-learn's
 * definition, as in `src/core/metrics`) on the rows repeated that many times, so a bootstrap resample is
 * its counts, a subset its 0/1 indicator, and `null` every row once. Like the repeated rows, a class with
 * zero total weight is absent (it leaves the macro averages; ROC AUC needing it is NaN).
 *
 * Each metric is a kernel prepared once per (rows, side, metric): the inputs are validated, the positive
 * indicator and score column extracted and, for the ranking metrics, the score order computed once (see
 * `order.ts`); each call is then one O(n) pass (O(n·k) for one-vs-rest AUC over k classes).
 *
 * A metric undefined on the weighted rows is NaN, as scikit-learn raises or returns NaN there: ROC AUC
 * with one class present, r2 with less than two rows, anything on rows of total weight 0. Weights must be
 * finite and ≥ 0 (not checked per call: they come from this module's own resampling or from 0/1 masks).
 *
 * Every kernel but average_precision also has an exact O(n) leave-one-out (`MetricKernel.leaveOneOut`):
 * a mean drops one term, a count one cell, ROC AUC one row's placement value (its Mann–Whitney share),
 * a calibration bin one row; so BCa's jackknife is exact at any n for them.
 */
import type { ModelRows, ScoredRows, Side, Weights } from '../evaluation/types.js'
import { histogramBin } from '../metrics/binary.js'
import { clipProbability, harmonicF1, mccFromMarginals, ratio } from '../metrics/formulas.js'
import { Sum } from '../metrics/sum.js'
import { assertFinite, assertProbabilities, assertProbabilityMatrix } from '../metrics/validate.js'
import type { Task } from '../result/types.js'
import { rankingOf } from './order.js'

export type { Side, Weights } from '../evaluation/types.js'

// Module-level bindings: inside a vm context (jest) each global `Math` lookup in a hot loop costs ~100×.
const { abs, max } = Math

/**
 * A prepared metric: weights (or null) → value. `leaveOneOut`, when present, gives the metric on the data
 * with each row left out in turn (every other row once), exactly, in O(n): the BCa jackknife.
 */
export type MetricKernel = ((weights: Weights) => number) & { leaveOneOut?: () => Float64Array }

function withLeaveOneOut(kernel: (weights: Weights) => number, leaveOneOut: () => Float64Array): MetricKernel {
  return Object.assign(kernel, { leaveOneOut })
}

const BINARY_LABEL = ['accuracy', 'balanced_accuracy', 'precision', 'recall', 'f1', 'mcc']
const BINARY_PROBABILITY = ['roc_auc', 'average_precision', 'log_loss', 'brier', 'ece', 'mce']
const MULTICLASS_LABEL = [
  'accuracy',
  'balanced_accuracy',
  'precision_macro',
  'precision_micro',
  'precision_weighted',
  'recall_macro',
  'recall_micro',
  'recall_weighted',
  'f1_macro',
  'f1_micro',
  'f1_weighted',
  'mcc',
]
const MULTICLASS_PROBABILITY = ['roc_auc_ovr', 'log_loss']
const REGRESSION = ['mae', 'mse', 'rmse', 'r2', 'mape', 'max_error']

/** The metrics each task supports with weights: every metric `computeMetrics` produces for it. */
export const WEIGHTED_METRICS_BY_TASK: Record<Task, readonly string[]> = {
  binary: [...BINARY_LABEL, ...BINARY_PROBABILITY],
  multiclass: [...MULTICLASS_LABEL, ...MULTICLASS_PROBABILITY],
  regression: REGRESSION,
}

/** Every metric name supported with weights, for some task. */
export const WEIGHTED_METRICS: string[] = [...new Set(Object.values(WEIGHTED_METRICS_BY_TASK).flat())]

/** Whether `name` has a weighted kernel (for `task`, when given). */
export function supportsWeightedMetric(name: string, task?: Task): boolean {
  return (task ? WEIGHTED_METRICS_BY_TASK[task] : WEIGHTED_METRICS).includes(name)
}

/** Whether the model's outputs on `rows` allow `name` (label metrics need labels or probabilities, the others probabilities). */
export function hasWeightedMetric(name: string, rows: ScoredRows, side: Side): boolean {
  const model = rows[side]
  if (!model || !supportsWeightedMetric(name, rows.task)) return false
  if (rows.task === 'regression') return model.values !== undefined
  const hasProbabilities = model.proba !== undefined || (rows.task === 'binary' && model.score !== undefined)
  const needsProbabilities = rows.task === 'binary' ? BINARY_PROBABILITY.includes(name) : MULTICLASS_PROBABILITY.includes(name)
  return hasProbabilities || (!needsProbabilities && model.predIndex !== undefined)
}

/** The metric `name` of `side`'s predictions on `rows`, each row counted `weights[i]` times (null: once). */
export function weightedMetric(name: string, rows: ScoredRows, side: Side, weights: Weights): number {
  return metricKernel(name, rows, side)(weights)
}

const kernels = new WeakMap<ScoredRows, Map<string, MetricKernel>>()

/** The prepared kernel of `name` for `side` on `rows`, made once and cached on `rows` (treat rows as immutable). */
export function metricKernel(name: string, rows: ScoredRows, side: Side): MetricKernel {
  let byName = kernels.get(rows)
  if (!byName) {
    byName = new Map()
    kernels.set(rows, byName)
  }
  const key = `${side}\u0000${name}`
  let kernel = byName.get(key)
  if (!kernel) {
    kernel = makeKernel(name, rows, side)
    byName.set(key, kernel)
  }
  return kernel
}

function makeKernel(name: string, rows: ScoredRows, side: Side): MetricKernel {
  if (!supportsWeightedMetric(name, rows.task)) {
    throw new Error(`no weighted ${name} for a ${rows.task} task: expected one of ${WEIGHTED_METRICS_BY_TASK[rows.task].join(', ')}`)
  }
  const model = rows[side]
  if (!model) throw new Error(`no ${side} predictions on these rows: ${name} of the ${side} cannot be computed`)
  if (rows.task === 'binary') return binaryKernel(name, rows, model)
  if (rows.task === 'multiclass') return multiclassKernel(name, rows, model)
  return regressionKernel(name, rows, model)
}

/** Per-row weights as a typed array of length n: `null` becomes ones (one shared array per n). */
function weightArray(weights: Weights, n: number): Int32Array | Float64Array {
  if (weights === null) return onesOf(n)
  if (weights.length !== n) throw new Error(`weights have length ${weights.length} but there are ${n} rows`)
  return weights
}

const ones = new Map<number, Int32Array>()
function onesOf(n: number): Int32Array {
  let w = ones.get(n)
  if (!w) {
    w = new Int32Array(n).fill(1)
    if (ones.size > 16) ones.clear()
    ones.set(n, w)
  }
  return w
}

function checkLength(name: string, values: ArrayLike<unknown> | undefined, n: number): void {
  if (values !== undefined && values.length !== n) throw new Error(`${name} has length ${values.length} but there are ${n} rows`)
}

function classIndices(name: string, values: Int32Array | undefined, n: number, k: number): Int32Array {
  if (!values) throw new Error(`${name} is missing: classification metrics need class indices`)
  checkLength(name, values, n)
  for (let i = 0; i < n; i++) {
    if (!(values[i] >= 0 && values[i] < k)) throw new Error(`${name}[${i}] = ${values[i]} is not a class index in [0, ${k})`)
  }
  return values
}

// ---------------------------------------------------------------------------------------------- binary

interface BinaryData {
  n: number
  /** 1 = positive class. */
  truth: Uint8Array
  predicted?: Uint8Array
  score?: Float64Array
}

function binaryData(rows: ScoredRows, model: ModelRows): BinaryData {
  const n = rows.n
  const classes = rows.classes?.length ?? 2
  if (classes !== 2) throw new Error(`binary task but ${classes} classes`)
  const positive = rows.positiveIndex ?? 1
  const truth = indicator(classIndices('yTrue', rows.yTrue, n, 2), positive)
  const score = model.score ?? (model.proba && positiveColumn(model.proba, n, positive))
  if (score) {
    checkLength('score', score, n)
    assertProbabilities('score', score)
  }
  let predicted: Uint8Array | undefined
  if (model.predIndex) predicted = indicator(classIndices('predIndex', model.predIndex, n, 2), positive)
  else if (score) {
    const threshold = rows.threshold ?? 0.5
    predicted = new Uint8Array(n)
    for (let i = 0; i < n; i++) predicted[i] = score[i] >= threshold ? 1 : 0
  }
  return { n, truth, predicted, score }
}

const positiveColumns = new WeakMap<Float64Array, Float64Array[]>()

/** p(positive) from a binary proba matrix, made once per (matrix, positive column) so its ranking is cached once too. */
function positiveColumn(proba: Float64Array, n: number, positive: number): Float64Array {
  let columns = positiveColumns.get(proba)
  if (!columns) {
    assertProbabilityMatrix('proba', proba, n, 2)
    columns = []
    positiveColumns.set(proba, columns)
  }
  let column = columns[positive]
  if (!column) {
    column = new Float64Array(n)
    for (let i = 0; i < n; i++) column[i] = proba[2 * i + positive]
    columns[positive] = column
  }
  return column
}

function indicator(classes: Int32Array, positive: number): Uint8Array {
  const out = new Uint8Array(classes.length)
  for (let i = 0; i < classes.length; i++) out[i] = classes[i] === positive ? 1 : 0
  return out
}

interface Counts {
  tp: number
  fp: number
  fn: number
  tn: number
}

/**
 * The confusion counts from four weighted sums of 0/1 columns (truth, predicted, both, 1): branch-free,
 * which is what keeps the bootstrap's inner loop fast, and exact for whole-number weights.
 */
function binaryCounter(truth: Uint8Array, predicted: Uint8Array): (weights: Weights) => Counts {
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

const BINARY_FROM_COUNTS: Record<string, (c: Counts) => number> = {
  accuracy: (c) => (c.tp + c.tn) / (c.tp + c.tn + c.fp + c.fn),
  balanced_accuracy: (c) => {
    const recalls: number[] = []
    if (c.tp + c.fn > 0) recalls.push(c.tp / (c.tp + c.fn))
    if (c.tn + c.fp > 0) recalls.push(c.tn / (c.tn + c.fp))
    return recalls.reduce((a, b) => a + b, 0) / recalls.length
  },
  precision: (c) => ratio(c.tp, c.tp + c.fp),
  recall: (c) => ratio(c.tp, c.tp + c.fn),
  f1: (c) => harmonicF1(ratio(c.tp, c.tp + c.fp), ratio(c.tp, c.tp + c.fn)),
  mcc: (c) =>
    c.tp + c.tn + c.fp + c.fn === 0 ? NaN : mccFromMarginals([c.tn + c.fp, c.fn + c.tp], [c.tn + c.fn, c.fp + c.tp], c.tp + c.tn),
}

function binaryKernel(name: string, rows: ScoredRows, model: ModelRows): MetricKernel {
  const d = binaryData(rows, model)
  const fromCounts = BINARY_FROM_COUNTS[name]
  if (fromCounts) {
    const predicted = d.predicted
    if (!predicted) throw new Error(`${name} needs the model's labels or probabilities`)
    const counts = binaryCounter(d.truth, predicted)
    return withLeaveOneOut(
      (w) => fromCounts(counts(w)),
      () => {
        // Leaving a row out takes one from its cell: four possible values.
        const c = counts(null)
        const byCell = [
          fromCounts({ ...c, tn: c.tn - 1 }),
          fromCounts({ ...c, fp: c.fp - 1 }),
          fromCounts({ ...c, fn: c.fn - 1 }),
          fromCounts({ ...c, tp: c.tp - 1 }),
        ]
        return Float64Array.from({ length: d.n }, (_, i) => byCell[2 * d.truth[i] + predicted[i]])
      },
    )
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
      return meanOfTerms(rowTerms(d.n, (i) => -Math.log(clipProbability(d.truth[i] === 1 ? score[i] : 1 - score[i]))))
    case 'brier':
      return meanOfTerms(rowTerms(d.n, (i) => (d.truth[i] - score[i]) ** 2))
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

/** Each row's term, computed once when the kernel is made. */
function rowTerms(n: number, term: (i: number) => number): Float64Array {
  const terms = new Float64Array(n)
  for (let i = 0; i < n; i++) terms[i] = term(i)
  return terms
}

/** The kernel Σ w·term / Σ w (then `outer`, e.g. √ for rmse). */
function meanOfTerms(terms: Float64Array, outer: (mean: number) => number = (m) => m): MetricKernel {
  return withLeaveOneOut(
    (w) => outer(weightedAverage(terms, weightArray(w, terms.length))),
    () => {
      const n = terms.length
      const sum = new Sum()
      for (let i = 0; i < n; i++) sum.add(terms[i])
      return Float64Array.from(terms, (t) => (n > 1 ? outer((sum.value - t) / (n - 1)) : NaN))
    },
  )
}

/**
 * Σ w·term / Σ w with Neumaier compensation (as `Sum`, inlined: this is the bootstrap's inner loop); NaN
 * on total weight 0.
 */
function weightedAverage(terms: Float64Array, w: Int32Array | Float64Array): number {
  let total = 0
  let sum = 0
  let compensation = 0
  for (let i = 0; i < terms.length; i++) {
    // No skip of zero weights: a data-dependent branch costs more than the multiply-add it saves.
    const wi = w[i]
    total += wi
    const x = wi * terms[i]
    const t = sum + x
    compensation += abs(sum) >= abs(x) ? sum - t + x : x - t + sum
    sum = t
  }
  return total === 0 ? NaN : (sum + compensation) / total
}

/** Rows in ascending score order with their class indicator, and where each run of tied scores ends. */
interface RankedTruth {
  order: Int32Array
  /** truth of order[j]. */
  truth: Uint8Array
  /** 1 at the last position of each run of tied scores. */
  groupEnd: Uint8Array
}

function rankedTruth(truth: ArrayLike<number>, score: Float64Array): RankedTruth {
  const { order, groupEnds } = rankingOf(score)
  const sortedTruth = new Uint8Array(order.length)
  for (let j = 0; j < order.length; j++) sortedTruth[j] = truth[order[j]] === 1 ? 1 : 0
  const groupEnd = new Uint8Array(order.length)
  for (let g = 0; g < groupEnds.length; g++) groupEnd[groupEnds[g] - 1] = 1
  return { order, truth: sortedTruth, groupEnd }
}

/**
 * ROC AUC as the weighted Mann–Whitney statistic: Σ over positives of the weight of negatives scored below
 * plus half those tied, over (weight of positives)·(weight of negatives); one pass over the cached order,
 * tie group by tie group. With whole-number weights every sum is an integer, so the result is exactly
 * scikit-learn's trapezoidal area on the repeated rows.
 */
function weightedAuc(r: RankedTruth, w: Int32Array | Float64Array): number {
  const { order, truth, groupEnd } = r
  let negativesBelow = 0
  let positives = 0
  let twiceU = 0
  let wp = 0
  let wn = 0
  for (let j = 0; j < order.length; j++) {
    const wi = w[order[j]]
    if (truth[j] === 1) wp += wi
    else wn += wi
    if (groupEnd[j] === 1) {
      twiceU += wp * (2 * negativesBelow + wn)
      negativesBelow += wn
      positives += wp
      wp = 0
      wn = 0
    }
  }
  if (positives === 0 || negativesBelow === 0) return NaN
  return twiceU / (2 * positives * negativesBelow)
}

/**
 * ROC AUC with each row left out, from placement values: a positive's share of the Mann–Whitney count is
 * the negatives below it plus half those tied, a negative's the positives above it plus half those tied;
 * leaving a row out removes its share and shrinks its class by one.
 */
function aucLeaveOneOut(r: RankedTruth): Float64Array {
  const { order, truth, groupEnd } = r
  const n = order.length
  let positives = 0
  for (let j = 0; j < n; j++) positives += truth[j]
  const negatives = n - positives
  const out = new Float64Array(n)
  // twice each row's share, filled run by run of tied scores.
  const share = new Float64Array(n)
  let negativesBelow = 0
  let positivesBelow = 0
  let twiceU = 0
  let start = 0
  for (let j = 0; j < n; j++) {
    if (groupEnd[j] !== 1) continue
    let p = 0
    for (let q = start; q <= j; q++) p += truth[q]
    const m = j + 1 - start - p
    for (let q = start; q <= j; q++) {
      share[q] = truth[q] === 1 ? 2 * negativesBelow + m : 2 * (positives - positivesBelow - p) + p
    }
    twiceU += p * (2 * negativesBelow + m)
    negativesBelow += m
    positivesBelow += p
    start = j + 1
  }
  for (let j = 0; j < n; j++) {
    const P = positives - truth[j]
    const N = negatives - (1 - truth[j])
    out[order[j]] = P === 0 || N === 0 ? NaN : (twiceU - share[j]) / (2 * P * N)
  }
  return out
}

/**
 * Average precision Σ (R_k − R_{k−1})·P_k over the distinct scores from the highest down (scikit-learn's
 * step rule, ties one threshold), with weighted cumulative counts; 0 when no positive has weight.
 */
function weightedAveragePrecision(r: RankedTruth, w: Int32Array | Float64Array): number {
  const { order, truth, groupEnd } = r
  const sum = new Sum()
  let tp = 0
  let fp = 0
  let wp = 0
  let wn = 0
  for (let j = order.length - 1; j >= 0; j--) {
    const wi = w[order[j]]
    if (truth[j] === 1) wp += wi
    else wn += wi
    // Descending, a run of ties ends where the next (lower) position closes the previous run.
    if (j === 0 || groupEnd[j - 1] === 1) {
      tp += wp
      fp += wn
      if (wp !== 0) sum.add(wp * (tp / (tp + fp)))
      wp = 0
      wn = 0
    }
  }
  if (tp + fp === 0) return NaN
  return tp === 0 ? 0 : sum.value / tp
}

function calibrationError(
  truth: Uint8Array,
  score: Float64Array,
  bin: Int32Array,
  bins: number,
  w: Int32Array | Float64Array,
): { ece: number; mce: number } {
  const count = new Float64Array(bins)
  const sumY = new Float64Array(bins)
  const sumP = new Float64Array(bins)
  let total = 0
  for (let i = 0; i < w.length; i++) {
    const wi = w[i]
    if (wi === 0) continue
    const b = bin[i]
    count[b] += wi
    sumY[b] += wi * truth[i]
    sumP[b] += wi * score[i]
    total += wi
  }
  if (total === 0) return { ece: NaN, mce: NaN }
  let expected = 0
  let maximum = 0
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue
    const gap = Math.abs(sumY[b] / count[b] - sumP[b] / count[b])
    expected += (gap * count[b]) / total
    maximum = Math.max(maximum, gap)
  }
  return { ece: expected, mce: maximum }
}

/** ECE and MCE with each row left out: only that row's bin changes. */
function calibrationLeaveOneOut(
  truth: Uint8Array,
  score: Float64Array,
  bin: Int32Array,
  bins: number,
): { ece: Float64Array; mce: Float64Array } {
  const n = truth.length
  const count = new Float64Array(bins)
  const sumY = new Float64Array(bins)
  const sumP = new Float64Array(bins)
  for (let i = 0; i < n; i++) {
    count[bin[i]]++
    sumY[bin[i]] += truth[i]
    sumP[bin[i]] += score[i]
  }
  const gap = (c: number, y: number, p: number) => (c === 0 ? 0 : Math.abs(y / c - p / c))
  const gaps = Float64Array.from({ length: bins }, (_, b) => gap(count[b], sumY[b], sumP[b]))
  let weighted = 0
  for (let b = 0; b < bins; b++) weighted += gaps[b] * count[b]
  // The largest gap outside bin b: the overall largest, or the runner-up when b holds it.
  let first = -1
  let second = -1
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue
    if (first < 0 || gaps[b] > gaps[first]) {
      second = first
      first = b
    } else if (second < 0 || gaps[b] > gaps[second]) second = b
  }
  const ece = new Float64Array(n)
  const mce = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const b = bin[i]
    const newGap = gap(count[b] - 1, sumY[b] - truth[i], sumP[b] - score[i])
    ece[i] = n > 1 ? (weighted - gaps[b] * count[b] + newGap * (count[b] - 1)) / (n - 1) : NaN
    const other = b === first ? second : first
    mce[i] = n > 1 ? Math.max(other < 0 ? 0 : gaps[other], count[b] > 1 ? newGap : 0) : NaN
  }
  return { ece, mce }
}

/**
 * Binary: the positive indicator of each row and `side`'s p(positive), as the kernels read them; for
 * tests that need the raw columns (DeLong).
 */
export function binaryScores(rows: ScoredRows, side: Side): { truth: Uint8Array; score: Float64Array } {
  if (rows.task !== 'binary') throw new Error(`binaryScores needs a binary task, not ${rows.task}`)
  const model = rows[side]
  if (!model) throw new Error(`no ${side} predictions on these rows`)
  const d = binaryData(rows, model)
  if (!d.score) throw new Error(`the ${side} has no probabilities`)
  return { truth: d.truth, score: d.score }
}

/** Classification: 1 where `side`'s predicted class (labels, else thresholded or argmax probabilities) is the true one. */
export function correctness(rows: ScoredRows, side: Side): Uint8Array {
  const model = rows[side]
  if (!model) throw new Error(`no ${side} predictions on these rows`)
  if (rows.task === 'regression') throw new Error('correctness needs a classification task')
  const d = rows.task === 'binary' ? binaryData(rows, model) : multiclassData(rows, model)
  const predicted = d.predicted
  if (!predicted) throw new Error(`the ${side} has neither labels nor probabilities`)
  const out = new Uint8Array(d.n)
  for (let i = 0; i < d.n; i++) out[i] = predicted[i] === d.truth[i] ? 1 : 0
  return out
}

// ------------------------------------------------------------------------------------------ multiclass

interface MulticlassData {
  n: number
  k: number
  truth: Int32Array
  predicted?: Int32Array
  proba?: Float64Array
}

function multiclassData(rows: ScoredRows, model: ModelRows): MulticlassData {
  const n = rows.n
  const k = rows.classes?.length
  if (!k) throw new Error('multiclass rows need classes')
  const truth = classIndices('yTrue', rows.yTrue, n, k)
  const proba = model.proba
  if (proba) assertProbabilityMatrix('proba', proba, n, k)
  let predicted = model.predIndex && classIndices('predIndex', model.predIndex, n, k)
  if (!predicted && proba) {
    // The most probable class, first on ties, as `np.argmax` and `predict`.
    predicted = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      let best = 0
      for (let j = 1; j < k; j++) if (proba[i * k + j] > proba[i * k + best]) best = j
      predicted[i] = best
    }
  }
  return { n, k, truth, predicted, proba }
}

interface ClassCounts {
  tp: Float64Array
  trueSum: Float64Array
  predSum: Float64Array
  /** Classes with weight among the true or predicted labels: scikit-learn's `unique_labels` of the rows. */
  present: number[]
}

function classCounts(d: MulticlassData, predicted: Int32Array, weights: Weights): ClassCounts {
  const w = weightArray(weights, d.n)
  const tp = new Float64Array(d.k)
  const trueSum = new Float64Array(d.k)
  const predSum = new Float64Array(d.k)
  for (let i = 0; i < d.n; i++) {
    const wi = w[i]
    const t = d.truth[i]
    const p = predicted[i]
    trueSum[t] += wi
    predSum[p] += wi
    if (t === p) tp[t] += wi
  }
  const present: number[] = []
  for (let c = 0; c < d.k; c++) if (trueSum[c] > 0 || predSum[c] > 0) present.push(c)
  return { tp, trueSum, predSum, present }
}

function withoutRow(s: ClassCounts, t: number, p: number): ClassCounts {
  const tp = s.tp.slice()
  const trueSum = s.trueSum.slice()
  const predSum = s.predSum.slice()
  trueSum[t]--
  predSum[p]--
  if (t === p) tp[t]--
  const present = s.present.filter((c) => trueSum[c] > 0 || predSum[c] > 0)
  return { tp, trueSum, predSum, present }
}

function sumOver(classes: number[], value: (c: number) => number): number {
  let s = 0
  for (const c of classes) s += value(c)
  return s
}

type Score = 'precision' | 'recall' | 'f1'

function classScore(s: ClassCounts, c: number, score: Score): number {
  const p = ratio(s.tp[c], s.predSum[c])
  const r = ratio(s.tp[c], s.trueSum[c])
  return score === 'precision' ? p : score === 'recall' ? r : harmonicF1(p, r)
}

/** scikit-learn's macro / micro / weighted averages over the present classes (see `metrics/multiclass.ts`). */
function averaged(s: ClassCounts, score: Score, average: string): number {
  if (s.present.length === 0) return NaN
  if (average === 'micro') {
    const tp = sumOver(s.present, (c) => s.tp[c])
    const p = ratio(
      tp,
      sumOver(s.present, (c) => s.predSum[c]),
    )
    const r = ratio(
      tp,
      sumOver(s.present, (c) => s.trueSum[c]),
    )
    return score === 'precision' ? p : score === 'recall' ? r : harmonicF1(p, r)
  }
  if (average === 'macro') return sumOver(s.present, (c) => classScore(s, c, score)) / s.present.length
  return ratio(
    sumOver(s.present, (c) => classScore(s, c, score) * s.trueSum[c]),
    sumOver(s.present, (c) => s.trueSum[c]),
  )
}

function multiclassFromCounts(name: string): ((s: ClassCounts) => number) | undefined {
  if (name === 'accuracy') {
    return (s) => (s.present.length === 0 ? NaN : sumOver(s.present, (c) => s.tp[c]) / sumOver(s.present, (c) => s.trueSum[c]))
  }
  if (name === 'balanced_accuracy') {
    return (s) => {
      const withTruth = s.present.filter((c) => s.trueSum[c] > 0)
      return sumOver(withTruth, (c) => s.tp[c] / s.trueSum[c]) / withTruth.length
    }
  }
  if (name === 'mcc') {
    return (s) =>
      s.present.length === 0
        ? NaN
        : mccFromMarginals(
            s.trueSum,
            s.predSum,
            sumOver(s.present, (c) => s.tp[c]),
          )
  }
  const match = /^(precision|recall|f1)_(macro|micro|weighted)$/.exec(name)
  if (match) return (s) => averaged(s, match[1] as Score, match[2])
  return undefined
}

function multiclassKernel(name: string, rows: ScoredRows, model: ModelRows): MetricKernel {
  const d = multiclassData(rows, model)
  const fromCounts = multiclassFromCounts(name)
  if (fromCounts) {
    const predicted = d.predicted
    if (!predicted) throw new Error(`${name} needs the model's labels or probabilities`)
    return withLeaveOneOut(
      (w) => fromCounts(classCounts(d, predicted, w)),
      () => {
        // Leaving a row out takes one from its (true, predicted) cell: at most k² distinct values.
        const full = classCounts(d, predicted, null)
        const byCell = new Map<number, number>()
        return Float64Array.from({ length: d.n }, (_, i) => {
          const t = d.truth[i]
          const p = predicted[i]
          let value = byCell.get(t * d.k + p)
          if (value === undefined) {
            value = fromCounts(withoutRow(full, t, p))
            byCell.set(t * d.k + p, value)
          }
          return value
        })
      },
    )
  }
  const proba = d.proba
  if (!proba) throw new Error(`${name} needs the model's probabilities`)
  const { n, k, truth } = d
  if (name === 'log_loss') return meanOfTerms(rowTerms(n, (i) => -Math.log(clipProbability(proba[i * k + truth[i]]))))
  if (name === 'roc_auc_ovr') {
    for (let i = 0; i < n; i++) {
      let rowSum = 0
      for (let j = 0; j < k; j++) rowSum += proba[i * k + j]
      if (!(Math.abs(rowSum - 1) <= 1e-8 + 1e-5)) {
        throw new Error(`proba row ${i} sums to ${rowSum}: roc_auc_ovr needs probabilities that sum to 1 over classes`)
      }
    }
    const columns = Array.from({ length: k }, (_, j) => {
      const column = new Float64Array(n)
      const isClass = new Uint8Array(n)
      for (let i = 0; i < n; i++) {
        column[i] = proba[i * k + j]
        isClass[i] = truth[i] === j ? 1 : 0
      }
      return rankedTruth(isClass, column)
    })
    return withLeaveOneOut(
      (weights) => {
        const w = weightArray(weights, n)
        let sum = 0
        for (const ranked of columns) sum += weightedAuc(ranked, w)
        return sum / k
      },
      () => {
        const out = new Float64Array(n)
        for (const ranked of columns) {
          const column = aucLeaveOneOut(ranked)
          for (let i = 0; i < n; i++) out[i] += column[i]
        }
        for (let i = 0; i < n; i++) out[i] /= k
        return out
      },
    )
  }
  throw new Error(`no weighted ${name} for a multiclass task`)
}

// ------------------------------------------------------------------------------------------ regression

function regressionKernel(name: string, rows: ScoredRows, model: ModelRows): MetricKernel {
  const n = rows.n
  const y = rows.yValue
  const yHat = model.values
  if (!y) throw new Error('regression rows need yValue')
  if (!yHat) throw new Error(`${name} needs the model's predicted values`)
  checkLength('yValue', y, n)
  checkLength('values', yHat, n)
  assertFinite('yValue', y)
  assertFinite('values', yHat)
  switch (name) {
    case 'mae':
      return meanOfTerms(rowTerms(n, (i) => Math.abs(y[i] - yHat[i])))
    case 'mse':
      return meanOfTerms(rowTerms(n, (i) => (y[i] - yHat[i]) * (y[i] - yHat[i])))
    case 'rmse':
      return meanOfTerms(
        rowTerms(n, (i) => (y[i] - yHat[i]) * (y[i] - yHat[i])),
        Math.sqrt,
      )
    case 'mape':
      return meanOfTerms(rowTerms(n, (i) => Math.abs(y[i] - yHat[i]) / Math.max(Math.abs(y[i]), Number.EPSILON)))
    case 'max_error': {
      const errors = rowTerms(n, (i) => Math.abs(y[i] - yHat[i]))
      return withLeaveOneOut(
        (weights) => {
          const w = weightArray(weights, n)
          let largest = -1
          for (let i = 0; i < n; i++) if (w[i] !== 0) largest = max(largest, errors[i])
          return largest < 0 ? NaN : largest
        },
        () => {
          // The largest error of the others: the largest, or the runner-up for the row that holds it.
          let first = 0
          let second = -1
          for (let i = 1; i < n; i++) {
            if (errors[i] > errors[first]) {
              second = first
              first = i
            } else if (second < 0 || errors[i] > errors[second]) second = i
          }
          return Float64Array.from(errors, (_, i) => (n === 1 ? NaN : i === first ? errors[second] : errors[first]))
        },
      )
    }
    case 'r2':
      return withLeaveOneOut(
        (w) => weightedR2(y, yHat, weightArray(w, n)),
        () => r2LeaveOneOut(y, yHat),
      )
  }
  throw new Error(`no weighted ${name} for a regression task`)
}

/**
 * 1 − Σw(y − ŷ)² / Σw(y − ȳ)² with scikit-learn's `force_finite` rule for a constant target (1 if the
 * prediction is perfect, else 0) and NaN below two (weighted) rows. A constant target is detected exactly
 * (all weighted y equal) rather than from a rounded Σ(y − ȳ)², which could be a tiny non-zero.
 */
function weightedR2(y: Float64Array, yHat: Float64Array, w: Int32Array | Float64Array): number {
  const sum = new Sum()
  let total = 0
  let first = NaN
  let constant = true
  for (let i = 0; i < y.length; i++) {
    const wi = w[i]
    if (wi === 0) continue
    sum.add(wi * y[i])
    total += wi
    if (Number.isNaN(first)) first = y[i]
    else if (y[i] !== first) constant = false
  }
  if (!(total >= 2)) return NaN
  const mean = sum.value / total
  const residual = new Sum()
  const spread = new Sum()
  for (let i = 0; i < y.length; i++) {
    const wi = w[i]
    if (wi === 0) continue
    residual.add(wi * (y[i] - yHat[i]) ** 2)
    spread.add(wi * (y[i] - mean) ** 2)
  }
  if (constant || spread.value === 0) return residual.value === 0 ? 1 : 0
  return 1 - residual.value / spread.value
}

/**
 * r2 with each row left out: the residual sum loses the row's squared error, the total sum of squares
 * about the mean loses (y − ȳ)²·n/(n − 1) (the mean moves too); a left-out set with constant y follows
 * scikit-learn's rule as `weightedR2` does.
 */
function r2LeaveOneOut(y: Float64Array, yHat: Float64Array): Float64Array {
  const n = y.length
  const sum = new Sum()
  for (let i = 0; i < n; i++) sum.add(y[i])
  const mean = sum.value / n
  const residual = new Sum()
  const spread = new Sum()
  const values = new Map<number, number>()
  for (let i = 0; i < n; i++) {
    residual.add((y[i] - yHat[i]) ** 2)
    spread.add((y[i] - mean) ** 2)
    values.set(y[i], (values.get(y[i]) ?? 0) + 1)
  }
  return Float64Array.from({ length: n }, (_, i) => {
    if (n - 1 < 2) return NaN
    const res = residual.value - (y[i] - yHat[i]) ** 2
    // Constant once row i is out: y takes two values, one of them only at row i, or one value.
    const constant = values.size === 1 || (values.size === 2 && values.get(y[i]) === 1)
    const tot = spread.value - ((y[i] - mean) ** 2 * n) / (n - 1)
    if (constant || tot <= 0) return res === 0 ? 1 : 0
    return 1 - res / tot
  })
}
