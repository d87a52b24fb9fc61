import { performance } from 'node:perf_hooks'
import { CellError, UserError } from '../errors.js'
import { digestFile, inferFormat, openTable } from '../data/open.js'
import type { Cell, TableFormat } from '../data/types.js'
import { overallStatus } from '../gates/evaluate.js'
import type { MetricsResult } from '../metrics/index.js'
import { sortedLabels, type Label } from '../metrics/labels.js'
import { latencyStats } from '../metrics/performance.js'
import { createRunner, type RunnerEnvironment } from '../runners/index.js'
import type { ModelRunner } from '../runners/types.js'
import { plural } from '../report/common.js'
import { completeFeatures } from '../evaluation/features.js'
import { probabilityTolerance } from '../validate/probabilities.js'
import { RESULT_SCHEMA_VERSION, type CheckResult, type RunContext, type ValidationResult } from '../result/types.js'
import { displayPath, stripWorkspace, type Settings } from '../settings.js'
import { decideTask } from '../evaluation/task.js'
import { createRng } from '../stats/random.js'
import { buildJudge, ModelSession, runEngine, scoreClean, type Columns } from './engine.js'
import { profileFeatures, profileNotes, type FeatureOverride } from './profile.js'
import { robustnessDefaults, type RobustnessConfig } from './schema.js'
import type { RobustnessTest } from './types.js'

export interface RobustnessOptions {
  /** CI facts (repository, sha, run URL); the core reads no environment itself. */
  context: Omit<RunContext, 'startedAt' | 'durationSeconds'>
  runnerEnv?: RunnerEnvironment
  log?: (line: string) => void
}

/**
 * test-robustness's whole pipeline: a seeded sample of the first data set → feature profiles → the
 * clean pass → the robustness tests → a result whose checks are the tests. Errors a user can fix
 * are UserErrors naming the file and field, with paths shown relative to the workspace.
 */
export async function runRobustness(settings: Settings, opts: RobustnessOptions): Promise<ValidationResult> {
  try {
    return await runRaw(settings, opts)
  } catch (e) {
    if (e instanceof UserError)
      throw new UserError(stripWorkspace(e.message, settings.workspace), { file: e.file, field: e.field, cause: e.cause })
    throw e
  }
}

async function runRaw(given: Settings, opts: RobustnessOptions): Promise<ValidationResult> {
  const started = new Date()
  const t0 = performance.now()
  const log = opts.log ?? (() => {})
  if (given.model.runner === 'predictions') {
    const settings = given
    throw new UserError(
      `${settings.manifestPath ? `${settings.manifestPath}: ` : ''}model: test-robustness needs a model it can call (onnx, command or http); a predictions file cannot score perturbed rows`,
      { file: settings.manifestPath, field: 'model' },
    )
  }
  // Features as validate-model infers them, so the two actions test the same inputs.
  const inferred = await completeFeatures(given)
  const settings = inferred.settings
  const config = settings.robustness ?? robustnessDefaults()
  const data = settings.data[0]
  const shownData = displayPath(data.path, settings.workspace)
  const features = settings.model.features
  const [sample, digest] = await Promise.all([
    readSample(data.path, data.format, features, settings.label, config.rows, config.seed, settings.batchSize),
    digestFile(data.path),
  ])
  log(`${data.name}: ${describeSample(sample, config)}`)
  const overrides = expandOverrides(config.features, features, settings.manifestPath)
  const profiles = profileFeatures(sample.columns, features, overrides)

  const runners: ModelRunner[] = []
  const hints = { task: settings.task, classes: settings.classes }
  const open = async () => {
    const r = await createRunner(settings.model, opts.runnerEnv, hints)
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
      [...sample.labels, ...(clean.outputs.labels ?? [])],
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

    const { robustness: raw, notes: engineNotes } = await runEngine({
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
    })
    // Messages name files as the user wrote them: relative to the workspace, not /home/runner/work/….
    const strip = (text: string) => stripWorkspace(text, settings.workspace)
    const robustness = {
      ...raw,
      tests: raw.tests.map((t) => ({
        ...t,
        message: strip(t.message),
        examples: t.examples?.map((e) => ({ ...e, message: strip(e.message) })),
      })),
    }
    log(
      `robustness: ${plural(robustness.tests.length, 'test')}, ${plural(robustness.cost.modelCalls, 'model call')}, ${plural(robustness.cost.rowsScored, 'row')} scored`,
    )

    const checks = robustness.tests.map((t) => checkOf(t, data.name, config))
    const perf = latencyStats(clean.latenciesMs)
    const notes = [
      `${data.name}: ${describeSample(sample, config)}.`,
      ...(sample.unlabelled > 0
        ? [
            `${data.name}: ${plural(sample.unlabelled, 'row')} ${sample.unlabelled === 1 ? 'has' : 'have'} no value in the label column "${settings.label}" and ${sample.unlabelled === 1 ? 'was' : 'were'} not sampled.`,
          ]
        : []),
      ...metrics.notes,
      ...profileNotes(profiles),
      ...engineNotes,
      ...(session.clippedProbabilities > 0
        ? [
            `${plural(session.clippedProbabilities, 'probability', 'probabilities')} outside [0, 1] by float32 rounding (within ${probabilityTolerance(classes?.length ?? 0).toExponential(1)}) were clipped to [0, 1], as validate-model does.`,
          ]
        : []),
    ]
    return {
      schemaVersion: RESULT_SCHEMA_VERSION,
      status: overallStatus(checks),
      task,
      metrics: metrics.metrics,
      checks,
      model: { name: settings.name, ...info, source: displayPath(info.source, settings.workspace) },
      data: [
        {
          name: data.name,
          path: shownData,
          format: data.format ?? inferFormat(data.path),
          digest,
          rows: sample.rows.length,
          metrics: metrics.metrics,
          metricSources: metrics.sources,
          confusionMatrix: metrics.confusionMatrix,
          perClass: metrics.perClass,
          performance: {
            batches: clean.latenciesMs.length,
            batchSize: settings.batchSize,
            latencyMs: perf,
            rowsPerSecond: sample.rows.length / Math.max(clean.seconds, 1e-9),
            totalSeconds: clean.seconds,
          },
        },
      ],
      robustness,
      ...(settings.features.length > 0 ? { features: settings.features } : {}),
      notes: notes.map(strip),
      ...(inferred.warning ? { warnings: [strip(inferred.warning)] } : {}),
      context: {
        ...opts.context,
        ...(settings.manifestPath ? { manifest: settings.manifestPath } : {}),
        startedAt: started.toISOString(),
        durationSeconds: (performance.now() - t0) / 1000,
      },
    }
  } finally {
    await Promise.allSettled(runners.map((r) => r.close()))
  }
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
): Promise<Sample> {
  const source = openTable(file, format)
  const rng = createRng(seed)
  const kept: { row: number; cells: Cell[]; label: Cell }[] = []
  let seen = 0
  let unlabelled = 0
  const columns = [...new Set([...features, label])]
  for await (const batch of source.batches({ batchSize, columns })) {
    const labels = batch.columns[label]
    for (let i = 0; i < batch.length; i++) {
      const y = labels[i]
      if (y === null || y === undefined) {
        unlabelled++
        continue
      }
      const slot = seen < budget ? seen : Math.floor(rng() * (seen + 1))
      seen++
      if (slot < budget) kept[slot] = { row: batch.offset + i, cells: features.map((f) => batch.columns[f][i]), label: y }
    }
  }
  if (seen === 0) throw new UserError(`${file}: no labelled data rows to test (column "${label}")`, { file, field: label })
  kept.sort((a, b) => a.row - b.row)
  return {
    columns: features.map((_, j) => kept.map((k) => k.cells[j])),
    labels: kept.map((k) => k.label),
    rows: kept.map((k) => k.row),
    available: seen,
    unlabelled,
    sampled: seen > budget,
  }
}

function describeSample(sample: Sample, config: RobustnessConfig): string {
  const n = sample.rows.length.toLocaleString('en-US')
  return sample.sampled
    ? `robustness tests on a seeded random sample of ${n} of ${plural(sample.available, 'labelled row')} (row budget ${config.rows.toLocaleString('en-US')}, seed ${config.seed})`
    : `robustness tests on all ${plural(sample.rows.length, 'labelled row')} (within the row budget of ${config.rows.toLocaleString('en-US')})`
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
async function cleanPass(session: ModelSession, sample: Sample, batchSize: number, file: string) {
  try {
    return await scoreClean(session, sample.columns, batchSize)
  } catch (e) {
    if (e instanceof CellError) {
      const row = (sample.rows[e.row - 1] ?? e.row - 1) + 1
      throw new UserError(`${file}: column '${e.column}', data row ${row}: ${e.reason}`, { file, field: e.column })
    }
    throw e
  }
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
  }
  if (t.kind === 'degradation' && t.metric) check.metric = t.metric.name
  return check
}
