import { z } from 'zod'
import { GATE_SYNTAX, parseGate } from '../gates/expression.js'
import { slicesSchema } from '../slices/schema.js'
import { driftSchema, integritySchema } from '../drift/schema.js'
import { fairnessSchema } from '../fairness/schema.js'
import { robustnessSchema } from '../robustness/schema.js'

/*
 * The manifest, `modelgate.yml`. One zod schema is the source of truth: it parses the file,
 * and the published JSON Schema (schemas/modelgate.schema.json) is generated from it.
 * Keys are kebab-case like the action inputs, so a field reads the same in both places.
 */

const gateLine = z
  .string()
  .superRefine((s, ctx) => {
    const g = parseGate(s)
    if (typeof g === 'string') ctx.addIssue({ code: 'custom', message: g })
  })
  .describe(`A gate: ${GATE_SYNTAX}. Examples: "accuracy >= 0.9", "log_loss <= 0.3 warn", "roc_auc >= baseline - 0.01".`)

const gateObject = z
  .object({
    metric: z.string().min(1).describe('Metric name, snake_case (e.g. roc_auc).'),
    op: z.enum(['>=', '>', '<=', '<', '==']).describe('Comparison.'),
    value: z.number().optional().describe('Absolute bound. Give either value or change.'),
    change: z
      .union([z.number(), z.string().regex(/^[+-]?\d*\.?\d+%$/)])
      .optional()
      .describe('Bound relative to the baseline: a number (absolute change, e.g. -0.01) or a percentage ("-1%").'),
    severity: z.enum(['fail', 'warn']).default('fail').describe('fail: the run fails; warn: a warning only.'),
  })
  .strict()
  .refine((g) => (g.value === undefined) !== (g.change === undefined), {
    message: 'give exactly one of "value" (absolute bound) or "change" (against the baseline)',
  })

export const gateSchema = z.union([gateLine, gateObject])

const modelSpec = z
  .object({
    runner: z
      .enum(['onnx', 'command', 'http', 'predictions'])
      .optional()
      .describe('How to run the model. Inferred: .onnx → onnx, http(s) URL → http, command → command, a table file → predictions.'),
    path: z
      .string()
      .min(1)
      .optional()
      .describe('Model file (.onnx) or predictions file (.csv, .jsonl, .parquet), relative to the manifest.'),
    command: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('command runner: the program and its arguments (a list, or a string split on spaces).'),
    url: z
      .string()
      .url()
      .optional()
      .describe('http runner: the inference URL (KServe V2 /v2/models/<name>/infer, V1 :predict, MLflow /invocations).'),
    protocol: z.enum(['v2', 'v1', 'mlflow']).optional().describe('http runner: protocol; inferred from the URL.'),
    headers: z
      .record(z.string(), z.string())
      .optional()
      .describe('http runner: request headers; ${VAR} is replaced from the environment. Values are masked in logs.'),
    timeout: z.number().positive().optional().describe('Seconds per request (command and http runners). Default 60.'),
    retries: z.number().int().min(0).max(10).optional().describe('http runner: retries on 429/5xx. Default 3.'),
    'label-output': z.string().optional().describe('Name of the model output holding predicted labels.'),
    'probability-output': z.string().optional().describe('Name of the model output holding class probabilities.'),
    features: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("This model's feature columns in its order, when they differ from the top-level features."),
  })
  .strict()

export type ModelSpec = z.infer<typeof modelSpec>

const dataSpec = z
  .object({
    name: z.string().min(1).optional().describe('Name shown in reports. Default: the file name.'),
    path: z.string().min(1).describe('CSV, JSON Lines or Parquet file, relative to the manifest.'),
    format: z.enum(['csv', 'jsonl', 'parquet']).optional().describe('Inferred from the extension.'),
    contract: z.string().min(1).optional().describe('JSON Schema of one row; violations are counted and reported.'),
  })
  .strict()

const comparisonMetric = z.union([
  z.string().min(1).describe('A metric compared without a margin: reported, not gated.'),
  z
    .object({
      metric: z.string().min(1).describe('Metric name, snake_case.'),
      superiority: z
        .number()
        .min(0)
        .optional()
        .describe('Pass only if the new model is better by at least this much (the whole interval above it).'),
      'non-inferiority': z
        .number()
        .min(0)
        .optional()
        .describe('Pass if the new model is no worse than this much (the whole interval above −margin).'),
    })
    .strict()
    .refine((m) => !(m.superiority !== undefined && m['non-inferiority'] !== undefined), {
      message: 'give superiority or non-inferiority, not both',
    }),
])

const comparisonSpec = z
  .object({
    metrics: z
      .array(comparisonMetric)
      .min(1)
      .optional()
      .describe('Metrics compared with the baseline on the same rows. Default: the task’s headline metrics, report-only.'),
    confidence: z.number().gt(0.5).lt(1).default(0.95).describe('Confidence level of the intervals.'),
    resamples: z.number().int().min(100).max(100_000).default(1000).describe('Paired bootstrap resamples.'),
    method: z
      .enum(['bca', 'percentile'])
      .default('bca')
      .describe('Bootstrap interval: BCa (bias-corrected and accelerated) or percentile.'),
    seed: z.number().int().min(0).default(20261126).describe('Seed of the resampling, so a run can be repeated exactly.'),
    inconclusive: z
      .enum(['warn', 'fail', 'pass'])
      .default('warn')
      .describe('What an inconclusive verdict (the interval straddles the margin) does to the run.'),
  })
  .strict()

const stageName = z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-_]*[a-zA-Z0-9])?$/, 'a stage name: letters, digits, - and _')

export const registrySchema = z
  .object({
    uri: z
      .string()
      .min(1)
      .default('local:.modelgate/registry')
      .describe(
        'Where versions are recorded: `local:<folder>`, `git` (GTO tags in this repository) or `git:<repository folder>`, `oci://<registry>/<prefix>` (each model is the repository <prefix>/<name>, e.g. oci://ghcr.io/owner/models), `mlflow+https://<tracking server>` (MLflow Model Registry).',
      ),
    name: z
      .string()
      .regex(/^[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?$/, "GTO's artifact name grammar: letters, digits, -, _ and /")
      .optional()
      .describe('Name of the model in the registry. Default: the manifest name.'),
    stages: z.array(stageName).default([]).describe('Declared stages; another stage name is refused. Empty: any name.'),
    promotion: z
      .array(stageName)
      .default([])
      .describe('Promotion order, e.g. [dev, staging, prod]: a version reaches a stage only after holding the one before it.'),
    require: z
      .record(stageName, z.array(z.enum(['validate-model', 'test-robustness'])))
      .default({})
      .describe('Per stage, the reports a version must carry as passing evidence, e.g. {prod: [validate-model, test-robustness]}.'),
    labels: z.record(z.string(), z.string()).default({}).describe('Labels recorded with every version (team, owner, …).'),
    description: z.string().optional().describe('Description recorded with every version and shown in its model card.'),
  })
  .strict()

export type RegistryConfig = z.infer<typeof registrySchema>

const deployEnvironment = z
  .object({
    target: z.enum(['local', 'kserve', 'webhook', 'command']).default('local').describe('Where this environment runs the model.'),
    stage: stageName.optional().describe('Registry stage moved to the version after a successful deploy. Default: the environment name.'),
    'requires-stage': stageName
      .optional()
      .describe('A version must have held this stage before it may be deployed here (e.g. prod requires staging).'),
    'requires-evidence': z
      .array(z.enum(['validate-model', 'test-robustness']))
      .default([])
      .describe('Reports the version must carry as passing evidence to be deployed here.'),
    canary: z
      .array(z.number().int().min(1).max(99))
      .default([])
      .describe('Canary traffic steps in percent before promotion, e.g. [10, 50]; each is verified and compared with the current version.'),
    port: z.number().int().min(0).max(65535).default(0).describe('local: port of the environment’s server (0: any free port).'),
    url: z.string().url().optional().describe('kserve, webhook, command: where the deployed model answers, for verification.'),
    protocol: z
      .enum(['v2', 'v1', 'mlflow'])
      .default('v2')
      .describe('Protocol of the endpoint: Open Inference Protocol (v2), KServe V1, MLflow.'),
    kserve: z
      .object({
        name: z.string().min(1).optional().describe('InferenceService name. Default: the model name.'),
        namespace: z.string().min(1).optional().describe('Kubernetes namespace. Default: kubectl’s.'),
        'model-format': z.string().min(1).default('onnx').describe('spec.predictor.model.modelFormat.name.'),
        runtime: z.string().min(1).optional().describe('A ServingRuntime to use, when not the default for the format.'),
        kubectl: z
          .array(z.string().min(1))
          .optional()
          .describe('kubectl argv, e.g. [kubectl, --context, prod]. Absent: render only (dry run).'),
      })
      .strict()
      .optional(),
    webhook: z
      .object({
        url: z.string().url().describe('Receives the signed deployment POST.'),
        'status-url': z.string().url().optional().describe('Polled until it answers {"status": "ready"}.'),
        'secret-env': z.string().min(1).default('MODELGATE_WEBHOOK_SECRET').describe('Environment variable holding the HMAC secret.'),
      })
      .strict()
      .optional()
      .describe('webhook: where the signed deployment is POSTed, and where its progress is polled.'),
    command: z.array(z.string().min(1)).min(1).optional().describe('command: argv of the deploy script (run without a shell).'),
    'ready-command': z.array(z.string().min(1)).min(1).optional().describe('command: argv of a readiness probe, run until it exits 0.'),
  })
  .strict()

export const deploySchema = z
  .object({
    environments: z.record(stageName, deployEnvironment).default({}).describe('Environments by name.'),
    timeout: z.number().positive().default(300).describe('Seconds to wait for an environment to be ready after each change.'),
    verify: z
      .object({
        burst: z.number().int().min(1).max(100_000).default(50).describe('Requests in the verification burst.'),
        concurrency: z.number().int().min(1).max(256).default(4).describe('Requests in flight at once during the burst.'),
        'max-error-rate': z.number().min(0).max(1).default(0).describe('Largest share of failed requests in the burst.'),
        'p95-latency-ms': z.number().positive().default(1000).describe('Largest 95th-percentile latency of the burst.'),
        'request-timeout': z.number().positive().default(10).describe('Seconds per request.'),
      })
      .strict()
      .default({ burst: 50, concurrency: 4, 'max-error-rate': 0, 'p95-latency-ms': 1000, 'request-timeout': 10 })
      .describe('The burst of requests every deploy step is verified with, and its budgets.'),
  })
  .strict()

export type DeployConfig = z.infer<typeof deploySchema>

export const manifestSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().min(1).describe('Model name.'),
    task: z.enum(['binary', 'multiclass', 'regression']).optional().describe('Inferred from the model outputs and labels when omitted.'),
    model: z.union([z.string().min(1), modelSpec]).describe('The model: a path or URL, or an object.'),
    features: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        "Feature columns in the model's input order; matched by name in the data. Default: the model's input names when it has one input per column; for one N×W input, the W columns besides the label and id in file order (with a warning).",
      ),
    id: z.string().min(1).optional().describe('A column identifying each row: never a feature, written with the predictions.'),
    'output-consistency': z
      .enum(['warn', 'fail', 'off'])
      .default('warn')
      .describe("Severity of the check that a classifier's label output is the argmax of its probabilities (off: not checked)."),
    label: z.string().min(1).describe('Label column in the evaluation data.'),
    classes: z
      .array(z.union([z.number(), z.string()]))
      .min(2)
      .optional()
      .describe('Class labels in the order of the probability columns. Default: from the model, else sorted labels.'),
    'positive-class': z.union([z.number(), z.string()]).optional().describe('Binary: the positive class. Default: the last class (1).'),
    'decision-threshold': z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('Binary: positive iff p(positive) >= this, when metrics derive labels from probabilities. Default 0.5.'),
    data: z
      .union([z.string().min(1), z.array(z.union([z.string().min(1), dataSpec])).min(1)])
      .describe('Evaluation data: a path, or a list of data sets. The first one is the primary one.'),
    thresholds: z.array(gateSchema).default([]).describe('Gates on metrics, absolute or against the baseline.'),
    baseline: z
      .union([
        z.string().min(1),
        z
          .object({
            model: z
              .union([z.string().min(1), modelSpec])
              .optional()
              .describe('The model in production, run on the same rows.'),
            report: z.string().min(1).optional().describe('A previous modelgate result JSON.'),
            stage: z
              .string()
              .min(1)
              .optional()
              .describe("The registered version that holds this stage (e.g. prod), fetched from the manifest's registry."),
            version: z.string().min(1).optional().describe("A registered version (e.g. 1.2.0), fetched from the manifest's registry."),
          })
          .strict(),
      ])
      .optional()
      .describe(
        "What to compare with: a model (path/URL/object), a previous report (.json), or a registered version: stage:prod, version:1.2.0, or production (the last stage of registry.promotion), fetched from the manifest's registry and verified by digest.",
      ),
    'reference-predictions': z
      .union([
        z.string().min(1),
        z
          .object({
            path: z.string().min(1),
            tolerance: z.number().min(0).default(1e-5).describe('Largest allowed absolute difference of a probability or value.'),
            'max-mismatches': z.number().int().min(0).default(0).describe('Rows allowed to disagree before the parity check fails.'),
          })
          .strict(),
      ])
      .optional()
      .describe('Predictions of the source framework (e.g. the scikit-learn model the ONNX file came from), for conversion parity.'),
    slices: slicesSchema
      .optional()
      .describe('Named slices with their own gates, no-regression against the baseline (BH-controlled), and weak-slice discovery.'),
    fairness: fairnessSchema
      .optional()
      .describe(
        'Demographic parity and equalized odds (difference and ratio) across the groups of a sensitive column, with intervals and gates.',
      ),
    drift: driftSchema
      .optional()
      .describe(
        'Data drift: each data set against a reference (the training data), column by column (KS, chi-square, Wasserstein, Jensen–Shannon, PSI as Evidently chooses), Benjamini–Hochberg, the share of drifted columns; prediction and label drift.',
      ),
    integrity: integritySchema
      .optional()
      .describe(
        'Data integrity of each data set: missing values, constant and near-constant columns, duplicated rows and columns, mixed types; with drift.reference, out-of-range values, new categories and train/test leakage.',
      ),
    calibration: z
      .boolean()
      .default(false)
      .describe(
        'Add the reliability table and bootstrap intervals of ECE, MCE and Brier (binary models with probabilities). Costs rows × resamples.',
      ),
    robustness: robustnessSchema
      .optional()
      .describe(
        'test-robustness: invariance under perturbations (flip rates with intervals, metric degradation), directional expectations, minimal flipping perturbations, stress inputs, determinism; on a seeded sample within a time budget.',
      ),
    comparison: comparisonSpec
      .optional()
      .describe(
        'Champion/challenger: deltas with paired-bootstrap intervals, McNemar and DeLong tests, superiority and non-inferiority verdicts.',
      ),
    registry: registrySchema
      .optional()
      .describe('register-version: where versions are recorded, the stages, their promotion order and the evidence each requires.'),
    deploy: deploySchema
      .optional()
      .describe('deploy-model: the environments, their targets, canary steps and requirements, and the verification budgets.'),
    'fail-on': z.enum(['fail', 'warn', 'never']).default('fail').describe('Which check status makes the run exit non-zero.'),
    'batch-size': z.number().int().min(1).max(1_000_000).default(1024).describe('Rows per model call.'),
    'ece-bins': z.number().int().min(1).max(1000).default(10).describe('Equal-width bins for calibration error.'),
  })
  .strict()

export type Manifest = z.infer<typeof manifestSchema>
export type ManifestInput = z.input<typeof manifestSchema>
