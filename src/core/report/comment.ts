import type { ValidationResult } from '../result/types.js'
import {
  CHECK_TABLE_HEADER,
  COMPARISON_COLUMNS_COMPACT,
  DEFAULT_ACTION,
  DISCORDANT_LEGEND,
  baselineMetric,
  changeOf,
  checkRow,
  comparisonOf,
  comparisonTableLines,
  comparisonVerdictLines,
  countChecks,
  headline,
  link,
  orderedChecks,
  plural,
  shortSha,
  showsDiscordant,
  tableLines,
  comparedWithLine,
} from './common.js'
import { escapeMarkdownCell, formatDelta, formatNumber } from './escape.js'
import { listedChecks, robustnessCommentLines } from './robustness.js'

/** The hidden line that identifies an action's comment, so a re-run edits it instead of adding another. */
export function commentMarker(action: string = DEFAULT_ACTION): string {
  // `--` would end the HTML comment early.
  return `<!-- modelgate:${action.replace(/-{2,}/g, '-').replace(/[^A-Za-z0-9._-]/g, '_')} -->`
}

export const COMMENT_MARKER = commentMarker(DEFAULT_ACTION)

/** GitHub rejects issue comments longer than this many characters. */
export const COMMENT_MAX_CHARS = 65536
/** GitHub also caps a comment body at this many bytes. */
export const COMMENT_MAX_BYTES = 262144
/** The comment shows this many key metrics of the first data set; the summary has them all. */
const KEY_METRICS_MAX = 12
const MESSAGE_MAX = 300

export interface CommentOptions {
  marker: string
  summaryUrl?: string
  /** Maximum length in UTF-16 code units; 65,536 unless given. */
  limit?: number
  /** The name in the headline; `validate-model` unless given. */
  title?: string
}

/**
 * The pull-request comment: headline, champion vs challenger, failed and warned checks, key metrics. It starts with
 * the marker and is never longer than `limit` characters nor 256 KiB; when it would be, it is
 * cut at a row boundary and ends with a pointer to the job summary.
 */
export function renderComment(result: ValidationResult, opts: CommentOptions): string {
  const limit = opts.limit ?? COMMENT_MAX_CHARS
  const head = [opts.marker, `### ${headline(result, opts.title ?? DEFAULT_ACTION)}`]
  const against = comparedWithLine(result)
  const body = [
    ...(against ? [against, ''] : []),
    ...(result.warnings ?? []).flatMap((w) => [`> [!WARNING]\n> ${escapeMarkdownCell(w)}`, '']),
    ...comparisonLines(result),
    ...(result.robustness ? robustnessCommentLines(result.robustness) : []),
    ...checkLines(result),
    ...dataLines(result),
    ...metricLines(result),
    footer(result, opts.summaryUrl),
  ]
  const full = [...head, '', ...body].join('\n')
  if (fits(full, limit)) return full
  return truncate(head, body, limit, truncationNotice(opts.summaryUrl))
}

/** First, because it answers the reviewer's question: is the new model better than the one in production? */
function comparisonLines(result: ValidationResult): string[] {
  const comparisons = result.comparisons ?? []
  if (comparisons.length === 0) return []
  return [
    '**Champion vs challenger**',
    '',
    ...comparisonVerdictLines(comparisons, MESSAGE_MAX),
    '',
    ...comparisonTableLines(comparisons, COMPARISON_COLUMNS_COMPACT),
    '',
    ...(showsDiscordant(comparisons) ? [DISCORDANT_LEGEND, ''] : []),
  ]
}

function checkLines(result: ValidationResult): string[] {
  const checks = listedChecks(result)
  // The robustness lines already account for their tests' checks.
  if (checks.length === 0 && result.robustness) return []
  const flagged = orderedChecks(checks).filter((c) => c.status === 'fail' || c.status === 'warn')
  const passed = countChecks(checks, 'pass')
  const skipped = countChecks(checks, 'skipped')
  const tally =
    `${formatNumber(passed)} of ${plural(checks.length, 'check')} passed` + (skipped > 0 ? `, ${formatNumber(skipped)} skipped.` : '.')
  if (flagged.length === 0) return [checks.length === 0 ? 'No checks were configured.' : tally, '']
  const rows = flagged.map((check) => checkRow(check, MESSAGE_MAX, comparisonOf(result, check)))
  return [tally, '', ...tableLines(CHECK_TABLE_HEADER, rows, ['c', 'l', 'r', 'l', 'r', 'r', 'l']), '']
}

/** Drift and integrity in a line each per data set; the summary has the columns. */
function dataLines(result: ValidationResult): string[] {
  const lines: string[] = []
  for (const d of result.data) {
    const where = result.data.length > 1 ? ` (${escapeMarkdownCell(d.name)})` : ''
    if (d.drift) {
      const v = d.drift
      const worst = v.columns
        .filter((c) => c.drifted)
        .slice(0, 5)
        .map((c) => escapeMarkdownCell(c.column))
      lines.push(
        `**Data drift${where}:** ${v.drifted} of ${plural(v.columns.length, 'column')} (${formatNumber(v.share * 100)}%)${v.datasetDrift ? ', the data has drifted' : ''}${worst.length > 0 ? `: ${worst.join(', ')}${v.drifted > worst.length ? ', …' : ''}` : ''}.`,
      )
    }
    if (d.integrity) {
      const r = d.integrity
      lines.push(
        `**Data integrity${where}:** ${plural(r.duplicateRows, 'duplicated row')}, ${plural(r.duplicateColumns.length, 'duplicated column')}${r.leakage ? `, ${plural(r.leakage.rows, 'row')} also in the reference` : ''}.`,
      )
    }
  }
  return lines.length > 0 ? [...lines, ''] : []
}

function metricLines(result: ValidationResult): string[] {
  const dataset = result.data[0]
  if (!dataset) return []
  const names = Object.keys(dataset.metrics)
  if (names.length === 0) return []
  const withBaseline = result.baseline !== undefined
  const rows = names.slice(0, KEY_METRICS_MAX).map((metric) => {
    const value = dataset.metrics[metric]
    if (!withBaseline) return [escapeMarkdownCell(metric), formatNumber(value)]
    const baseline = baselineMetric(result, dataset, metric)
    return [escapeMarkdownCell(metric), formatNumber(value), formatNumber(baseline), formatDelta(changeOf(value, baseline))]
  })
  const header = withBaseline ? ['Metric', 'Value', 'Baseline', 'Δ'] : ['Metric', 'Value']
  const more =
    names.length > KEY_METRICS_MAX
      ? [`_${plural(names.length - KEY_METRICS_MAX, 'more metric', 'more metrics')} in the job summary._`, '']
      : []
  return [
    `**Metrics** on ${escapeMarkdownCell(dataset.name)} (${plural(dataset.rows, 'row')})`,
    '',
    ...tableLines(header, rows, withBaseline ? ['l', 'r', 'r', 'r'] : ['l', 'r']),
    '',
    ...more,
  ]
}

function footer(result: ValidationResult, summaryUrl: string | undefined): string {
  const ctx = result.context
  const parts = [`${escapeMarkdownCell(ctx.tool)} ${escapeMarkdownCell(ctx.version)}`, `model ${escapeMarkdownCell(result.model.name)}`]
  if (ctx.sha) parts.push(`commit ${escapeMarkdownCell(shortSha(ctx.sha))}`)
  if (summaryUrl) parts.push(link('full report', summaryUrl))
  return `<sub>${parts.join(' · ')}</sub>`
}

function truncationNotice(summaryUrl: string | undefined): string {
  const where = summaryUrl ? ` (${link('job summary', summaryUrl)})` : ''
  return `… truncated: see the full report in the job summary${where}`
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8')
}

function fits(s: string, limit: number): boolean {
  return s.length <= limit && utf8Length(s) <= COMMENT_MAX_BYTES
}

/** The head, as many whole body lines as fit, then the notice; sizes are tracked incrementally for speed. */
function truncate(head: string[], body: string[], limit: number, notice: string): string {
  const prefix = `${head.join('\n')}\n\n`
  const tail = `\n\n${notice}`
  let chars = prefix.length + tail.length
  let bytes = utf8Length(prefix) + utf8Length(tail)
  if (chars > limit || bytes > COMMENT_MAX_BYTES) {
    throw new Error(`A comment limit of ${limit} characters cannot hold even the headline and the truncation notice.`)
  }
  const kept: string[] = []
  for (const line of body) {
    const lineChars = line.length + 1
    const lineBytes = utf8Length(line) + 1
    if (chars + lineChars > limit || bytes + lineBytes > COMMENT_MAX_BYTES) break
    kept.push(line)
    chars += lineChars
    bytes += lineBytes
  }
  return (
    prefix +
    kept
      .map((l) => `${l}\n`)
      .join('')
      .replace(/\n$/, '') +
    tail
  )
}
