/**
 * A model's outputs on `ScoredRows` as the kernels read them: validated once when a kernel is made (class
 * indices in range, probabilities in [0, 1], lengths), then the positive indicator, score column and
 * predicted classes extracted. Shared by the binary and multiclass kernels and by the paired tests
 * (McNemar's correctness, DeLong's scores), so that every statistic sees the same predictions.
 */
import type { ModelRows, ScoredRows, Side } from '../../evaluation/types.js'
import type { FloatArray } from '../../metrics/index.js'
import { atThreshold } from '../../metrics/binary.js'
import { argmaxColumns } from '../../metrics/multiclass.js'
import { assertProbabilities, assertProbabilityMatrix } from '../../metrics/validate.js'

export function checkLength(name: string, values: ArrayLike<unknown> | undefined, n: number): void {
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

/** The true and predicted class of each row: 0/1 indicators (binary) or class indices (multiclass). */
interface ClassData<Classes extends Uint8Array | Int32Array> {
  n: number
  truth: Classes
  predicted?: Classes
}

/** The predicted classes a label metric `name` is computed from; the model gave neither labels nor probabilities when absent. */
export function predictedClasses<Classes extends Uint8Array | Int32Array>(d: ClassData<Classes>, name: string): Classes {
  if (!d.predicted) throw new Error(`${name} needs the model's labels or probabilities`)
  return d.predicted
}

/** Binary: truth and predicted are 1 for the positive class. */
export interface BinaryData extends ClassData<Uint8Array> {
  score?: Float64Array
}

/**
 * Each model's data, made once per (rows, model): a comparison makes a kernel per metric and side, the
 * paired tests and the fused kernel read the same columns, and each making is several passes over the
 * rows (twelve at 1M rows took about 0.4 s of a comparison). Nothing here writes into what it returns.
 */
const made = new WeakMap<ModelRows, { rows: ScoredRows; task: string; data: BinaryData | MulticlassData }>()

function once<D extends BinaryData | MulticlassData>(rows: ScoredRows, model: ModelRows, task: string, make: () => D): D {
  const hit = made.get(model)
  if (hit?.rows === rows && hit.task === task) return hit.data as D
  const data = make()
  made.set(model, { rows, task, data })
  return data
}

export function binaryData(rows: ScoredRows, model: ModelRows): BinaryData {
  return once(rows, model, 'binary', () => makeBinaryData(rows, model))
}

function makeBinaryData(rows: ScoredRows, model: ModelRows): BinaryData {
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
  else if (score) predicted = atThreshold(score, rows.threshold ?? 0.5)
  return { n, truth, predicted, score }
}

const positiveColumns = new WeakMap<FloatArray, Float64Array[]>()

/** p(positive) from a binary proba matrix, made once per (matrix, positive column) so its ranking is cached once too. */
function positiveColumn(proba: FloatArray, n: number, positive: number): Float64Array {
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

export interface MulticlassData extends ClassData<Int32Array> {
  k: number
  proba?: FloatArray
}

export function multiclassData(rows: ScoredRows, model: ModelRows): MulticlassData {
  return once(rows, model, 'multiclass', () => makeMulticlassData(rows, model))
}

function makeMulticlassData(rows: ScoredRows, model: ModelRows): MulticlassData {
  const n = rows.n
  const k = rows.classes?.length
  if (!k) throw new Error('multiclass rows need classes')
  const truth = classIndices('yTrue', rows.yTrue, n, k)
  const proba = model.proba
  if (proba) assertProbabilityMatrix('proba', proba, n, k)
  // Without labels, the most probable class, first on ties, as `np.argmax` and `predict`.
  const predicted = model.predIndex ? classIndices('predIndex', model.predIndex, n, k) : proba && argmaxColumns(proba, k)
  return { n, k, truth, predicted, proba }
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
