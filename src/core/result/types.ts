import type { ModelInfo } from '../runners/types.js'

export const RESULT_SCHEMA_VERSION = '1.0'

/** `error` means the run could not be judged (invalid input, model crashed). */
export type Status = 'pass' | 'warn' | 'fail' | 'error'
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skipped'
export type Severity = 'fail' | 'warn'
export type Task = 'binary' | 'multiclass' | 'regression'
export type Comparator = '>=' | '>' | '<=' | '<' | '=='

export interface CheckResult {
  /** Stable id, e.g. `threshold:accuracy>=0.9`, `change:roc_auc`, `parity:probabilities`, `contract:test`. */
  id: string
  kind: 'threshold' | 'change' | 'parity' | 'contract'
  /** The data set the check judged. */
  dataset?: string
  status: CheckStatus
  severity: Severity
  metric?: string
  /** The measured value (the metric, or the count of mismatching rows). */
  value: number | null
  /** The bound the value was compared with. For a change check: the bound after applying the baseline. */
  threshold?: { op: Comparator; value: number; expression: string }
  baseline?: number | null
  /** One line a reviewer understands. */
  message: string
}

export interface ConfusionMatrix {
  labels: (number | string)[]
  /** matrix[i][j]: rows whose true label is labels[i] and predicted label is labels[j] (scikit-learn's layout). */
  matrix: number[][]
}

export interface PerClassRow {
  label: number | string
  precision: number
  recall: number
  f1: number
  support: number
}

export interface PerformanceStats {
  batches: number
  batchSize: number
  latencyMs: { p50: number; p95: number; p99: number; mean: number; max: number }
  rowsPerSecond: number
  totalSeconds: number
}

export interface DatasetResult {
  name: string
  path: string
  format: string
  digest: string
  rows: number
  /** Rows with a missing label or feature value that could not be scored, when any. */
  skippedRows?: number
  metrics: Record<string, number>
  /** Which model output each metric used (`labels` from `label`, `probabilities` from `probabilities`, …). */
  metricSources: Record<string, string>
  confusionMatrix?: ConfusionMatrix
  perClass?: PerClassRow[]
  performance: PerformanceStats
  contract?: { schema: string; violations: number; rowsChecked: number; examples: { row: number; message: string }[] }
  parity?: {
    reference: string
    rows: number
    labelMismatches: number
    probabilityMismatches: number
    maxAbsDiff: number
    tolerance: number
    examples: { row: number; message: string }[]
  }
}

/** The model as the report names it: what its runner describes, plus the manifest's name. */
export interface ModelSummary extends ModelInfo {
  name: string
}

export interface RunContext {
  tool: string
  version: string
  startedAt: string
  durationSeconds: number
  /** GitHub or other CI facts when known. */
  repository?: string
  sha?: string
  ref?: string
  runId?: string
  runUrl?: string
  pullRequest?: number
}

export interface ValidationResult {
  schemaVersion: string
  status: Status
  task: Task
  /** Metrics of the primary (first) data set: name → number. */
  metrics: Record<string, number>
  checks: CheckResult[]
  model: ModelSummary
  data: DatasetResult[]
  baseline?: {
    source: string
    kind: 'model' | 'report'
    metrics: Record<string, number>
    digest?: string
  }
  /** Facts the reader should know: change checks skipped for want of a baseline, outputs used, etc. */
  notes: string[]
  context: RunContext
  /** Set when status is `error`. */
  error?: { message: string; file?: string; field?: string }
}
