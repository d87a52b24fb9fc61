import { z } from 'zod'
import { GATE_SYNTAX, parseGate, type GateSpec } from '../gates/expression.js'
import { featureOverrideSchema } from './profile.js'
import { PERTURBATION_KINDS } from './types.js'

/*
 * The manifest's `robustness:` key (test-robustness, issue 4). Keys are kebab-case like the rest of
 * the manifest; every default is stated in the field's description, which the JSON Schema publishes.
 */

export const DEFAULT_ROBUSTNESS_SEED = 20261126

/** The flip-rate "metric" of the robustness gates: an invariance test's share of rows that flipped. */
export const FLIP_RATE = 'flip_rate'

/**
 * `clean` plays the part `baseline` plays in validate's gates: the metric on the unperturbed rows. A
 * flip rate has no clean value (nothing flips unperturbed): it is compared with a number or with
 * `baseline`, the baseline model's flip rate on the same test.
 */
export const DEGRADATION_SYNTAX = `${GATE_SYNTAX.replaceAll('baseline', 'clean')}; or \`flip_rate <op> <number>\` or \`flip_rate <op> baseline [+|- <number>[%]]\``

/**
 * A degradation gate line, parsed with validate's gate grammar: `accuracy >= clean - 0.02` (the metric
 * under every perturbation against the clean one), `flip_rate <= 0.05`, `flip_rate <= baseline + 0.02`.
 */
export function parseDegradationGate(line: string): GateSpec | string {
  const baseline = /\bbaseline\b/.test(line)
  const clean = /\bclean\b/.test(line)
  const g = parseGate(baseline ? line : line.replace(/\bclean\b/g, 'baseline'))
  if (typeof g === 'string' || (baseline && clean)) return `cannot read degradation gate "${line.trim()}": expected ${DEGRADATION_SYNTAX}`
  if (g.metric === FLIP_RATE) {
    if (clean)
      return `degradation gate "${line.trim()}": a flip rate has no clean value (no row flips unperturbed); compare flip_rate with a number or with baseline (the baseline model's flip rate on the same test), e.g. "flip_rate <= baseline + 0.02"`
    return g
  }
  if (baseline)
    return `degradation gate "${line.trim()}": in robustness gates, baseline is the baseline model's flip rate, which only flip_rate is compared with; compare ${g.metric} with clean (its value on the unperturbed rows), e.g. "${g.metric} ${g.op} clean - 0.02"`
  return { ...g, expression: g.expression.replace(/\bbaseline\b/g, 'clean') }
}

const degradationGate = z
  .string()
  .superRefine((s, ctx) => {
    const g = parseDegradationGate(s)
    if (typeof g === 'string') ctx.addIssue({ code: 'custom', message: g })
  })
  .describe(
    `A gate every perturbation must meet: ${DEGRADATION_SYNTAX}. "clean" is the metric on the unperturbed rows, e.g. "accuracy >= clean - 0.02", "roc_auc >= clean - 1%", "accuracy >= 0.9". flip_rate is each invariance test's flip rate, and "baseline" the baseline model's on the same rows and perturbed inputs, e.g. "flip_rate <= baseline + 0.02" (skipped without a baseline model), "flip_rate <= 0.05".`,
  )

const severity = z.number().describe('One severity (signed for shift, drift, brightness and contrast).')

const perturbationEntry = z
  .object({
    kind: z.enum(PERTURBATION_KINDS).describe('The perturbation.'),
    severity: z
      .union([severity, z.array(severity).min(1)])
      .describe(
        'Its strength (noise σ and shifts in units of the feature’s sd, a missing or typo rate, …); a list runs one test per severity.',
      ),
    features: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Features it applies to. Default: every feature it can apply to. Immutable features are never touched.'),
    group: z.string().min(1).optional().describe('Tensor perturbations (tensor_noise, brightness, contrast): the feature group.'),
  })
  .strict()

export type PerturbationEntry = z.infer<typeof perturbationEntry>

const directionalEntry = z
  .object({
    feature: z.string().min(1).describe('A numeric feature.'),
    direction: z
      .enum(['increasing', 'decreasing'])
      .describe(
        'increasing: raising the feature must not lower the score; decreasing: must not raise it. The score is p(positive class) (binary), the predicted value (regression), or the probability of the clean predicted class (multiclass).',
      ),
    step: z
      .number()
      .positive()
      .default(0.5)
      .describe('How far each row is moved, in units of the feature’s sd (clipped to its bounds; at least 1 for integers). Default 0.5.'),
    'max-violations': z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe('Share of rows allowed to break the expectation before the test fails. Default 0: any violating row fails it.'),
  })
  .strict()

export type DirectionalEntry = z.infer<typeof directionalEntry>

const sensitivitySpec = z
  .object({
    features: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Numeric features to search. Default: every numeric feature that is not immutable.'),
    budget: z.number().int().min(2).max(200).default(20).describe('Model queries per row and feature. Default 20.'),
    'max-sd': z.number().positive().default(4).describe('Largest change searched, in units of the feature’s sd. Default 4.'),
    rows: z.number().int().min(1).max(10_000).default(50).describe('Rows searched per feature (the first of the sample). Default 50.'),
  })
  .strict()

/** `sensitivity: true`: every numeric feature that is not immutable, with the defaults above. */
export const DEFAULT_SENSITIVITY: z.infer<typeof sensitivitySpec> = sensitivitySpec.parse({})

export const robustnessSchema = z
  .object({
    seed: z
      .number()
      .int()
      .min(0)
      .default(DEFAULT_ROBUSTNESS_SEED)
      .describe('Seed of the row sample and of every perturbation: the same seed gives the same results.'),
    rows: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(2000)
      .describe('Row budget: a seeded sample of this many labelled rows of the first data set (all of them when fewer). Default 2000.'),
    'time-budget': z
      .number()
      .positive()
      .default(300)
      .describe('Seconds. Tests that would not fit (estimated from the clean pass) are skipped, and the report says so. Default 300.'),
    'flip-fail': z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe(
        'An invariance test fails when its flip rate (point estimate) reaches this; below it, it warns when some row flipped and the 95% Wilson upper bound reaches it. Default 0.05.',
      ),
    'flip-major': z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe('A failing invariance test is major at this flip rate, minor below. Default 0.10.'),
    'regression-tolerance': z
      .number()
      .min(0)
      .default(0.01)
      .describe(
        'Regression: an output "flips" when it moves by more than this many standard deviations of the label (in the sample). Default 0.01.',
      ),
    degradation: z
      .array(degradationGate)
      .default([])
      .describe(
        'Gates every invariance perturbation must meet: a metric against the clean metric, or the flip rate against a number or the baseline model’s flip rate on the same test.',
      ),
    features: z
      .record(z.string().min(1), featureOverrideSchema)
      .optional()
      .describe('What the data cannot tell about features, by name or glob (`pixel_*`); exact names win over globs.'),
    perturbations: z
      .array(perturbationEntry)
      .optional()
      .describe('Invariance tests: each perturbation at each severity. Default: chosen from the feature profiles; [] runs none.'),
    directional: z.array(directionalEntry).default([]).describe('Monotonicity expectations, checked on every row of the sample.'),
    sensitivity: z
      .union([z.boolean(), sensitivitySpec])
      .default(true)
      .describe(
        'Minimal flipping perturbation per numeric feature and row: exponential search, then bisection, in either direction. false turns it off. Default on.',
      ),
    stress: z
      .boolean()
      .default(true)
      .describe('Stress inputs per feature (NaN, ±Inf, extremes, empty strings, wrong types): no crash, valid outputs. Default on.'),
    determinism: z
      .boolean()
      .default(true)
      .describe('The same rows scored twice agree exactly, and rows scored one by one agree with the batch (within 1e-6). Default on.'),
  })
  .strict()
  .refine((r) => r['flip-major'] >= r['flip-fail'], { message: 'flip-major must not be below flip-fail', path: ['flip-major'] })

export type RobustnessConfig = z.infer<typeof robustnessSchema>
export type RobustnessInput = z.input<typeof robustnessSchema>
export type SensitivitySpec = z.infer<typeof sensitivitySpec>

/** The configuration with every default applied (no `robustness:` key at all is all defaults). */
export function robustnessDefaults(input: RobustnessInput = {}): RobustnessConfig {
  return robustnessSchema.parse(input)
}
