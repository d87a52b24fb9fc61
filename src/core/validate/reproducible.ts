import { readFileSync } from 'node:fs'
import { PERFORMANCE_METRIC_NAMES } from '../metrics/index.js'
import type { CheckResult, DatasetResult, ValidationResult } from '../result/types.js'
import { formatNumber } from '../report/escape.js'

/** Timings and sizes are the machine's and the file's, not the model's answers: never compared. */
const NOT_REPRODUCIBLE = new Set<string>(PERFORMANCE_METRIC_NAMES)

/**
 * A registered version's validate report was made on data with some digest; when today's data set has
 * the same digest, re-scoring that version now must give the recorded metrics exactly (same model bytes,
 * same rows, same runtime). A difference means something nobody noticed changed under the model: the
 * runtime, the data reader, the preprocessing. One check per data set whose digest the report knows:
 * pass, or a warning naming each metric and both values.
 */
export function reproducibilityChecks(
  reportPath: string | undefined,
  baselineDigest: string | undefined,
  version: string,
  data: { result: DatasetResult; baseline?: Record<string, number> }[],
): { checks: CheckResult[]; notes: string[] } {
  if (!reportPath) return { checks: [], notes: [] }
  let report: Partial<ValidationResult>
  try {
    report = JSON.parse(readFileSync(reportPath, 'utf8')) as Partial<ValidationResult>
  } catch {
    return { checks: [], notes: [`The registered validate report of ${version} could not be read: its metrics were not re-checked.`] }
  }
  // Evidence about another model (register refuses it, but an old registry may hold it) proves nothing here.
  if (!report.model?.digest || report.model.digest !== baselineDigest) return { checks: [], notes: [] }
  const checks: CheckResult[] = []
  const notes: string[] = []
  for (const { result, baseline } of data) {
    const recorded = (report.data ?? []).find((d) => d.digest === result.digest)
    if (!recorded || !baseline) continue
    const differ: string[] = []
    let compared = 0
    for (const [metric, then] of Object.entries(recorded.metrics ?? {})) {
      if (NOT_REPRODUCIBLE.has(metric) || !(metric in baseline)) continue
      compared++
      const now = baseline[metric]!
      // JSON writes NaN as null: both mean "undefined on these rows".
      const same = then === null ? Number.isNaN(now) : Object.is(then, now)
      if (!same) differ.push(`${metric} ${formatNumber(then)} then, ${formatNumber(now)} now (${String(then)} vs ${String(now)})`)
    }
    if (compared === 0) continue
    checks.push({
      id: `baseline-reproducible/${result.name}`,
      kind: 'consistency',
      dataset: result.name,
      status: differ.length > 0 ? 'warn' : 'pass',
      severity: 'warn',
      value: differ.length,
      threshold: { op: '==', value: 0, expression: 'metrics differing from the registered report == 0' },
      message:
        differ.length > 0
          ? `${version} no longer reproduces its registered report on the same data (digest ${result.digest}): ${differ.join('; ')}; the runtime, the reader or the preprocessing changed`
          : `${version} reproduces the ${compared} metrics of its registered report exactly on the same data (digest ${result.digest})`,
    })
  }
  if (checks.length === 0 && data.length > 0)
    notes.push(`The registered validate report of ${version} was made on other data: its metrics could not be re-checked on these rows.`)
  return { checks, notes }
}
