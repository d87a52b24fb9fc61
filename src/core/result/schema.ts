import { z } from 'zod'
import type { ValidationResult } from './types.js'

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
  kind: z.enum(['threshold', 'change', 'parity', 'contract']),
  dataset: z.string().optional().describe('The data set the check judged'),
  status: z.enum(['pass', 'warn', 'fail', 'skipped']),
  severity: z.enum(['fail', 'warn']),
  metric: z.string().optional(),
  value: num,
  threshold: z.object({ op: comparator, value: z.number(), expression: z.string() }).optional(),
  baseline: num.optional(),
  message: z.string(),
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
  data: z.array(datasetSchema),
  baseline: z
    .object({
      source: z.string(),
      kind: z.enum(['model', 'report']),
      metrics: z.record(z.string(), z.number()),
      digest: z.string().optional(),
    })
    .optional(),
  notes: z.array(z.string()),
  context: z.object({
    tool: z.string(),
    version: z.string(),
    startedAt: z.string(),
    durationSeconds: z.number(),
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
