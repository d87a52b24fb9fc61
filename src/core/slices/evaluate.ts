import type { ScoredRows } from '../evaluation/types.js'
import { changeBound } from '../gates/evaluate.js'
import { compare, type GateSpec } from '../gates/expression.js'
import type { CheckResult, Comparator, SliceResult } from '../result/types.js'
import { bootstrap, deltaStatistic } from '../stats/bootstrap.js'
import type { BootstrapOptions, Interval } from '../stats/types.js'
import { benjaminiHochbergTest } from './fdr.js'
import { bound, ciText, num, sliceLabel, signedNum } from './format.js'
import { describeSlice, sliceMask } from './mask.js'
import { defaultSliceMetrics, indicesOf, measure, subsetRows, unavailableReason, type Measured } from './measure.js'
import { sliceGates, type SliceDefinition, type SlicesConfig } from './schema.js'

export type Direction = (metric: string) => 'higher' | 'lower'

export interface SliceEvaluation {
  slices: SliceResult[]
  checks: CheckResult[]
}

/** One defined slice, measured. */
interface Measurement {
  def: SliceDefinition
  rows: ScoredRows
  result: SliceResult
  measured: Measured
}

/**
 * The manifest's slices on one data set: each slice's metrics with bootstrap intervals (and the
 * baseline's when it scored the same rows), its threshold checks, and the max-regression checks with
 * Benjamini–Hochberg across every gated slice and metric. Slices below `min-size` are reported and their
 * checks skipped.
 */
export function evaluateSlices(
  rows: ScoredRows,
  dataset: string,
  config: SlicesConfig,
  opts: BootstrapOptions,
  direction: Direction,
): SliceEvaluation {
  const metrics = config.metrics ?? defaultSliceMetrics(rows)
  const measurements = config.define.map((def, at): Measurement => {
    const sub = subsetRows(rows, indicesOf(sliceMask(def, rows.columns, rows.n, dataset, at)))
    const gateMetrics = sliceGates(def).map((g) => g.metric)
    const measured = measure(sub, [...new Set([...metrics, ...gateMetrics])], opts)
    const result: SliceResult = {
      dataset,
      name: def.name,
      definition: describeSlice(def),
      source: 'manifest',
      rows: sub.n,
      gated: sub.n >= config['min-size'],
      metrics: measured.metrics,
      intervals: measured.intervals,
      ...(measured.baseline ? { baseline: measured.baseline } : {}),
    }
    return { def, rows: sub, result, measured }
  })
  const checks = measurements.flatMap((m) => sliceGates(m.def).map((g) => gateCheck(m, g, config['min-size'])))
  checks.push(...regressionChecks(measurements, rows, dataset, config, metrics, opts, direction))
  return { slices: measurements.map((m) => m.result), checks }
}

function checkId(dataset: string, slice: string, what: string): string {
  return `slice/${dataset}/${slice}/${what.replace(/\s+/g, '')}`
}

/** Why a comparison failed, in words: `below 0.9`, `above 0.3`. */
function violation(op: Comparator, limit: string): string {
  const words: Record<Comparator, string> = { '>=': 'below', '>': 'not above', '<=': 'above', '<': 'not below', '==': 'not equal to' }
  return `${words[op]} ${limit}`
}

function gateCheck(m: Measurement, gate: GateSpec, minSize: number): CheckResult {
  const { result, measured } = m
  const label = sliceLabel(result.name, result.rows)
  const base = {
    id: checkId(result.dataset, result.name, gate.expression),
    kind: 'slice',
    dataset: result.dataset,
    severity: gate.severity,
    metric: gate.metric,
  } as const
  const value = measured.metrics[gate.metric]
  if (!result.gated) {
    return {
      ...base,
      status: 'skipped',
      value: value ?? null,
      message: `${label}: fewer rows than min-size ${minSize}, reported but not gated: ${gate.expression} skipped`,
    }
  }
  if (value === undefined) {
    return {
      ...base,
      status: gate.severity,
      value: null,
      message: `${label}: ${gate.metric} is not available: ${measured.unavailable[gate.metric]}`,
    }
  }
  const measuredText = `${label}: ${gate.metric} ${num(value)}, ${ciText(measured.intervals[gate.metric])}`
  if (gate.bound.kind === 'absolute') {
    const ok = compare(value, gate.op, gate.bound.value)
    const limit = bound(gate.bound.value)
    return {
      ...base,
      status: ok ? 'pass' : gate.severity,
      value,
      threshold: { op: gate.op, value: gate.bound.value, expression: gate.expression },
      message: `${measuredText}, ${ok ? `meets ${gate.op} ${limit}` : violation(gate.op, limit)}`,
    }
  }
  const baselineValue = measured.baseline?.[gate.metric]
  if (baselineValue === undefined) {
    const why = measured.baseline ? `the baseline has no ${gate.metric} on the slice` : 'no baseline model scored these rows'
    return { ...base, status: 'skipped', value, baseline: null, message: `${label}: ${why}: ${gate.expression} skipped` }
  }
  const limitValue = changeBound(baselineValue, gate.bound.delta, gate.bound.relative)
  const ok = compare(value, gate.op, limitValue)
  const limit = `${bound(limitValue)} (${gate.expression.slice(gate.expression.indexOf('baseline'))})`
  return {
    ...base,
    status: ok ? 'pass' : gate.severity,
    value,
    baseline: baselineValue,
    threshold: { op: gate.op, value: limitValue, expression: gate.expression },
    message: `${measuredText}, vs baseline ${num(baselineValue)} (${signedNum(value - baselineValue)}): ${ok ? `meets ${gate.op} ${limit}` : violation(gate.op, limit)}`,
  }
}

/** Replicates this close to the bound count as at it, so that 0.87 − 0.89 is not "beyond −0.02". */
const BOUNDARY_TOLERANCE = 1e-12

interface RegressionTest {
  m: Measurement
  metric: string
  candidate: number
  baseline: number
  /** candidate − baseline, with its bootstrap interval. */
  interval: Interval
  pValue: number
}

/**
 * H₀: on this slice the candidate is worse than the baseline by at most δ (in "better" units).
 * p = (1 + #{replicates of the paired difference, oriented so that larger is better, ≥ −δ}) / (1 + B):
 * small when nearly every resample shows a regression beyond δ. Rejected (the check fails) only when
 * Benjamini–Hochberg across all slices and metrics rejects it at `fdr`, so that many noisy slices do not
 * produce false alarms.
 */
function regressionChecks(
  measurements: Measurement[],
  rows: ScoredRows,
  dataset: string,
  config: SlicesConfig,
  metrics: string[],
  opts: BootstrapOptions,
  direction: Direction,
): CheckResult[] {
  const delta = config['max-regression']
  if (delta === undefined || measurements.length === 0) return []
  const what = (metric: string) => `max-regression:${metric}`
  if (!rows.baseline) {
    return [
      {
        id: `slice/${dataset}/max-regression`,
        kind: 'slice',
        dataset,
        status: 'skipped',
        severity: 'fail',
        value: null,
        message: `no baseline model scored data set "${dataset}": slice max-regression ${bound(delta)} skipped`,
      },
    ]
  }
  // Skipped checks in place, tests by their index: the checks keep the slices' order.
  const slots: (CheckResult | number)[] = []
  const tests: RegressionTest[] = []
  for (const m of measurements) {
    const label = sliceLabel(m.result.name, m.result.rows)
    for (const metric of metrics) {
      const skipped = (why: string): CheckResult => ({
        id: checkId(dataset, m.result.name, what(metric)),
        kind: 'slice',
        dataset,
        status: 'skipped',
        severity: 'fail',
        metric,
        value: m.measured.metrics[metric] ?? null,
        message: `${label}: ${why}: max-regression ${bound(delta)} on ${metric} skipped`,
      })
      const why = m.result.gated
        ? (unavailableReason(m.rows, metric, 'candidate') ?? unavailableReason(m.rows, metric, 'baseline'))
        : `fewer rows than min-size ${config['min-size']}, reported but not gated`
      if (why) slots.push(skipped(why))
      else slots.push(tests.push(regressionTest(m, metric, delta, opts, direction)) - 1)
    }
  }
  const bh = benjaminiHochbergTest(
    tests.map((t) => t.pValue),
    config.fdr,
  )
  return slots.map((s) =>
    typeof s === 'number' ? regressionCheck(tests[s], delta, bh.reject[s], bh.adjusted[s], config.fdr, direction) : s,
  )
}

function regressionTest(m: Measurement, metric: string, delta: number, opts: BootstrapOptions, direction: Direction): RegressionTest {
  const sub = m.rows
  const diff = bootstrap(sub.n, deltaStatistic(metric, sub), opts)
  const sign = direction(metric) === 'higher' ? 1 : -1
  let finite = 0
  let consistent = 0
  for (let b = 0; b < diff.replicates.length; b++) {
    const r = diff.replicates[b]
    if (!Number.isFinite(r)) continue
    finite++
    if (sign * r >= -delta - BOUNDARY_TOLERANCE) consistent++
  }
  return {
    m,
    metric,
    candidate: m.measured.metrics[metric],
    baseline: (m.measured.baseline as Record<string, number>)[metric],
    interval: diff.interval,
    pValue: (1 + consistent) / (1 + finite),
  }
}

function regressionCheck(
  t: RegressionTest,
  delta: number,
  reject: boolean,
  adjusted: number,
  fdr: number,
  direction: Direction,
): CheckResult {
  const { result } = t.m
  const higher = direction(t.metric) === 'higher'
  const op: Comparator = higher ? '>=' : '<='
  const expression = `${t.metric} ${op} baseline ${higher ? '-' : '+'} ${bound(delta)}`
  const p = (x: number) => String(Number(x.toPrecision(2)))
  const test = `p = ${p(t.pValue)}, BH-adjusted ${p(adjusted)} ${reject ? '≤' : '>'} fdr ${bound(fdr)}`
  const verdict = reject ? `worse than the baseline by more than ${bound(delta)}` : `no significant regression beyond ${bound(delta)}`
  return {
    id: checkId(result.dataset, result.name, `max-regression:${t.metric}`),
    kind: 'slice',
    dataset: result.dataset,
    status: reject ? 'fail' : 'pass',
    severity: 'fail',
    metric: t.metric,
    value: t.candidate,
    baseline: t.baseline,
    threshold: { op, value: higher ? t.baseline - delta : t.baseline + delta, expression },
    message:
      `${sliceLabel(result.name, result.rows)}: ${t.metric} ${num(t.candidate)} vs baseline ${num(t.baseline)} ` +
      `(${signedNum(t.candidate - t.baseline)}, ${ciText(t.interval, signedNum)}); ${verdict}: ${test}`,
  }
}
