import type { CheckResult, CheckStatus, DatasetResult, Status, ValidationResult } from '../result/types.js'
import { clip, escapeMarkdownCell, formatDelta, formatNumber } from './escape.js'

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

function plural(n: number, one: string, many: string): string {
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

/** One Markdown table row per check, every data-derived cell escaped; long messages clipped to `messageMax`. */
export function checkRow(check: CheckResult, messageMax: number): string[] {
  const hasBaseline = check.baseline !== undefined
  return [
    CHECK_MARK[check.status],
    escapeMarkdownCell(check.id),
    formatNumber(check.value),
    escapeMarkdownCell(thresholdText(check)),
    hasBaseline ? formatNumber(check.baseline) : '',
    hasBaseline ? formatDelta(changeOf(check.value, check.baseline)) : '',
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
