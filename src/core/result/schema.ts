import { z } from 'zod'
import type { ValidationResult } from './types.js'
import { PERTURBATION_KINDS } from '../robustness/types.js'

/*
 * The published JSON Schema of the result (schemas/result.schema.json) is generated from this zod schema.
 * The compile-time assertions at the bottom keep it and the TypeScript types in ./types.ts identical.
 */
const num = z.number().nullable().describe('null where the value is undefined (e.g. ROC AUC with one class present)')
const label = z.union([z.number(), z.string()])
const comparator = z.enum(['>=', '>', '<=', '<', '=='])
const tensor = z.object({
  name: z.string(),
  dtype: z.string(),
  shape: z.array(z.union([z.number(), z.string()])),
  kind: z.string().optional(),
})
const example = z.object({ row: z.number(), message: z.string() })

export const checkSchema = z.object({
  id: z.string().describe('Stable id: <kind>/<dataset>/<expression>'),
  kind: z.enum(['threshold', 'change', 'parity', 'contract', 'consistency', 'comparison', 'slice', 'fairness', 'robustness']),
  dataset: z.string().optional().describe('The data set the check judged'),
  status: z.enum(['pass', 'warn', 'fail', 'skipped']),
  severity: z.enum(['fail', 'warn']),
  metric: z.string().optional(),
  value: num,
  threshold: z.object({ op: comparator, value: z.number(), expression: z.string() }).optional(),
  baseline: num.optional(),
  message: z.string(),
  seconds: z.number().optional().describe('Wall time spent computing what the check judges, when measured'),
})

const interval = z.object({
  low: z.number(),
  high: z.number(),
  confidence: z.number(),
  method: z.enum(['bca', 'percentile', 'delong', 'wilson', 'exact']),
  resamples: z.number().optional(),
})

export const comparisonSchema = z.object({
  dataset: z.string(),
  metric: z.string(),
  n: z.number(),
  candidate: z.number(),
  baseline: z.number(),
  delta: z.number().describe('candidate − baseline'),
  interval: interval.describe('Confidence interval of the delta'),
  pValue: z.number().nullable(),
  method: z.string(),
  test: z
    .object({
      name: z.enum(['mcnemar-exact', 'mcnemar-chi2', 'delong']),
      statistic: z.number().optional(),
      discordant: z.object({ candidateOnly: z.number(), baselineOnly: z.number() }).optional(),
    })
    .optional(),
  margin: z.object({ kind: z.enum(['superiority', 'non-inferiority']), delta: z.number() }).optional(),
  verdict: z.enum(['pass', 'fail', 'inconclusive']).optional(),
  message: z.string(),
})

const sliceSchema = z.object({
  dataset: z.string(),
  name: z.string(),
  definition: z.string(),
  source: z.enum(['manifest', 'discovered']),
  rows: z.number(),
  gated: z.boolean(),
  metrics: z.record(z.string(), z.number()),
  intervals: z.record(z.string(), interval),
  baseline: z.record(z.string(), z.number()).optional(),
})

const fairnessSchema = z.object({
  dataset: z.string(),
  sensitive: z.string(),
  groups: z.array(
    z.object({
      value: label,
      rows: z.number(),
      gated: z.boolean(),
      selection_rate: z.number(),
      true_positive_rate: z.number(),
      false_positive_rate: z.number(),
    }),
  ),
  metrics: z.record(z.string(), z.number()),
  intervals: z.record(z.string(), interval),
  baseline: z.record(z.string(), z.number()).optional(),
})

const calibrationSchema = z.object({
  dataset: z.string(),
  bins: z.array(
    z.object({ low: z.number(), high: z.number(), rows: z.number(), mean_predicted: z.number(), fraction_positive: z.number() }),
  ),
  ece: z.number(),
  mce: z.number(),
  brier: z.number(),
  intervals: z.object({ ece: interval, mce: interval, brier: interval }),
})

const perturbationKind = z.enum(PERTURBATION_KINDS)

const baselineFlips = z
  .object({
    flipRate: z.number(),
    flipInterval: interval.describe("Wilson score interval of the baseline's flip rate"),
    difference: z.number().describe('Candidate − baseline flip rate (a proportion; × 100 for percentage points)'),
    differenceInterval: z
      .object({ low: z.number(), high: z.number(), confidence: z.number(), method: z.enum(['newcombe-paired']) })
      .describe("Newcombe's hybrid score interval of the paired difference (Newcombe 1998, method 10)"),
    rows: z
      .object({ both: z.number(), candidateOnly: z.number(), baselineOnly: z.number(), neither: z.number() })
      .describe('Rows that flipped under both models, the candidate only, the baseline only, neither'),
    robustness: z
      .enum(['less', 'more', 'similar'])
      .describe('less: the interval lies above 0 (the candidate flips more than the baseline); more: below 0; similar: it spans 0'),
  })
  .describe('The baseline model on the same rows and the same perturbed inputs')

const gateFigures = z
  .object({
    test: z.string(),
    op: comparator,
    value: z.number(),
    bound: z.number(),
    baseline: z.number().optional(),
  })
  .describe(
    'A flip-rate gate: the invariance test closest to its bound (or furthest past it), its flip rate, the bound and the baseline flip rate',
  )

const robustnessSchema = z.object({
  seed: z.number(),
  rows: z.number(),
  rowsAvailable: z.number(),
  profiles: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(['numeric', 'categorical', 'text']),
      integer: z.boolean(),
      min: z.number().optional(),
      max: z.number().optional(),
      mean: z.number().optional(),
      std: z.number().optional(),
      missingAllowed: z.boolean(),
      vocabulary: z.array(label).optional(),
      immutable: z.boolean(),
      group: z.string().optional(),
    }),
  ),
  clean: z.record(z.string(), z.number()),
  tests: z.array(
    z.object({
      id: z.string(),
      kind: z.enum(['invariance', 'degradation', 'directional', 'sensitivity', 'stress', 'determinism', 'batch-consistency']),
      perturbation: perturbationKind.optional(),
      parameters: z.record(z.string(), z.union([z.number(), z.string(), z.array(z.string())])),
      rows: z.number(),
      flipRate: z.number().optional(),
      flipInterval: interval.optional(),
      metric: z
        .object({ name: z.string(), clean: z.number(), perturbed: z.number(), absolute: z.number(), relative: z.number() })
        .optional(),
      violations: z.number().optional(),
      examples: z.array(example).optional(),
      status: z.enum(['pass', 'warn', 'fail', 'skipped']),
      level: z.enum(['major', 'minor']).optional(),
      message: z.string(),
      seconds: z.number().optional().describe('Wall time of the stage that ran the test, shared among the tests it produced'),
      baseline: baselineFlips.optional(),
      gate: gateFigures.optional(),
    }),
  ),
  sensitivity: z
    .array(
      z.object({
        feature: z.string(),
        rowsSearched: z.number(),
        rowsFlipped: z.number(),
        medianChange: z.number().nullable(),
        medianChangeInSd: z.number().nullable(),
        queries: z.number(),
      }),
    )
    .optional(),
  baseline: z
    .object({
      against: z.string().describe('How the words call it: production, stage staging, version 1.2.0, the baseline'),
      source: z.string(),
      runner: z.enum(['onnx', 'command', 'http']),
      digest: z.string().optional(),
      clean: z.record(z.string(), z.number()).describe('Its metrics on the clean sample'),
      modelCalls: z.number(),
      rowsScored: z.number(),
    })
    .optional()
    .describe('The baseline model the invariance tests were compared with, on the same sample and perturbations'),
  cost: z.object({
    modelCalls: z.number(),
    rowsScored: z.number(),
    cleanPassRows: z.number(),
    seconds: z.number(),
    budgetExhausted: z.boolean(),
  }),
})

const columnDrift = z.object({
  column: z.string(),
  kind: z.enum(['numeric', 'categorical']),
  test: z.enum(['ks', 'chisquare', 'z', 'wasserstein', 'jensenshannon', 'psi']),
  statistic: z.number(),
  pValue: z.number().optional(),
  adjustedPValue: z.number().optional().describe('Benjamini–Hochberg across the columns tested by p-value'),
  threshold: z.number(),
  drifted: z.boolean(),
  psi: z.number(),
  histogram: z.object({
    edges: z.array(z.number()).optional(),
    categories: z.array(z.string()).optional(),
    reference: z.array(z.number()),
    current: z.array(z.number()),
  }),
  unseen: z.object({ categories: z.number(), rows: z.number(), examples: z.array(z.string()) }).optional(),
  referenceRows: z.number(),
  currentRows: z.number(),
})

const datasetSchema = z.object({
  name: z.string(),
  path: z.string(),
  format: z.string(),
  digest: z.string(),
  rows: z.number(),
  skippedRows: z.number().optional(),
  metrics: z.record(z.string(), z.number()),
  metricSources: z.record(z.string(), z.string()),
  confusionMatrix: z.object({ labels: z.array(label), matrix: z.array(z.array(z.number())) }).optional(),
  perClass: z.array(z.object({ label, precision: z.number(), recall: z.number(), f1: z.number(), support: z.number() })).optional(),
  performance: z.object({
    batches: z.number(),
    batchSize: z.number(),
    latencyMs: z.object({ p50: z.number(), p95: z.number(), p99: z.number(), mean: z.number(), max: z.number() }),
    rowsPerSecond: z.number(),
    totalSeconds: z.number(),
  }),
  probabilityAdjustment: z
    .object({
      output: z.string(),
      tolerance: z.number().describe('16 · classes · 2^-23: how far float32 rounding may stray'),
      clippedValues: z.number(),
      clippedRows: z.number(),
      maxExcess: z.number(),
      offSumRows: z.number().describe('Rows whose probabilities do not sum to 1 within the tolerance'),
      maxSumError: z.number(),
    })
    .optional()
    .describe('Probabilities clipped to [0, 1] after float32 rounding, and rows not summing to 1'),
  outputConsistency: z
    .object({
      labelOutput: z.string(),
      probabilityOutput: z.string(),
      rows: z.number(),
      disagreements: z.number(),
      examples: z.array(z.number()).describe('1-based data rows'),
    })
    .optional()
    .describe("Rows whose label output is not the argmax of the model's probabilities"),
  contract: z.object({ schema: z.string(), violations: z.number(), rowsChecked: z.number(), examples: z.array(example) }).optional(),
  parity: z
    .object({
      reference: z.string(),
      rows: z.number(),
      labelMismatches: z.number(),
      probabilityMismatches: z.number(),
      maxAbsDiff: z.number(),
      tolerance: z.number(),
      examples: z.array(example),
    })
    .optional(),
  drift: z
    .object({
      reference: z.object({ path: z.string(), digest: z.string(), rows: z.number(), sampled: z.number().optional() }),
      rows: z.number(),
      sampled: z.number().optional().describe("The data set's rows the statistics used, when a seeded sample (drift.max-rows)"),
      columns: z.array(columnDrift).describe('Worst first'),
      drifted: z.number(),
      share: z.number().describe('Share of the columns that drifted'),
      threshold: z.number().describe('The share at which the data set has drifted (drift.share)'),
      datasetDrift: z.boolean(),
      prediction: columnDrift.optional().describe("The model's outputs on the data vs on the reference"),
      predictionVsBaseline: columnDrift.optional().describe("The model's outputs on the data vs the baseline model's on the same rows"),
      label: columnDrift.optional(),
    })
    .optional()
    .describe('This data set against drift.reference'),
  integrity: z
    .object({
      rows: z.number(),
      columns: z.array(
        z.object({
          name: z.string(),
          missing: z.number(),
          missingShare: z.number(),
          constant: z.boolean(),
          nearConstant: z.boolean(),
          topShare: z.number().optional(),
          mixedTypes: z.boolean(),
          outOfRange: z.number().optional(),
          newCategories: z.object({ count: z.number(), rows: z.number(), examples: z.array(z.string()) }).optional(),
          notes: z.array(z.string()).optional(),
        }),
      ),
      duplicateRows: z.number(),
      duplicateColumns: z.array(z.tuple([z.string(), z.string()])),
      leakage: z.object({ rows: z.number(), share: z.number() }).optional(),
    })
    .optional()
    .describe('Missing values, constant, duplicated and mixed-type columns, duplicated rows, leakage from drift.reference'),
})

export const resultSchema = z.object({
  schemaVersion: z.string().describe('Major.minor; a new major may break readers.'),
  status: z.enum(['pass', 'warn', 'fail', 'error']),
  task: z.enum(['binary', 'multiclass', 'regression']),
  metrics: z.record(z.string(), z.number()).describe('Metrics of the primary (first) data set, snake_case names.'),
  checks: z.array(checkSchema),
  model: z.object({
    name: z.string(),
    source: z.string(),
    runner: z.enum(['onnx', 'command', 'http', 'predictions']),
    digest: z.string().optional(),
    sizeBytes: z.number().optional(),
    inputs: z.array(tensor),
    outputs: z.array(tensor),
    notes: z.array(z.string()),
  }),
  features: z.array(z.string()).optional().describe("The feature columns, in the model's input order, as the run fed them"),
  data: z.array(datasetSchema),
  baseline: z
    .object({
      source: z.string(),
      kind: z.enum(['model', 'report']),
      metrics: z.record(z.string(), z.number()),
      digest: z.string().optional(),
    })
    .optional(),
  registryBaseline: z
    .object({
      name: z.string(),
      registry: z.string(),
      ref: z.string().describe('How the baseline was named: production (stage prod), stage prod, version 1.2.0.'),
      stage: z.string().optional(),
      version: z.string().optional().describe('Absent when no version holds the stage yet (a first run).'),
      digest: z.string().optional(),
    })
    .optional()
    .describe('The registered version the run compared with, when the baseline was named by stage or version.'),
  comparisons: z.array(comparisonSchema).optional(),
  slices: z.array(sliceSchema).optional(),
  fairness: z.array(fairnessSchema).optional(),
  calibration: z.array(calibrationSchema).optional(),
  robustness: robustnessSchema.optional(),
  notes: z.array(z.string()),
  warnings: z.array(z.string()).optional().describe('What the reader must not miss although no check failed'),
  context: z.object({
    tool: z.string(),
    version: z.string(),
    startedAt: z.string(),
    durationSeconds: z.number(),
    manifest: z.string().optional(),
    repository: z.string().optional(),
    sha: z.string().optional(),
    ref: z.string().optional(),
    runId: z.string().optional(),
    runUrl: z.string().optional(),
    pullRequest: z.number().optional(),
  }),
  error: z.object({ message: z.string(), file: z.string().optional(), field: z.string().optional() }).optional(),
})

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Schema = z.infer<typeof resultSchema>
// Nullable metric values are allowed in JSON (NaN serialises as null); otherwise the shapes must agree.
type Strip<T> = T extends number | null ? number : T extends object ? { [K in keyof T]: Strip<T[K]> } : T
const sameShape: Same<Strip<Schema>, Strip<ValidationResult>> = true
void sameShape
