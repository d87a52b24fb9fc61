import type { Column } from '../data/types.js'
import type { CheckStatus, Comparator } from '../result/types.js'
import type { Interval } from '../stats/types.js'

/*
 * test-robustness (issue 4): the shared vocabulary of perturbations, profiles and test results.
 * Perturbations respect each feature's domain, learned from the data (and overridden by the manifest).
 */

/** What the data says about one feature (and what the manifest declares over it). */
export interface FeatureProfile {
  name: string
  kind: 'numeric' | 'categorical' | 'text'
  /** Numeric: every observed value is an integer, so perturbed values stay integers. */
  integer: boolean
  /** Numeric: observed (or declared) bounds; perturbed values are clipped into them. */
  min?: number
  max?: number
  mean?: number
  std?: number
  /** Missing values were observed (or are declared allowed): missing-value injection may touch it. */
  missingAllowed: boolean
  /** Categorical: observed values, most frequent first (at most 100). */
  vocabulary?: (string | number)[]
  /** Never perturbed (e.g. age in some settings). */
  immutable: boolean
  /** Members of a declared tensor group (e.g. the 64 pixels of an 8×8 image), for brightness/contrast. */
  group?: string
}

/** Every perturbation kind, in the order reports list them. */
export const PERTURBATION_KINDS = [
  'gaussian_noise',
  'shift',
  'drift',
  'quantize',
  'missing',
  'category_swap',
  'unseen_category',
  'typo',
  'case',
  'punctuation',
  'whitespace',
  'accents',
  'tensor_noise',
  'brightness',
  'contrast',
] as const

export type PerturbationKind = (typeof PERTURBATION_KINDS)[number]

/** One perturbation at one severity, on some features. */
export interface PerturbationSpec {
  kind: PerturbationKind
  /** The severity parameter: noise σ in units of the feature's sd, shift fraction (±), missing rate, typo rate, … */
  severity: number
  /** Features it applies to (immutable ones are never touched whatever this says). */
  features: string[]
  /** For grouped (tensor) perturbations: the group name. */
  group?: string
}

/** A seeded source of uniform numbers in [0, 1) (src/core/stats/random.ts createRng). */
export type Rng = () => number

/**
 * Perturbs a batch of rows: `columns[j][i]` is feature `features[j].name` of row i (the model's order).
 * Returns new columns (never mutates its input). Deterministic for a given rng state.
 */
/** `target(j)`, when given, is where a typed numeric feature j's perturbed values go (see CopyTarget in tests/common.ts). */
export type PerturbFn = <C extends Column>(
  columns: C[],
  features: FeatureProfile[],
  spec: PerturbationSpec,
  rng: Rng,
  target?: (j: number) => Float64Array,
) => C[]

export type RobustnessTestKind =
  'invariance' | 'degradation' | 'directional' | 'sensitivity' | 'stress' | 'determinism' | 'batch-consistency'

/** One robustness test's outcome, as the result JSON carries it. */
export interface RobustnessTest {
  /** Stable id: `invariance/gaussian_noise/0.1`, `directional/mean_radius/increasing`, `stress/nan`, … */
  id: string
  kind: RobustnessTestKind
  perturbation?: PerturbationKind
  parameters: Record<string, number | string | string[]>
  /** Rows the test ran on. */
  rows: number
  /** Share of rows whose predicted label changed (regression: output moved more than the tolerance). */
  flipRate?: number
  /** Wilson score interval of the flip rate. */
  flipInterval?: Interval
  /** The metric under the perturbation against the clean one. */
  metric?: { name: string; clean: number; perturbed: number; absolute: number; relative: number }
  /** Directional and stress tests: rows that broke the expectation; each example names the row and what happened. */
  violations?: number
  examples?: { row: number; message: string }[]
  status: CheckStatus
  /** `major` when a flip rate reaches the major threshold (default 10%). */
  level?: 'major' | 'minor'
  message: string
  /** Wall time of the stage that ran the test (invariance cases share their model calls), shared among its tests. */
  seconds?: number
  /** Invariance tests run against a baseline model: its flips on the same rows and perturbed inputs, and the paired difference. */
  baseline?: BaselineFlips
  /** Flip-rate gates: the perturbation that came closest to the bound (or went furthest past it), and that bound. */
  gate?: GateFigures
}

/** An interval of a difference of paired proportions (see paired.ts). */
export interface DifferenceInterval {
  low: number
  high: number
  confidence: number
  method: 'newcombe-paired'
}

/**
 * The baseline model on the same test: both models scored the same rows with the same perturbed inputs, so
 * each row either flipped or not under each model, and the difference of the flip rates is a paired one.
 */
export interface BaselineFlips {
  flipRate: number
  /** Wilson score interval of the baseline's flip rate. */
  flipInterval: Interval
  /** Candidate − baseline flip rate (a proportion; × 100 for points). */
  difference: number
  /** Newcombe's hybrid score interval of the paired difference. */
  differenceInterval: DifferenceInterval
  /** Rows by outcome: flipped under both models, under the candidate only, the baseline only, neither. */
  rows: { both: number; candidateOnly: number; baselineOnly: number; neither: number }
  /** `less`: the interval lies above 0 (the candidate flips more); `more`: below 0; `similar`: it spans 0. */
  robustness: 'less' | 'more' | 'similar'
}

export interface GateFigures {
  /** The invariance test, e.g. `invariance/shift/0.1`. */
  test: string
  op: Comparator
  /** Its flip rate, and the bound it was held to. */
  value: number
  bound: number
  /** The baseline model's flip rate on that test, for a gate relative to it. */
  baseline?: number
}

/** The baseline model the invariance tests were compared with. */
export interface RobustnessBaseline {
  /** How the words call it: `production`, `stage staging`, `version 1.2.0`, `the baseline`. */
  against: string
  /** What it is: `breast-cancer 1.0.0` for a registered version, else the model as given (relative to the workspace). */
  source: string
  runner: 'onnx' | 'command' | 'http'
  digest?: string
  /** Its metrics on the clean sample. */
  clean: Record<string, number>
  /** Its model calls and rows scored (the candidate's are in `cost`). */
  modelCalls: number
  rowsScored: number
}

/** Per numeric feature: the smallest change that flipped each row's label (a bounded search). */
export interface SensitivityRow {
  feature: string
  rowsSearched: number
  rowsFlipped: number
  /** Median of the smallest flipping |change| over the flipped rows, in the feature's units and in its sd. */
  medianChange: number | null
  medianChangeInSd: number | null
  queries: number
}

export interface RobustnessResult {
  seed: number
  /** Rows used (after the row budget's seeded sample) of the rows available. */
  rows: number
  rowsAvailable: number
  profiles: FeatureProfile[]
  clean: Record<string, number>
  tests: RobustnessTest[]
  sensitivity?: SensitivityRow[]
  /** Set when a baseline model ran on the same sample and perturbations (invariance tests carry the comparison). */
  baseline?: RobustnessBaseline
  /** Model calls and rows scored, to show that K perturbations cost about K clean passes. */
  cost: { modelCalls: number; rowsScored: number; cleanPassRows: number; seconds: number; budgetExhausted: boolean }
}
