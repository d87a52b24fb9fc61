import type { Cell } from '../data/types.js'
import type { FloatArray } from '../metrics/index.js'
import type { Task } from '../result/types.js'
import type { ModelRows, ScoredRows } from './types.js'

type Label = number | string

export interface ModelPredictions {
  /** The model's own labels, already matched to `classes`. */
  labels?: Label[]
  /** Row-major n × classes.length. */
  proba?: FloatArray
  values?: Float64Array
}

export interface ScoredRowsInput {
  task: Task
  classes?: Label[]
  positiveClass?: Label
  threshold: number
  eceBins: number
  /** Classification: labels matched to `classes`; regression: numbers. */
  yTrue: Label[]
  candidate: ModelPredictions
  baseline?: ModelPredictions
  columns: Record<string, Cell[]>
}

/**
 * The compact, typed form of one data set's scored rows. Predicted classes follow the metrics module's
 * rule: the model's labels when it gives them, else the thresholded positive probability (binary) or the
 * most probable class (multiclass).
 */
export function buildScoredRows(input: ScoredRowsInput): ScoredRows {
  const n = input.yTrue.length
  if (input.task === 'regression') {
    return {
      n,
      task: input.task,
      yValue: Float64Array.from(input.yTrue as number[]),
      candidate: { values: input.candidate.values },
      baseline: input.baseline ? { values: input.baseline.values } : undefined,
      columns: input.columns,
    }
  }
  const classes = input.classes ?? []
  const index = new Map<Label, number>(classes.map((c, i) => [c, i]))
  const positiveIndex = input.task === 'binary' ? index.get(input.positiveClass ?? classes[classes.length - 1]) : undefined
  // A plain loop: Int32Array.from with a mapping function is several times slower on a million rows.
  const toIndex = (labels: Label[]) => {
    const out = new Int32Array(labels.length)
    for (let i = 0; i < labels.length; i++) out[i] = index.get(labels[i]) ?? -1
    return out
  }
  const side = (p: ModelPredictions): ModelRows => {
    const k = classes.length
    let score: Float64Array | undefined
    if (p.proba && positiveIndex !== undefined) {
      score = new Float64Array(n)
      for (let i = 0; i < n; i++) score[i] = p.proba[i * k + positiveIndex]
    }
    let predIndex: Int32Array | undefined
    if (p.labels) predIndex = toIndex(p.labels)
    else if (score && positiveIndex !== undefined) {
      const negative = positiveIndex === 0 ? 1 : 0
      predIndex = new Int32Array(n)
      for (let i = 0; i < n; i++) predIndex[i] = score[i] >= input.threshold ? positiveIndex : negative
    } else if (p.proba) {
      predIndex = new Int32Array(n)
      for (let i = 0; i < n; i++) {
        let best = 0
        for (let c = 1; c < k; c++) if (p.proba[i * k + c] > p.proba[i * k + best]) best = c
        predIndex[i] = best
      }
    }
    return { predIndex, proba: p.proba, score }
  }
  return {
    n,
    task: input.task,
    classes,
    positiveIndex,
    threshold: input.threshold,
    eceBins: input.eceBins,
    yTrue: toIndex(input.yTrue),
    candidate: side(input.candidate),
    baseline: input.baseline ? side(input.baseline) : undefined,
    columns: input.columns,
  }
}
