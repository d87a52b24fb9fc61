/*
 * The job summary's sections on the statistics (slices, fairness, calibration): each shows its estimates
 * with their intervals, and says once per section how the intervals were made.
 */
import type { CalibrationResult, FairnessResult, SliceResult } from '../result/types.js'
import type { Interval } from '../stats/types.js'
import { changeOf, confidenceText, formatEstimate, formatRange, intervalHeader, intervalMethodText, plural, tableLines } from './common.js'
import { escapeMarkdownCell, escapeMermaidLabel, formatDelta, formatNumber } from './escape.js'
import { DROP_RANK, details, notesBlock, type Block } from './markdown-blocks.js'

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

function distinct<T>(items: readonly T[]): T[] {
  return [...new Set(items)]
}

/** Slices from the manifest in a table; slices the search found weak in a collapsible one. */
export function sliceBlocks(slices: readonly SliceResult[]): Block[] {
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
export function fairnessBlocks(fairness: FairnessResult): Block[] {
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

export function calibrationBlocks(calibration: CalibrationResult): Block[] {
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
