import path from 'node:path'
import { errorText, isUserError, EXIT_INVALID_INPUT } from '../../core/errors.js'
import { resolveSettings } from '../../core/settings.js'
import { validate } from '../../core/validate/run.js'
import { checkOutputPaths, writeReportFiles } from '../../core/validate/outputs.js'
import { exitCodeFor } from '../../core/gates/evaluate.js'
import type { RunnerEnvironment } from '../../core/runners/index.js'
import type { RunContext, ValidationResult } from '../../core/result/types.js'
import { renderSummary } from '../../core/report/markdown.js'
import { renderComment, commentMarker } from '../../core/report/comment.js'
import { annotationsFor } from '../../core/report/annotations.js'
import type { ActionIO } from '../../ports/io.js'
import type { ArtifactPort, CommentPort } from '../../ports/sinks.js'
import { readValidateInputs } from './inputs.js'

export const ACTION = 'validate-model'

export interface ValidateActionDeps {
  io: ActionIO
  /** Where relative inputs are resolved: GITHUB_WORKSPACE on a runner. */
  workspace: string
  context: Omit<RunContext, 'startedAt' | 'durationSeconds'>
  runnerEnv?: RunnerEnvironment
  /** Builds the PR comment port; undefined when the run is not for a pull request or has no token. */
  comments?: (token: string) => CommentPort | undefined
  artifacts?: ArtifactPort
}

/** validate-model as a step: inputs → validate → every sink. Returns the exit code. */
export async function runValidateAction(deps: ValidateActionDeps): Promise<number> {
  const { io } = deps
  try {
    const inputs = readValidateInputs(io)
    const settings = resolveSettings(inputs.overrides, deps.workspace)
    const reportPath = path.resolve(deps.workspace, inputs.reportPath)
    const junitPath = inputs.junitPath ? path.resolve(deps.workspace, inputs.junitPath) : undefined
    checkOutputPaths({ reportPath, junitPath }, { report: 'input report-path', junit: 'input junit-path' })
    const result = await validate(settings, {
      context: deps.context,
      runnerEnv: { ...deps.runnerEnv, mask: (s) => io.setSecret(s) },
      log: (line) => io.info(line),
    })
    const written = writeReportFiles(result, { reportPath, junitPath })

    await io.appendSummary(renderSummary(result, { title: `modelgate ${ACTION}: ${result.model.name}`, detailsUrl: deps.context.runUrl }))
    for (const a of annotationsFor(result)) io.annotate(a.level, a.message, a.title)
    setOutputs(io, result, reportPath)

    if (inputs.comment && inputs.githubToken && deps.comments) {
      const port = deps.comments(inputs.githubToken)
      if (port) await postComment(io, port, result, deps.context.runUrl)
    }
    if (inputs.artifactName && deps.artifacts) {
      const uploaded = await deps.artifacts.upload(inputs.artifactName, written, commonFolder(written))
      io.info(`report uploaded as artifact "${inputs.artifactName}" (${uploaded.location})`)
    } else if (inputs.artifactName) {
      io.warning(
        `artifact-name is set but this run has no Actions artifact service (ACTIONS_RUNTIME_TOKEN): the report stays at ${reportPath}`,
      )
    }

    const code = exitCodeFor(result.status, settings.failOn)
    if (code !== 0) {
      const failed = result.checks.filter((c) => c.status === 'fail' || (settings.failOn === 'warn' && c.status === 'warn'))
      io.setFailed(`${ACTION}: ${failed.length} check(s) failed: ${failed.map((c) => c.id).join(', ')}`, code)
    }
    return code
  } catch (e) {
    const message = errorText(e)
    io.setOutput('status', 'error')
    io.setOutput('passed', 'false')
    await io.appendSummary(`## 💥 modelgate ${ACTION}: error\n\n${'```'}text\n${message.replace(/`/g, "'")}\n${'```'}\n`).catch(() => {})
    if (isUserError(e)) {
      io.setFailed(message, EXIT_INVALID_INPUT)
      return EXIT_INVALID_INPUT
    }
    // Not the user's doing: a bug or a broken environment. Say so, with the stack, to be reported.
    io.setFailed(`${ACTION}: internal error: ${message}\n${(e as Error)?.stack ?? ''}`, 1)
    return 1
  }
}

/** The deepest folder holding every file, so the artifact keeps their relative layout. */
export function commonFolder(files: string[]): string {
  let root = path.dirname(path.resolve(files[0]))
  for (const f of files.slice(1)) {
    while (path.relative(root, path.resolve(f)).startsWith('..')) root = path.dirname(root)
  }
  return root
}

function setOutputs(io: ActionIO, result: ValidationResult, reportPath: string): void {
  io.setOutput('status', result.status)
  io.setOutput('passed', String(result.status === 'pass' || result.status === 'warn'))
  io.setOutput('metrics', JSON.stringify(result.metrics))
  io.setOutput('report-path', reportPath)
}

async function postComment(io: ActionIO, port: CommentPort, result: ValidationResult, runUrl?: string): Promise<void> {
  const marker = commentMarker(ACTION)
  try {
    const outcome = await port.upsert(renderComment(result, { marker, summaryUrl: runUrl }), marker)
    if (outcome.action === 'skipped') {
      io.warning(`No pull-request comment: ${outcome.reason ?? 'not permitted'}. The full report is in the job summary.`)
      await io.appendSummary(`> [!NOTE]\n> No pull-request comment was posted: ${outcome.reason ?? 'not permitted'}.\n`)
    } else {
      io.info(`pull-request comment ${outcome.action}${outcome.url ? `: ${outcome.url}` : ''}`)
    }
  } catch (e) {
    // A comment is a convenience: failing to post one must not hide the verdict.
    io.warning(`Could not post the pull-request comment: ${errorText(e)}`)
  }
}
