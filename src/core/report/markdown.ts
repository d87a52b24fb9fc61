import type { DatasetResult, ModelSummary, ValidationResult } from '../result/types.js'
import type { TensorInfo } from '../runners/types.js'
import {
  CHECK_TABLE_HEADER,
  DEFAULT_ACTION,
  baselineMetric,
  changeOf,
  checkRow,
  errorText,
  headline,
  link,
  orderedChecks,
  shortSha,
  tableLines,
} from './common.js'
import { escapeHtml, escapeMarkdownCell, escapeMermaidLabel, formatBytes, formatDelta, formatNumber } from './escape.js'

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

/** Drop order: the bulkiest, least essential detail goes first. */
const DROP_RANK = { perClass: 1, confusion: 2, contractExamples: 3, parityExamples: 4, signature: 5, chart: 6 } as const

/** The job summary: every fact of the result, as GitHub-flavoured Markdown under `maxBytes`. */
export function renderSummary(result: ValidationResult, opts: SummaryOptions = {}): string {
  const blocks = summaryBlocks(result, opts)
  return fitBlocks(blocks, opts.maxBytes ?? SUMMARY_MAX_BYTES)
}

function summaryBlocks(result: ValidationResult, opts: SummaryOptions): Block[] {
  const blocks: Block[] = [{ text: `## ${headline(result, opts.title ?? DEFAULT_ACTION)}` }, { text: metaLine(result, opts) }]
  if (result.status === 'error') blocks.push({ text: `> [!CAUTION]\n> ${escapeMarkdownCell(errorText(result))}` })
  blocks.push(...checksBlocks(result))
  for (const dataset of result.data) blocks.push(...datasetBlocks(result, dataset))
  blocks.push(...modelBlocks(result.model))
  if (result.data.length > 0) blocks.push(...dataBlocks(result.data))
  if (result.baseline) blocks.push(...baselineBlocks(result.baseline))
  if (result.notes.length > 0) blocks.push({ text: '### Notes' }, { text: bulletList(result.notes) })
  return blocks
}

function metaLine(result: ValidationResult, opts: SummaryOptions): string {
  const parts = [`**Model:** ${escapeMarkdownCell(result.model.name)}`, `**Task:** ${result.task}`]
  if (result.data.length > 0) {
    const data = result.data.map((d) => `${escapeMarkdownCell(d.name)} (${formatNumber(d.rows)} rows)`).join(', ')
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
  if (result.checks.length === 0) return [{ text: '### Checks' }, { text: '_No checks were configured._' }]
  const rows = orderedChecks(result.checks).map((check) => checkRow(check, MESSAGE_MAX))
  return [{ text: '### Checks' }, { text: tableLines(CHECK_TABLE_HEADER, rows, ['c', 'l', 'r', 'l', 'r', 'r', 'l']).join('\n') }]
}

function datasetBlocks(result: ValidationResult, dataset: DatasetResult): Block[] {
  const name = escapeMarkdownCell(dataset.name)
  const blocks: Block[] = [{ text: `### Metrics: ${name}` }, { text: metricsTable(result, dataset) }]
  const chart = metricsChart(dataset)
  if (chart) blocks.push({ text: chart, drop: { rank: DROP_RANK.chart, what: `Metrics chart for ${name}` } })
  blocks.push({ text: performanceLine(dataset) })
  if (dataset.skippedRows) {
    blocks.push({ text: `⚠️ ${formatNumber(dataset.skippedRows)} rows were skipped: a label or feature value was missing.` })
  }
  if (dataset.contract) blocks.push(...contractBlocks(dataset.contract))
  if (dataset.parity) blocks.push(...parityBlocks(dataset.parity))
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
    `**Performance:** ${formatNumber(dataset.rows)} rows in ${formatNumber(p.totalSeconds)} s · ` +
    `${formatNumber(p.rowsPerSecond)} rows/s · batch latency p50 ${formatNumber(latency.p50)} ms, ` +
    `p95 ${formatNumber(latency.p95)} ms, p99 ${formatNumber(latency.p99)} ms ` +
    `(${countNoun(p.batches, 'batch', 'batches')} of up to ${formatNumber(p.batchSize)} rows)`
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

function contractBlocks(contract: NonNullable<DatasetResult['contract']>): Block[] {
  const mark = contract.violations === 0 ? '✅' : '❌'
  const line =
    `**Contract** (${escapeMarkdownCell(contract.schema)}): ${mark} ${formatNumber(contract.violations)} ` +
    `violation${contract.violations === 1 ? '' : 's'} in ${formatNumber(contract.rowsChecked)} rows checked`
  const blocks: Block[] = [{ text: line }]
  if (contract.examples.length > 0) {
    blocks.push({
      text: details(`Contract violations (${formatNumber(contract.examples.length)} examples)`, examplesTable(contract.examples)),
      drop: { rank: DROP_RANK.contractExamples, what: 'Contract violation examples' },
    })
  }
  return blocks
}

function parityBlocks(parity: NonNullable<DatasetResult['parity']>): Block[] {
  const ok = parity.labelMismatches === 0 && parity.probabilityMismatches === 0
  const line =
    `**Conversion parity** against ${escapeMarkdownCell(parity.reference)} on ${formatNumber(parity.rows)} rows: ` +
    `${ok ? '✅' : '❌'} ${formatNumber(parity.labelMismatches)} label mismatches, ` +
    `${formatNumber(parity.probabilityMismatches)} probability mismatches, ` +
    `max abs difference ${formatNumber(parity.maxAbsDiff)} (tolerance ${formatNumber(parity.tolerance)})`
  const blocks: Block[] = [{ text: line }]
  if (parity.examples.length > 0) {
    blocks.push({
      text: details(`Parity mismatches (${formatNumber(parity.examples.length)} examples)`, examplesTable(parity.examples)),
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
    const summary = `Signature: ${countNoun(model.inputs.length, 'input')}, ${countNoun(model.outputs.length, 'output')}`
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

function countNoun(n: number, one: string, many = `${one}s`): string {
  return `${formatNumber(n)} ${n === 1 ? one : many}`
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
