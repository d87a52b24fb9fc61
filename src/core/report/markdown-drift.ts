import type { ColumnDrift, DatasetResult } from '../result/types.js'
import { plural, tableLines } from './common.js'
import { escapeMarkdownCell, formatNumber } from './escape.js'
import { details, type Block } from './markdown-blocks.js'

/*
 * The summary's drift and integrity sections: the verdict in words, then each column worst first with its
 * test, statistic, p-value and a pair of sparklines (reference above current) so that a reviewer sees how
 * the distribution moved without leaving the pull request.
 */

const BARS = '▁▂▃▄▅▆▇█'
/** Columns in the table; the rest are counted. */
const MAX_ROWS = 30

/** Shares as one character each, scaled to the larger of the two series so both read on one scale. */
function sparkline(values: readonly number[], top: number): string {
  return values
    .map((v) => (top > 0 && v > 0 ? BARS[Math.min(BARS.length - 1, Math.floor((v / top) * (BARS.length - 1e-9)))] : ' '))
    .join('')
}

function pair(c: ColumnDrift): string {
  const top = Math.max(...c.histogram.reference, ...c.histogram.current)
  return `\`${sparkline(c.histogram.reference, top)}\`<br>\`${sparkline(c.histogram.current, top)}\``
}

const TEST_NAMES: Record<ColumnDrift['test'], string> = {
  ks: 'Kolmogorov–Smirnov',
  chisquare: 'chi-square',
  z: 'Z (proportions)',
  wasserstein: 'Wasserstein (normed)',
  jensenshannon: 'Jensen–Shannon',
  psi: 'PSI',
}

function columnRow(c: ColumnDrift, name = c.column): string[] {
  const p = c.pValue === undefined ? '—' : `${formatNumber(c.adjustedPValue ?? c.pValue)}${c.adjustedPValue !== undefined ? ' (BH)' : ''}`
  const rule = c.pValue === undefined ? `≥ ${formatNumber(c.threshold)}` : `p < ${formatNumber(c.threshold)}`
  const unseen = c.unseen ? `<br>${plural(c.unseen.categories, 'new category', 'new categories')} in ${plural(c.unseen.rows, 'row')}` : ''
  return [
    c.drifted ? '⚠️' : '✅',
    escapeMarkdownCell(name),
    escapeMarkdownCell(TEST_NAMES[c.test]),
    formatNumber(c.statistic),
    p,
    rule,
    formatNumber(c.psi),
    `${pair(c)}${unseen}`,
  ]
}

const HEADER = ['', 'Column', 'Test', 'Statistic', 'p-value', 'Drifted when', 'PSI', 'Reference / data']

export function driftBlocks(dataset: DatasetResult, several: boolean): Block[] {
  const d = dataset.drift
  if (!d) return []
  const where = several ? ` (${escapeMarkdownCell(dataset.name)})` : ''
  const verdict = d.datasetDrift
    ? `**The data has drifted**: ${d.drifted} of ${plural(d.columns.length, 'column')} (${formatNumber(d.share * 100)}%) differ from the reference, at or above the ${formatNumber(d.threshold * 100)}% at which a data set has drifted.`
    : `${d.drifted} of ${plural(d.columns.length, 'column')} (${formatNumber(d.share * 100)}%) differ from the reference: below the ${formatNumber(d.threshold * 100)}% at which a data set has drifted.`
  const sample = [
    d.reference.sampled !== undefined
      ? `a seeded sample of ${formatNumber(d.reference.sampled)} of its ${formatNumber(d.reference.rows)} rows`
      : `${plural(d.reference.rows, 'row')}`,
  ]
  const rows = d.columns.slice(0, MAX_ROWS).map((c) => columnRow(c))
  const extra = [
    ...(d.prediction ? [columnRow(d.prediction, "the model's outputs")] : []),
    ...(d.predictionVsBaseline ? [columnRow(d.predictionVsBaseline, "its outputs vs the baseline model's")] : []),
    ...(d.label ? [columnRow(d.label, 'the label')] : []),
  ]
  const more =
    d.columns.length > MAX_ROWS ? `\n\n${plural(d.columns.length - MAX_ROWS, 'more column')} below the first ${MAX_ROWS}, none worse.` : ''
  return [
    { text: `### Data drift${where}` },
    {
      text: `${verdict} Reference: ${escapeMarkdownCell(d.reference.path)}, ${sample.join('')}${d.sampled !== undefined ? `; data: a seeded sample of ${formatNumber(d.sampled)} of ${formatNumber(d.rows)} rows` : ''}.`,
    },
    { text: `${tableLines(HEADER, [...rows, ...extra], ['c', 'l', 'l', 'r', 'r', 'l', 'r', 'l']).join('\n')}${more}` },
  ]
}

export function integrityBlocks(dataset: DatasetResult, several: boolean): Block[] {
  const r = dataset.integrity
  if (!r) return []
  const where = several ? ` (${escapeMarkdownCell(dataset.name)})` : ''
  const facts = [
    `${plural(r.duplicateRows, 'duplicated row')}`,
    `${plural(r.duplicateColumns.length, 'duplicated column')}${r.duplicateColumns.length > 0 ? ` (${r.duplicateColumns.map(([a, b]) => `${escapeMarkdownCell(a)} = ${escapeMarkdownCell(b)}`).join(', ')})` : ''}`,
    ...(r.leakage ? [`${plural(r.leakage.rows, 'row')} (${formatNumber(r.leakage.share * 100)}%) also in the reference (leakage)`] : []),
  ]
  const flagged = r.columns.filter(
    (c) => c.missing > 0 || c.constant || c.nearConstant || c.mixedTypes || (c.outOfRange ?? 0) > 0 || (c.newCategories?.count ?? 0) > 0,
  )
  const rows = flagged.map((c) => [
    escapeMarkdownCell(c.name),
    c.missing > 0 ? `${formatNumber(c.missing)} (${formatNumber(c.missingShare * 100)}%)` : '',
    c.constant ? 'constant' : c.nearConstant ? `near-constant (${formatNumber((c.topShare ?? 0) * 100)}%)` : '',
    c.mixedTypes ? 'numbers and text' : '',
    c.outOfRange ? formatNumber(c.outOfRange) : '',
    c.newCategories?.count
      ? `${formatNumber(c.newCategories.count)}: ${c.newCategories.examples.map((e) => `\`${escapeMarkdownCell(e).replace(/`/g, '')}\``).join(', ')}`
      : '',
  ])
  const table =
    rows.length > 0
      ? tableLines(['Column', 'Missing', 'Values', 'Types', 'Out of range', 'New categories'], rows, ['l', 'r', 'l', 'l', 'r', 'l']).join(
          '\n',
        )
      : `No column has missing, constant, mixed or unseen values (${plural(r.columns.length, 'column')} checked).`
  return [
    { text: `### Data integrity${where}` },
    { text: `${plural(r.rows, 'row')}: ${facts.join(' · ')}.` },
    rows.length > 10 ? { text: details(`${plural(rows.length, 'column')} to look at`, table) } : { text: table },
  ]
}
