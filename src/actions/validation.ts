import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DEFAULT_MANIFEST } from '../core/manifest/load.js'
import { UserError, errorText } from '../core/errors.js'
import type { ShardState } from '../core/shard/state.js'
import { secrets } from '../core/secrets.js'
import { parseBoolean, readOverrides, resolveSettings, type Overrides, type Settings } from '../core/settings/index.js'
import { confinementFor } from '../core/workspace.js'
import { checkOutputPaths, checkOutputsAgainstInputs, writeErrorJUnitFile, writeReportFiles } from '../core/validate/outputs.js'
import { predictionsPathFor } from '../core/validate/run.js'
import { StagedFiles, checkOutputPath } from '../core/files.js'
import { exitCodeFor } from '../core/gates/evaluate.js'
import type { RunnerEnvironment } from '../core/runners/index.js'
import type { ValidationResult } from '../core/result/types.js'
import { renderSummary } from '../core/report/markdown.js'
import { createProgress, runWithProgress, type Progress } from '../core/progress.js'
import { renderComment, commentMarker } from '../core/report/comment.js'
import { annotationsFor } from '../core/report/annotations.js'
import type { ActionIO } from '../ports/io.js'
import type { CommentPort } from '../ports/sinks.js'
import { inputSource, readAllowOutside, type ActionDeps, type ActionSpec, type FrameInputs, type Step } from './frame.js'

/*
 * The two actions whose result is a ValidationResult (validate-model, test-robustness) share their
 * inputs and sinks: the report and JUnit, per-row predictions, annotations, the sticky PR comment and
 * the artifact. Each declares only its core call and its own outputs (ValidationAction).
 */

/** The inputs both share, parsed once into one typed object (actions/checkout's pattern). */
export interface ValidationInputs extends FrameInputs {
  overrides: Overrides
  reportPath: string
  junitPath?: string
  comment: boolean
  githubToken?: string
  artifactName?: string
  /** validate-model: where to write the per-row predictions (.csv or .parquet). */
  predictionsPath?: string
  /** A shard's state file (input shard-state); default modelgate-shard-<i>-of-<n>.json. */
  shardState?: string
  /** The shards' artifacts are named `<shardArtifact>-<i>-of-<n>`. */
  shardArtifact: string
  /** Give the verdict of a sharded run from its shards' artifacts. */
  merge: boolean
}

/**
 * Reads the common inputs. Every credential in them is listed for the frame to mask: the token, the
 * registry token, every part of each header value (the value, the token after its scheme, a Basic
 * `user:password` and password), and the userinfo of a model URL. Manifest headers are masked by the
 * http runner when it starts (runnerEnv.mask).
 */
export function readValidationInputs(io: ActionIO): ValidationInputs {
  const src = inputSource(io)
  const token = src.value('github-token')
  // Registered before the rest is parsed, so that no message about another input can quote it.
  if (token) {
    secrets.add(token)
    io.setSecret(token)
  }
  const overrides = { ...readOverrides(src), ...(token ? { githubToken: token } : {}) }
  const parts = Object.values(overrides.headers ?? {}).flatMap((v) => secrets.addHeader(v))
  if (overrides.model) parts.push(...secrets.addUrl(overrides.model))
  return {
    overrides,
    reportPath: src.value('report-path') ?? 'modelgate-report.json',
    junitPath: src.value('junit-path'),
    comment: parseBoolean(src.value('comment'), 'input comment') ?? true,
    githubToken: token,
    artifactName: src.value('artifact-name'),
    predictionsPath: src.value('predictions-path'),
    shardState: src.value('shard-state'),
    shardArtifact: src.value('shard-artifact') ?? 'modelgate-shard',
    merge: parseBoolean(src.value('merge'), 'input merge') ?? false,
    allowOutsideWorkspace: readAllowOutside(src),
    secrets: [token, overrides.registryToken, ...parts].filter((s): s is string => !!s),
  }
}

/** What a run of either action is handed besides its settings. */
export interface ValidationRunOptions {
  context: ActionDeps['context']
  runnerEnv: RunnerEnvironment
  log: (line: string) => void
  predictionsPath?: string
  staged?: StagedFiles
}

/** The action's settings: its inputs over the manifest, confined to the workspace, with the action's own laid over. */
export function actionSettings<I extends ValidationInputs>(action: ValidationAction<I>, inputs: I, step: Step): Settings {
  const resolved = resolveSettings({ ...inputs.overrides, workspace: step.policy, env: step.deps.env ?? {} }, step.deps.workspace)
  return action.settings ? action.settings(resolved, inputs) : resolved
}

/** The progress of long work in the log: a line every few seconds, in a group of its own (core/progress.ts). */
export function actionProgress(io: ActionIO, deps: ActionDeps): Progress {
  return createProgress(
    {
      tty: false,
      write: (line) => io.info(line),
      startGroup: io.startGroup && ((title) => io.startGroup?.(title)),
      endGroup: io.endGroup && (() => io.endGroup?.()),
    },
    { now: deps.now },
  )
}

/** What makes validate-model or test-robustness itself. */
export interface ValidationAction<I extends ValidationInputs> {
  name: string
  readInputs(io: ActionIO): I
  /** Lays the action's own inputs over the resolved settings. */
  settings?(settings: Settings, inputs: I): Settings
  run(settings: Settings, opts: ValidationRunOptions): Promise<ValidationResult>
  /** The verdict of a sharded run, from its shards' state files (input merge); absent: the action cannot merge. */
  merge?(
    settings: Settings,
    files: string[],
    opts: { context: ActionDeps['context']; log: (line: string) => void },
  ): Promise<ValidationResult>
  /** One shard's state (input shard); absent: the action cannot be sharded. */
  shard?(settings: Settings, opts: ValidationRunOptions): Promise<ShardState>
  /** validate-model writes the per-row predictions (input predictions-path); the others ignore the input. */
  writesPredictions?: boolean
  /** Outputs beyond `status`, `passed` and `report-path`. */
  outputs(result: ValidationResult): Record<string, string>
}

/** A validation run's result, with what the frame's later sinks need of the run. */
interface Validated {
  result: ValidationResult
  settings: Settings
  reportPath: string
  predictionFiles: string[]
}

/** A ValidationAction as the frame's ActionSpec. */
export function validationSpec<I extends ValidationInputs>(action: ValidationAction<I>): ActionSpec<I, Validated> {
  const name = action.name
  return {
    name,
    readInputs: action.readInputs,
    async run(inputs, step) {
      const { deps, io } = step
      const settings = actionSettings(action, inputs, step)
      const reportPath = path.resolve(deps.workspace, inputs.reportPath)
      const junitPath = inputs.junitPath ? path.resolve(deps.workspace, inputs.junitPath) : undefined
      const predictionsPath =
        action.writesPredictions && inputs.predictionsPath ? path.resolve(deps.workspace, inputs.predictionsPath) : undefined
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
      const progress = actionProgress(io, deps)
      let result: ValidationResult
      const shards = inputs.merge ? await downloadShards(action, inputs, settings, step) : undefined
      try {
        // Other lines are not hidden in a group of progress lines: it closes first.
        const log = (line: string) => {
          progress.clear()
          step.log(line)
        }
        result = await runWithProgress(progress, () =>
          shards
            ? action.merge!(settings, shards.files, { context: deps.context, log })
            : action.run(settings, {
                context: deps.context,
                runnerEnv: { ...deps.runnerEnv, mask: (s) => io.setSecret(s) },
                log,
                predictionsPath,
                staged: step.staged,
              }),
        )
      } finally {
        progress.close()
        shards?.cleanup()
      }
      writeReportFiles(result, { reportPath, junitPath }, { action: name, staged: step.staged })
      return { result, settings, reportPath, predictionFiles }
    },
    summary: ({ result }, step) =>
      renderSummary(result, { title: `modelgate ${name}: ${result.model.name}`, detailsUrl: step.deps.context.runUrl }),
    notices({ result }, { io }) {
      for (const a of annotationsFor(result, { action: name })) io.annotate(a.level, a.message, a.title)
      for (const w of result.warnings ?? []) io.warning(w)
    },
    outputs: ({ result, reportPath, predictionFiles }) => ({
      status: result.status,
      passed: String(result.status === 'pass' || result.status === 'warn'),
      ...action.outputs(result),
      ...(predictionFiles.length > 0 ? { 'predictions-path': predictionFiles.join('\n') } : {}),
      'report-path': reportPath,
    }),
    async publish({ result, reportPath }, inputs, { io, deps }, written) {
      if (inputs.comment && inputs.githubToken && deps.comments) {
        const port = deps.comments(inputs.githubToken)
        if (port) await postComment(io, port, result, name, deps.context.runUrl)
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
    },
    failure({ result, settings }) {
      const code = exitCodeFor(result.status, settings.failOn)
      if (code === 0) return undefined
      const failed = result.checks.filter((c) => c.status === 'fail' || (settings.failOn === 'warn' && c.status === 'warn'))
      return { code, message: `${name}: ${failed.length} check(s) failed: ${failed.map((c) => c.id).join(', ')}` }
    },
    // The error still leaves its JUnit file, for the test reporter that reads it.
    onError(error, { io, deps, policy, startedAt }) {
      const junitInput = io.getInput('junit-path').trim()
      if (!junitInput) return
      // The test case points at the manifest the run was given (or would have read).
      const manifest =
        io.getInput('config').trim() || (existsSync(path.join(deps.workspace, DEFAULT_MANIFEST)) ? DEFAULT_MANIFEST : undefined)
      writeErrorJUnitFile(path.resolve(deps.workspace, junitInput), {
        action: name,
        error,
        startedAt,
        cwd: deps.workspace,
        manifest,
        confinement: confinementFor(policy),
      })
    },
  }
}

/**
 * The state files of the shards of this workflow run: every artifact named `<shard-artifact>-<i>-of-<n>`,
 * downloaded into a temporary folder the merge removes. Which shards must be there, and that they agree,
 * the merge itself checks (core/shard/state.ts).
 */
async function downloadShards<I extends ValidationInputs>(
  action: ValidationAction<I>,
  inputs: I,
  settings: Settings,
  step: Step,
): Promise<{ files: string[]; cleanup: () => void }> {
  const { deps } = step
  if (!action.merge) throw new UserError(`input merge: ${action.name} cannot merge shards`, { field: 'input merge' })
  if (settings.shard)
    throw new UserError('input shard and input merge: a step is either one shard or the merge of them all; give one', {
      field: 'input merge',
    })
  if (!deps.artifacts)
    throw new UserError(
      "input merge: this run has no Actions artifact service (ACTIONS_RUNTIME_TOKEN), so the shards' artifacts cannot be downloaded",
      { field: 'input merge' },
    )
  const prefix = inputs.shardArtifact
  const dir = mkdtempSync(path.join(deps.env?.RUNNER_TEMP || tmpdir(), 'modelgate-shards-'))
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  try {
    const exact = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+-of-\\d+$`)
    let downloaded: Awaited<ReturnType<NonNullable<ActionDeps['artifacts']>['download']>>
    try {
      downloaded = await deps.artifacts.download(`${prefix}-*`, dir)
    } catch (e) {
      // Exit 2, as a shard's failed upload: exit 1 would read as a model that failed its gates.
      if (e instanceof UserError) throw e
      throw new UserError(`input merge: could not download the shards' artifacts (${prefix}-*): ${errorText(e)}`, { field: 'input merge' })
    }
    const found = downloaded.filter((a) => exact.test(a.name))
    if (found.length === 0)
      throw new UserError(
        `input merge: no artifact named ${prefix}-<i>-of-<n> in this workflow run; the shard jobs upload them (input shard), and the merge job must run after them (needs:)`,
        { field: 'input merge' },
      )
    step.log(`merging ${found.length} shard artifact(s): ${found.map((a) => a.name).join(', ')}`)
    return { files: found.flatMap((a) => a.files.filter((f) => f.endsWith('.json'))), cleanup }
  } catch (e) {
    cleanup()
    throw e
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
