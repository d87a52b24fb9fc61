import type { CheckResult, CheckStatus, ValidationResult } from '../result/types.js'
import { describePerturbation } from '../robustness/perturb.js'
import type {
  BaselineFlips,
  PerturbationKind,
  PerturbationSpec,
  RobustnessBaseline,
  RobustnessResult,
  RobustnessTest,
  SensitivityRow,
} from '../robustness/types.js'
import { CHECK_MARK, formatEstimate, intervalHeader, plural, tableLines } from './common.js'
import { clip, escapeMarkdownCell, escapeMermaidLabel, formatDelta, formatFixed, formatNumber } from './escape.js'

/*
 * test-robustness in the reports: plain-text formatters the CLI shares, the job summary's section and
 * the pull-request comment's. Every cell from data (feature names, messages, parameters) is escaped here.
 */

const STATUS_ORDER: Record<CheckStatus, number> = { fail: 0, warn: 1, pass: 2, skipped: 3 }
/** Features named in a parameter list before it is cut to a count. */
const LIST_MAX = 3
const MESSAGE_MAX = 300

/** Failures first, then warnings, passes and skipped tests, keeping the engine's order within each. */
export function orderedTests(tests: readonly RobustnessTest[]): RobustnessTest[] {
  return tests
    .map((test, index) => ({ test, index }))
    .sort((a, b) => STATUS_ORDER[a.test.status] - STATUS_ORDER[b.test.status] || a.index - b.index)
    .map(({ test }) => test)
}

/** The test with the highest flip rate (the first of equals), or undefined when none measured one. */
export function worstFlipTest(r: RobustnessResult): RobustnessTest | undefined {
  let worst: RobustnessTest | undefined
  for (const t of r.tests) if (t.flipRate !== undefined && (worst === undefined || t.flipRate > worst.flipRate!)) worst = t
  return worst
}

/**
 * The checks a report lists on their own: a result with a robustness section shows its tests there, so the
 * checks that only repeat them (kind `robustness`) are left out of the checks table.
 */
export function listedChecks(result: ValidationResult): CheckResult[] {
  return result.robustness ? result.checks.filter((c) => c.kind !== 'robustness') : result.checks
}

function valueText(value: number | string | string[]): string {
  if (typeof value === 'number') return formatNumber(value)
  if (typeof value === 'string') return value
  if (value.length === 0) return 'none'
  const shown = value.slice(0, LIST_MAX).join(', ')
  return value.length > LIST_MAX ? `${shown}, … (${formatNumber(value.length)})` : shown
}

/** `gaussian_noise: severity 0.1; features mean_radius, mean_texture, mean_area, … (30)` as plain text; `—` when there is nothing to say. */
export function perturbationText(t: RobustnessTest): string {
  const params = Object.entries(t.parameters).map(([k, v]) => `${k} ${valueText(v)}`)
  const text = params.join('; ')
  if (t.perturbation) return text ? `${t.perturbation}: ${text}` : t.perturbation
  return text || '—'
}

/** `0.14 [0.085, 0.222]`, or `—` for a test that measured no flip rate. */
export function flipText(t: RobustnessTest): string {
  return t.flipRate === undefined ? '—' : formatEstimate(t.flipRate, t.flipInterval)
}

/** `accuracy 0.98 → 0.88`, or `—`. */
export function metricText(t: RobustnessTest): string {
  return t.metric ? `${t.metric.name} ${formatNumber(t.metric.clean)} → ${formatNumber(t.metric.perturbed)}` : '—'
}

/** `-0.1 (-10.2%)`: the metric's change, absolute and relative; `—` without a metric. */
export function metricChangeText(t: RobustnessTest): string {
  if (!t.metric) return '—'
  return `${formatDelta(t.metric.absolute)} (${formatDelta(t.metric.relative * 100)}%)`
}

/** `2 of 20 rows`, `0 of 1 row`, or `—` for a test that counted no violations; a gate counts the perturbations that broke it. */
export function violationsText(t: RobustnessTest): string {
  if (t.violations === undefined) return '—'
  return t.kind === 'degradation' ? plural(t.violations, 'perturbation') : `${formatNumber(t.violations)} of ${plural(t.rows, 'row')}`
}

/** Most sensitive first: the smallest median change that flips (in sd), then the most rows flipped; none flipped last. */
export function orderedSensitivity(rows: readonly SensitivityRow[]): SensitivityRow[] {
  const size = (r: SensitivityRow) => r.medianChangeInSd ?? r.medianChange ?? Infinity
  return [...rows].sort((a, b) => size(a) - size(b) || b.rowsFlipped / b.rowsSearched - a.rowsFlipped / a.rowsSearched)
}

/** `1,234 model calls, 5,600 rows scored: 56 clean passes of 100 rows, 4.2 s` as plain text. */
export function costText(r: RobustnessResult): string {
  const c = r.cost
  const passes = c.cleanPassRows > 0 ? c.rowsScored / c.cleanPassRows : NaN
  const budget = c.budgetExhausted ? '; the time budget ran out, so some tests did not run' : ''
  return (
    `${plural(c.modelCalls, 'model call')}, ${plural(c.rowsScored, 'row')} scored: ` +
    `${plural(passes, 'clean pass', 'clean passes')} of ${plural(c.cleanPassRows, 'row')}, ${formatNumber(c.seconds)} s${budget}`
  )
}

/** `100 of 171 rows, seed 7` as plain text; the seed as given (`seed 20261126`), not grouped like a count. */
export function sampleText(r: RobustnessResult): string {
  return `${formatNumber(r.rows)} of ${plural(r.rowsAvailable, 'row')}, seed ${String(r.seed)}`
}

/** `+6.3 points, 95% CI [+2.1, +10.5]`: the difference of flip rates (candidate − baseline) in percentage points. */
export function differenceText(b: BaselineFlips): string {
  const ci = b.differenceInterval
  return `${points(b.difference)} points, ${formatNumber(ci.confidence * 100)}% CI [${points(ci.low)}, ${points(ci.high)}]`
}

function points(x: number): string {
  return formatFixed(x * 100, 1, true)
}

/** `9.4%`: a flip rate as the comparison words give it. */
function rateText(x: number): string {
  return `${formatFixed(x * 100, 1)}%`
}

/** The perturbation an invariance test ran, in words (`shift +10% on 30 features`); its id when the parameters do not say. */
export function perturbationWords(t: RobustnessTest): string {
  const { severity, features, group } = t.parameters
  if (!t.perturbation || typeof severity !== 'number' || !Array.isArray(features)) return t.id
  const spec: PerturbationSpec = { kind: t.perturbation, severity, features, ...(typeof group === 'string' ? { group } : {}) }
  return describePerturbation(spec)
}

const ROBUSTNESS_WORDS: Record<BaselineFlips['robustness'], (against: string) => string> = {
  less: (against) => `less robust than ${against}`,
  more: (against) => `more robust than ${against}`,
  similar: (against) => `no clear difference from ${against}`,
}

/**
 * One invariance test against the baseline, words first, as plain text: `less robust than production
 * under shift +10% on 30 features: 9.4% vs 3.1%, +6.3 points, 95% CI [+2.1, +10.5]`.
 */
export function comparisonSentence(t: RobustnessTest, against: string): string {
  const b = t.baseline!
  return `${ROBUSTNESS_WORDS[b.robustness](against)} under ${perturbationWords(t)}: ${rateText(t.flipRate!)} vs ${rateText(b.flipRate)}, ${differenceText(b)}`
}

/** Compared invariance tests by verdict: less robust first, then more robust, then no clear difference; the engine's order within each. */
function byVerdict(tests: readonly RobustnessTest[]): Record<BaselineFlips['robustness'], RobustnessTest[]> {
  const compared = tests.filter((t) => t.baseline !== undefined && t.flipRate !== undefined)
  return {
    less: compared.filter((t) => t.baseline!.robustness === 'less'),
    more: compared.filter((t) => t.baseline!.robustness === 'more'),
    similar: compared.filter((t) => t.baseline!.robustness === 'similar'),
  }
}

/**
 * The whole comparison as plain text (the CLI's note): `less robust under shift +10% on 30 features
 * (9.4% vs 3.1%, +6.3 points, 95% CI [+2.1, +10.5]); no clear difference under 6 other perturbations`.
 */
export function robustnessComparisonText(tests: readonly RobustnessTest[]): string {
  const v = byVerdict(tests)
  const listed = (ts: RobustnessTest[]) => {
    const items = ts.map(
      (t) =>
        `under ${perturbationWords(t)} (${rateText(t.flipRate!)} vs ${rateText(t.baseline!.flipRate)}, ${differenceText(t.baseline!)})`,
    )
    return items.length <= 2 ? items.join(' and ') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`
  }
  const parts: string[] = []
  if (v.less.length > 0) parts.push(`less robust ${listed(v.less)}`)
  if (v.more.length > 0) parts.push(`more robust ${listed(v.more)}`)
  if (v.similar.length > 0) {
    const other = parts.length > 0 ? ' other' : ''
    parts.push(
      `no clear difference under ${v.similar.length === 1 ? `1${other} perturbation` : `${formatNumber(v.similar.length)}${other} perturbations`}`,
    )
  }
  return parts.join('; ')
}

/** `more robust under 2 of 7 perturbations, no clear difference under 5, less robust under none`: what happened first. */
function tallyText(tests: readonly RobustnessTest[]): string {
  const v = byVerdict(tests)
  const total = v.less.length + v.more.length + v.similar.length
  const counts = (['less', 'more', 'similar'] as const)
    .filter((k) => v[k].length > 0)
    .map((k) => ({ what: k === 'similar' ? 'no clear difference' : `${k} robust`, n: v[k].length }))
  const parts = counts.map(
    (c, i) => `${c.what} under ${i === 0 ? `${formatNumber(c.n)} of ${plural(total, 'perturbation')}` : formatNumber(c.n)}`,
  )
  // Whether the new model is ever less robust is the question a reviewer asks: said even when the answer is no.
  if (v.less.length === 0 && total > 0) parts.push('less robust under none')
  return parts.join(', ')
}

/**
 * The summary's comparison with the baseline model: the verdict in words, the tests where the interval
 * excludes no difference, then every compared test's figures.
 */
function baselineParts(r: RobustnessResult, baseline: RobustnessBaseline): RobustnessPart[] {
  const against = baseline.against
  const v = byVerdict(r.tests)
  const compared = [...v.less, ...v.more, ...v.similar]
  const title = `#### Against ${escapeMarkdownCell(against)}: ${escapeMarkdownCell(baseline.source)}`
  if (compared.length === 0) return [{ text: title }, { text: '_No invariance test has a comparison with the baseline._' }]
  const words = [...v.less, ...v.more].map(
    (t) => `- ${v.less.includes(t) ? '❗' : '✔️'} ${escapeMarkdownCell(comparisonSentence(t, against))}`,
  )
  const lead =
    `${escapeMarkdownCell(capitalised(tallyText(r.tests)))}, on the same ${plural(r.rows, 'row')} with the same perturbed inputs. ` +
    'A difference counts when its 95% interval (Newcombe’s paired score method) excludes zero.'
  const rows = compared.map((t) => [
    escapeMarkdownCell(t.id),
    escapeMarkdownCell(perturbationWords(t)),
    formatEstimate(t.flipRate!, t.flipInterval),
    formatEstimate(t.baseline!.flipRate, t.baseline!.flipInterval),
    `${points(t.baseline!.difference)} [${points(t.baseline!.differenceInterval.low)}, ${points(t.baseline!.differenceInterval.high)}]`,
    escapeMarkdownCell(ROBUSTNESS_WORDS[t.baseline!.robustness](against)),
  ])
  const header = [
    'Test',
    'Perturbation',
    'Flip rate: this model',
    `Flip rate: ${escapeMarkdownCell(against)}`,
    'Difference, points [95% CI]',
    '',
  ]
  return [
    { text: title },
    { text: words.length > 0 ? `${lead}\n\n${words.join('\n')}` : lead },
    { text: tableLines(header, rows, ['l', 'l', 'r', 'r', 'r', 'l']).join('\n') },
  ]
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/** A part of the summary's section. `optional` parts may be collapsed under, or dropped as, `what`. */
export interface RobustnessPart {
  text: string
  optional?: { what: string; collapse: boolean }
}

const LINE_KINDS: readonly RobustnessTest['kind'][] = ['determinism', 'batch-consistency']

/**
 * The job summary's robustness section, each test shown once: the perturbation tests' table and their
 * severity charts, sensitivity, the stress table, determinism lines, the cost.
 */
export function robustnessSummaryParts(r: RobustnessResult): RobustnessPart[] {
  const worst = worstFlipTest(r)
  const headline = [`**Rows:** ${escapeMarkdownCell(sampleText(r))}`]
  if (worst) headline.push(`**Worst flip rate:** ${flipText(worst)} (${escapeMarkdownCell(worst.id)})`)
  if (r.baseline) headline.push(`**vs ${escapeMarkdownCell(r.baseline.against)}:** ${escapeMarkdownCell(tallyText(r.tests))}`)
  const parts: RobustnessPart[] = [{ text: '### Robustness' }, { text: headline.join(' · ') }]
  const tabled = r.tests.filter((t) => t.kind !== 'stress' && !LINE_KINDS.includes(t.kind))
  if (tabled.length > 0) parts.push({ text: testsTable(tabled) })
  if (r.baseline) parts.push(...baselineParts(r, r.baseline))
  for (const chart of severityCharts(r)) parts.push({ text: chart, optional: { what: 'Robustness chart', collapse: false } })
  if (r.sensitivity && r.sensitivity.length > 0) {
    parts.push({ text: '#### Sensitivity' }, { text: sensitivityTable(r.sensitivity) })
  }
  parts.push(...stressParts(r.tests))
  const lines = r.tests.filter((t) => LINE_KINDS.includes(t.kind))
  if (lines.length > 0) parts.push({ text: lines.map((t) => `- ${testLine(t)}`).join('\n') })
  parts.push({ text: `**Cost:** ${escapeMarkdownCell(costText(r))}.` })
  return parts
}

/** `❌ stress/nan: 2 of 20 rows gave …`, escaped. */
function testLine(t: RobustnessTest): string {
  return `${CHECK_MARK[t.status]} ${escapeMarkdownCell(t.id)}: ${escapeMarkdownCell(clip(t.message, MESSAGE_MAX))}`
}

function testsTable(tests: readonly RobustnessTest[]): string {
  const ci = intervalHeader(tests.flatMap((t) => (t.flipInterval ? [t.flipInterval] : [])))
  const withViolations = tests.some((t) => t.violations !== undefined)
  const header = ['', 'Test', 'Perturbation', 'Rows', `Flip rate [${ci.header}]`, 'Metric: clean → perturbed', 'Δ (rel.)']
  if (withViolations) header.push('Violations')
  header.push('Major')
  const rows = orderedTests(tests).map((t) => {
    const row = [
      `${CHECK_MARK[t.status]} ${t.status}`,
      escapeMarkdownCell(t.id),
      escapeMarkdownCell(perturbationText(t)),
      formatNumber(t.rows),
      flipText(t),
      escapeMarkdownCell(metricText(t)),
      metricChangeText(t),
    ]
    if (withViolations) row.push(violationsText(t))
    row.push(t.level === 'major' ? 'major' : '')
    return row
  })
  const align = header.map((_, i) => (i === 3 || i === 4 || i === 6 ? 'r' : 'l') as 'l' | 'r')
  return tableLines(header, rows, align).join('\n')
}

function sensitivityTable(rows: readonly SensitivityRow[]): string {
  const body = orderedSensitivity(rows).map((s) => [
    escapeMarkdownCell(s.feature),
    `${formatNumber(s.rowsFlipped)} of ${formatNumber(s.rowsSearched)}`,
    formatNumber(s.medianChange),
    formatNumber(s.medianChangeInSd),
    formatNumber(s.queries),
  ])
  return [
    ...tableLines(['Feature', 'Rows flipped', 'Median change to flip', 'In sd', 'Model queries'], body, ['l', 'r', 'r', 'r', 'r']),
    '',
    'The smallest change of one feature that flipped a row’s prediction, searched per row; most sensitive first. `—`: no change in the search range flipped a row.',
  ].join('\n')
}

/** Stress findings with the inputs that caused them, and the rows that broke (collapsed). */
function stressParts(tests: readonly RobustnessTest[]): RobustnessPart[] {
  const stress = orderedTests(tests.filter((t) => t.kind === 'stress'))
  if (stress.length === 0) return []
  const rows = stress.map((t) => [
    `${CHECK_MARK[t.status]} ${t.status}`,
    escapeMarkdownCell(t.id),
    escapeMarkdownCell(perturbationText(t)),
    violationsText(t),
    escapeMarkdownCell(clip(t.message, MESSAGE_MAX)),
  ])
  const parts: RobustnessPart[] = [
    { text: '#### Stress' },
    { text: tableLines(['', 'Test', 'Input', 'Violations', 'Finding'], rows, ['l', 'l', 'l', 'r', 'l']).join('\n') },
  ]
  for (const t of stress) {
    if (!t.examples || t.examples.length === 0) continue
    const examples = tableLines(
      ['Row', 'What happened'],
      t.examples.map((e) => [formatNumber(e.row), escapeMarkdownCell(e.message)]),
      ['r', 'l'],
    ).join('\n')
    parts.push({ text: examples, optional: { what: `${t.id}: ${plural(t.examples.length, 'example row')}`, collapse: true } })
  }
  return parts
}

/** One point per severity of one perturbation kind: the headline metric under it. */
interface SeverityLine {
  kind: PerturbationKind
  severities: number[]
  values: number[]
}

/**
 * The headline metric against severity, per perturbation kind measured at two or more severities, with
 * the clean metric at severity 0 (shifts run both ways). Kinds measured at the same severities share a chart, one line each.
 */
function severityLines(r: RobustnessResult): { metric: string; lines: SeverityLine[] }[] {
  const byKind = new Map<PerturbationKind, Map<number, number>>()
  let metric: { name: string; clean: number } | undefined
  for (const t of r.tests) {
    const severity = t.parameters.severity
    if (!t.perturbation || !t.metric || typeof severity !== 'number' || !Number.isFinite(t.metric.perturbed)) continue
    metric ??= t.metric
    if (t.metric.name !== metric.name) continue
    const points = byKind.get(t.perturbation) ?? new Map<number, number>()
    if (!points.has(severity)) points.set(severity, t.metric.perturbed)
    byKind.set(t.perturbation, points)
  }
  if (!metric) return []
  const groups = new Map<string, SeverityLine[]>()
  for (const [kind, points] of byKind) {
    if (points.size < 2) continue
    if (!points.has(0)) points.set(0, metric.clean)
    const severities = [...points.keys()].sort((a, b) => a - b)
    const key = severities.join(',')
    groups.set(key, [...(groups.get(key) ?? []), { kind, severities, values: severities.map((s) => points.get(s)!) }])
  }
  return [...groups.values()].map((lines) => ({ metric: metric.name, lines }))
}

/** A Mermaid number: finite, 4 decimals, no exponent. */
function chartNumber(x: number): string {
  return String(Number(x.toFixed(4)))
}

/** Mermaid xychart-beta charts of the headline metric against severity (see `severityLines`). */
export function severityCharts(r: RobustnessResult): string[] {
  return severityLines(r).map(({ metric, lines }) => {
    const kinds = lines.map((l) => l.kind)
    const severities = lines[0]!.severities
    return [
      '```mermaid',
      'xychart-beta',
      `    title ${escapeMermaidLabel(`${metric} under ${kinds.join(', ')}`)}`,
      `    x-axis "severity" [${severities.map((s) => escapeMermaidLabel(formatNumber(s))).join(', ')}]`,
      `    y-axis ${escapeMermaidLabel(metric)}`,
      ...lines.map((l) => `    line [${l.values.map(chartNumber).join(', ')}]`),
      '```',
      '',
      `Lines, in order: ${kinds.map((k) => escapeMarkdownCell(k)).join(', ')}. Severity 0 is the clean data.`,
    ].join('\n')
  })
}

/** The pull-request comment's robustness lines: the tally, the worst flip rate, the tests that failed or warned. */
export function robustnessCommentLines(r: RobustnessResult): string[] {
  const passed = r.tests.filter((t) => t.status === 'pass').length
  const worst = worstFlipTest(r)
  const tally =
    `**Robustness** on ${escapeMarkdownCell(sampleText(r))}: ${formatNumber(passed)} of ${plural(r.tests.length, 'test')} passed` +
    (worst ? `; worst flip rate ${flipText(worst)} (${escapeMarkdownCell(worst.id)}).` : '.')
  const versus = r.baseline ? [comparisonCommentLine(r, r.baseline)] : []
  const flagged = orderedTests(r.tests).filter((t) => t.status === 'fail' || t.status === 'warn')
  if (flagged.length === 0) return [tally, ...versus, '']
  const ci = intervalHeader(flagged.flatMap((t) => (t.flipInterval ? [t.flipInterval] : [])))
  const rows = flagged.map((t) => [
    CHECK_MARK[t.status],
    escapeMarkdownCell(t.id),
    flipText(t),
    metricChangeText(t),
    escapeMarkdownCell(clip(t.message, MESSAGE_MAX)),
  ])
  return [
    tally,
    ...versus,
    '',
    ...tableLines(['', 'Test', `Flip rate [${ci.header}]`, 'Δ metric (rel.)', 'Message'], rows, ['c', 'l', 'r', 'r', 'l']),
    '',
  ]
}

/** `**vs production** (breast-cancer 1.0.0): less robust under shift +10% on 30 features (…); …`, escaped. */
function comparisonCommentLine(r: RobustnessResult, baseline: RobustnessBaseline): string {
  const label = `**vs ${escapeMarkdownCell(baseline.against)}** (${escapeMarkdownCell(baseline.source)})`
  const text = robustnessComparisonText(r.tests)
  return text ? `${label}: ${escapeMarkdownCell(clip(text, MESSAGE_MAX * 2))}.` : `${label}: no invariance test has a comparison.`
}
