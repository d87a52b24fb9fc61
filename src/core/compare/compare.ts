/**
 * Champion/challenger comparison (issue 3): for each metric, the candidate's and the baseline's value on
 * the same rows, their difference, a paired-bootstrap confidence interval of the difference, a specific
 * test where one fits, and, against a margin, a verdict the data support: pass, fail or inconclusive.
 *
 * Decisions:
 * - The interval is always the paired bootstrap one (BCa by default; all metrics resampled together, so
 *   they describe the same resamples). One interval method for every metric keeps the verdict rule the
 *   same for all of them, and respects a metric's range and skew.
 * - Tests: McNemar's (exact below 25 discordant rows, else chi-square with continuity correction) for
 *   accuracy; DeLong's for binary roc_auc, whose own Wald interval is stated in `method` for reference.
 *   Other metrics: pValue null. The p-value and the bootstrap interval answer slightly different questions
 *   and can disagree at the edge; the verdict uses the interval only.
 * - Verdicts, with g the improvement (delta for higher-is-better metrics, −delta for lower-is-better) and
 *   [gL, gH] its interval, and m the margin in improvement units (m = δ for superiority by δ, m = −δ for
 *   non-inferiority within δ), the claim being g > m: pass when gL > m (the whole interval supports it),
 *   fail when gH ≤ m (the whole interval contradicts it: for superiority the data exclude a gain beyond δ,
 *   for non-inferiority they show a loss of at least δ), inconclusive when gL ≤ m < gH (more rows needed).
 *   No margin: no verdict, the comparison is reported only.
 */
import type { ScoredRows } from '../evaluation/types.js'
import { METRIC_DIRECTIONS, type MetricDirection } from '../metrics/catalog.js'
import type { Comparison, Verdict } from '../result/types.js'
import { bootstrapMany, deltaStatistic } from '../stats/bootstrap.js'
import { delong } from '../stats/delong.js'
import { mcnemar } from '../stats/mcnemar.js'
import type { BootstrapOptions, Interval } from '../stats/types.js'
import { binaryScores, correctness } from '../stats/kernels/inputs.js'
import { hasWeightedMetric, metricKernel } from '../stats/weighted.js'

export type Direction = MetricDirection

export interface ComparisonSpec {
  metric: string
  /** The candidate must be better by more than this (metric units, ≥ 0). */
  superiority?: number
  /** The candidate may be worse by at most this (metric units, ≥ 0). */
  nonInferiority?: number
}

/** Whether higher or lower is better for `metric`, from the metric catalogue. */
export function defaultDirection(metric: string): Direction {
  const direction = METRIC_DIRECTIONS[metric]
  if (!direction) throw new Error(`no direction known for metric ${metric}: say whether higher or lower is better`)
  return direction
}

/** The specs' metrics that both models' outputs allow on these rows (others would throw in compareModels). */
export function comparableMetrics(rows: ScoredRows, metrics: string[]): string[] {
  return metrics.filter(
    (m) =>
      rows.baseline !== undefined &&
      hasWeightedMetric(m, rows, 'candidate') &&
      hasWeightedMetric(m, rows, 'baseline') &&
      !Number.isNaN(metricKernel(m, rows, 'candidate')(null)) &&
      !Number.isNaN(metricKernel(m, rows, 'baseline')(null)),
  )
}

/**
 * Compares the candidate with the baseline on `rows` for each spec; see the top of this file. Throws when
 * there is no baseline, a metric is not available to both models, or undefined on these rows: filter the
 * specs with `comparableMetrics` first.
 */
export function compareModels(
  rows: ScoredRows,
  dataset: string,
  specs: ComparisonSpec[],
  opts: BootstrapOptions,
  direction: (metric: string) => Direction = defaultDirection,
): Comparison[] {
  if (!rows.baseline) throw new Error(`data set ${dataset}: no baseline predictions on the same rows to compare with`)
  for (const spec of specs) {
    if (!hasWeightedMetric(spec.metric, rows, 'candidate') || !hasWeightedMetric(spec.metric, rows, 'baseline')) {
      throw new Error(`data set ${dataset}: ${spec.metric} cannot be compared: both models need the outputs it is computed from`)
    }
    marginOf(spec)
  }
  const results = bootstrapMany(
    rows.n,
    specs.map((s) => deltaStatistic(s.metric, rows)),
    opts,
  )
  return specs.map((spec, s) => {
    const candidate = metricKernel(spec.metric, rows, 'candidate')(null)
    const baseline = metricKernel(spec.metric, rows, 'baseline')(null)
    const { estimate: delta, interval } = results[s]
    const better = direction(spec.metric)
    const test = specificTest(spec.metric, rows, interval.confidence)
    const margin = marginOf(spec)
    const gain = better === 'higher' ? { low: interval.low, high: interval.high } : { low: -interval.high, high: -interval.low }
    const verdict = margin && verdictOf(gain, margin.delta)
    const comparison: Comparison = {
      dataset,
      metric: spec.metric,
      n: rows.n,
      candidate,
      baseline,
      delta,
      interval,
      pValue: test?.pValue ?? null,
      method: [bootstrapMethod(interval, opts), test?.method].filter(Boolean).join('; '),
      ...(test?.result && { test: test.result }),
      ...(margin && { margin }),
      ...(verdict && { verdict }),
      message: message(spec.metric, better, delta, interval, gain, test, margin, verdict),
    }
    return comparison
  })
}

function marginOf(spec: ComparisonSpec): Comparison['margin'] {
  const { superiority, nonInferiority } = spec
  if (superiority !== undefined && nonInferiority !== undefined) {
    throw new Error(`${spec.metric}: give a superiority or a non-inferiority margin, not both`)
  }
  for (const [name, value] of [
    ['superiority', superiority],
    ['nonInferiority', nonInferiority],
  ] as const) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new Error(`${spec.metric}: ${name} margin = ${String(value)} must be a number >= 0`)
    }
  }
  if (superiority !== undefined) return { kind: 'superiority', delta: superiority }
  if (nonInferiority !== undefined) return { kind: 'non-inferiority', delta: -nonInferiority }
  return undefined
}

/** The claim "improvement > m" against the improvement interval: pass, fail or inconclusive. */
export function verdictOf(gain: { low: number; high: number }, m: number): Verdict {
  if (gain.low > m) return 'pass'
  if (gain.high <= m) return 'fail'
  return 'inconclusive'
}

interface TestOutcome {
  pValue: number | null
  method: string
  /** Short form for the message: "McNemar p = 0.61". */
  short?: string
  result?: Comparison['test']
}

function specificTest(metric: string, rows: ScoredRows, confidence: number): TestOutcome | undefined {
  if (metric === 'accuracy' && rows.task !== 'regression') {
    const r = mcnemar(correctness(rows, 'candidate'), correctness(rows, 'baseline'))
    const kind = r.exact ? 'exact binomial' : 'chi-square with continuity correction'
    return {
      pValue: r.pValue,
      method: `McNemar test, ${kind} (${r.b} rows right only by the candidate, ${r.c} only by the baseline; p = ${formatP(r.pValue)})`,
      short: `McNemar p = ${formatP(r.pValue)}`,
      result: {
        name: r.exact ? 'mcnemar-exact' : 'mcnemar-chi2',
        statistic: r.statistic,
        discordant: { candidateOnly: r.b, baselineOnly: r.c },
      },
    }
  }
  if (metric === 'roc_auc' && rows.task === 'binary') {
    const a = binaryScores(rows, 'candidate')
    const b = binaryScores(rows, 'baseline')
    let r
    try {
      r = delong(a.truth, a.score, b.score)
    } catch (error) {
      return { pValue: null, method: `DeLong test not applicable: ${(error as Error).message}` }
    }
    const ci = r.interval(confidence)
    const digits = decimalsFor(ci.low, ci.high, r.delta)
    return {
      pValue: r.pValue,
      method:
        `DeLong test (Sun & Xu algorithm; z = ${r.z.toFixed(3)}, p = ${formatP(r.pValue)}; ` +
        `its ${percent(confidence)} Wald CI [${signed(ci.low, digits)}, ${signed(ci.high, digits)}])`,
      short: `DeLong p = ${formatP(r.pValue)}`,
      result: { name: 'delong', statistic: r.z },
    }
  }
  return undefined
}

function bootstrapMethod(interval: Interval, opts: BootstrapOptions): string {
  const kind = interval.method === 'bca' ? 'BCa' : 'percentile'
  const parts = [`paired bootstrap (${kind}, ${opts.resamples} resamples, seed ${opts.seed}, ${percent(opts.confidence)} CI)`]
  if (interval.undefinedResamples) parts.push(`${interval.undefinedResamples} resamples left the metric undefined and were left out`)
  if (interval.note) parts.push(interval.note)
  return parts.join('; ')
}

function message(
  metric: string,
  better: Direction,
  delta: number,
  interval: Interval,
  gain: { low: number; high: number },
  test: TestOutcome | undefined,
  margin: Comparison['margin'],
  verdict: Verdict | undefined,
): string {
  const digits = decimalsFor(interval.low, interval.high, delta)
  const lead =
    gain.low > 0
      ? `the new model is better on ${metric}`
      : gain.high < 0
        ? `the new model is worse on ${metric}`
        : `no detectable difference on ${metric}`
  let text = `${lead}: ${signed(delta, digits)}, ${percent(interval.confidence)} CI [${signed(interval.low, digits)}, ${signed(interval.high, digits)}]`
  const notes: string[] = []
  if (better === 'lower') notes.push('lower is better')
  if (test?.short) notes.push(test.short)
  if (notes.length > 0) text += ` (${notes.join('; ')})`
  if (margin && verdict) text += `; ${marginSentence(margin, verdict, better, digits)}`
  return text
}

/** The verdict in words, with the margin in the metric's own units and sign. */
function marginSentence(margin: NonNullable<Comparison['margin']>, verdict: Verdict, better: Direction, digits: number): string {
  const size = Math.abs(margin.delta).toFixed(digits)
  const gain = better === 'higher' ? 'gain' : 'reduction'
  const loss = better === 'higher' ? 'loss' : 'increase'
  const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`)
  const narrow = 'more rows would narrow it'
  if (margin.kind === 'superiority') {
    if (margin.delta === 0) {
      if (verdict === 'pass') return `superiority: pass (the whole CI is ${article(gain)})`
      if (verdict === 'fail') return `superiority: fail (the CI excludes any ${gain})`
      return `superiority: inconclusive (the CI includes no difference; ${narrow})`
    }
    if (verdict === 'pass') return `superiority by ${size}: pass (the whole CI is beyond ${article(gain)} of ${size})`
    if (verdict === 'fail') return `superiority by ${size}: fail (the CI excludes ${article(gain)} beyond ${size})`
    return `superiority by ${size}: inconclusive (the CI includes ${article(gain)} of ${size}; ${narrow})`
  }
  if (verdict === 'pass') return `non-inferiority within ${size}: pass (the CI excludes ${article(loss)} of ${size})`
  if (verdict === 'fail') return `non-inferiority within ${size}: fail (the whole CI is ${article(loss)} of ${size} or more)`
  return `non-inferiority within ${size}: inconclusive (the CI includes ${article(loss)} of ${size}; ${narrow})`
}

/** Decimals showing about three significant figures of the largest of the values, at least 3. */
function decimalsFor(...values: number[]): number {
  const scale = Math.max(...values.map((v) => (Number.isFinite(v) ? Math.abs(v) : 0)))
  if (scale === 0) return 3
  return Math.min(10, Math.max(3, 1 - Math.floor(Math.log10(scale))))
}

/** +0.012 / −0.003 (a true minus sign) / 0.000: what rounds to zero carries no sign, as in the report's intervals. */
export function signed(value: number, digits: number): string {
  const text = Math.abs(value).toFixed(digits)
  if (Number(text) === 0) return text
  return value < 0 ? `\u2212${text}` : `+${text}`
}

function percent(confidence: number): string {
  return `${Number((confidence * 100).toFixed(4))}%`
}

function formatP(p: number): string {
  if (p < 0.0001) return p.toExponential(1)
  return Number(p.toPrecision(2)).toString()
}
