/**
 * Fairness of a binary classifier across the groups of sensitive columns: group rates, fairlearn's four
 * disparity metrics over the groups with at least `min-group-size` rows (see ./rates.ts for the definitions
 * and where they part from fairlearn's 0/0 artefacts), bootstrap intervals, the baseline model's values on
 * the same rows, and the gates.
 *
 * Predictions are the candidate's predicted classes (`predIndex`: its labels, or its thresholded
 * probabilities) compared with the positive class.
 */
import { UserError } from '../errors.js'
import type { ScoredRows, Weights } from '../evaluation/types.js'
import { evaluateGate } from '../gates/evaluate.js'
import type { GateSpec } from '../gates/expression.js'
import type { CheckResult, FairnessGroup, FairnessResult, Task } from '../result/types.js'
import { bootstrapMany } from '../stats/bootstrap.js'
import type { BootstrapOptions, Interval } from '../stats/types.js'
import { groupColumn, type Grouping, type GroupValue } from './groups.js'
import { disparityMetrics, encodeCells, groupCounts, groupRates, type GroupCounts } from './rates.js'
import { FAIRNESS_METRICS, parseFairnessGate, sensitiveColumns, type FairnessConfig, type FairnessMetric } from './schema.js'

export interface FairnessEvaluation {
  /** One per sensitive column. */
  results: FairnessResult[]
  /** One per sensitive column and gate, kind `fairness`. */
  checks: CheckResult[]
  /** What a reader should know: rows in no group, groups left out, rates that are undefined. */
  notes: string[]
}

/** Why fairness cannot be evaluated for a task, or undefined when it can. */
export function fairnessUnsupported(task: Task): string | undefined {
  if (task === 'binary') return undefined
  return `fairness: demographic parity and equalized odds are computed for binary classification only; this is a ${task} task (remove the fairness key, or evaluate a binary model)`
}

export function evaluateFairness(rows: ScoredRows, dataset: string, config: FairnessConfig, opts: BootstrapOptions): FairnessEvaluation {
  const unsupported = fairnessUnsupported(rows.task)
  if (unsupported) throw new UserError(unsupported, { field: 'fairness' })
  const gates = config.thresholds.map((line, i) => {
    const g = parseFairnessGate(line)
    if (typeof g === 'string') throw new UserError(`fairness.thresholds[${i}]: ${g}`, { field: `fairness.thresholds[${i}]` })
    return g
  })
  const y = positives(rows.yTrue, rows.positiveIndex, 'yTrue')
  const candidate = positives(rows.candidate.predIndex, rows.positiveIndex, 'candidate.predIndex')
  const baseline = rows.baseline?.predIndex ? positives(rows.baseline.predIndex, rows.positiveIndex, 'baseline.predIndex') : undefined

  const out: FairnessEvaluation = { results: [], checks: [], notes: [] }
  for (const column of sensitiveColumns(config)) {
    const cells = rows.columns[column]
    if (cells === undefined)
      throw new UserError(`fairness.sensitive: data set '${dataset}' has no column '${column}'`, { field: 'fairness.sensitive' })
    const one = evaluateColumn(
      { dataset, column, grouping: groupColumn(cells), minGroupSize: config['min-group-size'], y, candidate, baseline },
      opts,
    )
    out.results.push(one.result)
    out.notes.push(...one.notes)
    out.checks.push(...gates.map((g) => fairnessCheck(g, one)))
  }
  return out
}

/** 1 where the class index is the positive class. */
function positives(index: Int32Array | undefined, positiveIndex: number | undefined, what: string): Uint8Array {
  if (index === undefined || positiveIndex === undefined) throw new Error(`fairness: binary scored rows without ${what} or positiveIndex`)
  return Uint8Array.from(index, (c) => (c === positiveIndex ? 1 : 0))
}

interface ColumnInput {
  dataset: string
  column: string
  grouping: Grouping
  minGroupSize: number
  y: Uint8Array
  candidate: Uint8Array
  baseline?: Uint8Array
}

interface ColumnEvaluation {
  input: ColumnInput
  result: FairnessResult
  /** Why each metric absent from `result.metrics` is not computed. */
  unavailable: Partial<Record<FairnessMetric, string>>
  notes: string[]
}

function evaluateColumn(input: ColumnInput, opts: BootstrapOptions): ColumnEvaluation {
  const { dataset, column, grouping, minGroupSize, y } = input
  const groupCount = grouping.values.length
  const gated = grouping.values.map((_, g) => g).filter((g) => grouping.rows[g] >= minGroupSize)
  const cells = encodeCells(grouping.codes, y, input.candidate)
  const counts = groupCounts(cells, groupCount, null)

  const groups: FairnessGroup[] = grouping.values.map((value, g) => {
    const r = groupRates(counts, g)
    // An undefined rate is reported as fairlearn reports it (0); it is left out of the aggregates and noted.
    return {
      value,
      rows: grouping.rows[g],
      gated: grouping.rows[g] >= minGroupSize,
      selection_rate: r.selection_rate,
      true_positive_rate: Number.isNaN(r.true_positive_rate) ? 0 : r.true_positive_rate,
      false_positive_rate: Number.isNaN(r.false_positive_rate) ? 0 : r.false_positive_rate,
    }
  })

  const result: FairnessResult = { dataset, sensitive: column, groups, metrics: {}, intervals: {} }
  const unavailable: ColumnEvaluation['unavailable'] = {}
  const notes = columnNotes(input, counts, gated)

  if (gated.length < 2) {
    const reason = `fewer than 2 groups of ${column} have at least ${minGroupSize} rows (${describeGroups(
      grouping,
      groups.map((_, g) => g),
    )})`
    for (const m of FAIRNESS_METRICS) unavailable[m] = reason
    notes.push(`fairness on ${dataset}: ${column}: ${reason}; its disparity metrics are not computed`)
    return { input, result, unavailable, notes }
  }

  const point = disparityMetrics(counts, gated)
  const defined = FAIRNESS_METRICS.filter((m) => !Number.isNaN(point[m]))
  for (const m of FAIRNESS_METRICS.filter((m) => Number.isNaN(point[m])))
    unavailable[m] =
      `fewer than 2 of the groups of ${column} with at least ${minGroupSize} rows have positive rows, and fewer than 2 have negative rows`
  // All four on the same resamples: the intervals are paired across the metrics as well as across the groups.
  const boot = bootstrapMany(
    grouping.codes.length,
    defined.map((m) => (w: Weights) => disparityMetrics(groupCounts(cells, groupCount, w), gated)[m]),
    opts,
  )
  defined.forEach((m, k) => {
    result.metrics[m] = point[m]
    result.intervals[m] = boot[k].interval
  })
  if (input.baseline) {
    const base = disparityMetrics(groupCounts(encodeCells(grouping.codes, y, input.baseline), groupCount, null), gated)
    result.baseline = Object.fromEntries(FAIRNESS_METRICS.filter((m) => !Number.isNaN(base[m])).map((m) => [m, base[m]]))
  }
  return { input, result, unavailable, notes }
}

function columnNotes(input: ColumnInput, counts: GroupCounts, gated: number[]): string[] {
  const { dataset, column, grouping, minGroupSize } = input
  const where = `fairness on ${dataset}: ${column}`
  const notes: string[] = []
  if (grouping.missing > 0) notes.push(`${where}: ${grouping.missing} rows have no value and belong to no group`)
  const small = grouping.values.map((_, g) => g).filter((g) => grouping.rows[g] < minGroupSize)
  if (small.length > 0)
    notes.push(
      `${where}: groups below min-group-size ${minGroupSize}, reported but left out of the differences and ratios: ${describeGroups(grouping, small)}`,
    )
  for (const g of gated) {
    const label = describeValue(grouping.values[g])
    if (counts.positives[g] === 0)
      notes.push(
        `${where}: group ${label} has no positive rows, so its true positive rate is undefined (reported as 0, as fairlearn does) and left out of equalized odds`,
      )
    if (counts.positives[g] === counts.rows[g])
      notes.push(
        `${where}: group ${label} has no negative rows, so its false positive rate is undefined (reported as 0, as fairlearn does) and left out of equalized odds`,
      )
  }
  return notes
}

function describeValue(v: GroupValue): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v)
}

/** Groups listed in messages; a column of many distinct values (an id, a measurement) would flood them. */
const LISTED_GROUPS = 10

function describeGroups(grouping: Grouping, groups: number[]): string {
  const listed = groups.slice(0, LISTED_GROUPS).map((g) => `${describeValue(grouping.values[g])} ${grouping.rows[g]} rows`)
  if (groups.length > LISTED_GROUPS) listed.push(`and ${groups.length - LISTED_GROUPS} more`)
  return listed.join(', ')
}

/** Four significant digits: enough that a value just over a bound does not print as the bound. */
const num = (x: number) => Number(x.toPrecision(4)).toString()
const signed = (x: number) => (x >= 0 ? `+${num(x)}` : num(x))
/** Bounds as the gate evaluation prints them. */
const bound = (x: number) => Number(x.toPrecision(6)).toString()

function describeInterval(i: Interval | undefined): string {
  return i ? `, ${num(i.confidence * 100)}% CI [${num(i.low)}, ${num(i.high)}]` : ''
}

function fairnessCheck(gate: GateSpec, column: ColumnEvaluation): CheckResult {
  const { dataset, column: name } = column.input
  const { metrics, intervals, baseline } = column.result
  const id = `fairness/${dataset}/${name}/${gate.expression.replace(/\s+/g, '')}`
  const subject = `${gate.metric} across ${name}`
  const reason = column.unavailable[gate.metric as FairnessMetric]
  if (reason !== undefined)
    // A data limitation (too few groups, no outcomes to condition on), not a verdict on the model.
    return {
      id,
      kind: 'fairness',
      dataset,
      status: 'skipped',
      severity: gate.severity,
      metric: gate.metric,
      value: null,
      message: `${subject} is not computed: ${reason}; ${gate.expression} skipped`,
    }
  const check = evaluateGate(gate, { dataset, metrics, baseline: column.input.baseline ? baseline : undefined })
  const measured = `${subject} = ${num(check.value!)}${describeInterval(intervals[gate.metric])}`
  const verdict = check.status === 'pass' ? 'meets' : 'does not meet'
  let message: string
  if (check.status === 'skipped') message = `${measured}; ${check.message}`
  else if (gate.bound.kind === 'absolute') message = `${measured}, ${verdict} ${gate.op} ${bound(gate.bound.value)}`
  else
    message = `${measured} vs baseline ${num(check.baseline!)} (${signed(check.value! - check.baseline!)}); ${verdict} ${gate.op} ${bound(check.threshold!.value)}`
  return { ...check, id, kind: 'fairness', message }
}
