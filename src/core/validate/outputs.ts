import { writeFileAtomic } from '../files.js'
import { renderJUnit } from '../report/junit.js'
import type { ValidationResult } from '../result/types.js'

/** The file sinks every face shares: the result JSON (the source of all other sinks) and JUnit XML. */
export function writeReportFiles(result: ValidationResult, paths: { reportPath?: string; junitPath?: string }): string[] {
  const written: string[] = []
  if (paths.reportPath) {
    writeFileAtomic(paths.reportPath, `${JSON.stringify(result, null, 2)}\n`)
    written.push(paths.reportPath)
  }
  if (paths.junitPath) {
    writeFileAtomic(paths.junitPath, renderJUnit(result))
    written.push(paths.junitPath)
  }
  return written
}
