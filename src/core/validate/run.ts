/*
 * validate-model's whole pipeline: data → model → metrics → gates → result, in six stages, each a
 * function of the one before:
 *   1. plan (plan.ts): settings completed, models opened, the manifest's own mistakes refused;
 *   2. score (score.ts): each data set streamed once through every model, answers kept in accumulators;
 *   3. accumulate (metrics.ts): a data set's accumulated answers become its metrics and gate inputs;
 *   4. analyse (analysis.ts): the statistics on top (comparisons, slices, fairness, calibration);
 *   5. checks (checks.ts): each data set's entry and checks, then the gates and reproducibility;
 *   6. result (result.ts): the notes about the run as a whole, and the ValidationResult.
 * stages.ts holds the shapes passed between them.
 */
import { performance } from 'node:perf_hooks'
import type { StagedFiles } from '../files.js'
import type { ValidationResult } from '../result/types.js'
import type { RunnerEnvironment } from '../runners/index.js'
import type { Settings } from '../settings/index.js'
import { displayPath, stripWorkspace, withWorkspaceMessages } from '../workspace.js'
import { analyseDataset } from './analysis.js'
import { checkRun } from './checks.js'
import type { CiContext } from './context.js'
import { accumulateDataset } from './metrics.js'
import { planValidation } from './plan.js'
import { buildResult } from './result.js'
import { scoreDatasets, taskOf } from './score.js'
import { loadValidationShards, mergedScoring, shardState } from './shard.js'
import type { Checked, DescribedModel, Opened, Scoring, ValidationPlan } from './stages.js'
import type { ShardState } from '../shard/state.js'

export { predictionsPathFor } from './predictions-file.js'
export { textColumns } from './score.js'

export interface ValidateOptions {
  runnerEnv?: RunnerEnvironment
  /** CI facts (repository, sha, run URL); the core reads no environment itself. */
  context: CiContext
  log?: (line: string) => void
  /**
   * Write the candidate's per-row predictions here (.csv or .parquet); with several data sets, one file
   * each, named `<stem>-<data set><ext>`. Committed only when the run succeeds.
   */
  predictionsPath?: string
  /** The run's outputs, moved into place together by the caller; the predictions are staged with them. */
  staged?: StagedFiles
}

/**
 * Streams each data set once, scoring the candidate, the baseline model and the reference
 * predictions on the same rows, so that memory holds predictions, not rows.
 */
export async function validate(settings: Settings, opts: ValidateOptions): Promise<ValidationResult> {
  return withWorkspaceMessages(settings.workspace, async () => relativePaths(await validateRaw(settings, opts), settings.workspace))
}

function relativePaths(result: ValidationResult, workspace: string): ValidationResult {
  const rel = (p: string) => displayPath(p, workspace)
  return {
    ...result,
    model: { ...result.model, source: rel(result.model.source) },
    data: result.data.map((d) => ({
      ...d,
      path: rel(d.path),
      contract: d.contract && { ...d.contract, schema: rel(d.contract.schema) },
      parity: d.parity && { ...d.parity, reference: rel(d.parity.reference) },
      ...(d.drift ? { drift: { ...d.drift, reference: { ...d.drift.reference, path: rel(d.drift.reference.path) } } } : {}),
    })),
    baseline: result.baseline && { ...result.baseline, source: rel(result.baseline.source) },
    checks: result.checks.map((c) => ({ ...c, message: stripWorkspace(c.message, workspace) })),
    notes: result.notes.map((n) => stripWorkspace(n, workspace)),
    ...(result.warnings ? { warnings: result.warnings.map((w) => stripWorkspace(w, workspace)) } : {}),
  }
}

async function validateRaw(given: Settings, opts: ValidateOptions): Promise<ValidationResult> {
  if (given.shard) throw new Error('validate: a shard gives a state for the merge, not a verdict: run it with validateShard')
  const started = new Date()
  const t0 = performance.now()
  const log = opts.log ?? (() => {})
  const opened: Opened = { runners: [], sinks: [] }
  try {
    const plan = await planValidation(given, { runnerEnv: opts.runnerEnv, log }, opened)
    const scoring = await scoreDatasets(plan, { log, predictionsPath: opts.predictionsPath, staged: opts.staged }, opened)
    const checked = judge(plan, scoring)
    await commitPredictions(opened, plan.settings.workspace, log)
    return buildResult(plan, scoring, checked, { context: opts.context, started, t0 })
  } finally {
    await Promise.allSettled([...opened.runners.map((r) => r.close()), ...opened.sinks.map((s) => s.abort())])
  }
}

/** Stages 3–5 on a scoring, however it was made (one run, or shards merged). */
function judge(plan: ValidationPlan<DescribedModel>, scoring: Scoring): Checked {
  // One data set through both stages before the next: of two problems, the first data set's is reported.
  const analysed = scoring.runs.map((run) => analyseDataset(plan, scoring, accumulateDataset(plan, scoring, run)))
  return checkRun(plan, analysed)
}

/**
 * One shard of a sharded run (settings.shard): stages 1 and 2 on the shard's rows, and their output as
 * the state the merge reads; no verdict, no gates. Its predictions file, when asked for, holds its rows.
 */
export async function validateShard(
  given: Settings,
  opts: ValidateOptions & { tool: { name: string; version: string } },
): Promise<ShardState> {
  if (!given.shard) throw new Error('validateShard: the settings name no shard')
  const log = opts.log ?? (() => {})
  const opened: Opened = { runners: [], sinks: [] }
  try {
    return await withWorkspaceMessages(given.workspace, async () => {
      const plan = await planValidation(given, { runnerEnv: opts.runnerEnv, log }, opened)
      const scoring = await scoreDatasets(plan, { log, predictionsPath: opts.predictionsPath, staged: opts.staged }, opened)
      await commitPredictions(opened, plan.settings.workspace, log)
      return shardState(plan, scoring, opts.tool)
    })
  } finally {
    await Promise.allSettled([...opened.runners.map((r) => r.close()), ...opened.sinks.map((s) => s.abort())])
  }
}

/**
 * The verdict of a sharded run: the shards' states, checked to be one complete set made with these
 * settings, merged into the scoring one unsharded run would have made, then stages 3–6 as in any run.
 * No model is opened and no data file read.
 */
export async function mergeValidation(
  given: Settings,
  files: string[],
  opts: Pick<ValidateOptions, 'context' | 'log'>,
): Promise<ValidationResult> {
  const started = new Date()
  const t0 = performance.now()
  return withWorkspaceMessages(given.workspace, async () => {
    const shards = loadValidationShards(files, given)
    const { plan, runs, cleanup } = mergedScoring(given, shards)
    try {
      const scoring: Scoring = { runs, task: taskOf(plan.settings, runs) }
      opts.log?.(`merged ${shards.length} shards: ${runs.map((r) => `${r.data.name} ${r.rows.toLocaleString('en-US')} rows`).join(', ')}`)
      const result = buildResult(plan, scoring, judge(plan, scoring), { context: opts.context, started, t0 })
      const count = shards[0].state.shard.count
      result.notes.push(
        `Merged from ${count} shard${count === 1 ? '' : 's'} (blocks of ${given.batchSize} rows each): the rows, metrics, intervals and checks of one run over the whole data; latency and rows per second are the shards' own (the slowest shard's wall time).`,
      )
      return relativePaths(result, given.workspace)
    } finally {
      cleanup()
    }
  })
}

/** Only a run that got this far keeps its predictions files; until then they are temporary. */
async function commitPredictions(opened: Opened, workspace: string, log: (line: string) => void): Promise<void> {
  for (const sink of opened.sinks) {
    await sink.commit()
    log(`predictions: ${displayPath(sink.path, workspace)}`)
  }
  opened.sinks.length = 0
}
