import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ValidationResult } from '../../src/core/result/types.js'

/**
 * JSON widens string-literal unions to `string`; this widens the target type the same way,
 * so tsc checks each fixture's field names, optionality and value types against ValidationResult.
 */
type AsJson<T> = T extends string
  ? string
  : T extends readonly (infer U)[]
    ? AsJson<U>[]
    : T extends object
      ? string extends keyof T
        ? // Array elements of differing shapes gain `key?: undefined` in JSON types.
          { [key: string]: AsJson<T[keyof T]> | undefined }
        : { [K in keyof T]: AsJson<T[K]> }
      : T

type Fixtures = {
  binary: typeof import('../fixtures/report/result-binary.json', { with: { type: 'json' } })
  multiclass: typeof import('../fixtures/report/result-multiclass.json', { with: { type: 'json' } })
  regression: typeof import('../fixtures/report/result-regression.json', { with: { type: 'json' } })
  comparison: typeof import('../fixtures/report/result-comparison.json', { with: { type: 'json' } })
}

// Compile-time check: a fixture drifting from the type fails `tsc`.
type Checked = { [K in keyof Fixtures]: Fixtures[K] extends AsJson<ValidationResult> ? true : never }
export const FIXTURES_MATCH_TYPE: Checked = { binary: true, multiclass: true, regression: true, comparison: true }

const FIXTURE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/report')

/** The literal unions tsc cannot check through JSON, checked at load instead. */
function assertEnums(r: ValidationResult, file: string): void {
  const bad = (what: string, value: unknown): never => {
    throw new Error(`${file}: ${what} ${JSON.stringify(value)} is not allowed by ValidationResult`)
  }
  if (!['pass', 'warn', 'fail', 'error'].includes(r.status)) bad('status', r.status)
  if (!['binary', 'multiclass', 'regression'].includes(r.task)) bad('task', r.task)
  if (!['onnx', 'command', 'http', 'predictions'].includes(r.model.runner)) bad('model.runner', r.model.runner)
  for (const c of r.checks) {
    if (!['threshold', 'change', 'parity', 'contract', 'comparison', 'slice', 'fairness'].includes(c.kind)) bad('check kind', c.kind)
    if (!['pass', 'warn', 'fail', 'skipped'].includes(c.status)) bad('check status', c.status)
    if (!['fail', 'warn'].includes(c.severity)) bad('check severity', c.severity)
    if (c.threshold && !['>=', '>', '<=', '<', '=='].includes(c.threshold.op)) bad('threshold op', c.threshold.op)
  }
  if (r.baseline && !['model', 'report'].includes(r.baseline.kind)) bad('baseline kind', r.baseline.kind)
  const intervals = [
    ...(r.comparisons ?? []).map((c) => c.interval),
    ...(r.slices ?? []).flatMap((s) => Object.values(s.intervals)),
    ...(r.fairness ?? []).flatMap((f) => Object.values(f.intervals)),
    ...(r.calibration ?? []).flatMap((c) => Object.values(c.intervals)),
  ]
  for (const i of intervals) if (!['bca', 'percentile', 'delong', 'wilson', 'exact'].includes(i.method)) bad('interval method', i.method)
  for (const c of r.comparisons ?? []) {
    if (c.verdict && !['pass', 'fail', 'inconclusive'].includes(c.verdict)) bad('verdict', c.verdict)
    if (c.margin && !['superiority', 'non-inferiority'].includes(c.margin.kind)) bad('margin kind', c.margin.kind)
    if (c.test && !['mcnemar-exact', 'mcnemar-chi2', 'delong'].includes(c.test.name)) bad('test', c.test.name)
  }
  for (const s of r.slices ?? []) if (!['manifest', 'discovered'].includes(s.source)) bad('slice source', s.source)
}

/** A fresh, deep copy of a fixture result, so a test may change it freely. */
export function loadResult(name: keyof Fixtures): ValidationResult {
  const file = path.join(FIXTURE_DIR, `result-${name}.json`)
  const result = JSON.parse(readFileSync(file, 'utf8')) as ValidationResult
  assertEnums(result, file)
  return result
}
