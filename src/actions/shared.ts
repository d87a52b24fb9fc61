import { existsSync } from 'node:fs'
import path from 'node:path'
import { DEFAULT_MANIFEST } from '../core/manifest/load.js'
import { scrubError } from '../core/secrets.js'
import { errorText, isUserError, EXIT_INVALID_INPUT } from '../core/errors.js'
import { resolveSettings, type Overrides, type Settings } from '../core/settings.js'
import { ALLOW_OUTSIDE_WORKSPACE, confinementFor, type WorkspacePolicy } from '../core/workspace.js'
import { checkOutputPaths, checkOutputsAgainstInputs, writeErrorJUnitFile, writeReportFiles } from '../core/validate/outputs.js'
import { predictionsPathFor } from '../core/validate/run.js'
import { StagedFiles, checkOutputPath } from '../core/files.js'
import { exitCodeFor } from '../core/gates/evaluate.js'
import { parseBoolean, parseLines } from '../core/options.js'
import { readOverrides, type OptionSource } from '../core/overrides.js'
import { secrets } from '../core/secrets.js'
import type { RunnerEnvironment } from '../core/runners/index.js'
import type { RunContext, ValidationResult } from '../core/result/types.js'
import { renderSummary } from '../core/report/markdown.js'
import { renderComment, commentMarker } from '../core/report/comment.js'
import { annotationsFor } from '../core/report/annotations.js'
import type { ActionIO } from '../ports/io.js'
import type { ArtifactPort, CommentPort } from '../ports/sinks.js'
import type { DeploymentLedger } from '../core/deploy/types.js'

/*
 * What every modelgate action does around its own core call: read the common inputs, resolve the
 * settings, write the report and JUnit, the job summary, annotations, outputs, the sticky comment and the
 * artifact, and turn errors into one message and an exit code.
 */

/** The inputs every action shares, parsed once into one typed object (actions/checkout's pattern). */
export interface ActionInputs {
  overrides: Overrides
  reportPath: string
  junitPath?: string
  comment: boolean
  githubToken?: string
  artifactName?: string
  /** validate-model: where to write the per-row predictions (.csv or .parquet). */
  predictionsPath?: string
  /** Paths may point outside the repository (input allow-outside-workspace; core/workspace.ts). */
  allowOutsideWorkspace: boolean
}

/** The action's inputs as an OptionSource: `io.getInput`, trimmed, empty as unset. */
export function inputSource(io: ActionIO): OptionSource {
  return {
    value: (name) => io.getInput(name).trim() || undefined,
    lines: (name) => parseLines(io.getInput(name)),
    label: (name) => `input ${name}`,
  }
}

/**
 * Reads the common inputs. Every credential in them goes to the registry (core/secrets.ts) and to the
 * runner's mask: the token, every part of each header value (the value, the token after its scheme, a
 * Basic `user:password` and password), and the userinfo of a model URL. Manifest headers are masked by
 * the http runner when it starts (runnerEnv.mask).
 */
export function readActionInputs(io: ActionIO): ActionInputs {
  const src = inputSource(io)
  const token = src.value('github-token')
  if (token) {
    secrets.add(token)
    io.setSecret(token)
  }
  const overrides = { ...readOverrides(src), ...(token ? { githubToken: token } : {}) }
  if (overrides.registryToken) {
    secrets.add(overrides.registryToken)
    io.setSecret(overrides.registryToken)
  }
  const parts = Object.values(overrides.headers ?? {}).flatMap((v) => secrets.addHeader(v))
  if (overrides.model) parts.push(...secrets.addUrl(overrides.model))
  for (const part of new Set(parts)) io.setSecret(part)
  return {
    overrides,
    reportPath: src.value('report-path') ?? 'modelgate-report.json',
    junitPath: src.value('junit-path'),
    comment: parseBoolean(src.value('comment'), 'input comment') ?? true,
    githubToken: token,
    artifactName: src.value('artifact-name'),
    predictionsPath: src.value('predictions-path'),
    allowOutsideWorkspace: parseBoolean(src.value(ALLOW_OUTSIDE_WORKSPACE), `input ${ALLOW_OUTSIDE_WORKSPACE}`) ?? false,
  }
}

/** The action's confinement: the repository (GITHUB_WORKSPACE) alone, whatever folder the manifest is in. */
export function actionWorkspace(workspace: string, allowOutside: boolean): WorkspacePolicy {
  return { roots: [workspace], allowOutside, optOut: `input ${ALLOW_OUTSIDE_WORKSPACE}: true`, manifestFolder: false }
}

export interface ActionDeps {
  io: ActionIO
  /** Where relative inputs are resolved: GITHUB_WORKSPACE on a runner. */
  workspace: string
  context: Omit<RunContext, 'startedAt' | 'durationSeconds'>
  runnerEnv?: RunnerEnvironment
  /** Builds the PR comment port; undefined when the run is not for a pull request or has no token. */
  comments?: (token: string) => CommentPort | undefined
  artifacts?: ArtifactPort
  /** GitHub Deployments for deploy-model; undefined outside Actions. */
  deployments?: (token: string) => DeploymentLedger
  /** argv of the bundled CLI, for the processes deploy-model's local target starts. */
  cliCommand?: string[]
}

/** What makes one action itself: its name, its inputs beyond the common ones, its core call and outputs. */
export interface ActionSpec<I extends ActionInputs> {
  name: string
  readInputs(io: ActionIO): I
  /** Lays the action's own inputs over the resolved settings. */
  settings?(settings: Settings, inputs: I): Settings
  run(
    settings: Settings,
    opts: {
      context: ActionDeps['context']
      runnerEnv: RunnerEnvironment
      log: (line: string) => void
      predictionsPath?: string
      staged?: StagedFiles
    },
  ): Promise<ValidationResult>
  /** validate-model writes the per-row predictions (input predictions-path); the others ignore the input. */
  writesPredictions?: boolean
  /** Outputs beyond `status`, `passed` and `report-path`. */
  outputs(result: ValidationResult): Record<string, string>
}

/** An action as a step: inputs → its core call → every sink. Returns the exit code. */
export async function runModelgateAction<I extends ActionInputs>(deps: ActionDeps, spec: ActionSpec<I>): Promise<number> {
  const { io } = deps
  const action = spec.name
  const startedAt = new Date()
  // Read before anything can fail, so that an error still leaves its JUnit file.
  const junitInput = io.getInput('junit-path').trim()
  // The report, JUnit and predictions are staged and moved into place together, or none is.
  const staged = new StagedFiles()
  try {
    const inputs = spec.readInputs(io)
    const resolved = resolveSettings(
      { ...inputs.overrides, workspace: actionWorkspace(deps.workspace, inputs.allowOutsideWorkspace) },
      deps.workspace,
    )
    const settings = spec.settings ? spec.settings(resolved, inputs) : resolved
    const reportPath = path.resolve(deps.workspace, inputs.reportPath)
    const junitPath = inputs.junitPath ? path.resolve(deps.workspace, inputs.junitPath) : undefined
    const predictionsPath =
      spec.writesPredictions && inputs.predictionsPath ? path.resolve(deps.workspace, inputs.predictionsPath) : undefined
    const predictionFiles = predictionsPath
      ? settings.data.map((d) => predictionsPathFor(predictionsPath, d.name, settings.data.length))
      : []
    // Confinement and inputs first: checking that an output can be written creates its folder.
    checkOutputsAgainstInputs(
      [
        { path: reportPath, label: 'input report-path' },
        { path: junitPath, label: 'input junit-path' },
        ...predictionFiles.map((p) => ({ path: p, label: 'input predictions-path' })),
      ],
      settings,
    )
    checkOutputPaths({ reportPath, junitPath }, { report: 'input report-path', junit: 'input junit-path' })
    for (const p of predictionFiles) checkOutputPath(p, 'input predictions-path')
    const result = await spec.run(settings, {
      context: deps.context,
      runnerEnv: { ...deps.runnerEnv, mask: (s) => io.setSecret(s) },
      log: (line) => io.info(line),
      predictionsPath,
      staged,
    })
    writeReportFiles(result, { reportPath, junitPath }, { action, staged })
    const written = staged.commit()

    // The summary, the comment and the artifact are conveniences: none of them may turn a verdict into an error.
    await appendSummaryOrWarn(
      io,
      renderSummary(result, { title: `modelgate ${action}: ${result.model.name}`, detailsUrl: deps.context.runUrl }),
    )
    for (const a of annotationsFor(result, { action })) io.annotate(a.level, a.message, a.title)
    for (const w of result.warnings ?? []) io.warning(w)
    setOutputs(io, result, reportPath, {
      ...spec.outputs(result),
      ...(predictionFiles.length > 0 ? { 'predictions-path': predictionFiles.join('\n') } : {}),
    })

    if (inputs.comment && inputs.githubToken && deps.comments) {
      const port = deps.comments(inputs.githubToken)
      if (port) await postComment(io, port, result, action, deps.context.runUrl)
    } else if (inputs.comment && !inputs.githubToken && deps.context.pullRequest) {
      io.warning(
        'No pull-request comment: github-token is empty (pull requests from forks get no token with write access). The report is in the job summary; to comment, set github-token and permissions: pull-requests: write.',
      )
    }
    if (inputs.artifactName && deps.artifacts) {
      try {
        const uploaded = await deps.artifacts.upload(inputs.artifactName, written, commonFolder(written))
        io.info(`report uploaded as artifact "${inputs.artifactName}" (${uploaded.location})`)
      } catch (e) {
        io.warning(`Could not upload the artifact "${inputs.artifactName}": ${errorText(e)}. The report stays at ${reportPath}.`)
      }
    } else if (inputs.artifactName) {
      io.warning(
        `artifact-name is set but this run has no Actions artifact service (ACTIONS_RUNTIME_TOKEN): the report stays at ${reportPath}`,
      )
    }

    const code = exitCodeFor(result.status, settings.failOn)
    if (code !== 0) {
      const failed = result.checks.filter((c) => c.status === 'fail' || (settings.failOn === 'warn' && c.status === 'warn'))
      io.setFailed(`${action}: ${failed.length} check(s) failed: ${failed.map((c) => c.id).join(', ')}`, code)
    }
    return code
  } catch (e) {
    staged.abort()
    // The test case points at the manifest the run was given (or would have read).
    const manifest =
      io.getInput('config').trim() || (existsSync(path.join(deps.workspace, DEFAULT_MANIFEST)) ? DEFAULT_MANIFEST : undefined)
    // The opt-out read raw: the inputs may be what failed to parse.
    const allowOutside = io.getInput(ALLOW_OUTSIDE_WORKSPACE).trim().toLowerCase() === 'true'
    if (junitInput)
      writeErrorJUnitFile(path.resolve(deps.workspace, junitInput), {
        action,
        error: e,
        startedAt,
        cwd: deps.workspace,
        manifest,
        confinement: confinementFor(actionWorkspace(deps.workspace, allowOutside)),
      })
    return reportActionError(io, action, e)
  }
}

/** A summary that cannot be written (no GITHUB_STEP_SUMMARY, a full disk, a runner without summaries) is one warning. */
export async function appendSummaryOrWarn(io: ActionIO, markdown: string): Promise<void> {
  try {
    await io.appendSummary(markdown)
  } catch (e) {
    io.warning(`Could not write the job summary (${errorText(e)}); the report file and the step's outputs carry the result.`)
  }
}

/** Any action's failure as one message and an exit code: 2 for the user's input, 1 (with the stack) for a bug. */
export async function reportActionError(io: ActionIO, action: string, given: unknown): Promise<number> {
  // Its text may quote a server, a child process or a file: no credential leaves through it.
  const e = scrubError(given)
  const message = errorText(e)
  io.setOutput('status', 'error')
  io.setOutput('passed', 'false')
  await io.appendSummary(`## 💥 modelgate ${action}: error\n\n${'```'}text\n${message.replace(/`/g, "'")}\n${'```'}\n`).catch(() => {})
  if (isUserError(e)) {
    io.setFailed(message, EXIT_INVALID_INPUT)
    return EXIT_INVALID_INPUT
  }
  // Not the user's doing: a bug or a broken environment. Say so, with the stack, to be reported.
  io.setFailed(`${action}: internal error: ${message}\n${(e as Error)?.stack ?? ''}`, 1)
  return 1
}

/** The deepest folder holding every file, so the artifact keeps their relative layout. */
export function commonFolder(files: string[]): string {
  let root = path.dirname(path.resolve(files[0]))
  for (const f of files.slice(1)) {
    while (path.relative(root, path.resolve(f)).startsWith('..')) root = path.dirname(root)
  }
  return root
}

function setOutputs(io: ActionIO, result: ValidationResult, reportPath: string, extra: Record<string, string>): void {
  io.setOutput('status', result.status)
  io.setOutput('passed', String(result.status === 'pass' || result.status === 'warn'))
  for (const [name, value] of Object.entries(extra)) io.setOutput(name, value)
  io.setOutput('report-path', reportPath)
}

async function postComment(io: ActionIO, port: CommentPort, result: ValidationResult, action: string, runUrl?: string): Promise<void> {
  const marker = commentMarker(action)
  try {
    const outcome = await port.upsert(renderComment(result, { marker, summaryUrl: runUrl, title: action }), marker)
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
