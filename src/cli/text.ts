import type { CheckResult, ValidationResult } from '../core/result/types.js'
import { formatEstimate } from '../core/report/common.js'

const MARK: Record<CheckResult['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skipped: 'SKIP' }

function num(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '-'
  if (Number.isInteger(x)) return x.toLocaleString('en-US')
  return Math.abs(x) >= 1000 ? x.toFixed(1) : x.toPrecision(6).replace(/0+$/, '').replace(/\.$/, '')
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** The terminal's view of a result: verdict first, then checks, then metrics. */
export function renderText(result: ValidationResult): string {
  const failed = result.checks.filter((c) => c.status === 'fail').length
  const warned = result.checks.filter((c) => c.status === 'warn').length
  const head = {
    pass: `PASSED: ${result.model.name}`,
    warn: `PASSED with ${warned} warning(s): ${result.model.name}`,
    fail: `FAILED: ${failed} check(s) failed for ${result.model.name}`,
    error: `ERROR: ${result.error?.message ?? ''}`,
  }[result.status]
  const out = [head, '']
  if (result.comparisons && result.comparisons.length > 0) {
    // The verdict a reviewer reads first: is the new model better than the one in production?
    const intervals = result.comparisons[0].method.split(';')[0]
    out.push(`Champion vs challenger: the new model vs ${result.baseline?.source ?? 'the baseline'} (${intervals})`)
    const mark = { pass: 'PASS', fail: 'FAIL', inconclusive: '????' } as const
    for (const c of result.comparisons) out.push(`  ${c.verdict ? mark[c.verdict] : '    '}  ${c.dataset}: ${c.message}`)
    out.push('')
  }
  if (result.checks.length > 0) {
    out.push('Checks')
    for (const c of result.checks) out.push(`  ${MARK[c.status]}  ${c.id}: ${c.message}`)
    out.push('')
  }
  for (const d of result.data) {
    out.push(`Metrics on ${d.name} (${d.rows.toLocaleString('en-US')} rows)`)
    const base = result.baseline?.metrics
    const rows = [['metric', 'value', ...(base ? ['baseline', 'change'] : [])]]
    for (const [k, v] of Object.entries(d.metrics)) {
      const b = base?.[k]
      rows.push([k, num(v), ...(base ? [num(b), b === undefined ? '-' : (v - b >= 0 ? '+' : '') + num(v - b)] : [])])
    }
    out.push(table(rows).replace(/^/gm, '  '), '')
  }
  if (result.slices && result.slices.length > 0) {
    out.push('Slices')
    const metrics = [...new Set(result.slices.flatMap((sl) => Object.keys(sl.metrics)))]
    const rows = [['slice', 'rows', ...metrics]]
    for (const sl of result.slices) {
      const name = sl.source === 'discovered' ? `(found) ${sl.name}` : `${sl.name}${sl.gated ? '' : ' (too small to gate)'}`
      rows.push([name, String(sl.rows), ...metrics.map((m) => formatEstimate(sl.metrics[m], sl.intervals[m]))])
    }
    out.push(table(rows).replace(/^/gm, '  '), '')
  }
  for (const f of result.fairness ?? []) {
    out.push(
      `Fairness across ${f.sensitive} (${f.groups.map((g) => `${String(g.value)}: ${g.rows}${g.gated ? '' : ', not gated'}`).join('; ')})`,
    )
    const rows = [['metric', 'value [CI]', ...(f.baseline ? ['baseline'] : [])]]
    for (const [m, v] of Object.entries(f.metrics))
      rows.push([m, formatEstimate(v, f.intervals[m]), ...(f.baseline ? [num(f.baseline[m])] : [])])
    out.push(table(rows).replace(/^/gm, '  '), '')
  }
  for (const c of result.calibration ?? []) {
    out.push(
      `Calibration on ${c.dataset}: ece ${formatEstimate(c.ece, c.intervals.ece)}, mce ${formatEstimate(c.mce, c.intervals.mce)}, brier ${formatEstimate(c.brier, c.intervals.brier)}`,
      '',
    )
  }
  for (const n of result.notes) out.push(`note: ${n}`)
  return out.join('\n').trimEnd()
}
