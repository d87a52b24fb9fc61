import { z } from 'zod'
import { UserError } from '../errors.js'
import { GATE_SYNTAX, parseGate, type GateSpec } from '../gates/expression.js'
import { METRIC_DIRECTIONS, PERFORMANCE_METRIC_NAMES, metricNames } from '../metrics/index.js'
import type { Task } from '../result/types.js'
import { whereProblem, whereSyntax } from './where.js'

/*
 * The manifest's `slices:` key: named subsets of a data set, gated like the whole, and automatic
 * discovery of weak ones. Keys are kebab-case like the rest of the manifest.
 */

/** Metrics that describe model quality (not speed or size): the only ones a slice can have. */
const QUALITY_METRICS = Object.keys(METRIC_DIRECTIONS).filter((m) => !PERFORMANCE_METRIC_NAMES.includes(m))

const metricName = z
  .string()
  .refine((m) => QUALITY_METRICS.includes(m), { message: `unknown metric; known: ${QUALITY_METRICS.join(', ')}` })
  .describe('Metric name, snake_case (e.g. roc_auc).')

const sliceGate = z
  .string()
  .superRefine((s, ctx) => {
    const g = parseGate(s)
    if (typeof g === 'string') ctx.addIssue({ code: 'custom', message: g })
    else if (!QUALITY_METRICS.includes(g.metric)) ctx.addIssue({ code: 'custom', message: `unknown metric "${g.metric}" in "${s}"` })
  })
  .describe(`A gate on the slice: ${GATE_SYNTAX}. "baseline" is the baseline model on the same slice.`)

const cellValue = z.union([z.number(), z.string(), z.boolean()])

const sliceDefinition = z
  .object({
    name: z.string().min(1).describe('Name shown in reports and check ids; unique.'),
    where: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A filtrex expression over columns, e.g. `mean_area >= 1000 and sex == "F"`: numbers, "strings", and, or, not, in (…), abs() …; single-quote names with spaces. Rows missing any column it reads never match.',
      ),
    column: z.string().min(1).optional().describe('The column of an equals/in/range slice (instead of where).'),
    equals: cellValue.optional().describe('With column: rows whose value equals this (a number matches its text too).'),
    in: z.array(cellValue).min(1).optional().describe('With column: rows whose value is one of these.'),
    range: z
      .tuple([z.number().nullable(), z.number().nullable()])
      .optional()
      .describe('With column: [low, high): low inclusive, high exclusive; null for an open end.'),
    thresholds: z.array(sliceGate).default([]).describe('Gates on this slice, e.g. "accuracy >= 0.9", "recall >= 0.95 warn".'),
  })
  .strict()
  .superRefine((d, ctx) => {
    const issue = (message: string, path: string) => ctx.addIssue({ code: 'custom', message, path: [path] })
    const selectors = (['equals', 'in', 'range'] as const).filter((k) => d[k] !== undefined)
    if ((d.where === undefined) === (d.column === undefined)) {
      issue('give exactly one of "where" (an expression) or "column" (with equals, in or range)', 'name')
      return
    }
    if (d.where !== undefined) {
      if (selectors.length > 0) issue(`"${selectors[0]}" goes with "column", not with "where"`, selectors[0])
      const problem = whereProblem(d.where)
      if (problem) issue(problem, 'where')
      return
    }
    if (selectors.length !== 1) {
      issue(
        `with "column", give exactly one of "equals", "in" or "range"${selectors.length > 1 ? ` (got ${selectors.join(', ')})` : ''}`,
        'column',
      )
      return
    }
    if (d.range) {
      const [low, high] = d.range
      if (low === null && high === null) issue('a range needs at least one end: [low, high), null for an open end', 'range')
      else if (low !== null && high !== null && !(low < high)) issue(`a range [low, high) needs low < high; got [${low}, ${high})`, 'range')
    }
  })

export type SliceDefinition = z.infer<typeof sliceDefinition>

const discover = z
  .object({
    metric: metricName.optional().describe('Metric to rank slices by. Default: accuracy (classification), mae (regression).'),
    features: z.array(z.string().min(1)).min(1).optional().describe('Columns to slice by. Default: all features.'),
    bins: z
      .number()
      .int()
      .min(2)
      .max(20)
      .default(4)
      .describe('Quantile bins per numeric feature; other columns slice by their 20 commonest values.'),
    pairs: z.boolean().default(true).describe('Also slices by two features at once.'),
    top: z.number().int().min(1).max(100).default(5).describe('How many of the worst slices to report.'),
  })
  .strict()

export const slicesSchema = z
  .object({
    'min-size': z.number().int().min(1).default(30).describe('Slices with fewer rows are reported, not gated.'),
    fdr: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.05)
      .describe('False discovery rate (Benjamini–Hochberg) across the max-regression tests of all slices.'),
    'max-regression': z
      .number()
      .min(0)
      .optional()
      .describe(
        'No gated slice may be worse than the baseline model by more than this on any slice metric (absolute, in the metric’s units): a one-sided paired-bootstrap test per slice and metric, Benjamini–Hochberg across them.',
      ),
    metrics: z
      .array(metricName)
      .min(1)
      .optional()
      .describe(
        'Metrics computed per slice. Default: accuracy and roc_auc (binary), accuracy and f1_macro (multiclass), mae and rmse (regression).',
      ),
    define: z
      .array(sliceDefinition)
      .default([])
      .describe('Named slices: a where expression, or a column with equals, in or range.')
      .superRefine((defs, ctx) => {
        const seen = new Set<string>()
        defs.forEach((d, i) => {
          if (seen.has(d.name)) ctx.addIssue({ code: 'custom', message: `duplicate slice name "${d.name}"`, path: [i, 'name'] })
          seen.add(d.name)
        })
      }),
    discover: discover.optional().describe('Automatic search for the slices where the model does worst (reported, never gated).'),
  })
  .strict()
  .describe('Slices: subsets of each data set, reported and gated separately.')

export type SlicesConfig = z.infer<typeof slicesSchema>
export type SlicesInput = z.input<typeof slicesSchema>
export type DiscoverConfig = NonNullable<SlicesConfig['discover']>

/** The columns the pipeline must keep in `ScoredRows.columns` for the defined slices. */
export function sliceColumns(config: Pick<SlicesConfig, 'define'>): string[] {
  const out = new Set<string>()
  for (const d of config.define) {
    for (const c of d.where !== undefined ? whereSyntax(d.where).columns : [d.column as string]) out.add(c)
  }
  return [...out]
}

/** The columns weak-slice discovery slices by: `discover.features`, else all `features`. */
export function discoveryFeatures(config: Pick<SlicesConfig, 'discover'>, features: string[]): string[] {
  return config.discover?.features ?? features
}

/**
 * Every column a slice or `discover.features` names must be in the data. Throws a UserError naming the
 * slice, the column and the columns there are.
 */
export function checkSliceColumns(config: Pick<SlicesConfig, 'define' | 'discover'>, columns: string[], file?: string): void {
  const have = new Set(columns)
  const fail = (field: string, what: string, column: string) => {
    throw new UserError(
      `${file ? `${file}: ` : ''}${field}: ${what} reads column "${column}", which the data does not have; columns: ${columns.join(', ')}`,
      { file, field },
    )
  }
  config.define.forEach((d, i) => {
    const names = d.where !== undefined ? whereSyntax(d.where).columns : [d.column as string]
    const missing = names.find((c) => !have.has(c))
    if (missing !== undefined) fail(`slices.define[${i}].${d.where !== undefined ? 'where' : 'column'}`, `slice "${d.name}"`, missing)
  })
  const missing = config.discover?.features?.find((c) => !have.has(c))
  if (missing !== undefined) fail('slices.discover.features', 'slice discovery', missing)
}

/** Slice metrics and gates must be ones the task has. Throws a UserError naming the field. */
export function checkSliceMetrics(config: SlicesConfig, task: Task, file?: string): void {
  const known = new Set(metricNames(task))
  const fail = (field: string, metric: string) => {
    throw new UserError(
      `${file ? `${file}: ` : ''}${field}: unknown metric "${metric}" for a ${task} model; known: ${QUALITY_METRICS.filter((m) => known.has(m)).join(', ')}`,
      { file, field },
    )
  }
  config.metrics?.forEach((m, i) => known.has(m) || fail(`slices.metrics[${i}]`, m))
  config.define.forEach((d, i) =>
    sliceGates(d).forEach((g, j) => known.has(g.metric) || fail(`slices.define[${i}].thresholds[${j}]`, g.metric)),
  )
  const m = config.discover?.metric
  if (m !== undefined && !known.has(m)) fail('slices.discover.metric', m)
}

/** A slice's gates, parsed (the schema has already checked every line). */
export function sliceGates(def: SliceDefinition): GateSpec[] {
  return def.thresholds.map((t) => parseGate(t) as GateSpec)
}
