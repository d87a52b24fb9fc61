/*
 * The shapes data takes between validate-model's stages (run.ts lists them), kept in one module so that
 * a stage depends only on these and on the stages before it, never on one after it.
 */
import type { Cell } from '../data/types.js'
import type { ModelPredictions } from '../evaluation/build.js'
import type { GateInput } from '../gates/evaluate.js'
import type { BaselineReport } from '../result/load.js'
import type {
  CalibrationResult,
  CheckResult,
  Comparison,
  DatasetResult,
  DriftResult,
  FairnessResult,
  SliceResult,
  Task,
} from '../result/types.js'
import type { ModelInfo, ModelRunner } from '../runners/types.js'
import type { ResolvedData, Settings } from '../settings/index.js'
import type { PredictionAccumulator } from './accumulate.js'
import type { ParityCounter } from './parity.js'
import type { DriftCollectors, DriftReference } from './drift.js'
import type { IntegrityResult } from '../drift/integrity.js'
import type { PredictionsFile } from './predictions-file.js'

/** What a run has opened; run.ts closes the runners and drops uncommitted predictions files however the run ends. */
export interface Opened {
  runners: ModelRunner[]
  sinks: PredictionsFile[]
}

/** A model as the stages after scoring know it: described, not necessarily open (a merge opens none). */
export interface DescribedModel {
  info: ModelInfo
}

export interface OpenedModel extends DescribedModel {
  runner: ModelRunner
}

/** plan → score: the completed settings and the models, opened (described only, in a merge of shards). */
export interface ValidationPlan<M extends DescribedModel = OpenedModel> {
  /** The settings as given: the result says when the features were inferred, i.e. differ from these. */
  given: Settings
  /** Completed: registry baseline resolved, features inferred. */
  settings: Settings
  /** Why inferred features may be wrong (their order came from the data file). */
  featureWarning?: string
  candidate: M
  /** A baseline model, scored on the same rows as the candidate. */
  baseline?: M
  /** A previous report, whose metrics stand in for a baseline model's. */
  baselineReport?: BaselineReport
}

/** One model's answers on one data set, as they accumulated. */
export interface Scored {
  acc: PredictionAccumulator
  latenciesMs: number[]
}

export interface DatasetRun {
  data: ResolvedData
  digest: string
  /** Data rows in the file. */
  rows: number
  /** Of them, the rows scored: all, but in a shard (core/shard). */
  scored: number
  seconds: number
  candidate: Scored
  baseline?: Scored
  contract?: DatasetResult['contract']
  parity?: ParityCounter
  kept: Record<string, Cell[]>
  /** Wall time of the streaming checks, summed over batches. */
  checkSeconds: { contract: number; parity: number }
  /** Features with no value (missing or NaN) in any row of the data set. */
  emptyFeatures: string[]
  /** What drift and integrity collected of the data set's rows (validate/drift.ts). */
  collectors?: DriftCollectors
}

/** score → accumulate: every data set scored, and the task the outputs decided. */
export interface Scoring {
  /** In the manifest's order of data sets. */
  runs: DatasetRun[]
  task: Task
  /** drift.reference, profiled once for every data set. */
  reference?: DriftReference
}

/** One model's metrics on one data set, and what they were computed from. */
export interface MetricsOut {
  notes: string[]
  metrics: Record<string, number>
  sources: Record<string, string>
  unavailable: Record<string, string>
  confusionMatrix?: DatasetResult['confusionMatrix']
  perClass?: DatasetResult['perClass']
  /** What the metrics were computed from, matched to the classes: the statistics reuse it. */
  classes?: (number | string)[]
  yTrue: (number | string)[]
  predictions: ModelPredictions
}

/** accumulate → analyse: one data set's metrics, as the gates read them. */
export interface DatasetMetrics {
  run: DatasetRun
  candidate: MetricsOut
  /** A baseline model's, on the same rows. */
  baseline?: MetricsOut
  /** The candidate's metrics with the performance ones. */
  metrics: Record<string, number>
  performance: DatasetResult['performance']
  gate: GateInput
  /** Wall time of the candidate's metrics, which the gates on them report. */
  gateSeconds: number
  notes: string[]
  drift?: DriftResult
  integrity?: IntegrityResult
}

/** What the statistics (analysis.ts) add to one data set's result. */
export interface Analysis {
  comparisons: Comparison[]
  slices: SliceResult[]
  fairness: FairnessResult[]
  calibration?: CalibrationResult
  checks: CheckResult[]
  notes: string[]
}

/** analyse → checks: the statistics on top, when the manifest asks for any. */
export interface AnalysedDataset extends DatasetMetrics {
  analysis?: Analysis
}

/** checks → result: the data sets' entries, and every check in the order the report lists them. */
export interface Checked {
  data: DatasetResult[]
  /** The statistics of the data sets that had any, in order. */
  analyses: Analysis[]
  checks: CheckResult[]
  notes: string[]
  warnings: string[]
  /** The first data set's baseline metrics: the result's baseline section. */
  primaryBaseline?: Record<string, number>
}
