import type { CheckResult, ValidationResult } from '../core/result/types.js'
import type { RobustnessResult } from '../core/robustness/types.js'
import { comparedWithLine, comparisonOf, formatEstimate, plural } from '../core/report/common.js'
import {
  costText,
  flipText,
  listedChecks,
  metricChangeText,
  metricText,
  orderedSensitivity,
  orderedTests,
  perturbationText,
  sampleText,
  violationsText,
  worstFlipTest,
  robustnessComparisonText,
} from '../core/report/robustness.js'

const MARK: Record<CheckResult['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skipped: 'SKIP' }

/** A data set's name as the text shows it, so that one called `test` or `holdout` is not read as a word: `data set "test"`. */
export function dataSetText(name: string): string {
  return `data set ${JSON.stringify(name)}`
}

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
    warn: `PASSED with ${plural(warned, 'warning')}: ${result.model.name}`,
    fail: `FAILED: ${plural(failed, 'check')} failed for ${result.model.name}`,
    error: `ERROR: ${result.error?.message ?? ''}`,
  }[result.status]
  const out = [head, '']
  const against = comparedWithLine(result, true)
  if (against) out.push(against, '')
  for (const w of result.warnings ?? []) out.push(`warning: ${w}`)
  if (result.warnings?.length) out.push('')
  if (result.comparisons && result.comparisons.length > 0) {
    // The verdict a reviewer reads first: is the new model better than the one in production?
    // One data set is named in the heading; several, on each line.
    const intervals = result.comparisons[0].method.split(';')[0]
    const datasets = new Set(result.comparisons.map((c) => c.dataset))
    const on = datasets.size === 1 ? ` on ${dataSetText(result.comparisons[0].dataset)}` : ''
    out.push(`Champion vs challenger${on}: the new model vs ${result.baseline?.source ?? 'the baseline'} (${intervals})`)
    const mark = { pass: 'PASS', fail: 'FAIL', inconclusive: '????' } as const
    for (const c of result.comparisons) {
      const where = datasets.size === 1 ? '' : `${dataSetText(c.dataset)}: `
      out.push(`  ${c.verdict ? mark[c.verdict] : '    '}  ${where}${c.message}`)
    }
    out.push('')
  }
  if (result.robustness) out.push(...robustnessText(result.robustness))
  out.push(...dataText(result))
  const checks = listedChecks(result)
  if (checks.length > 0) {
    out.push('Checks')
    // A comparison's check repeats the line above it: its status and id suffice here.
    for (const c of checks) {
      const above = comparisonOf(result, c) !== undefined
      out.push(`  ${MARK[c.status]}  ${c.id}: ${above ? 'see Champion vs challenger above' : c.message}`)
    }
    out.push('')
  }
  for (const d of result.data) {
    out.push(`Metrics on ${dataSetText(d.name)} (${plural(d.rows, 'row')})`)
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
      `Calibration on ${dataSetText(c.dataset)}: ece ${formatEstimate(c.ece, c.intervals.ece)}, mce ${formatEstimate(c.mce, c.intervals.mce)}, brier ${formatEstimate(c.brier, c.intervals.brier)}`,
      '',
    )
  }
  for (const n of result.notes) out.push(`note: ${n}`)
  return out.join('\n').trimEnd()
}

/** Failures first: each test's flip rate and metric change, what went wrong; then sensitivity, stress findings and the cost. */
function robustnessText(r: RobustnessResult): string[] {
  const worst = worstFlipTest(r)
  const out = [`Robustness on ${sampleText(r)}${worst ? `; worst flip rate ${flipText(worst)} (${worst.id})` : ''}`]
  const rows = [['test', 'flip rate [CI]', 'metric', 'change', 'violations', '']]
  for (const t of orderedTests(r.tests)) {
    rows.push([
      `${MARK[t.status]}  ${t.id}`,
      flipText(t),
      metricText(t),
      metricChangeText(t),
      violationsText(t),
      t.level === 'major' ? 'major' : '',
    ])
  }
  out.push(table(rows).replace(/^/gm, '  '), '')
  const compared = r.tests.filter((t) => t.baseline)
  if (compared.length > 0) out.push(`Against the baseline: ${robustnessComparisonText(compared)}`, '')
  const flagged = orderedTests(r.tests.filter((t) => t.kind !== 'stress' && (t.status === 'fail' || t.status === 'warn')))
  for (const t of flagged) out.push(`  ${MARK[t.status]}  ${t.id}: ${t.message}`)
  if (flagged.length > 0) out.push('')
  if (r.sensitivity && r.sensitivity.length > 0) {
    out.push('Sensitivity: the smallest change of one feature that flipped a row (most sensitive first)')
    const sens = [['feature', 'rows flipped', 'median change', 'in sd', 'queries']]
    for (const s of orderedSensitivity(r.sensitivity)) {
      sens.push([s.feature, `${s.rowsFlipped} of ${s.rowsSearched}`, num(s.medianChange), num(s.medianChangeInSd), num(s.queries)])
    }
    out.push(table(sens).replace(/^/gm, '  '), '')
  }
  const findings = orderedTests(r.tests.filter((t) => t.kind === 'stress' && t.status !== 'pass'))
  if (findings.length > 0) {
    out.push('Stress findings')
    for (const t of findings) {
      out.push(`  ${MARK[t.status]}  ${t.id} (${perturbationText(t)}): ${t.message}`)
      for (const e of t.examples ?? []) out.push(`        row ${e.row}: ${e.message}`)
    }
    out.push('')
  }
  out.push(`Cost: ${costText(r)}`, '')
  return out
}

/** Drift and integrity, a few lines per data set: the verdict, then the drifted columns worst first. */
function dataText(result: ValidationResult): string[] {
  const out: string[] = []
  for (const d of result.data) {
    const where = result.data.length > 1 ? ` (${dataSetText(d.name)})` : ''
    if (d.drift) {
      const v = d.drift
      out.push(
        `Data drift${where}: ${v.drifted} of ${plural(v.columns.length, 'column')} drifted (${num(v.share * 100)}%${v.datasetDrift ? `, at or above ${num(v.threshold * 100)}%: the data has drifted` : `; the data has drifted at ${num(v.threshold * 100)}%`})`,
      )
      for (const c of [
        ...v.columns.filter((x) => x.drifted).slice(0, 10),
        ...(v.prediction?.drifted ? [v.prediction] : []),
        ...(v.label?.drifted ? [v.label] : []),
      ])
        out.push(
          `  ${c.column}: ${c.test} ${num(c.statistic)}${c.pValue !== undefined ? `, p ${num(c.adjustedPValue ?? c.pValue)}` : ''}, PSI ${num(c.psi)}`,
        )
    }
    if (d.integrity) {
      const r = d.integrity
      const leak = r.leakage ? `, ${plural(r.leakage.rows, 'row')} also in the reference` : ''
      out.push(
        `Data integrity${where}: ${plural(r.duplicateRows, 'duplicated row')}, ${plural(r.duplicateColumns.length, 'duplicated column')}${leak}`,
      )
    }
  }
  if (out.length > 0) out.push('')
  return out
}
