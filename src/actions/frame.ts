import { errorText, isUserError, EXIT_INVALID_INPUT } from '../core/errors.js'
import { scrubError, secrets } from '../core/secrets.js'
import { StagedFiles } from '../core/files.js'
import { parseBoolean, parseLines, type Environment, type OptionSource } from '../core/settings/index.js'
import { ALLOW_OUTSIDE_WORKSPACE, type WorkspacePolicy } from '../core/workspace.js'
import type { RunnerEnvironment } from '../core/runners/index.js'
import type { RunContext } from '../core/result/types.js'
import type { ActionIO } from '../ports/io.js'
import type { ArtifactPort, CommentPort } from '../ports/sinks.js'
import type { DeploymentLedger } from '../core/deploy/types.js'

/*
 * The one frame every modelgate action runs in (actions/cache's shape: thin entries over one
 * implementation). An action is an ActionSpec: how it reads its inputs (its inputs.ts), its core call,
 * and what it shows; the frame does the rest the same way for all five: masks the credentials, stages
 * the files the run writes and moves them into place together (or none), writes the job summary and the
 * outputs, sets the exit code, and turns an error into one message.
 */

export interface ActionDeps {
  io: ActionIO
  /** Where relative inputs are resolved: GITHUB_WORKSPACE on a runner. */
  workspace: string
  context: Omit<RunContext, 'startedAt' | 'durationSeconds'>
  /** The step's environment: `${VAR}` in manifest headers, a webhook's secret, kubectl's PATH. Default: empty. */
  env?: Environment
  runnerEnv?: RunnerEnvironment
  /** Builds the PR comment port; undefined when the run is not for a pull request or has no token. */
  comments?: (token: string) => CommentPort | undefined
  artifacts?: ArtifactPort
  /** GitHub Deployments for deploy-model; undefined outside Actions. */
  deployments?: (token: string) => DeploymentLedger
  /** argv of the bundled CLI, for the processes deploy-model's local target starts. */
  cliCommand?: string[]
  /** The clock of the progress lines on long runs, in milliseconds (default performance.now; tests pass a fake one). */
  now?: () => number
}

/** What every action's inputs carry for the frame. */
export interface FrameInputs {
  /** Credentials among the inputs: masked in the log and scrubbed from every message before anything runs. */
  secrets: string[]
  /** Paths may point outside the repository (input allow-outside-workspace; core/workspace.ts). */
  allowOutsideWorkspace: boolean
}

/** What the frame hands an action's core call. */
export interface Step {
  deps: ActionDeps
  io: ActionIO
  /** Where the action's paths must resolve: the repository, unless the workflow opted out. */
  policy: WorkspacePolicy
  /** Files the run writes: moved into place together once it has succeeded, removed if it fails. */
  staged: StagedFiles
  log: (line: string) => void
  startedAt: Date
}

export interface ActionSpec<I extends FrameInputs, R> {
  name: string
  /** Reads every input once into one typed object (the action's inputs.ts; actions/checkout's input-helper). */
  readInputs(io: ActionIO): I
  /** The core call; every file it writes goes through step.staged. */
  run(inputs: I, step: Step): Promise<R>
  /** The job summary's Markdown (the pipeline has none of its own: its stages write theirs). */
  summary?(result: R, step: Step): string
  /** Annotations and warnings, after the summary. */
  notices?(result: R, step: Step): void
  /** The step's outputs, set in this order. */
  outputs(result: R, inputs: I, step: Step): Record<string, string>
  /** After the outputs: the conveniences (a PR comment, an artifact) that must never turn a verdict into an error. */
  publish?(result: R, inputs: I, step: Step, written: string[]): Promise<void>
  /** Why the step fails (its exit code and message), or undefined when it passes. */
  failure(result: R, inputs: I): { code: number; message: string } | undefined
  /** When the action fails before a result: e.g. the error JUnit file a test reporter reads. */
  onError?(error: unknown, step: Step): void
}

/** An action as a step: inputs → its core call → every sink. Returns the exit code. */
export async function runAction<I extends FrameInputs, R>(deps: ActionDeps, spec: ActionSpec<I, R>): Promise<number> {
  const { io } = deps
  const step: Step = {
    deps,
    io,
    // Read raw until the inputs are parsed: they may be what fails.
    policy: actionWorkspace(deps.workspace, io.getInput(ALLOW_OUTSIDE_WORKSPACE).trim().toLowerCase() === 'true'),
    staged: new StagedFiles(),
    log: (line) => io.info(line),
    startedAt: new Date(),
  }
  try {
    const inputs = spec.readInputs(io)
    for (const secret of new Set(inputs.secrets)) {
      secrets.add(secret)
      io.setSecret(secret)
    }
    step.policy = actionWorkspace(deps.workspace, inputs.allowOutsideWorkspace)
    const result = await spec.run(inputs, step)
    const written = step.staged.commit()
    if (spec.summary) await appendSummaryOrWarn(io, spec.summary(result, step))
    spec.notices?.(result, step)
    for (const [name, value] of Object.entries(spec.outputs(result, inputs, step))) io.setOutput(name, value)
    await spec.publish?.(result, inputs, step, written)
    const failed = spec.failure(result, inputs)
    if (!failed) return 0
    io.setFailed(failed.message, failed.code)
    return failed.code
  } catch (e) {
    step.staged.abort()
    spec.onError?.(e, step)
    return reportActionError(io, spec.name, e)
  }
}

/** The action's inputs as an OptionSource: `io.getInput`, trimmed, empty as unset. */
export function inputSource(io: ActionIO): OptionSource {
  return {
    value: (name) => io.getInput(name).trim() || undefined,
    lines: (name) => parseLines(io.getInput(name)),
    label: (name) => `input ${name}`,
  }
}

/** The input allow-outside-workspace, checked. */
export function readAllowOutside(src: OptionSource): boolean {
  return parseBoolean(src.value(ALLOW_OUTSIDE_WORKSPACE), src.label(ALLOW_OUTSIDE_WORKSPACE)) ?? false
}

/** The action's confinement: the repository (GITHUB_WORKSPACE) alone, whatever folder the manifest is in. */
export function actionWorkspace(workspace: string, allowOutside: boolean): WorkspacePolicy {
  return { roots: [workspace], allowOutside, optOut: `input ${ALLOW_OUTSIDE_WORKSPACE}: true`, manifestFolder: false }
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
