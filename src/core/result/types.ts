import type { IntegrityResult } from '../drift/integrity.js'
import type { ModelInfo } from '../runners/types.js'
import type { Interval } from '../stats/types.js'
import type { RobustnessResult } from '../robustness/types.js'

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
  kind: 'threshold' | 'change' | 'parity' | 'contract' | 'consistency' | 'comparison' | 'slice' | 'fairness' | 'robustness'
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
  /** Wall time spent computing what the check judges (its metric, test or statistics), when measured. */
  seconds?: number
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
  /**
   * Probabilities outside [0, 1] by float32 rounding (within `tolerance` = 16·C·2⁻²³), clipped before the
   * metrics, and rows whose probabilities do not sum to 1 within it; present when there were any.
   */
  probabilityAdjustment?: {
    output: string
    tolerance: number
    clippedValues: number
    clippedRows: number
    maxExcess: number
    offSumRows: number
    maxSumError: number
  }
  /** A classifier with both outputs: scored rows whose label output is not the argmax of its probabilities. */
  outputConsistency?: { labelOutput: string; probabilityOutput: string; rows: number; disagreements: number; examples: number[] }
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
  /** This data set against drift.reference (core/drift). */
  drift?: DriftResult
  /** Missing values, constant and duplicated columns, duplicated rows, leakage from the reference (core/drift/integrity.ts). */
  integrity?: IntegrityResult
}

/** One column's drift: the test, its statistic and p-value (Benjamini–Hochberg adjusted), and the histograms compared. */
export interface ColumnDrift {
  column: string
  kind: 'numeric' | 'categorical'
  test: 'ks' | 'chisquare' | 'z' | 'wasserstein' | 'jensenshannon' | 'psi'
  statistic: number
  pValue?: number
  adjustedPValue?: number
  threshold: number
  drifted: boolean
  /** The population stability index, for every column whatever its test. */
  psi: number
  /** Numeric: bin edges and each side's share per bin; categorical: the most frequent categories (the rest as "other"). */
  histogram: { edges?: number[]; categories?: string[]; reference: number[]; current: number[] }
  /** Categories of the data the reference never had. */
  unseen?: { categories: number; rows: number; examples: string[] }
  referenceRows: number
  currentRows: number
}

export interface DriftResult {
  reference: { path: string; digest: string; rows: number; sampled?: number }
  rows: number
  /** The data set's rows the statistics used, when a sample. */
  sampled?: number
  /** Worst first. */
  columns: ColumnDrift[]
  drifted: number
  share: number
  /** The share of drifted columns at which the data set has drifted. */
  threshold: number
  datasetDrift: boolean
  prediction?: ColumnDrift
  /** The candidate's outputs on the data vs the baseline model's on the same rows. */
  predictionVsBaseline?: ColumnDrift
  label?: ColumnDrift
}

/** The model as the report names it: what its runner describes, plus the manifest's name. */
/** pass / fail against a margin, or inconclusive when the interval straddles it. */
export type Verdict = 'pass' | 'fail' | 'inconclusive'

/** Champion (baseline) vs challenger (candidate) on one metric, on the same rows. */
export interface Comparison {
  dataset: string
  metric: string
  /** Rows both models scored. */
  n: number
  candidate: number
  baseline: number
  /** candidate − baseline, in the metric's own units (for a lower-is-better metric a negative delta is an improvement). */
  delta: number
  /** Confidence interval of the delta. */
  interval: Interval
  /** Of the specific test when one fits (McNemar for accuracy/error rate, DeLong for ROC AUC), else null. */
  pValue: number | null
  /** How the interval and p-value were made, in words: "paired bootstrap (BCa, 1000 resamples, seed 1); McNemar exact". */
  method: string
  test?: {
    name: 'mcnemar-exact' | 'mcnemar-chi2' | 'delong'
    statistic?: number
    /** McNemar: rows only the candidate got right, rows only the baseline got right. */
    discordant?: { candidateOnly: number; baselineOnly: number }
  }
  /** The margin the verdict is against, in "better" units (positive = the candidate must be better by it). */
  margin?: { kind: 'superiority' | 'non-inferiority'; delta: number }
  verdict?: Verdict
  /** One line a reviewer understands: "the new model is better on roc_auc: +0.012, 95% CI [+0.004, +0.020]". */
  message: string
}

/** One slice of a data set: defined in the manifest or discovered as weak. */
export interface SliceResult {
  dataset: string
  name: string
  /** The rule in words: `mean_area >= 1000`, `sex == "F"`, `age in [18, 30)`. */
  definition: string
  source: 'manifest' | 'discovered'
  rows: number
  /** Large enough to be gated (rows >= min-size). */
  gated: boolean
  metrics: Record<string, number>
  intervals: Record<string, Interval>
  baseline?: Record<string, number>
}

export interface FairnessGroup {
  value: number | string
  rows: number
  /** Below min-group-size: reported, not used in the gated differences and ratios. */
  gated: boolean
  selection_rate: number
  true_positive_rate: number
  false_positive_rate: number
}

export interface FairnessResult {
  dataset: string
  sensitive: string
  groups: FairnessGroup[]
  /** demographic_parity_difference/_ratio, equalized_odds_difference/_ratio (fairlearn's definitions). */
  metrics: Record<string, number>
  intervals: Record<string, Interval>
  baseline?: Record<string, number>
}

export interface CalibrationResult {
  dataset: string
  /** Reliability table: one row per equal-width bin of p(positive). */
  bins: { low: number; high: number; rows: number; mean_predicted: number; fraction_positive: number }[]
  ece: number
  mce: number
  brier: number
  intervals: { ece: Interval; mce: Interval; brier: Interval }
}

export interface ModelSummary extends ModelInfo {
  name: string
}

export interface RunContext {
  tool: string
  version: string
  startedAt: string
  durationSeconds: number
  /** The manifest the run read, relative to the workspace; JUnit test cases point at it. */
  manifest?: string
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
  /** The feature columns, in the model's input order, as the run fed them (given or inferred). */
  features?: string[]
  data: DatasetResult[]
  baseline?: {
    source: string
    kind: 'model' | 'report'
    metrics: Record<string, number>
    digest?: string
  }
  /** The registered version compared with, when the baseline was named by stage or version (no version: none holds the stage yet). */
  registryBaseline?: BaselineOrigin
  /** Facts the reader should know: change checks skipped for want of a baseline, outputs used, etc. */
  /** Champion/challenger comparisons, when there is a baseline model or predictions on the same rows. */
  comparisons?: Comparison[]
  slices?: SliceResult[]
  fairness?: FairnessResult[]
  calibration?: CalibrationResult[]
  /** test-robustness: perturbation, invariance and stress tests. */
  robustness?: RobustnessResult
  notes: string[]
  /** What the reader must not miss although no check failed (e.g. features taken in the data file's order). */
  warnings?: string[]
  context: RunContext
  /** Set when status is `error`. */
  error?: { message: string; file?: string; field?: string }
}

/** The registered version a run compared with, or the stage nobody holds yet. */
export interface BaselineOrigin {
  name: string
  registry: string
  /** How it was named: `production`, `stage:prod`, `version:1.2.0`. */
  ref: string
  stage?: string
  /** Undefined when no version holds the stage yet. */
  version?: string
  digest?: string
}
