import type {
  CalibrationResult,
  Comparison,
  DatasetResult,
  FairnessResult,
  ModelSummary,
  SliceResult,
  ValidationResult,
} from '../result/types.js'
import type { TensorInfo } from '../runners/types.js'
import type { Interval } from '../stats/types.js'
import {
  CHECK_TABLE_HEADER,
  COMPARISON_COLUMNS_FULL,
  DEFAULT_ACTION,
  baselineMetric,
  changeOf,
  checkRow,
  comparisonMethodText,
  comparisonOf,
  comparisonTableLines,
  comparisonVerdictLines,
  confidenceText,
  errorText,
  formatEstimate,
  formatRange,
  headline,
  intervalHeader,
  intervalMethodText,
  link,
  orderedChecks,
  plural,
  shortSha,
  tableLines,
  comparedWithLine,
} from './common.js'
import { escapeHtml, escapeMarkdownCell, escapeMermaidLabel, formatBytes, formatDelta, formatNumber } from './escape.js'
import { listedChecks, robustnessSummaryParts, type RobustnessPart } from './robustness.js'

/** GitHub refuses job summaries over 1 MiB. */
export const SUMMARY_MAX_BYTES = 1024 * 1024
/** Confusion matrices wider than this are unreadable in a table. */
export const CONFUSION_MAX_CLASSES = 20
/** Bars in one chart; more crowd the x-axis labels into illegibility. */
export const CHART_MAX_BARS = 20
const MESSAGE_MAX = 1000

/**
 * Higher-is-better metrics whose range is [0, 1], which is what makes one shared y-axis honest
 * (Brier score and log loss are lower-is-better and stay out). Matched as a prefix so averaged variants (`f1_macro`, `roc_auc_ovr`, `precision_weighted`) count too.
 */
const BOUNDED_METRIC =
  /^(accuracy|balanced_accuracy|top_\d+_accuracy|precision|recall|sensitivity|specificity|f1|fbeta|f_beta|roc_auc|auc|pr_auc|average_precision|jaccard)/

export interface SummaryOptions {
  /** The name in the headline; `validate-model` unless given. */
  title?: string
  /** Where the full details live (the workflow run, an artifact), linked near the top. */
  detailsUrl?: string
  /** Byte budget; GitHub's 1 MiB unless a caller needs less. */
  maxBytes?: number
}

/** A part of the summary. Droppable parts go, lowest `rank` first, when the summary is too large. */
interface Block {
  text: string
  drop?: { rank: number; what: string }
}

/** Drop order: the bulkiest, least essential detail goes first; key tables are never dropped. */
const DROP_RANK = {
  discoveredSlices: 1,
  perClass: 2,
  confusion: 3,
  reliability: 4,
  robustnessExamples: 5,
  contractExamples: 5,
  parityExamples: 6,
  signature: 7,
  reliabilityChart: 8,
  chart: 9,
  robustnessChart: 9,
} as const

/** The job summary: every fact of the result, as GitHub-flavoured Markdown under `maxBytes`. */
export function renderSummary(result: ValidationResult, opts: SummaryOptions = {}): string {
  const blocks = summaryBlocks(result, opts)
  return fitBlocks(blocks, opts.maxBytes ?? SUMMARY_MAX_BYTES)
}

function summaryBlocks(result: ValidationResult, opts: SummaryOptions): Block[] {
  const blocks: Block[] = [{ text: `## ${headline(result, opts.title ?? DEFAULT_ACTION)}` }, { text: metaLine(result, opts) }]
  const against = comparedWithLine(result)
  if (against) blocks.push({ text: against })
  if (result.status === 'error') blocks.push({ text: `> [!CAUTION]\n> ${escapeMarkdownCell(errorText(result))}` })
  for (const w of result.warnings ?? []) blocks.push({ text: `> [!WARNING]\n> ${escapeMarkdownCell(w)}` })
  if (result.comparisons && result.comparisons.length > 0) blocks.push(...comparisonBlocks(result.comparisons))
  blocks.push(...checksBlocks(result))
  if (result.robustness) blocks.push(...robustnessSummaryParts(result.robustness).map(robustnessBlock))
  for (const dataset of result.data) blocks.push(...datasetBlocks(result, dataset))
  if (result.slices && result.slices.length > 0) blocks.push(...sliceBlocks(result.slices))
  for (const fairness of result.fairness ?? []) blocks.push(...fairnessBlocks(fairness))
  for (const calibration of result.calibration ?? []) blocks.push(...calibrationBlocks(calibration))
  blocks.push(...modelBlocks(result.model))
  if (result.data.length > 0) blocks.push(...dataBlocks(result.data))
  if (result.baseline) blocks.push(...baselineBlocks(result.baseline))
  if (result.notes.length > 0) blocks.push({ text: '### Notes' }, { text: bulletList(result.notes) })
  return blocks
}

function metaLine(result: ValidationResult, opts: SummaryOptions): string {
  const parts = [`**Model:** ${escapeMarkdownCell(result.model.name)}`, `**Task:** ${result.task}`]
  if (result.data.length > 0) {
    const data = result.data.map((d) => `${escapeMarkdownCell(d.name)} (${plural(d.rows, 'row')})`).join(', ')
    parts.push(`**Data:** ${data}`)
  }
  const ctx = result.context
  parts.push(`${escapeMarkdownCell(ctx.tool)} ${escapeMarkdownCell(ctx.version)}`, `${formatNumber(ctx.durationSeconds)} s`)
  if (ctx.sha) parts.push(`commit ${escapeMarkdownCell(shortSha(ctx.sha))}`)
  if (ctx.runUrl) parts.push(link('workflow run', ctx.runUrl))
  if (opts.detailsUrl) parts.push(link('details', opts.detailsUrl))
  return parts.join(' · ')
}

function checksBlocks(result: ValidationResult): Block[] {
  const checks = listedChecks(result)
  // A robustness section lists its own tests; the table then holds only the checks it does not.
  if (checks.length === 0 && result.robustness) return []
  if (checks.length === 0) return [{ text: '### Checks' }, { text: '_No checks were configured._' }]
  const rows = orderedChecks(checks).map((check) => checkRow(check, MESSAGE_MAX, comparisonOf(result, check)))
  return [{ text: '### Checks' }, { text: tableLines(CHECK_TABLE_HEADER, rows, ['c', 'l', 'r', 'l', 'r', 'r', 'l']).join('\n') }]
}

function robustnessBlock(part: RobustnessPart): Block {
  if (!part.optional) return { text: part.text }
  const { what, collapse } = part.optional
  return collapse
    ? { text: details(what, part.text), drop: { rank: DROP_RANK.robustnessExamples, what: escapeMarkdownCell(what) } }
    : { text: part.text, drop: { rank: DROP_RANK.robustnessChart, what: escapeMarkdownCell(what) } }
}

/** The reviewer's question first: is the challenger better than the champion, and how sure are we? */
function comparisonBlocks(comparisons: readonly Comparison[]): Block[] {
  return [
    { text: '### Champion vs challenger' },
    { text: comparisonVerdictLines(comparisons, MESSAGE_MAX).join('\n') },
    { text: comparisonTableLines(comparisons, COMPARISON_COLUMNS_FULL).join('\n') },
    { text: escapeMarkdownCell(comparisonMethodText(comparisons)) },
  ]
}

/**
 * How the intervals of a section were made, once: `Intervals: 95% Wilson score.` or, when the
 * metrics differ, `Intervals: 95% Wilson score for accuracy; 95% BCa bootstrap, 1,000 resamples for f1.`
 * Nothing when there are no intervals.
 */
function intervalNote(intervals: readonly (readonly [metric: string, interval: Interval])[]): string[] {
  const metricsOf = new Map<string, string[]>()
  for (const [metric, interval] of intervals) {
    const method = intervalMethodText(interval)
    const metrics = metricsOf.get(method) ?? []
    if (!metrics.includes(metric)) metrics.push(metric)
    metricsOf.set(method, metrics)
  }
  const methods = [...metricsOf]
  if (methods.length === 0) return []
  const text = methods.length === 1 ? methods[0]![0] : methods.map(([method, metrics]) => `${method} for ${metrics.join(', ')}`).join('; ')
  return [`Intervals: ${escapeMarkdownCell(text)}.`]
}

/** A paragraph of notes, or no block when there are none. */
function notesBlock(notes: readonly string[]): Block[] {
  return notes.length > 0 ? [{ text: notes.join(' ') }] : []
}

function distinct<T>(items: readonly T[]): T[] {
  return [...new Set(items)]
}

/** Slices from the manifest in a table; slices the search found weak in a collapsible one. */
function sliceBlocks(slices: readonly SliceResult[]): Block[] {
  const manifest = slices.filter((s) => s.source === 'manifest')
  const discovered = slices.filter((s) => s.source === 'discovered')
  const blocks: Block[] = [{ text: '### Slices' }]
  if (manifest.length > 0) blocks.push({ text: sliceTable(manifest, slices) })
  const notes = intervalNote(slices.flatMap((s) => Object.entries(s.intervals)))
  if (slices.some((s) => !s.gated)) notes.push('A slice with fewer rows than the minimum size is reported, not gated.')
  blocks.push(...notesBlock(notes))
  if (discovered.length > 0) {
    blocks.push({
      text: details(`Weak slices found by search (${formatNumber(discovered.length)})`, sliceTable(discovered, slices)),
      drop: { rank: DROP_RANK.discoveredSlices, what: 'Discovered weak slices' },
    })
  }
  return blocks
}

/** Both slice tables share the columns of `all`, so the manifest and discovered slices read alike. */
function sliceTable(shown: readonly SliceResult[], all: readonly SliceResult[]): string {
  const metrics = distinct(all.flatMap((s) => Object.keys(s.metrics)))
  const columns: Column<SliceResult>[] = [
    { header: 'Slice', align: 'l', cell: (s) => escapeMarkdownCell(s.name) },
    { header: 'Definition', align: 'l', cell: (s) => escapeMarkdownCell(s.definition) },
  ]
  if (distinct(all.map((s) => s.dataset)).length > 1)
    columns.push({ header: 'Data', align: 'l', cell: (s) => escapeMarkdownCell(s.dataset) })
  columns.push(
    { header: 'Rows', align: 'r', cell: (s) => formatNumber(s.rows) },
    { header: 'Gated', align: 'l', cell: (s) => (s.gated ? 'yes' : 'no') },
    ...metrics.map((m): Column<SliceResult> => ({
      header: escapeMarkdownCell(m),
      align: 'r',
      cell: (s) => formatEstimate(s.metrics[m], s.intervals[m]),
    })),
  )
  if (all.some((s) => s.baseline !== undefined)) columns.push({ header: 'Baseline', align: 'l', cell: (s) => baselineList(s.baseline) })
  return columnTable(columns, shown)
}

/** A table column: its header and alignment, and how an item fills its cell (escaped). */
interface Column<T> {
  header: string
  align: 'l' | 'r'
  cell: (item: T) => string
}

function columnTable<T>(columns: readonly Column<T>[], items: readonly T[]): string {
  const rows = items.map((item) => columns.map((c) => c.cell(item)))
  return tableLines(
    columns.map((c) => c.header),
    rows,
    columns.map((c) => c.align),
  ).join('\n')
}

/** `accuracy 0.9512, f1 0.8571`, or `—`. */
function baselineList(baseline: Record<string, number> | undefined): string {
  const entries = Object.entries(baseline ?? {})
  if (entries.length === 0) return '—'
  return entries.map(([metric, value]) => `${escapeMarkdownCell(metric)} ${formatNumber(value)}`).join(', ')
}

/** Per sensitive column: each group's rates, then the gated differences and ratios with their intervals. */
function fairnessBlocks(fairness: FairnessResult): Block[] {
  const groups = fairness.groups.map((g) => [
    escapeMarkdownCell(String(g.value)),
    formatNumber(g.rows),
    formatNumber(g.selection_rate),
    formatNumber(g.true_positive_rate),
    formatNumber(g.false_positive_rate),
    g.gated ? 'yes' : 'no',
  ])
  const notes = intervalNote(Object.entries(fairness.intervals))
  const small = fairness.groups.filter((g) => !g.gated).map((g) => escapeMarkdownCell(String(g.value)))
  if (small.length > 0) {
    notes.push(`Left out of the differences and ratios for having fewer rows than the minimum group size: ${small.join(', ')}.`)
  }
  return [
    { text: `### Fairness: ${escapeMarkdownCell(fairness.sensitive)} (${escapeMarkdownCell(fairness.dataset)})` },
    {
      text: tableLines(['Group', 'Rows', 'Selection rate', 'TPR', 'FPR', 'Gated'], groups, ['l', 'r', 'r', 'r', 'r', 'l']).join('\n'),
    },
    { text: metricIntervalTable(fairness.metrics, fairness.intervals, fairness.baseline) },
    ...notesBlock(notes),
  ]
}

/** Metric | Value | CI, with Baseline and Δ when there is a baseline. */
function metricIntervalTable(
  metrics: Record<string, number>,
  intervals: Partial<Record<string, Interval>>,
  baseline: Record<string, number> | undefined,
  label: (metric: string) => string = escapeMarkdownCell,
): string {
  const names = Object.keys(metrics)
  const ci = intervalHeader(names.flatMap((m) => (intervals[m] ? [intervals[m]] : [])))
  const rows = names.map((m) => {
    const interval = intervals[m]
    const range = interval ? `${ci.labelEach ? `${confidenceText(interval)} ` : ''}${formatRange(interval)}` : '—'
    const row = [label(m), formatNumber(metrics[m]), range]
    return baseline ? [...row, formatNumber(baseline[m]), formatDelta(changeOf(metrics[m], baseline[m]))] : row
  })
  const header = ['Metric', 'Value', ci.header, ...(baseline ? ['Baseline', 'Δ'] : [])]
  return tableLines(header, rows, ['l', ...header.slice(1).map(() => 'r' as const)]).join('\n')
}

const CALIBRATION_LABEL: Record<string, string> = {
  ece: 'ECE (expected calibration error)',
  mce: 'MCE (maximum calibration error)',
  brier: 'Brier score',
}

function calibrationBlocks(calibration: CalibrationResult): Block[] {
  const name = escapeMarkdownCell(calibration.dataset)
  const metrics = { ece: calibration.ece, mce: calibration.mce, brier: calibration.brier }
  const blocks: Block[] = [
    { text: `### Calibration: ${name}` },
    { text: metricIntervalTable(metrics, calibration.intervals, undefined, (m) => CALIBRATION_LABEL[m]!) },
    ...notesBlock(intervalNote(Object.entries(calibration.intervals))),
  ]
  if (calibration.bins.length > 0) {
    blocks.push(
      { text: reliabilityChart(calibration), drop: { rank: DROP_RANK.reliabilityChart, what: `Reliability chart for ${name}` } },
      {
        text: details(
          `Reliability table: ${calibration.dataset} (${plural(calibration.bins.length, 'bin')})`,
          reliabilityTable(calibration),
        ),
        drop: { rank: DROP_RANK.reliability, what: `Reliability table for ${name}` },
      },
    )
  }
  return blocks
}

function binLabel(bin: CalibrationResult['bins'][number], last: boolean): string {
  return `[${formatNumber(bin.low)}, ${formatNumber(bin.high)}${last ? ']' : ')'}`
}

function reliabilityTable(calibration: CalibrationResult): string {
  const rows = calibration.bins.map((bin, i) => [
    binLabel(bin, i === calibration.bins.length - 1),
    formatNumber(bin.rows),
    formatNumber(bin.mean_predicted),
    formatNumber(bin.fraction_positive),
    formatDelta(bin.fraction_positive - bin.mean_predicted),
  ])
  return tableLines(['p(positive)', 'Rows', 'Mean predicted', 'Fraction positive', 'Gap'], rows, ['l', 'r', 'r', 'r', 'r']).join('\n')
}

/** A Mermaid number: finite, 4 decimals, no exponent. */
function chartNumber(x: number, fallback: number): string {
  return String(Number((Number.isFinite(x) ? x : fallback).toFixed(4)))
}

/**
 * Bars: the fraction of positive rows per bin; line: the mean predicted probability, which is where a
 * calibrated model's bars would end. An empty bin has no rate: its bar is 0 and its line point the bin's midpoint.
 */
function reliabilityChart(calibration: CalibrationResult): string {
  const bins = calibration.bins
  const labels = bins.map((b) => escapeMermaidLabel(`${formatNumber(b.low)}-${formatNumber(b.high)}`))
  return [
    '```mermaid',
    'xychart-beta',
    `    title ${escapeMermaidLabel(`Reliability: ${calibration.dataset}`)}`,
    `    x-axis "predicted probability" [${labels.join(', ')}]`,
    `    y-axis "fraction positive" 0 --> 1`,
    `    bar [${bins.map((b) => chartNumber(b.rows > 0 ? b.fraction_positive : NaN, 0)).join(', ')}]`,
    `    line [${bins.map((b) => chartNumber(b.rows > 0 ? b.mean_predicted : NaN, (b.low + b.high) / 2)).join(', ')}]`,
    '```',
    '',
    'Bars: the fraction of rows that are positive in each bin of predicted probability. Line: the mean predicted probability; a calibrated model reaches it.',
  ].join('\n')
}

function datasetBlocks(result: ValidationResult, dataset: DatasetResult): Block[] {
  const name = escapeMarkdownCell(dataset.name)
  const blocks: Block[] = [{ text: `### Metrics: ${name}` }, { text: metricsTable(result, dataset) }]
  const chart = metricsChart(dataset)
  if (chart) blocks.push({ text: chart, drop: { rank: DROP_RANK.chart, what: `Metrics chart for ${name}` } })
  blocks.push({ text: performanceLine(dataset) })
  if (dataset.skippedRows) {
    const were = dataset.skippedRows === 1 ? 'was' : 'were'
    blocks.push({ text: `⚠️ ${plural(dataset.skippedRows, 'row')} ${were} skipped: a label or feature value was missing.` })
  }
  if (dataset.contract) blocks.push(...contractBlocks(dataset.contract))
  if (dataset.parity) blocks.push(...parityBlocks(dataset.parity))
  if (dataset.probabilityAdjustment) blocks.push({ text: adjustmentLine(dataset.probabilityAdjustment) })
  if (dataset.outputConsistency) blocks.push({ text: consistencyLine(dataset.outputConsistency) })
  if (dataset.confusionMatrix) blocks.push(confusionBlock(dataset))
  if (dataset.perClass && dataset.perClass.length > 0) blocks.push(perClassBlock(dataset))
  return blocks
}

function metricsTable(result: ValidationResult, dataset: DatasetResult): string {
  const names = Object.keys(dataset.metrics)
  if (names.length === 0) return '_No metrics were computed._'
  const withBaseline = result.baseline !== undefined && dataset === result.data[0]
  const header = withBaseline ? ['Metric', 'Value', 'Baseline', 'Δ', 'Source output'] : ['Metric', 'Value', 'Source output']
  const rows = names.map((metric) => {
    const value = dataset.metrics[metric]
    const source = escapeMarkdownCell(dataset.metricSources[metric] ?? '')
    if (!withBaseline) return [escapeMarkdownCell(metric), formatNumber(value), source]
    const baseline = baselineMetric(result, dataset, metric)
    return [escapeMarkdownCell(metric), formatNumber(value), formatNumber(baseline), formatDelta(changeOf(value, baseline)), source]
  })
  return tableLines(header, rows, withBaseline ? ['l', 'r', 'r', 'r', 'l'] : ['l', 'r', 'l']).join('\n')
}

/** A Mermaid bar chart of the metrics bounded to [0, 1], or nothing when there are none. */
function metricsChart(dataset: DatasetResult): string | undefined {
  const bounded = Object.entries(dataset.metrics).filter(
    ([name, value]) => BOUNDED_METRIC.test(name) && Number.isFinite(value) && value >= 0 && value <= 1,
  )
  if (bounded.length === 0) return undefined
  const shown = bounded.slice(0, CHART_MAX_BARS)
  const lines = [
    '```mermaid',
    'xychart-beta',
    `    title ${escapeMermaidLabel(`Metrics: ${dataset.name}`)}`,
    `    x-axis [${shown.map(([name]) => escapeMermaidLabel(name)).join(', ')}]`,
    `    y-axis "score" 0 --> 1`,
    `    bar [${shown.map(([, value]) => String(Number(value.toFixed(4)))).join(', ')}]`,
    '```',
  ]
  if (bounded.length > shown.length)
    lines.push('', `_The chart shows the first ${CHART_MAX_BARS} of ${bounded.length} metrics bounded to [0, 1]._`)
  return lines.join('\n')
}

function performanceLine(dataset: DatasetResult): string {
  const p = dataset.performance
  const latency = p.latencyMs
  return (
    `**Performance:** ${plural(dataset.rows, 'row')} in ${formatNumber(p.totalSeconds)} s · ` +
    `${formatNumber(p.rowsPerSecond)} rows/s · batch latency p50 ${formatNumber(latency.p50)} ms, ` +
    `p95 ${formatNumber(latency.p95)} ms, p99 ${formatNumber(latency.p99)} ms ` +
    `(${plural(p.batches, 'batch', 'batches')} of up to ${plural(p.batchSize, 'row')})`
  )
}

type Examples = { row: number; message: string }[]

function examplesTable(examples: Examples): string {
  return tableLines(
    ['Row', 'Message'],
    examples.map((e) => [formatNumber(e.row), escapeMarkdownCell(e.message)]),
    ['r', 'l'],
  ).join('\n')
}

function adjustmentLine(a: NonNullable<DatasetResult['probabilityAdjustment']>): string {
  const parts: string[] = []
  if (a.clippedValues > 0)
    parts.push(
      `${plural(a.clippedRows, 'row')} had probabilities outside [0, 1] by float32 rounding (largest excess ${formatNumber(a.maxExcess)}), clipped before the metrics`,
    )
  if (a.offSumRows > 0) parts.push(`${plural(a.offSumRows, 'row')} do not sum to 1 (largest difference ${formatNumber(a.maxSumError)})`)
  return `**Probabilities** (${escapeMarkdownCell(a.output)}, tolerance ${formatNumber(a.tolerance)}): ${parts.join('; ')}.`
}

function consistencyLine(c: NonNullable<DatasetResult['outputConsistency']>): string {
  const label = escapeMarkdownCell(c.labelOutput)
  const proba = escapeMarkdownCell(c.probabilityOutput)
  if (c.disagreements === 0) return `**Outputs:** ✅ the label output ${label} is the argmax of ${proba} on all ${plural(c.rows, 'row')}.`
  const rows = c.examples.join(', ') + (c.disagreements > c.examples.length ? ', …' : '')
  return `**Outputs:** ⚠️ the label output ${label} is not the argmax of ${proba} on ${formatNumber(c.disagreements)} of ${plural(c.rows, 'row')} (data rows ${rows}); label metrics use ${label}, probability metrics ${proba}.`
}

function contractBlocks(contract: NonNullable<DatasetResult['contract']>): Block[] {
  const mark = contract.violations === 0 ? '✅' : '❌'
  const line =
    `**Contract** (${escapeMarkdownCell(contract.schema)}): ${mark} ${plural(contract.violations, 'violation')} ` +
    `in ${plural(contract.rowsChecked, 'row')} checked`
  const blocks: Block[] = [{ text: line }]
  if (contract.examples.length > 0) {
    blocks.push({
      text: details(`Contract violations (${plural(contract.examples.length, 'example')})`, examplesTable(contract.examples)),
      drop: { rank: DROP_RANK.contractExamples, what: 'Contract violation examples' },
    })
  }
  return blocks
}

function parityBlocks(parity: NonNullable<DatasetResult['parity']>): Block[] {
  const ok = parity.labelMismatches === 0 && parity.probabilityMismatches === 0
  const line =
    `**Conversion parity** against ${escapeMarkdownCell(parity.reference)} on ${plural(parity.rows, 'row')}: ` +
    `${ok ? '✅' : '❌'} ${plural(parity.labelMismatches, 'label mismatch', 'label mismatches')}, ` +
    `${plural(parity.probabilityMismatches, 'probability mismatch', 'probability mismatches')}, ` +
    `max abs difference ${formatNumber(parity.maxAbsDiff)} (tolerance ${formatNumber(parity.tolerance)})`
  const blocks: Block[] = [{ text: line }]
  if (parity.examples.length > 0) {
    blocks.push({
      text: details(`Parity mismatches (${plural(parity.examples.length, 'example')})`, examplesTable(parity.examples)),
      drop: { rank: DROP_RANK.parityExamples, what: 'Parity mismatch examples' },
    })
  }
  return blocks
}

function confusionBlock(dataset: DatasetResult): Block {
  const cm = dataset.confusionMatrix!
  const name = escapeMarkdownCell(dataset.name)
  if (cm.labels.length > CONFUSION_MAX_CLASSES) {
    return {
      text: `_Confusion matrix for ${name} omitted: ${formatNumber(cm.labels.length)} classes (the table is shown for at most ${CONFUSION_MAX_CLASSES})._`,
    }
  }
  const labels = cm.labels.map((l) => escapeMarkdownCell(String(l)))
  const header = ['true ↓ / predicted →', ...labels]
  const rows = cm.matrix.map((counts, i) => [`**${labels[i] ?? ''}**`, ...counts.map((n) => formatNumber(n))])
  const table = tableLines(header, rows, ['l', ...labels.map(() => 'r' as const)]).join('\n')
  return {
    text: details(`Confusion matrix: ${dataset.name}`, table),
    drop: { rank: DROP_RANK.confusion, what: `Confusion matrix for ${name}` },
  }
}

function perClassBlock(dataset: DatasetResult): Block {
  const name = escapeMarkdownCell(dataset.name)
  const rows = dataset.perClass!.map((r) => [
    escapeMarkdownCell(String(r.label)),
    formatNumber(r.precision),
    formatNumber(r.recall),
    formatNumber(r.f1),
    formatNumber(r.support),
  ])
  const table = tableLines(['Class', 'Precision', 'Recall', 'F1', 'Support'], rows, ['l', 'r', 'r', 'r', 'r']).join('\n')
  return {
    text: details(`Per-class metrics: ${dataset.name}`, table),
    drop: { rank: DROP_RANK.perClass, what: `Per-class metrics for ${name}` },
  }
}

function modelBlocks(model: ModelSummary): Block[] {
  const rows = [
    ['Name', escapeMarkdownCell(model.name)],
    ['Source', escapeMarkdownCell(model.source)],
    ['Runner', escapeMarkdownCell(model.runner)],
    ['Digest', escapeMarkdownCell(model.digest ?? '—')],
    ['Size', formatBytes(model.sizeBytes)],
  ]
  const blocks: Block[] = [{ text: '### Model' }, { text: tableLines(['Model', ''], rows).join('\n') }]
  if (model.inputs.length > 0 || model.outputs.length > 0) {
    const signature = [...model.inputs.map((t) => tensorRow('input', t)), ...model.outputs.map((t) => tensorRow('output', t))]
    const summary = `Signature: ${plural(model.inputs.length, 'input')}, ${plural(model.outputs.length, 'output')}`
    blocks.push({
      text: details(summary, tableLines(['', 'Name', 'Type', 'Shape', 'Kind'], signature).join('\n')),
      drop: { rank: DROP_RANK.signature, what: 'Model signature' },
    })
  }
  if (model.notes.length > 0) blocks.push({ text: bulletList(model.notes) })
  return blocks
}

function tensorRow(direction: string, t: TensorInfo): string[] {
  const shape = `[${t.shape.map((d) => (d === -1 ? '?' : String(d))).join(', ')}]`
  return [
    direction,
    escapeMarkdownCell(t.name),
    escapeMarkdownCell(t.dtype),
    escapeMarkdownCell(shape),
    escapeMarkdownCell(t.kind ?? 'tensor'),
  ]
}

function dataBlocks(data: readonly DatasetResult[]): Block[] {
  const rows = data.map((d) => [
    escapeMarkdownCell(d.name),
    escapeMarkdownCell(d.path),
    escapeMarkdownCell(d.format),
    formatNumber(d.rows),
    escapeMarkdownCell(d.digest),
  ])
  return [
    { text: '### Data' },
    { text: tableLines(['Name', 'Path', 'Format', 'Rows', 'Digest'], rows, ['l', 'l', 'l', 'r', 'l']).join('\n') },
  ]
}

function baselineBlocks(baseline: NonNullable<ValidationResult['baseline']>): Block[] {
  const parts = [`**Baseline** (${baseline.kind}): ${escapeMarkdownCell(baseline.source)}`]
  if (baseline.digest) parts.push(`digest ${escapeMarkdownCell(baseline.digest)}`)
  return [{ text: parts.join(' · ') }]
}

function bulletList(items: readonly string[]): string {
  return items.map((item) => `- ${escapeMarkdownCell(item)}`).join('\n')
}

/**
 * A collapsible section. `summary` is plain text: inside the HTML block Markdown escapes would
 * show literally, so it is HTML-escaped instead. The blank lines after `</summary>` and before
 * `</details>` are what make GitHub render the body as Markdown rather than as raw HTML text.
 */
export function details(summary: string, body: string): string {
  return `<details>\n<summary>${escapeHtml(summary)}</summary>\n\n${body}\n\n</details>`
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8')
}

function joinBlocks(blocks: readonly Block[]): string {
  return `${blocks.map((b) => b.text).join('\n\n')}\n`
}

/**
 * Joins the blocks; while over budget, replaces droppable blocks by a one-line notice, one
 * rank at a time. If the essentials alone are still too large, cuts at a line boundary.
 */
function fitBlocks(blocks: Block[], maxBytes: number): string {
  let current = blocks
  let text = joinBlocks(current)
  const ranks = [...new Set(blocks.flatMap((b) => (b.drop ? [b.drop.rank] : [])))].sort((a, b) => a - b)
  const limitText = formatBytes(maxBytes)
  for (const rank of ranks) {
    if (byteLength(text) <= maxBytes) return text
    current = current.map((b) =>
      b.drop?.rank === rank ? { text: `_${b.drop.what} omitted to keep this summary under ${limitText}._` } : b,
    )
    text = joinBlocks(current)
  }
  if (byteLength(text) <= maxBytes) return text
  return cutAtLine(text, maxBytes, `\n_… truncated: this summary exceeded ${limitText}._\n`)
}

/** The longest prefix of whole lines that, with `tail`, fits in `maxBytes`. */
function cutAtLine(text: string, maxBytes: number, tail: string): string {
  const budget = maxBytes - byteLength(tail)
  let used = 0
  let end = 0
  for (const line of text.split('\n')) {
    const size = byteLength(line) + 1
    if (used + size > budget) break
    used += size
    end += line.length + 1
  }
  return text.slice(0, end) + tail
}
