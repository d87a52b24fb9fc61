import { readFileSync, existsSync } from 'node:fs'
import { UserError, errorText } from '../errors.js'
import { parseJsonFile } from '../files.js'
import { RESULT_SCHEMA_VERSION, type ValidationResult } from './types.js'

/** Metrics of a previous modelgate report, per data set name, for change gates against it. */
export interface BaselineReport {
  source: string
  digest?: string
  primary: Record<string, number>
  byDataset: Map<string, Record<string, number>>
}

export function loadBaselineReport(file: string): BaselineReport {
  if (!existsSync(file)) throw new UserError(`${file}: baseline report not found`, { file, field: 'baseline' })
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new UserError(`${file}: cannot read the baseline report (${errorText(e)})`, { file, field: 'baseline' })
  }
  const json = parseJsonFile(text, file, 'the baseline report', { field: 'baseline' }) as Partial<ValidationResult>
  const major = RESULT_SCHEMA_VERSION.split('.')[0]
  if (typeof json !== 'object' || json === null || typeof json.schemaVersion !== 'string') {
    throw new UserError(`${file}: schemaVersion: missing; is this a modelgate report?`, { file, field: 'schemaVersion' })
  }
  if (json.schemaVersion.split('.')[0] !== major) {
    throw new UserError(`${file}: schemaVersion: ${json.schemaVersion} is not readable by this version (expects ${major}.x)`, {
      file,
      field: 'schemaVersion',
    })
  }
  if (!isMetricRecord(json.metrics))
    throw new UserError(`${file}: metrics: expected an object of metric name → number`, { file, field: 'metrics' })
  const byDataset = new Map<string, Record<string, number>>()
  for (const d of Array.isArray(json.data) ? json.data : []) {
    if (d && typeof d.name === 'string' && isMetricRecord(d.metrics)) byDataset.set(d.name, d.metrics)
  }
  return { source: file, digest: json.model?.digest, primary: json.metrics, byDataset }
}

function isMetricRecord(x: unknown): x is Record<string, number> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((v) => typeof v === 'number' || v === null)
}
