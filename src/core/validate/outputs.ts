import { checkOutputPath, writeFileAtomic } from '../files.js'
import { renderJUnit } from '../report/junit.js'
import type { ValidationResult } from '../result/types.js'

export interface OutputPaths {
  reportPath?: string
  junitPath?: string
}

/** Every output path is checked before validation starts: a typo must not cost a whole run, nor leave half the outputs. */
export function checkOutputPaths(
  paths: OutputPaths & { summaryPath?: string },
  names: { report: string; junit: string; summary?: string },
): void {
  if (paths.reportPath) checkOutputPath(paths.reportPath, names.report)
  if (paths.junitPath) checkOutputPath(paths.junitPath, names.junit)
  if (paths.summaryPath && names.summary) checkOutputPath(paths.summaryPath, names.summary)
}

/**
 * The file sinks every face shares: the result JSON (the source of all other sinks) and JUnit XML,
 * whose suite is named after `action` (validate-model unless given).
 */
export function writeReportFiles(result: ValidationResult, paths: OutputPaths, opts: { action?: string } = {}): string[] {
  const files: [string, () => string][] = []
  if (paths.reportPath) files.push([paths.reportPath, () => `${JSON.stringify(result, null, 2)}\n`])
  if (paths.junitPath) files.push([paths.junitPath, () => renderJUnit(result, opts)])
  for (const [file] of files) checkOutputPath(file, 'output')
  for (const [file, render] of files) writeFileAtomic(file, render())
  return files.map(([file]) => file)
}
