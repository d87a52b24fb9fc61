import type { FloatArray } from '../metrics/index.js'
import type { Cell } from '../data/types.js'
import type { Task } from '../result/types.js'

/**
 * Every scored row of one data set, in the compact form the statistics work on: class indices and
 * typed arrays, both models on the same rows. Built once by the pipeline; bootstrap resamples, slices
 * and fairness groups are all expressed as per-row weights over it (a subset is 0/1 weights).
 */
export interface ScoredRows {
  n: number
  task: Task
  /** Class labels (classification); `yTrue`/`predIndex` index into this. */
  classes?: (number | string)[]
  /** Binary: index of the positive class in `classes`. */
  positiveIndex?: number
  /** Binary: p(positive) >= threshold is predicted positive when labels come from probabilities. */
  threshold?: number
  /** Binary: equal-width bins for ECE/MCE. */
  eceBins?: number
  /** Classification: true class index per row. */
  yTrue?: Int32Array
  /** Regression: true value per row. */
  yValue?: Float64Array
  candidate: ModelRows
  baseline?: ModelRows
  /** Columns kept for slices and fairness (not the features in general), as read. */
  columns: Record<string, Cell[]>
}

/** One model's predictions on those rows. */
export interface ModelRows {
  /** Classification: predicted class index per row (the model's labels, or thresholded/argmax probabilities). */
  predIndex?: Int32Array
  /** Classification: row-major n × classes.length (float32 as an ONNX model gives them: widened exactly on read). */
  proba?: FloatArray
  /** Binary: p(positive) per row (a view into proba), when probabilities exist. */
  score?: Float64Array
  /** Regression: predicted value per row. */
  values?: Float64Array
}

export type Side = 'candidate' | 'baseline'

/**
 * Per-row multiplicities: `null` is every row once; a bootstrap resample has counts 0..n; a subset has 0/1.
 * Weighted metrics must equal the unweighted metric on the rows repeated that many times.
 */
export type Weights = Int32Array | Float64Array | null
