/*
 * The job summary's section per data set: its metrics (with the baseline's when compared), a chart of
 * those on one [0, 1] scale, performance, and what the run found in the data and the outputs.
 */
import type { DatasetResult, ValidationResult } from '../result/types.js'
import { baselineMetric, changeOf, plural, tableLines } from './common.js'
import { escapeMarkdownCell, escapeMermaidLabel, formatDelta, formatNumber } from './escape.js'
import { DROP_RANK, details, type Block } from './markdown-blocks.js'

/** Confusion matrices wider than this are unreadable in a table. */
export const CONFUSION_MAX_CLASSES = 20
/** Bars in one chart; more crowd the x-axis labels into illegibility. */
export const CHART_MAX_BARS = 20

/**
 * Higher-is-better metrics whose range is [0, 1], which is what makes one shared y-axis honest
 * (Brier score and log loss are lower-is-better and stay out). Matched as a prefix so averaged variants (`f1_macro`, `roc_auc_ovr`, `precision_weighted`) count too.
 */
const BOUNDED_METRIC =
  /^(accuracy|balanced_accuracy|top_\d+_accuracy|precision|recall|sensitivity|specificity|f1|fbeta|f_beta|roc_auc|auc|pr_auc|average_precision|jaccard)/

export function datasetBlocks(result: ValidationResult, dataset: DatasetResult): Block[] {
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
  return lineWithExamples(line, contract.examples, 'Contract violations', {
    rank: DROP_RANK.contractExamples,
    what: 'Contract violation examples',
  })
}

function parityBlocks(parity: NonNullable<DatasetResult['parity']>): Block[] {
  const ok = parity.labelMismatches === 0 && parity.probabilityMismatches === 0
  const line =
    `**Conversion parity** against ${escapeMarkdownCell(parity.reference)} on ${plural(parity.rows, 'row')}: ` +
    `${ok ? '✅' : '❌'} ${plural(parity.labelMismatches, 'label mismatch', 'label mismatches')}, ` +
    `${plural(parity.probabilityMismatches, 'probability mismatch', 'probability mismatches')}, ` +
    `max abs difference ${formatNumber(parity.maxAbsDiff)} (tolerance ${formatNumber(parity.tolerance)})`
  return lineWithExamples(line, parity.examples, 'Parity mismatches', { rank: DROP_RANK.parityExamples, what: 'Parity mismatch examples' })
}

/** A finding's line, then its example rows collapsed: the first to go when the summary is too large. */
function lineWithExamples(line: string, examples: Examples, title: string, drop: NonNullable<Block['drop']>): Block[] {
  const blocks: Block[] = [{ text: line }]
  if (examples.length > 0) blocks.push({ text: details(`${title} (${plural(examples.length, 'example')})`, examplesTable(examples)), drop })
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
