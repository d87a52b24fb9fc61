import { z } from 'zod'

/*
 * The manifest's `drift:` and `integrity:` keys (issue 17): is the data the model will see still the data
 * it was tested on, and is this data fit to evaluate on. The test chosen per feature follows Evidently's
 * documented defaults (drift/select.ts); the manifest may choose per feature.
 */

export const DRIFT_TESTS = ['ks', 'chisquare', 'z', 'wasserstein', 'jensenshannon', 'psi'] as const

const featureTest = z
  .object({
    test: z.enum(DRIFT_TESTS).optional().describe('The test for this feature; default: chosen by type and reference size (Evidently).'),
    threshold: z
      .number()
      .positive()
      .optional()
      .describe(
        'p-value tests: drifted when the Benjamini–Hochberg adjusted p-value (across the columns so tested) is below it (default 0.05); distances: drifted when at least it (default 0.1).',
      ),
  })
  .strict()

export const driftSchema = z
  .object({
    reference: z.string().min(1).describe('The reference data set (typically the training data): .csv, .jsonl or .parquet.'),
    features: z
      .array(z.string().min(1))
      .optional()
      .describe("The columns compared; default: the model's features. Add others (a segment, a timestamp bucket) here."),
    tests: z.record(z.string(), featureTest).optional().describe('Per column: the test and its threshold.'),
    share: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe('The data set has drifted when at least this share of its columns has (Evidently: 0.5).'),
    predictions: z.boolean().default(true).describe("Compare the model's outputs on the reference and on the data (prediction drift)."),
    labels: z.boolean().default(true).describe('Compare the label column of both when both have it (label drift).'),
    'max-rows': z
      .number()
      .int()
      .min(1000)
      .default(100_000)
      .describe('Rows kept per side for the statistics: beyond, a seeded uniform sample of this many (the report says so).'),
    bins: z.number().int().min(2).max(1000).default(10).describe('Bins of the PSI and of the histograms in the report.'),
    seed: z.number().int().default(0).describe('Seed of the row samples beyond max-rows.'),
  })
  .strict()

export const integritySchema = z.union([
  z.boolean(),
  z
    .object({
      'near-constant': z
        .number()
        .gt(0)
        .max(1)
        .default(0.95)
        .describe('A column is near-constant when its most frequent value covers at least this share of its values.'),
      leakage: z.boolean().default(true).describe("Count the data's rows that also occur in drift.reference (train/test leakage)."),
    })
    .strict(),
])

export type DriftConfig = z.infer<typeof driftSchema>
export type IntegrityConfig = z.infer<typeof integritySchema>
