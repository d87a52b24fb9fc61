import type { Column } from '../data/types.js'

export type RunnerKind = 'onnx' | 'command' | 'http' | 'predictions'

export interface TensorInfo {
  name: string
  /** ONNX element type name, e.g. `float`, `int64`, `string`; `unknown` where the backend cannot tell. */
  dtype: string
  /** Dimensions; a string or -1 is a symbolic/unknown dimension. */
  shape: (number | string)[]
  /** `tensor`, `sequence<map>` (ZipMap), … */
  kind?: string
}

export interface ModelInfo {
  /** What to show: file name, URL or command. */
  source: string
  runner: RunnerKind
  /** `sha256:<hex>` of the model file when there is one. */
  digest?: string
  sizeBytes?: number
  inputs: TensorInfo[]
  outputs: TensorInfo[]
  /** Free-form facts worth reporting (opset, producer, ZipMap bypassed, …). */
  notes: string[]
}

/** The rows to score: the feature columns in the model's declared order, plus the row offset. */
export interface FeatureBatch {
  offset: number
  length: number
  /** Feature names in the model's order. */
  features: string[]
  /** One column per feature, same order as `features` (a Float64Array with NaN for missing, or cells: see data/types.ts). */
  columns: Column[]
}

/**
 * What a model said about a batch. A classifier gives `labels` and/or `probabilities`;
 * a regressor gives `values`.
 */
export interface PredictionBatch {
  length: number
  labels?: (number | string)[]
  /** Row-major, `length × classes.length`, columns in the order of `classes`. */
  probabilities?: Float64Array
  /** Class labels of the probability columns. */
  classes?: (number | string)[]
  values?: Float64Array
  /** The model output each part came from, so reports can say which output each metric used. */
  sources: { labels?: string; probabilities?: string; values?: string }
}

/** One interface for every way of running a model. */
export interface ModelRunner {
  readonly kind: RunnerKind
  describe(): Promise<ModelInfo>
  predict(batch: FeatureBatch): Promise<PredictionBatch>
  close(): Promise<void>
}
