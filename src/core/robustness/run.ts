import { performance } from 'node:perf_hooks'
import { CellError, UserError } from '../errors.js'
import { digestFile, inferFormat, openTable } from '../data/open.js'
import { cellAt, columnCells, type Cell, type TableFormat } from '../data/types.js'
import { overallStatus } from '../gates/evaluate.js'
import type { MetricsResult } from '../metrics/index.js'
import { sortedLabels, type Label } from '../metrics/labels.js'
import { latencyStats } from '../metrics/performance.js'
import { createRunner, type RunnerEnvironment } from '../runners/index.js'
import type { ModelInfo, ModelRunner } from '../runners/types.js'
import { currentProgress, type ProgressPhase } from '../progress.js'
import { plural } from '../report/common.js'
import { robustnessComparisonText } from '../report/robustness.js'
import { completeFeatures } from '../evaluation/features.js'
import { probabilityTolerance } from '../validate/probabilities.js'
import { runContext, type CiContext } from '../validate/context.js'
import { RESULT_SCHEMA_VERSION, type CheckResult, type RunContext, type Task, type ValidationResult } from '../result/types.js'
import { type BaselineOrigin, type ResolvedModel, type Settings } from '../settings/index.js'
import { displayPath, stripWorkspace, withWorkspaceMessages } from '../workspace.js'
import { resolveRegistryBaseline } from '../registry/baseline.js'
import { decideTask } from '../evaluation/task.js'
import { createRng } from '../stats/random.js'
import {
  assembleEngine,
  buildJudge,
  factsOf,
  ModelSession,
  runUnits,
  scoreClean,
  type AssemblyFacts,
  type CleanPass,
  type Columns,
  type EngineBaseline,
  type EngineInput,
  type EngineOutput,
} from './engine.js'
import { typedColumn } from './tests/common.js'
import { profileFeatures, profileNotes, type FeatureOverride } from './profile.js'
import { robustnessDefaults, type RobustnessConfig } from './schema.js'
import { loadRobustnessShards, mergedRobustness, ownsUnit, robustnessShardState, type RobustnessShardPayload } from './shard.js'
import type { ShardState } from '../shard/state.js'
import type { FeatureProfile, RobustnessBaseline, RobustnessTest } from './types.js'

export interface RobustnessOptions {
  /** CI facts (repository, sha, run URL); the core reads no environment itself. */
  context: CiContext
  runnerEnv?: RunnerEnvironment
  log?: (line: string) => void
}

/**
 * test-robustness's whole pipeline: a seeded sample of the first data set → feature profiles → the
 * clean pass → the robustness tests → a result whose checks are the tests. Errors a user can fix
 * are UserErrors naming the file and field, with paths shown relative to the workspace.
 */
export async function runRobustness(settings: Settings, opts: RobustnessOptions): Promise<ValidationResult> {
  return withWorkspaceMessages(settings.workspace, () => runRaw(settings, opts))
}

async function runRaw(given: Settings, opts: RobustnessOptions): Promise<ValidationResult> {
  const started = new Date()
  const t0 = performance.now()
  const prepared = await prepareRun(given, opts, t0)
  try {
    const units = await runUnits(prepared.input)
    const engine = assembleEngine(prepared.config, prepared.settings.manifestPath, factsOf(prepared.input), [units])
    return robustnessResult(prepared.settings, prepared.facts, engine, {
      clipped: prepared.session.clippedProbabilities,
      baselineCost: prepared.baselineSession && {
        modelCalls: prepared.baselineSession.modelCalls,
        rowsScored: prepared.baselineSession.rowsScored,
      },
      context: runContext(opts.context, prepared.settings.manifestPath, started, t0),
      log: opts.log,
    })
  } finally {
    await prepared.close()
  }
}

/**
 * One shard of a sharded run (settings.shard): the sample and the clean pass, then the units of work that
 * are this shard's (robustness/shard.ts), as the state the merge reads; no verdict.
 */
export async function robustnessShard(
  given: Settings,
  opts: RobustnessOptions & { tool: { name: string; version: string } },
): Promise<ShardState<RobustnessShardPayload>> {
  const shard = given.shard
  if (!shard) throw new Error('robustnessShard: the settings name no shard')
  return withWorkspaceMessages(given.workspace, async () => {
    const prepared = await prepareRun(given, opts, performance.now())
    try {
      const units = await runUnits(prepared.input, ownsUnit(shard.index, shard.count))
      const ran = units.results.filter((r) => r != null).length
      opts.log?.(
        `shard ${shard.index}/${shard.count}: ${plural(ran, 'unit')} of ${units.results.length} (tests of one perturbation, feature or kind)`,
      )
      return robustnessShardState(
        given,
        {
          facts: prepared.facts,
          units,
          clipped: prepared.session.clippedProbabilities,
          ...(prepared.baselineSession
            ? { baselineCost: { modelCalls: prepared.baselineSession.modelCalls, rowsScored: prepared.baselineSession.rowsScored } }
            : {}),
        },
        opts.tool,
      )
    } finally {
      await prepared.close()
    }
  })
}

/** The verdict of a sharded run from its shards' states: the result one unsharded run gives, but its cost. */
export async function mergeRobustness(
  given: Settings,
  files: string[],
  opts: Pick<RobustnessOptions, 'context' | 'log'>,
): Promise<ValidationResult> {
  const started = new Date()
  const t0 = performance.now()
  return withWorkspaceMessages(given.workspace, async () => {
    const shards = loadRobustnessShards(files, given)
    const { facts, engine, clipped, baselineCost } = mergedRobustness(given, shards)
    const same = facts.features.length === given.features.length && facts.features.every((f, i) => f === given.features[i])
    const settings = same ? given : { ...given, features: facts.features, model: { ...given.model, features: facts.features } }
    const result = robustnessResult(settings, facts, engine, {
      clipped,
      baselineCost,
      context: runContext(opts.context, settings.manifestPath, started, t0),
      log: opts.log,
    })
    const count = shards.length
    result.notes.push(
      `Merged from ${count} shard${count === 1 ? '' : 's'}, each running its share of the tests on the same sample: the tests and verdicts of one run; the cost counts the clean pass once.`,
    )
    return result
  })
}

/**
 * What a robustness run knows before its tests, as data: the same in every shard of a sharded run (the
 * merge checks it), and all the result needs besides the engine's output.
 */
export interface RunFacts {
  /** The features tested, inferred where the manifest names none. */
  features: string[]
  task: Task
  classes?: (number | string)[]
  info: ModelInfo
  digest: string
  sample: { rows: number; available: number; unlabelled: number; sampled: boolean }
  metrics: MetricsResult
  profiles: FeatureProfile[]
  assembly: AssemblyFacts
  clean: { latenciesMs: number[]; seconds: number }
  baseline?: { info: ModelInfo; metrics: Record<string, number>; against: string }
  plan: { source: string; note?: string; from?: BaselineOrigin }
  warning?: string
  /** The model calls, rows and clipped probabilities of the clean passes (each shard makes them). */
  cleanCost: { modelCalls: number; rowsScored: number; clipped: number; baseline?: { modelCalls: number; rowsScored: number } }
}

interface Prepared {
  settings: Settings
  config: RobustnessConfig
  input: EngineInput
  facts: RunFacts
  session: ModelSession
  baselineSession?: ModelSession
  close(): Promise<void>
}

/** The sample, its profiles, the models opened and their clean passes: everything before the tests. */
async function prepareRun(given: Settings, opts: RobustnessOptions, t0: number): Promise<Prepared> {
  const log = opts.log ?? (() => {})
  if (given.model.runner === 'predictions') {
    const settings = given
    throw new UserError(
      `${settings.manifestPath ? `${settings.manifestPath}: ` : ''}model: test-robustness needs a model it can call (onnx, command or http); a predictions file cannot score perturbed rows`,
      { file: settings.manifestPath, field: 'model' },
    )
  }
  // A baseline named by stage or version is fetched and verified first, as validate-model does; features
  // as validate-model infers them, so the two actions test the same inputs.
  const inferred = await completeFeatures(await resolveRegistryBaseline(given, log))
  const settings = inferred.settings
  const plan = baselinePlan(settings)
  const config = settings.robustness ?? robustnessDefaults()
  const data = settings.data[0]
  const features = settings.model.features
  const pick = plan.model && baselineColumns(plan.model.features, features, plan.source)
  const [sample, digest] = await Promise.all([
    readSample(data.path, data.format, features, settings.label, config.rows, config.seed, settings.batchSize, data.name),
    digestFile(data.path),
  ])
  log(`${data.name}: ${describeSample({ rows: sample.rows.length, available: sample.available, sampled: sample.sampled }, config)}`)
  const overrides = expandOverrides(config.features, features, settings.manifestPath)
  const profiles = profileFeatures(sample.columns, features, overrides)

  const runners: ModelRunner[] = []
  const close = async () => {
    await Promise.allSettled(runners.map((r) => r.close()))
  }
  const hints = { task: settings.task, classes: settings.classes }
  // Every row any model scores, clean or perturbed, is progress: the phase counts them.
  const progress = currentProgress().phase('robustness')
  let scored = 0
  const open = async () => {
    const r = counting(await createRunner(settings.model, opts.runnerEnv, hints), progress, (n) => (scored += n))
    runners.push(r)
    return r
  }
  try {
    const runner = await open()
    const info = await runner.describe()
    log(`model: ${displayPath(info.source, settings.workspace)} (${info.runner})`)
    const session = new ModelSession(runner, features, open)
    const clean = await cleanPass(session, sample, settings.batchSize, data.path)
    const task = decideTask(
      settings.task,
      settings.classes,
      {
        values: !!clean.outputs.values,
        labels: !!clean.outputs.labels,
        probabilities: !!clean.outputs.probabilities,
        classes: clean.outputs.classes,
      },
      [sample.labels, clean.outputs.labels ?? []],
    )
    const classes =
      task === 'regression' ? undefined : (settings.classes ?? clean.outputs.classes ?? sortedLabels({ labels: sample.labels as Label[] }))
    if (task === 'regression') checkNumericLabels(sample.labels, settings.label, data.path)
    const judge = buildJudge({
      task,
      labels: sample.labels,
      classes,
      positiveClass: settings.positiveClass,
      threshold: settings.decisionThreshold,
      eceBins: settings.eceBins,
      config,
    })
    const metrics = cleanMetrics(() => judge.metrics(clean.outputs), data.path)
    log(`clean pass: ${plural(sample.rows.length, 'row')} in ${clean.seconds.toFixed(2)} s`)
    const cleanCost: RunFacts['cleanCost'] = {
      modelCalls: session.modelCalls,
      rowsScored: session.rowsScored,
      clipped: session.clippedProbabilities,
    }

    let baseline: (EngineBaseline & { info: ModelInfo; metrics: Record<string, number> }) | undefined
    if (plan.model && pick) {
      const model = plan.model
      const openBaseline = async () => {
        const r = counting(await createRunner(model, opts.runnerEnv, hints), progress, (n) => (scored += n))
        runners.push(r)
        return r
      }
      const baseRunner = await openBaseline()
      const baseInfo = await baseRunner.describe()
      log(`baseline: ${displayPath(baseInfo.source, settings.workspace)} (${baseInfo.runner})`)
      const baseSession = new ModelSession(baseRunner, model.features, openBaseline)
      const baseClean = await cleanPass(
        baseSession,
        { ...sample, columns: pick(sample.columns) },
        settings.batchSize,
        data.path,
        'the baseline',
      )
      let baseMetrics: Record<string, number> = {}
      try {
        baseMetrics = judge.metrics(baseClean.outputs).metrics
      } catch {
        // Its flips need decisions only; metrics it cannot give are left out of the report.
      }
      log(`baseline clean pass: ${plural(sample.rows.length, 'row')} in ${baseClean.seconds.toFixed(2)} s`)
      baseline = { session: baseSession, pick, clean: baseClean, against: plan.against, info: baseInfo, metrics: baseMetrics }
      cleanCost.baseline = { modelCalls: baseSession.modelCalls, rowsScored: baseSession.rowsScored }
    }

    const input: EngineInput = {
      session,
      columns: sample.columns,
      labels: sample.labels,
      rowNumbers: sample.rows.map((r) => r + 1),
      rowsAvailable: sample.available,
      profiles,
      config,
      judge,
      batchSize: settings.batchSize,
      clean,
      cleanMetrics: metrics.metrics,
      manifestPath: settings.manifestPath,
      startedAt: t0,
      ...(baseline ? { baseline } : {}),
      ...(plan.skipped ? { noBaseline: plan.skipped } : {}),
    }
    const facts: RunFacts = {
      features: settings.features,
      task,
      ...(classes ? { classes } : {}),
      info,
      digest,
      sample: { rows: sample.rows.length, available: sample.available, unlabelled: sample.unlabelled, sampled: sample.sampled },
      metrics,
      profiles,
      assembly: factsOf(input),
      clean: { latenciesMs: clean.latenciesMs, seconds: clean.seconds },
      ...(baseline ? { baseline: { info: baseline.info, metrics: baseline.metrics, against: plan.against } } : {}),
      plan: { source: plan.source, ...(plan.note ? { note: plan.note } : {}), ...(plan.from ? { from: plan.from } : {}) },
      ...(inferred.warning ? { warning: inferred.warning } : {}),
      cleanCost,
    }
    return {
      settings,
      config,
      input,
      facts,
      session,
      ...(baseline ? { baselineSession: baseline.session } : {}),
      close: async () => {
        progress.end()
        await close()
      },
    }
  } catch (e) {
    await close()
    throw e
  }
}

/** The run's result from its facts and the engine's output (one process's, or the shards' assembled). */
function robustnessResult(
  settings: Settings,
  facts: RunFacts,
  engine: EngineOutput,
  run: {
    clipped: number
    baselineCost?: { modelCalls: number; rowsScored: number }
    context: RunContext
    log?: (line: string) => void
  },
): ValidationResult {
  const config = settings.robustness ?? robustnessDefaults()
  const data = settings.data[0]
  const { raw, notes: engineNotes } = { raw: engine.robustness, notes: engine.notes }
  // Messages name files as the user wrote them: relative to the workspace, not /home/runner/work/….
  const strip = (text: string) => stripWorkspace(text, settings.workspace)
  const { info, metrics, sample } = facts
  const compared: RobustnessBaseline | undefined = facts.baseline && {
    against: facts.baseline.against,
    // A registered version is named by name and version, not by the cache folder it was fetched into.
    source: facts.plan.from?.version ? facts.plan.source : displayPath(facts.baseline.info.source, settings.workspace),
    runner: facts.baseline.info.runner as RobustnessBaseline['runner'],
    ...(facts.baseline.info.digest ? { digest: facts.baseline.info.digest } : {}),
    clean: facts.baseline.metrics,
    modelCalls: run.baselineCost?.modelCalls ?? 0,
    rowsScored: run.baselineCost?.rowsScored ?? 0,
  }
  const robustness = {
    ...raw,
    tests: raw.tests.map((t) => ({
      ...t,
      message: strip(t.message),
      examples: t.examples?.map((e) => ({ ...e, message: strip(e.message) })),
    })),
    ...(compared ? { baseline: compared } : {}),
  }
  run.log?.(
    `robustness: ${plural(robustness.tests.length, 'test')}, ${plural(robustness.cost.modelCalls, 'model call')}, ${plural(robustness.cost.rowsScored, 'row')} scored`,
  )

  const checks = robustness.tests.map((t) => checkOf(t, data.name, config))
  const perf = latencyStats(facts.clean.latenciesMs)
  const notes = [
    `${data.name}: ${describeSample(sample, config)}.`,
    ...(sample.unlabelled > 0
      ? [
          `${data.name}: ${plural(sample.unlabelled, 'row')} ${sample.unlabelled === 1 ? 'has' : 'have'} no value in the label column "${settings.label}" and ${sample.unlabelled === 1 ? 'was' : 'were'} not sampled.`,
        ]
      : []),
    ...metrics.notes,
    ...(facts.plan.note ? [facts.plan.note] : []),
    ...(compared ? [comparisonNote(robustness.tests, compared, sample.rows)] : []),
    ...profileNotes(facts.profiles),
    ...engineNotes,
    ...(run.clipped > 0
      ? [
          `${plural(run.clipped, 'probability', 'probabilities')} outside [0, 1] by float32 rounding (within ${probabilityTolerance(facts.classes?.length ?? 0).toExponential(1)}) were clipped to [0, 1], as validate-model does.`,
        ]
      : []),
  ]
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    status: overallStatus(checks),
    task: facts.task,
    metrics: metrics.metrics,
    checks,
    model: { name: settings.name, ...info, source: displayPath(info.source, settings.workspace) },
    data: [
      {
        name: data.name,
        path: displayPath(data.path, settings.workspace),
        format: data.format ?? inferFormat(data.path),
        digest: facts.digest,
        rows: sample.rows,
        metrics: metrics.metrics,
        metricSources: metrics.sources,
        confusionMatrix: metrics.confusionMatrix,
        perClass: metrics.perClass,
        performance: {
          batches: facts.clean.latenciesMs.length,
          batchSize: settings.batchSize,
          latencyMs: perf,
          rowsPerSecond: sample.rows / Math.max(facts.clean.seconds, 1e-9),
          totalSeconds: facts.clean.seconds,
        },
      },
    ],
    robustness,
    ...(compared
      ? {
          baseline: {
            source: compared.source,
            kind: 'model' as const,
            metrics: compared.clean,
            ...(compared.digest ? { digest: compared.digest } : {}),
          },
        }
      : {}),
    ...(facts.plan.from ? { registryBaseline: facts.plan.from } : {}),
    ...(settings.features.length > 0 ? { features: settings.features } : {}),
    notes: notes.map(strip),
    ...(facts.warning ? { warnings: [strip(facts.warning)] } : {}),
    context: run.context,
  }
}

/** The runner, its rows scored told to the progress phase (a running total, over every runner of the run). */
function counting(runner: ModelRunner, progress: ProgressPhase, add: (rows: number) => number): ModelRunner {
  const predict = runner.predict.bind(runner)
  runner.predict = async (batch) => {
    const out = await predict(batch)
    progress.rows(add(batch.length))
    return out
  }
  return runner
}

/** The sample the tests run on: feature columns in the model's order, labels, and each row's 0-based index in the file. */
export interface Sample {
  columns: Columns
  labels: Cell[]
  rows: number[]
  /** Labelled rows in the file. */
  available: number
  unlabelled: number
  sampled: boolean
}

/**
 * Reads the labelled rows of a data file, keeping at most `budget` of them: all when there are no more,
 * else a seeded uniform sample (reservoir sampling, Algorithm R), kept in file order. One pass; memory
 * holds the sample only.
 */
export async function readSample(
  file: string,
  format: TableFormat | undefined,
  features: string[],
  label: string,
  budget: number,
  seed: number,
  batchSize = 1024,
  name = file,
): Promise<Sample> {
  const source = openTable(file, format)
  const progress = currentProgress().phase(name, { verb: 'read', file })
  const onBytesRead = (bytes: number) => progress.bytes(bytes)
  const rng = createRng(seed)
  const kept: { row: number; cells: Cell[]; label: Cell }[] = []
  let seen = 0
  let unlabelled = 0
  const columns = [...new Set([...features, label])]
  for await (const batch of source.batches({ batchSize, columns, onBytesRead })) {
    const labels = columnCells(batch.columns[label])
    for (let i = 0; i < batch.length; i++) {
      const y = labels[i]
      if (y === null || y === undefined) {
        unlabelled++
        continue
      }
      const slot = seen < budget ? seen : Math.floor(rng() * (seen + 1))
      seen++
      if (slot < budget) kept[slot] = { row: batch.offset + i, cells: features.map((f) => cellAt(batch.columns[f], i)), label: y }
    }
    progress.rows(batch.offset + batch.length)
  }
  progress.end()
  if (seen === 0) throw new UserError(`${file}: no labelled data rows to test (column "${label}")`, { file, field: label })
  kept.sort((a, b) => a.row - b.row)
  return {
    // Numeric features as Float64Arrays (missing: NaN), the engine's representation; others as cells.
    columns: features.map((_, j) => typedColumn(kept.map((k) => k.cells[j]))),
    labels: kept.map((k) => k.label),
    rows: kept.map((k) => k.row),
    available: seen,
    unlabelled,
    sampled: seen > budget,
  }
}

function describeSample(sample: { rows: number; available: number; sampled: boolean }, config: RobustnessConfig): string {
  const n = sample.rows.toLocaleString('en-US')
  return sample.sampled
    ? `robustness tests on a seeded random sample of ${n} of ${plural(sample.available, 'labelled row')} (row budget ${config.rows.toLocaleString('en-US')}, seed ${config.seed})`
    : `robustness tests on all ${plural(sample.rows, 'labelled row')} (within the row budget of ${config.rows.toLocaleString('en-US')})`
}

/**
 * Per-feature overrides by exact name or glob (`pixel_*`, `?` for one character): globs apply in the
 * manifest's order, then exact names, each laid over the previous. A key that matches no feature is an error.
 */
export function expandOverrides(
  declared: Record<string, FeatureOverride> | undefined,
  features: string[],
  manifestPath?: string,
): Record<string, FeatureOverride> {
  const out: Record<string, FeatureOverride> = {}
  if (declared === undefined) return out
  const entries = Object.entries(declared)
  const isGlob = (k: string) => /[*?]/.test(k)
  for (const [key, override] of [...entries.filter(([k]) => isGlob(k)), ...entries.filter(([k]) => !isGlob(k))]) {
    const pattern = new RegExp(
      `^${key
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    )
    const matched = isGlob(key) ? features.filter((f) => pattern.test(f)) : features.filter((f) => f === key)
    if (matched.length === 0) {
      throw new UserError(
        `${manifestPath ? `${manifestPath}: ` : ''}robustness.features.${key}: matches none of the model's features (${features.slice(0, 5).join(', ')}${features.length > 5 ? ', …' : ''})`,
        { file: manifestPath, field: `robustness.features.${key}` },
      )
    }
    for (const f of matched) out[f] = { ...out[f], ...override }
  }
  return out
}

/** The clean pass; a value the model cannot take is reported against the data file and its row. */
async function cleanPass(session: ModelSession, sample: Sample, batchSize: number, file: string, who?: string): Promise<CleanPass> {
  try {
    return await scoreClean(session, sample.columns, batchSize)
  } catch (e) {
    if (e instanceof CellError) {
      const row = (sample.rows[e.row - 1] ?? e.row - 1) + 1
      throw new UserError(`${file}: column '${e.column}', data row ${row}: ${who ? `${who}: ` : ''}${e.reason}`, { file, field: e.column })
    }
    if (who && e instanceof UserError) throw new UserError(`${who}: ${e.message}`, { file: e.file, field: e.field, cause: e })
    throw e
  }
}

/**
 * What the run compares with: a baseline model that can score perturbed rows, or why there is none.
 * `note` tells the reader; `skipped` is the reason flip-rate gates against the baseline give.
 */
interface BaselinePlan {
  model?: ResolvedModel
  /** How words call it: `production`, `stage staging`, `version 1.2.0`, `the baseline`. */
  against: string
  /** `breast-cancer 1.0.0` for a registered version, else what was given. */
  source: string
  from?: BaselineOrigin
  note?: string
  skipped?: string
}

function baselinePlan(settings: Settings): BaselinePlan {
  const from = settings.baselineFrom
  const b = settings.baseline
  const production = from !== undefined && (from.ref.startsWith('production') || from.stage === 'prod' || from.stage === 'production')
  const against = !from?.version
    ? 'the baseline'
    : production
      ? 'production'
      : from.stage
        ? `stage ${from.stage}`
        : `version ${from.version}`
  const registered = from?.version ? `${from.name} ${from.version}` : undefined
  if (from && !from.version) {
    const none = production ? 'production version' : `version in stage ${from.stage}`
    return {
      against,
      source: from.name,
      from,
      note: `No ${none} yet: no version of ${from.name} holds stage ${from.stage} in ${from.registry}, so the robustness tests ran without a comparison (as on a first run).`,
      skipped: `no version of ${from.name} holds stage ${from.stage} yet`,
    }
  }
  if (!b) return { against, source: '' }
  const shown = registered ?? (b.kind === 'report' ? displayPath(b.path, settings.workspace) : b.source)
  const cannot = (what: string) => ({
    against,
    source: shown,
    ...(from ? { from } : {}),
    note: `The baseline (${shown}) is ${what}, which cannot score perturbed rows: the robustness tests ran without a comparison. Give a model (ONNX, command or http) as the baseline to compare flip rates.`,
    skipped: `the baseline is ${what}, which cannot score perturbed rows`,
  })
  // A registered version modelgate cannot run itself is compared through its validate report, which holds no model either.
  if (b.kind === 'report')
    return cannot(registered ? 'a registered version modelgate can only compare through its validate report' : 'a report')
  if (b.model.runner === 'predictions') return cannot('a predictions file')
  return { model: b.model, against, source: shown, ...(from ? { from } : {}) }
}

/**
 * The baseline's inputs out of the candidate's columns, so that a perturbed value reaches both models:
 * its features must be among the candidate's (in any order); one the candidate does not take would go
 * unperturbed, and the comparison would not be of the same inputs.
 */
function baselineColumns(baseline: string[], candidate: string[], source: string): (columns: Columns) => Columns {
  const at = baseline.map((f) => candidate.indexOf(f))
  const missing = baseline.filter((_, i) => at[i] < 0)
  if (missing.length > 0) {
    throw new UserError(
      `baseline (${source}): takes ${missing.map((f) => `"${f}"`).join(', ')}, which the model does not; test-robustness perturbs the model's features and feeds both models the same perturbed rows, so the baseline's features must be among the model's`,
      { field: 'baseline' },
    )
  }
  return (columns) => at.map((j) => columns[j])
}

/**
 * One line on the whole comparison, for the text output and the notes: the tests where the model is
 * less robust than the baseline, in words, and how many showed no clear difference or the reverse.
 */
function comparisonNote(tests: RobustnessTest[], baseline: RobustnessBaseline, rows: number): string {
  const compared = tests.filter((t) => t.baseline !== undefined)
  const head = `Compared with ${baseline.against} (${baseline.source}) on the same ${plural(rows, 'row')} and the same perturbed inputs`
  if (compared.length === 0) return `${head}: no invariance test has a comparison.`
  return `${head}: ${robustnessComparisonText(compared)} (flip rates; 95% intervals of the paired difference by Newcombe's hybrid score method).`
}

function checkNumericLabels(labels: Cell[], label: string, file: string): void {
  const bad = labels.find((y) => !Number.isFinite(Number(y)))
  if (bad !== undefined) {
    throw new UserError(`${file}: column "${label}" has a non-numeric value "${String(bad)}"; a regression label must be a number`, {
      file,
      field: label,
    })
  }
}

function cleanMetrics(compute: () => MetricsResult, file: string): MetricsResult {
  try {
    return compute()
  } catch (e) {
    throw new UserError(`${file}: cannot compute the metrics on the clean rows: ${(e as Error).message}`, { file, cause: e })
  }
}

/** A robustness test as a check: invariance against the flip-fail rate, the rest by their own verdict. */
function checkOf(t: RobustnessTest, dataset: string, config: RobustnessConfig): CheckResult {
  const check: CheckResult = {
    id: t.id,
    kind: 'robustness',
    dataset,
    status: t.status,
    severity: t.parameters.severity === 'warn' ? 'warn' : 'fail',
    value: t.flipRate ?? t.metric?.perturbed ?? t.violations ?? null,
    message: t.message,
    ...(t.seconds !== undefined ? { seconds: t.seconds } : {}),
  }
  if (t.kind === 'invariance' && t.flipRate !== undefined) {
    check.threshold = { op: '<', value: config['flip-fail'], expression: `flip rate < ${config['flip-fail']}` }
    if (t.baseline) check.baseline = t.baseline.flipRate
  }
  if (t.kind === 'degradation' && t.metric) check.metric = t.metric.name
  if (t.gate) {
    check.metric = 'flip_rate'
    check.value = t.gate.value
    check.threshold = { op: t.gate.op, value: t.gate.bound, expression: String(t.parameters.gate) }
    if (t.gate.baseline !== undefined) check.baseline = t.gate.baseline
  }
  return check
}
