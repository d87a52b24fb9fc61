import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { UserError, errorText } from '../errors.js'
import { parseJsonFile } from '../files.js'
import { RESULT_SCHEMA_VERSION, type ValidationResult } from '../result/types.js'
import { sha256Bytes } from './digest.js'
import type { DatasetDigest, EvidenceSummary } from './types.js'

/** A report given as evidence, read and summarised; the file itself is stored with the version. */
export interface LoadedEvidence {
  summary: EvidenceSummary
  path: string
  report: Partial<ValidationResult>
}

/**
 * Reads the reports given as evidence. Each must be a modelgate result JSON this version can read,
 * and when it names a model digest, that digest must be the model's: evidence about another model
 * is refused rather than attached to the wrong version.
 */
export function loadEvidence(files: string[], modelDigest: string, field = 'evidence'): LoadedEvidence[] {
  const used = new Set<string>()
  return files.map((file) => {
    let bytes: Buffer
    try {
      if (!statSync(file).isFile()) throw new Error('not a file')
      bytes = readFileSync(file)
    } catch (e) {
      throw new UserError(`${file}: evidence file cannot be read (${errorText(e)})`, { file, field })
    }
    const report = parseJsonFile(bytes.toString('utf8'), file, 'evidence', {
      field,
      hint: 'give a modelgate report (--report)',
    }) as Partial<ValidationResult>
    if (typeof report !== 'object' || report === null || typeof report.schemaVersion !== 'string' || typeof report.status !== 'string') {
      throw new UserError(
        `${file}: evidence is not a modelgate report (no schemaVersion/status); give the --report of validate or robustness`,
        {
          file,
          field,
        },
      )
    }
    if (report.schemaVersion.split('.')[0] !== RESULT_SCHEMA_VERSION.split('.')[0]) {
      throw new UserError(`${file}: schemaVersion: ${report.schemaVersion} is not readable by this version`, {
        file,
        field: 'schemaVersion',
      })
    }
    const status = report.status
    if (!['pass', 'warn', 'fail', 'error'].includes(status))
      throw new UserError(`${file}: status: unknown value '${status}'`, { file, field: 'status' })
    const reportDigest = report.model?.digest
    if (reportDigest && reportDigest !== modelDigest) {
      throw new UserError(`${file}: this report is about model ${reportDigest}, not the one being registered (${modelDigest})`, {
        file,
        field: 'model.digest',
      })
    }
    const kind = report.robustness ? 'test-robustness' : 'validate-model'
    let name = `${kind}.json`
    for (let i = 2; used.has(name); i++) name = `${kind}-${i}.json`
    used.add(name)
    const summary: EvidenceSummary = {
      kind,
      file: name,
      digest: sha256Bytes(bytes),
      size: bytes.length,
      status: status as EvidenceSummary['status'],
      passed: status === 'pass' || status === 'warn',
      metrics: { ...(report.metrics ?? {}) },
      ...(reportDigest ? { modelDigest: reportDigest } : {}),
      ...(report.context?.startedAt ? { createdAt: report.context.startedAt } : {}),
    }
    return { summary, path: path.resolve(file), report }
  })
}

/** The data sets the reports were computed on, once each (by digest), with where they were read. */
export function evidenceDatasets(evidence: LoadedEvidence[]): DatasetDigest[] {
  const seen = new Map<string, DatasetDigest>()
  for (const e of evidence) {
    for (const d of e.report.data ?? []) {
      const key = d.digest || `${d.name}:${d.path}`
      if (!seen.has(key)) seen.set(key, { name: d.name, path: d.path, digest: d.digest, rows: d.rows })
    }
  }
  return [...seen.values()]
}
