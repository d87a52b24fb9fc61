import path from 'node:path'
import { errorText, isUserError } from '../errors.js'
import { checkOutputPath, writeFileAtomic, type StagedFiles } from '../files.js'
import type { Settings } from '../settings/index.js'
import { checkOutputs, confine, type Confinement } from '../workspace.js'
import { scrub } from '../secrets.js'
import { renderErrorJUnit, renderJUnit } from '../report/junit.js'
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
export function writeReportFiles(
  result: ValidationResult,
  paths: OutputPaths,
  opts: { action?: string; staged?: StagedFiles } = {},
): string[] {
  const files: [string, () => string][] = []
  if (paths.reportPath) files.push([paths.reportPath, () => `${JSON.stringify(result, null, 2)}\n`])
  if (paths.junitPath) files.push([paths.junitPath, () => renderJUnit(result, opts)])
  for (const [file] of files) checkOutputPath(file, 'output')
  // Staged: moved into place with the run's other outputs by the caller's commit().
  for (const [file, render] of files) {
    if (opts.staged) opts.staged.write(file, render())
    else writeFileAtomic(file, render())
  }
  return files.map(([file]) => file)
}

/** Every file a run reads, absolute: an output must never be one of them. */
export function inputFiles(settings: Settings): { path: string; what: string }[] {
  const files: { path: string; what: string }[] = []
  const add = (p: string | undefined, what: string) => p && files.push({ path: path.resolve(settings.workspace, p), what })
  add(settings.manifestPath, 'the manifest')
  add(settings.model.path, 'the model')
  for (const d of settings.data) {
    add(d.path, `the data set "${d.name}"`)
    add(d.contract, `the contract of "${d.name}"`)
  }
  if (settings.baseline?.kind === 'model') add(settings.baseline.model.path, 'the baseline model')
  if (settings.baseline?.kind === 'report') add(settings.baseline.path, 'the baseline report')
  add(settings.referencePredictions?.path, 'the reference predictions')
  add(settings.drift?.referencePath, 'the drift reference')
  return files
}

/** validate's and test-robustness's outputs against what the run reads (core/workspace.ts's checkOutputs). */
/** `shards`: a merge's state files, inputs like the rest. */
export function checkOutputsAgainstInputs(outputs: { path?: string; label: string }[], settings: Settings, shards: string[] = []): void {
  const inputs = [...inputFiles(settings), ...shards.map((p) => ({ path: p, what: 'a shard state' }))]
  checkOutputs(outputs, inputs, settings.confinement, settings.workspace)
}

/** On exit 2 (or a crash) the JUnit file says why, as one erroring test case; never over an input it names. */
export function writeErrorJUnitFile(
  file: string,
  run: { action: string; error: unknown; startedAt: Date; cwd: string; manifest?: string; confinement?: Confinement },
): void {
  const { action, error: e, startedAt, cwd, manifest } = run
  try {
    // Not even an error report outside the workspace: the path may be what made the run fail.
    confine(file, run.confinement, { field: 'junit' })
    checkOutputPath(file, 'junit')
    const where = isUserError(e) ? e.file : undefined
    if (where && path.resolve(cwd, where) === file) return
    writeFileAtomic(
      file,
      renderErrorJUnit({
        action,
        message: scrub(errorText(e)),
        file: where ?? manifest,
        startedAt: startedAt.toISOString(),
        seconds: (Date.now() - startedAt.getTime()) / 1000,
      }),
    )
  } catch {
    // The error is what the user must see; a JUnit file that cannot be written adds nothing to it.
  }
}
