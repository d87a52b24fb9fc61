import { z } from 'zod'
import { GATE_SYNTAX, parseGate, type GateSpec } from '../gates/expression.js'

/** The disparity metrics, fairlearn's names and definitions; the only metric names fairness gates accept. */
export const FAIRNESS_METRICS = [
  'demographic_parity_difference',
  'demographic_parity_ratio',
  'equalized_odds_difference',
  'equalized_odds_ratio',
] as const
export type FairnessMetric = (typeof FAIRNESS_METRICS)[number]

export const DEFAULT_MIN_GROUP_SIZE = 30

export function isFairnessMetric(name: string): name is FairnessMetric {
  return (FAIRNESS_METRICS as readonly string[]).includes(name)
}

/** A fairness gate line, or the reason it is not one (so the manifest error names the field). */
export function parseFairnessGate(line: string): GateSpec | string {
  const g = parseGate(line)
  if (typeof g === 'string') return g
  if (!isFairnessMetric(g.metric)) return `"${g.metric}" is not a fairness metric: use one of ${FAIRNESS_METRICS.join(', ')}`
  return g
}

const column = z.string().min(1)

/*
 * Defined apart from the manifest schema (which embeds it as the `fairness` key) and with its own gate line
 * check, so that this module does not import the manifest schema that imports it.
 */
export const fairnessSchema = z
  .object({
    sensitive: z
      .union([column, z.array(column).min(1)])
      .describe('Sensitive column of the evaluation data (e.g. sex), or a list of columns: one result and one set of gates per column.'),
    'min-group-size': z
      .number()
      .int()
      .min(1)
      .default(DEFAULT_MIN_GROUP_SIZE)
      .describe('Groups with fewer rows are reported but left out of the differences and ratios. Default 30.'),
    thresholds: z
      .array(
        z
          .string()
          .superRefine((s, ctx) => {
            const g = parseFairnessGate(s)
            if (typeof g === 'string') ctx.addIssue({ code: 'custom', message: g })
          })
          .describe(
            `A gate on ${FAIRNESS_METRICS.join(', ')}: ${GATE_SYNTAX}. Examples: "demographic_parity_difference <= 0.1", "equalized_odds_difference <= baseline + 0.02".`,
          ),
      )
      .default([])
      .describe('Gates on the disparity metrics, absolute or against the baseline model.'),
  })
  .strict()

export type FairnessConfig = z.infer<typeof fairnessSchema>
export type FairnessConfigInput = z.input<typeof fairnessSchema>

/** The sensitive columns in the order given: the columns the pipeline must keep in `ScoredRows.columns`. */
export function sensitiveColumns(config: Pick<FairnessConfig, 'sensitive'>): string[] {
  return typeof config.sensitive === 'string' ? [config.sensitive] : [...new Set(config.sensitive)]
}
