import type { CheckResult, CheckStatus, Comparison, DatasetResult, Status, ValidationResult, Verdict } from '../result/types.js'
import type { Interval } from '../stats/types.js'
import { MINUS, clip, escapeMarkdownCell, formatDelta, formatFixed, formatNumber } from './escape.js'

/** The action whose results these reports describe, unless a caller names another. */
export const DEFAULT_ACTION = 'validate-model'

const STATUS_EMOJI: Record<Status, string> = { pass: '✅', warn: '⚠️', fail: '❌', error: '💥' }

export const CHECK_MARK: Record<CheckStatus, string> = { fail: '❌', warn: '⚠️', pass: '✅', skipped: '⏭️' }

const CHECK_ORDER: Record<CheckStatus, number> = { fail: 0, warn: 1, pass: 2, skipped: 3 }

/** Failures first, then warnings, passes and skipped checks, keeping the gate's order within each. */
export function orderedChecks(checks: readonly CheckResult[]): CheckResult[] {
  return checks
    .map((check, index) => ({ check, index }))
    .sort((a, b) => CHECK_ORDER[a.check.status] - CHECK_ORDER[b.check.status] || a.index - b.index)
    .map(({ check }) => check)
}

export function countChecks(checks: readonly CheckResult[], status: CheckStatus): number {
  return checks.reduce((n, c) => n + (c.status === status ? 1 : 0), 0)
}

/**
 * A count and its noun, singular only for exactly one: `1 row`, `0 rows`, `1,234 rows`,
 * `2 batches` (with `many` for an irregular plural). Every `N rows` a report writes goes through here.
 */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatNumber(n)} ${n === 1 ? one : many}`
}

/**
 * The one-line verdict, as Markdown-safe text: `✅ validate-model passed`,
 * `⚠️ validate-model passed with warnings: 1 check warned`, `❌ validate-model failed: 2 checks failed`,
 * `💥 validate-model error: <message>`.
 */
export function headline(result: ValidationResult, title: string = DEFAULT_ACTION): string {
  const name = `${STATUS_EMOJI[result.status]} ${escapeMarkdownCell(title)}`
  switch (result.status) {
    case 'pass':
      return `${name} passed`
    case 'warn': {
      const warned = countChecks(result.checks, 'warn')
      return warned > 0 ? `${name} passed with warnings: ${plural(warned, 'check', 'checks')} warned` : `${name} passed with warnings`
    }
    case 'fail': {
      const failed = countChecks(result.checks, 'fail')
      return failed > 0 ? `${name} failed: ${plural(failed, 'check', 'checks')} failed` : `${name} failed`
    }
    case 'error':
      return `${name} error: ${escapeMarkdownCell(errorText(result))}`
  }
}

/** The error message with the file and field it concerns, as plain text. */
/**
 * What the run compared with, in words first, when the baseline was named by its place in the
 * registry: `vs production: churn 1.4.2 (stage prod)`, or that no version holds the stage yet.
 * Markdown (escaped, the label in bold) or, with `plain`, text for the terminal; undefined for a
 * baseline given as a file.
 */
export function comparedWithLine(result: ValidationResult, plain = false): string | undefined {
  const from = result.registryBaseline
  if (!from) return undefined
  const esc = plain ? (t: string) => t : escapeMarkdownCell
  const production = from.ref.startsWith('production') || from.stage === 'prod' || from.stage === 'production'
  const against = production ? 'production' : from.stage ? `stage ${esc(from.stage)}` : `version ${esc(from.version ?? '')}`
  const label = plain ? `vs ${against}:` : `**vs ${against}:**`
  if (!from.version)
    return `${label} no ${production ? 'production version' : `version in stage ${esc(from.stage ?? '')}`} yet (${esc(from.registry)}); change gates and comparisons were skipped`
  const stage = from.stage ? ` (stage ${esc(from.stage)})` : ''
  const digest = from.digest ? ` · ${esc(from.digest.slice(0, 19))}…` : ''
  return `${label} ${esc(from.name)} ${esc(from.version)}${stage}${digest} · ${esc(from.registry)}`
}

export function errorText(result: ValidationResult): string {
  const error = result.error
  if (!error) return 'the run could not be judged'
  const where = [error.file, error.field].filter((s): s is string => Boolean(s)).join(': ')
  return where && !error.message.includes(where) ? `${error.message} (${where})` : error.message
}

/** The bound a check was held to, as plain text. */
export function thresholdText(check: CheckResult): string {
  if (!check.threshold) return ''
  return check.threshold.expression || `${check.threshold.op} ${formatNumber(check.threshold.value)}`
}

/** value − baseline, when both are known. */
export function changeOf(value: number | null | undefined, baseline: number | null | undefined): number | null {
  return typeof value === 'number' && typeof baseline === 'number' ? value - baseline : null
}

export const CHECK_TABLE_HEADER = ['', 'Check', 'Value', 'Threshold', 'Baseline', 'Change', 'Message']

/** What a check is shown with; `baseline` undefined means the check has none to show. */
export interface CheckFigures {
  value: number | null
  baseline?: number | null
  change: number | null
}

/**
 * A comparison check's figures come from its comparison (candidate, baseline, delta), whatever the
 * check's own `value` holds (the delta, say, which `value − baseline` would turn into nonsense);
 * every other check's come from the check.
 */
export function checkFigures(check: CheckResult, comparison?: Comparison): CheckFigures {
  if (comparison) return { value: comparison.candidate, baseline: comparison.baseline, change: comparison.delta }
  if (check.baseline === undefined) return { value: check.value, change: null }
  return { value: check.value, baseline: check.baseline, change: changeOf(check.value, check.baseline) }
}

/**
 * One Markdown table row per check, every data-derived cell escaped; long messages clipped to
 * `messageMax`. `comparison`: the one a comparison check judged (see `comparisonOf`).
 */
export function checkRow(check: CheckResult, messageMax: number, comparison?: Comparison): string[] {
  const figures = checkFigures(check, comparison)
  const hasBaseline = figures.baseline !== undefined
  return [
    CHECK_MARK[check.status],
    escapeMarkdownCell(check.id),
    formatNumber(figures.value),
    escapeMarkdownCell(thresholdText(check)),
    hasBaseline ? formatNumber(figures.baseline) : '',
    hasBaseline ? formatDelta(figures.change) : '',
    escapeMarkdownCell(clip(check.message, messageMax)),
  ]
}

/** A GFM table. Cells must already be escaped. */
export function tableLines(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly ('l' | 'r' | 'c')[],
): string[] {
  const rule = header.map((_, i) => ({ l: ':---', r: '---:', c: ':---:' })[align?.[i] ?? 'l'])
  return [header, rule, ...rows].map((cells) => `| ${cells.join(' | ')} |`)
}

/** The baseline value of a metric, for the data set whose metrics the baseline is compared with (the first). */
export function baselineMetric(result: ValidationResult, dataset: DatasetResult, metric: string): number | undefined {
  if (!result.baseline || dataset !== result.data[0]) return undefined
  return result.baseline.metrics[metric]
}

/** `abc1234` of a full SHA. */
export function shortSha(sha: string): string {
  return sha.slice(0, 7)
}

/**
 * A Markdown link. Characters that could end the link target or the line are percent-encoded,
 * so a URL from the environment cannot inject Markdown.
 */
export function link(text: string, url: string): string {
  const target = url.replace(/[ \t\r\n\f\v()<>"'`\\|[\]]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
  return `[${escapeMarkdownCell(text).replace(/[[\]]/g, '\\$&')}](${target})`
}

export const VERDICT_MARK: Record<Verdict, string> = { pass: '✅', fail: '❌', inconclusive: '❔' }

const TEST_NAME: Record<NonNullable<Comparison['test']>['name'], string> = {
  'mcnemar-exact': 'McNemar exact',
  'mcnemar-chi2': 'McNemar χ²',
  delong: 'DeLong',
}

const INTERVAL_METHOD: Record<Interval['method'], string> = {
  bca: 'BCa bootstrap',
  percentile: 'percentile bootstrap',
  delong: 'DeLong',
  wilson: 'Wilson score',
  exact: 'exact',
}

/**
 * Decimals that show an interval's width to two significant digits, so a narrow interval does not
 * collapse to `[+0.000, +0.000]`: at most 6, and at least 3 for scores and rates (below 10 in size),
 * which then read alike across a table; large values (errors in the target's units) may take fewer.
 */
export function intervalDigits(interval: Interval): number {
  const width = interval.high - interval.low
  const fewest = Math.max(Math.abs(interval.low), Math.abs(interval.high)) < 10 ? 3 : 0
  if (!Number.isFinite(width) || width <= 0) return 3
  return Math.min(6, Math.max(fewest, Math.ceil(-Math.log10(width)) + 1))
}

/** `95%`. */
export function confidenceText(interval: Interval): string {
  return `${formatNumber(interval.confidence * 100)}%`
}

/**
 * One bound of the interval of a difference: signed by the value itself (`+0.004`, `−0.012`), so a
 * bound that rounds to zero still says on which side of zero it lies (`−0.000`), and an exact zero
 * unsigned (`0.000`). Never `±`: inside brackets that would read as a half-width.
 */
export function formatBound(x: number, digits: number): string {
  if (!Number.isFinite(x) || x === 0) return formatFixed(x, digits)
  return `${x < 0 ? MINUS : '+'}${formatFixed(Math.abs(x), digits)}`
}

/** The interval of a difference, with explicit signs: `[+0.004, +0.020]`, `[−0.012, +0.004]`, `[0.000, +0.058]`. */
export function formatInterval(interval: Interval, digits: number = intervalDigits(interval)): string {
  return `[${formatBound(interval.low, digits)}, ${formatBound(interval.high, digits)}]`
}

/** The interval of a value (a metric, a rate): `[0.806, 0.975]`. */
export function formatRange(interval: Interval, digits: number = intervalDigits(interval)): string {
  return `[${formatFixed(interval.low, digits)}, ${formatFixed(interval.high, digits)}]`
}

/** A value and its interval at one precision: `0.927 [0.806, 0.975]`; the bare value when there is no interval. */
export function formatEstimate(value: number | undefined, interval: Interval | undefined): string {
  if (value === undefined || !interval) return formatNumber(value)
  const digits = intervalDigits(interval)
  return `${formatFixed(value, digits)} ${formatRange(interval, digits)}`
}

/**
 * How an interval was made, in words: `95% BCa bootstrap, 1,000 resamples`, with the resamples left out
 * as undefined and any departure from the textbook method: `…, 1,000 resamples (12 undefined, left out) (grouped jackknife)`.
 */
export function intervalMethodText(interval: Interval): string {
  const parts = [`${confidenceText(interval)} ${INTERVAL_METHOD[interval.method]}`]
  if (interval.resamples !== undefined) {
    const undefinedOnes = interval.undefinedResamples ? ` (${formatNumber(interval.undefinedResamples)} undefined, left out)` : ''
    parts.push(`${formatNumber(interval.resamples)} resamples${undefinedOnes}`)
  }
  return parts.join(', ') + (interval.note ? ` (${interval.note})` : '')
}

/**
 * The header of a column of intervals: `95% CI` when they share one confidence; otherwise `CI`,
 * and `labelEach` says each cell must name its own.
 */
export function intervalHeader(intervals: readonly Interval[]): { header: string; labelEach: boolean } {
  const levels = new Set(intervals.map((i) => i.confidence))
  if (levels.size === 1) return { header: `${confidenceText(intervals[0]!)} CI`, labelEach: false }
  return { header: 'CI', labelEach: levels.size > 1 }
}

/** `p = 0.031`, `p = 0.0029`, `p = 2.9e-7`: two significant digits, as the comparison messages give it. */
export function formatPValue(p: number): string {
  return `p = ${p < 0.0001 ? p.toExponential(1) : String(Number(p.toPrecision(2)))}`
}

/**
 * The p-value with the test that gave it: `McNemar exact p = 0.031 (b = 12, c = 3)`, where b counts
 * rows only the candidate got right and c rows only the baseline got right; `DeLong p = 0.004`; `—`.
 */
export function testText(c: Comparison): string {
  if (c.pValue === null) return '—'
  const name = c.test ? `${TEST_NAME[c.test.name]} ` : ''
  const d = c.test?.discordant
  const counts = d ? ` (b = ${formatNumber(d.candidateOnly)}, c = ${formatNumber(d.baselineOnly)})` : ''
  return `${name}${formatPValue(c.pValue)}${counts}`
}

/** `superiority +0.005`, `non-inferiority −0.01`, or `—` when the comparison is only reported. */
export function marginText(c: Comparison): string {
  return c.margin ? `${c.margin.kind} ${formatDelta(c.margin.delta).replace(/^-/, MINUS)}` : '—'
}

/** `pass`, `fail`, `inconclusive`, or `report only` when there was no margin to judge against. */
export function verdictText(c: Comparison): string {
  return c.verdict ?? 'report only'
}

/** One comparison as plain-text cells, for any table (Markdown cells still need escaping). */
export interface ComparisonCells {
  metric: string
  baseline: string
  candidate: string
  delta: string
  interval: string
  test: string
  margin: string
  verdict: string
}

/** The delta and its interval share a precision, so `+0.012` sits with `[+0.004, +0.020]`. */
export function formatComparisonRow(c: Comparison): ComparisonCells {
  const digits = intervalDigits(c.interval)
  return {
    metric: c.metric,
    baseline: formatNumber(c.baseline),
    candidate: formatNumber(c.candidate),
    delta: formatFixed(c.delta, digits, true),
    interval: formatInterval(c.interval, digits),
    test: testText(c),
    margin: marginText(c),
    verdict: verdictText(c),
  }
}

/** The comparison a `comparison` check judged: the same metric on the same data set. */
export function comparisonOf(result: ValidationResult, check: CheckResult): Comparison | undefined {
  if (check.kind !== 'comparison' || !check.metric) return undefined
  const dataset = check.dataset ?? result.data[0]?.name
  return result.comparisons?.find((c) => c.metric === check.metric && (dataset === undefined || c.dataset === dataset))
}

/**
 * What a comparison adds to its check's facts, as plain-text label/value pairs; the margin only when
 * the check does not already state it as its threshold.
 */
export function comparisonFacts(c: Comparison, check: CheckResult): [label: string, text: string][] {
  const facts: [string, string][] = [['interval', `${confidenceText(c.interval)} CI ${formatInterval(c.interval)}`]]
  if (c.pValue !== null) facts.push(['test', testText(c)])
  if (c.margin && !check.threshold) facts.push(['margin', marginText(c)])
  facts.push(['verdict', verdictText(c)])
  return facts
}

/** One bullet per comparison: its verdict mark (none when only reported) and its message. */
export function comparisonVerdictLines(comparisons: readonly Comparison[], messageMax: number): string[] {
  return comparisons.map((c) => {
    const mark = c.verdict ? `${VERDICT_MARK[c.verdict]} ` : ''
    return `- ${mark}${escapeMarkdownCell(clip(c.message, messageMax))}`
  })
}

type ComparisonColumn = keyof ComparisonCells

const COMPARISON_COLUMN: Record<ComparisonColumn, { header: string; align: 'l' | 'r' }> = {
  metric: { header: 'Metric', align: 'l' },
  baseline: { header: 'Baseline', align: 'r' },
  candidate: { header: 'Candidate', align: 'r' },
  delta: { header: 'Δ', align: 'r' },
  interval: { header: 'CI', align: 'r' },
  test: { header: 'p-value', align: 'l' },
  margin: { header: 'Margin', align: 'l' },
  verdict: { header: 'Verdict', align: 'l' },
}

export const COMPARISON_COLUMNS_FULL: readonly ComparisonColumn[] = [
  'metric',
  'baseline',
  'candidate',
  'delta',
  'interval',
  'test',
  'margin',
  'verdict',
]

/** For the pull-request comment: the verdict and its evidence; the values are in the metrics table below it. */
export const COMPARISON_COLUMNS_COMPACT: readonly ComparisonColumn[] = ['metric', 'delta', 'interval', 'test', 'verdict']

/**
 * The champion/challenger table with the given columns, every cell escaped. A `Data` column leads
 * when the comparisons span more than one data set.
 */
export function comparisonTableLines(comparisons: readonly Comparison[], columns: readonly ComparisonColumn[]): string[] {
  const ci = intervalHeader(comparisons.map((c) => c.interval))
  const byDataset = new Set(comparisons.map((c) => c.dataset)).size > 1
  const header = columns.map((col) => (col === 'interval' ? ci.header : COMPARISON_COLUMN[col].header))
  const align = columns.map((col) => COMPARISON_COLUMN[col].align)
  const rows = comparisons.map((c) => {
    const cells = formatComparisonRow(c)
    if (ci.labelEach) cells.interval = `${confidenceText(c.interval)} ${cells.interval}`
    const verdict = c.verdict ? `${VERDICT_MARK[c.verdict]} ${cells.verdict}` : cells.verdict
    const row = columns.map((col) => escapeMarkdownCell(col === 'verdict' ? verdict : cells[col]))
    return byDataset ? [escapeMarkdownCell(c.dataset), ...row] : row
  })
  return byDataset ? tableLines(['Data', ...header], rows, ['l', ...align]) : tableLines(header, rows, align)
}

/**
 * How the comparisons were made, stated once as plain text: the parts of their `method`s
 * (`;`-separated) that all share come first, then those particular to some, naming their metrics;
 * then the rows both models scored, and what b and c mean when a McNemar count is shown.
 */
export function comparisonMethodText(comparisons: readonly Comparison[]): string {
  const metricsOf = new Map<string, string[]>()
  for (const c of comparisons) {
    for (const part of topLevelParts(c.method)) {
      const metrics = metricsOf.get(part) ?? []
      if (!metrics.includes(c.metric)) metrics.push(c.metric)
      metricsOf.set(part, metrics)
    }
  }
  const allMetrics = new Set(comparisons.map((c) => c.metric))
  const parts = [...metricsOf]
  const shared = parts.filter(([, metrics]) => metrics.length === allMetrics.size).map(([part]) => part)
  const particular = parts.filter(([, metrics]) => metrics.length < allMetrics.size).map(([part, m]) => `${part} for ${m.join(', ')}`)
  const rowsByDataset = new Map(comparisons.map((c) => [c.dataset, c.n]))
  const rows = [...rowsByDataset].map(([dataset, n]) => `${plural(n, 'row')} of ${dataset}`).join(', ')
  const methods = [...shared, ...particular].join('; ')
  const sentence = `${methods.charAt(0).toUpperCase()}${methods.slice(1)}${methods ? '; ' : ''}n = ${rows} scored by both models.`
  return showsDiscordant(comparisons) ? `${sentence} ${DISCORDANT_LEGEND}` : sentence
}

/** `a; b (c; d)` → `a`, `b (c; d)`: a `;` inside brackets belongs to its part's own details. */
function topLevelParts(method: string): string[] {
  const parts: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i <= method.length; i++) {
    const ch = method[i]
    if (ch === '(' || ch === '[') depth += 1
    else if ((ch === ')' || ch === ']') && depth > 0) depth -= 1
    else if (ch === undefined || (ch === ';' && depth === 0)) {
      const part = method.slice(start, i).trim()
      if (part) parts.push(part)
      start = i + 1
    }
  }
  return parts
}

/** What `b` and `c` after a McNemar p-value count. */
export const DISCORDANT_LEGEND = 'In the p-value column, b counts rows only the candidate got right and c rows only the baseline got right.'

/** Whether a p-value cell shows McNemar's discordant counts, which then need `DISCORDANT_LEGEND`. */
export function showsDiscordant(comparisons: readonly Comparison[]): boolean {
  return comparisons.some((c) => c.test?.discordant !== undefined && c.pValue !== null)
}
