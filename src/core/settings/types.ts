/*
 * What a run is given, resolved once: the types every face and stage reads. Resolution lives beside
 * them, one file a part (model, data, gates, baseline, registry, deploy); index.ts is the way in.
 */
import type { RunnerKind } from '../runners/types.js'
import type { BaselineOrigin, Task } from '../result/types.js'
import type { BootstrapOptions } from '../stats/types.js'
import type { GateSpec } from '../gates/expression.js'
import type { SlicesConfig } from '../slices/schema.js'
import type { FairnessConfig } from '../fairness/schema.js'
import type { RobustnessConfig } from '../robustness/schema.js'
import type { Confinement, WorkspacePolicy } from '../workspace.js'
import type { VersionRef } from '../registry/resolve.js'
import type { RegistryLocation } from '../registry/location.js'
import type { ShardSpec } from '../shard/spec.js'
import type { DriftConfig } from '../drift/schema.js'

/** The environment a run resolves `${VAR}` references against: passed in by each face, never read here. */
export type Environment = Readonly<Record<string, string | undefined>>

/**
 * Everything one validate run needs, resolved once: manifest fields with inputs/flags laid over them,
 * paths made absolute. Adapters build `Overrides` from action inputs or CLI flags; nothing after this
 * reads the environment or the manifest again.
 */
export interface Overrides {
  config?: string
  model?: string
  runner?: RunnerKind
  data?: string
  label?: string
  features?: string[]
  task?: Task
  thresholds?: string[]
  baseline?: string
  /** The registry a `stage:`/`version:`/`production` baseline is fetched from, over the manifest's `registry.uri`. */
  registry?: string
  /** Its token (else $MODELGATE_REGISTRY_TOKEN in the CLI; the job token for ghcr.io). */
  registryToken?: string
  githubToken?: string
  referencePredictions?: string
  failOn?: FailOn
  batchSize?: number
  /** drift.reference over the manifest's (with drift's defaults when the manifest has no drift: key). */
  driftReference?: string
  /** `i/n`: score only shard i of n of each data set's rows, and write its state for the merge (core/shard). */
  shard?: string
  /** HTTP headers for an http model (e.g. Authorization), laid over the manifest's. */
  headers?: Record<string, string>
  /** Read no manifest even if modelgate.yml exists (modelgate init). */
  ignoreManifest?: boolean
  /** How messages name an option where it was given (`--threshold`, `input thresholds`); default: the input name. */
  origin?: (name: string) => string
  /** Where paths may point (workspace.ts); undefined: anywhere (library callers and unit tests). */
  workspace?: WorkspacePolicy
  /** Where `${VAR}` in the manifest's headers is looked up; undefined: an empty environment. */
  env?: Environment
}

export type FailOn = 'fail' | 'warn' | 'never'

export interface ResolvedModel {
  runner: RunnerKind
  /** Absolute path (onnx, predictions), URL (http) or undefined (command). */
  path?: string
  url?: string
  command?: string[]
  protocol?: 'v2' | 'v1' | 'mlflow'
  headers?: Record<string, string>
  timeoutSeconds: number
  retries: number
  labelOutput?: string
  probabilityOutput?: string
  features: string[]
  /** Directory commands run in: the manifest's. */
  cwd: string
}

export interface ResolvedData {
  name: string
  path: string
  format?: 'csv' | 'jsonl' | 'parquet'
  contract?: string
}

export interface Settings {
  /** Where relative inputs were resolved (the workspace); paths in reports and messages are shown relative to it. */
  workspace: string
  /** Where the run's paths, outputs included, must resolve; undefined: anywhere. */
  confinement?: Confinement
  /** The manifest file, when one was read, as messages name it (relative to the workspace when inside it). */
  manifestPath?: string
  name: string
  task?: Task
  model: ResolvedModel
  /** Empty when neither the manifest nor a flag lists them: inferred from the model and the data (evaluation/features.ts). */
  features: string[]
  label: string
  /** A column identifying rows (manifest `id:`): kept out of inferred features and written with the predictions. */
  idColumn?: string
  /** Severity of the check that a classifier's label output is the argmax of its probabilities; `off` skips it. */
  outputConsistency: 'warn' | 'fail' | 'off'
  /** Where the gates came from, as messages name it: `modelgate.yml: thresholds`, `--threshold`, `input thresholds`. */
  thresholdsFrom: string
  classes?: (number | string)[]
  positiveClass?: number | string
  decisionThreshold: number
  data: ResolvedData[]
  gates: GateSpec[]
  baseline?: { kind: 'model'; model: ResolvedModel; source: string } | { kind: 'report'; path: string }
  /** A baseline named by its place in the registry; resolved into `baseline` before the run (registry/baseline.ts). */
  registryBaseline?: RegistryBaselineSpec
  /** Where a registry baseline came from, once resolved: for the report, the summary and the notes. */
  baselineFrom?: BaselineOrigin
  /** The registered version's own validate report (fetched with it), for the reproducibility check. */
  baselineEvidence?: string
  /** What the reader must know of how the registered baseline is used (a report in place of a model). */
  baselineNote?: string
  referencePredictions?: { path: string; tolerance: number; maxMismatches: number }
  failOn: FailOn
  batchSize: number
  eceBins: number
  comparison: ComparisonSettings
  slices?: SlicesConfig
  fairness?: FairnessConfig
  calibration: boolean
  /** test-robustness's configuration (the manifest's `robustness:` key); undefined: all defaults. */
  robustness?: RobustnessConfig
  /** The manifest's drift: key, its reference resolved (core/drift). */
  drift?: DriftConfig & { referencePath: string }
  /** The manifest's integrity: key (core/drift/integrity.ts). */
  integrity?: { nearConstant: number; leakage: boolean }
  /** This job's part of the rows in a sharded run (shard/spec.ts); undefined: all of them. */
  shard?: ShardSpec
}

export interface RegistryBaselineSpec {
  ref: VersionRef
  registry: RegistryLocation
  /** The registered model's name: registry.name, else the manifest's name. */
  name: string
  promotion: string[]
  token?: string
  githubToken?: string
  /** Where it was given, for messages. */
  where: { file?: string; field: string }
}

/** Where a registry baseline came from: the result's own type, which the run copies into the report. */
export type { BaselineOrigin }

export interface ComparisonSettings {
  /** Undefined: the task's headline metrics, report-only. */
  metrics?: { metric: string; superiority?: number; nonInferiority?: number }[]
  bootstrap: BootstrapOptions
  inconclusive: 'warn' | 'fail' | 'pass'
}
