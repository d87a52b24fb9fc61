import type { Comparison, DatasetResult, ModelSummary, ValidationResult } from '../result/types.js'
import type { TensorInfo } from '../runners/types.js'
import {
  CHECK_TABLE_HEADER,
  COMPARISON_COLUMNS_FULL,
  DEFAULT_ACTION,
  checkRow,
  comparisonMethodText,
  comparisonOf,
  comparisonTableLines,
  comparisonVerdictLines,
  errorText,
  headline,
  link,
  orderedChecks,
  plural,
  shortSha,
  tableLines,
  comparedWithLine,
} from './common.js'
import { escapeMarkdownCell, formatBytes, formatNumber } from './escape.js'
import { DROP_RANK, bulletList, details, fitBlocks, type Block } from './markdown-blocks.js'
import { datasetBlocks } from './markdown-dataset.js'
import { driftBlocks, integrityBlocks } from './markdown-drift.js'
import { calibrationBlocks, fairnessBlocks, sliceBlocks } from './markdown-statistics.js'
import { listedChecks, robustnessSummaryParts, type RobustnessPart } from './robustness.js'

export { details } from './markdown-blocks.js'
export { CHART_MAX_BARS, CONFUSION_MAX_CLASSES } from './markdown-dataset.js'

/** GitHub refuses job summaries over 1 MiB. */
export const SUMMARY_MAX_BYTES = 1024 * 1024
const MESSAGE_MAX = 1000

export interface SummaryOptions {
  /** The name in the headline; `validate-model` unless given. */
  title?: string
  /** Where the full details live (the workflow run, an artifact), linked near the top. */
  detailsUrl?: string
  /** Byte budget; GitHub's 1 MiB unless a caller needs less. */
  maxBytes?: number
}

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
  for (const dataset of result.data)
    blocks.push(...driftBlocks(dataset, result.data.length > 1), ...integrityBlocks(dataset, result.data.length > 1))
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
