import path from 'node:path'
import { resolveRegistryBaseline } from '../registry/baseline.js'
import { reproducibilityChecks } from './reproducible.js'
import { performance } from 'node:perf_hooks'
import { CellError, UserError } from '../errors.js'
import { openTable, digestFile, inferFormat } from '../data/open.js'
import { createContractChecker, contractColumns } from '../data/contract.js'
import type { Batch, Cell } from '../data/types.js'
import { createRunner, type RunnerEnvironment } from '../runners/index.js'
import { createPredictionsRunner } from '../runners/predictions.js'
import type { FeatureBatch, ModelInfo, ModelRunner, PredictionBatch } from '../runners/types.js'
import { PERFORMANCE_METRIC_NAMES, computeMetrics, metricNames } from '../metrics/index.js'
import { latencyStats } from '../metrics/performance.js'
import { evaluateGates, overallStatus, type GateInput } from '../gates/evaluate.js'
import { loadBaselineReport, type BaselineReport } from '../result/load.js'
import {
  RESULT_SCHEMA_VERSION,
  type CheckResult,
  type Comparison,
  type DatasetResult,
  type SliceResult,
  type FairnessResult,
  type CalibrationResult,
  type RunContext,
  type Task,
  type ValidationResult,
} from '../result/types.js'
import { displayPath, stripWorkspace, type ResolvedData, type ResolvedModel, type Settings } from '../settings.js'
import { PredictionAccumulator } from './accumulate.js'
import { ParityCounter } from './parity.js'
import { buildScoredRows, type ModelPredictions } from '../evaluation/build.js'
import { decideTask } from '../evaluation/task.js'
import { analyse, checkAnalysisColumns, checkAnalysisMetrics, keptColumns, wantsAnalysis } from './analysis.js'
import { completeFeatures } from '../evaluation/features.js'
import { describeAdjustment } from './probabilities.js'
import { plural } from '../report/common.js'
import { createPredictionsFile, type PredictionsFile } from './predictions-file.js'
import type { StagedFiles } from '../files.js'

export interface ValidateOptions {
  runnerEnv?: RunnerEnvironment
  /** CI facts (repository, sha, run URL); the core reads no environment itself. */
  context: Omit<RunContext, 'startedAt' | 'durationSeconds'>
  log?: (line: string) => void
  /**
   * Write the candidate's per-row predictions here (.csv or .parquet); with several data sets, one file
   * each, named `<stem>-<data set><ext>`. Committed only when the run succeeds.
   */
  predictionsPath?: string
  /** The run's outputs, moved into place together by the caller; the predictions are staged with them. */
  staged?: StagedFiles
}

/** Where a data set's predictions go: the path itself for a single data set. */
export function predictionsPathFor(file: string, dataset: string, datasets: number): string {
  if (datasets <= 1) return file
  const ext = path.extname(file)
  return `${file.slice(0, file.length - ext.length)}-${dataset}${ext}`
}

interface Scored {
  acc: PredictionAccumulator
  latenciesMs: number[]
}

interface DatasetRun {
  data: ResolvedData
  digest: string
  rows: number
  seconds: number
  candidate: Scored
  baseline?: Scored
  contract?: DatasetResult['contract']
  parity?: ParityCounter
  kept: Record<string, Cell[]>
  /** Wall time of the streaming checks, summed over batches. */
  checkSeconds: { contract: number; parity: number }
  /** Features with no value (missing or NaN) in any row of the data set. */
  emptyFeatures: string[]
}

/**
 * validate-model's whole pipeline: data → model → metrics → gates → result.
 * Streams each data set once, scoring the candidate, the baseline model and the reference
 * predictions on the same rows, so that memory holds predictions, not rows.
 */
export async function validate(settings: Settings, opts: ValidateOptions): Promise<ValidationResult> {
  try {
    return relativePaths(await validateRaw(settings, opts), settings.workspace)
  } catch (e) {
    // Messages name files as the user wrote them: relative to the workspace, not /home/runner/work/….
    if (e instanceof UserError)
      throw new UserError(stripWorkspace(e.message, settings.workspace), { file: e.file, field: e.field, cause: e.cause })
    throw e
  }
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
    })),
    baseline: result.baseline && { ...result.baseline, source: rel(result.baseline.source) },
    checks: result.checks.map((c) => ({ ...c, message: stripWorkspace(c.message, workspace) })),
    notes: result.notes.map((n) => stripWorkspace(n, workspace)),
    ...(result.warnings ? { warnings: result.warnings.map((w) => stripWorkspace(w, workspace)) } : {}),
  }
}

async function validateRaw(given: Settings, opts: ValidateOptions): Promise<ValidationResult> {
  const started = new Date()
  const t0 = performance.now()
  const log = opts.log ?? (() => {})
  const runners: ModelRunner[] = []
  const sinks: PredictionsFile[] = []
  // A baseline named by stage or version is fetched and verified before anything is scored.
  const inferred = await completeFeatures(await resolveRegistryBaseline(given, log))
  const settings = inferred.settings
  try {
    const hints = { task: settings.task, classes: settings.classes }
    const candidate = await createRunner(settings.model, opts.runnerEnv, hints)
    runners.push(candidate)
    const info = await candidate.describe()
    log(`model: ${displayPath(info.source, settings.workspace)} (${info.runner})`)

    let baselineRunner: ModelRunner | undefined
    let baselineInfo: ModelInfo | undefined
    let baselineReport: BaselineReport | undefined
    if (settings.baseline?.kind === 'model') {
      baselineRunner = await createRunner(settings.baseline.model, opts.runnerEnv, hints)
      runners.push(baselineRunner)
      baselineInfo = await baselineRunner.describe()
    } else if (settings.baseline?.kind === 'report') {
      baselineReport = loadBaselineReport(settings.baseline.path)
    }

    // With the task known up front, a misspelt metric is reported before any row is scored; without it,
    // a name no task knows is refused before scoring too, and the task's own list is checked after.
    if (settings.task) {
      checkGateMetrics(settings, settings.task)
      checkAnalysisMetrics(settings, settings.task)
    } else checkGateMetrics(settings)
    if (settings.referencePredictions && settings.data.length > 1)
      throw new UserError(
        `${settings.manifestPath ? `${settings.manifestPath}: ` : ''}reference-predictions: one file holds the predictions of one data set, but there are ${settings.data.length}; keep the data sets you check parity on in their own manifest, or drop reference-predictions`,
        { file: settings.manifestPath, field: 'reference-predictions' },
      )
    const runs: DatasetRun[] = []
    for (const data of settings.data) {
      const reference = settings.referencePredictions
        ? await createPredictionsRunner({ path: settings.referencePredictions.path, ...runnerHints(settings) })
        : undefined
      if (reference) runners.push(reference)
      const sink = opts.predictionsPath
        ? createPredictionsFile(predictionsPathFor(opts.predictionsPath, data.name, settings.data.length), {
            label: settings.label,
            id: settings.idColumn,
            staged: opts.staged,
          })
        : undefined
      if (sink) sinks.push(sink)
      const text = unique([
        ...textColumns(info, settings.model.features),
        ...(baselineInfo && settings.baseline?.kind === 'model' ? textColumns(baselineInfo, settings.baseline.model.features) : []),
      ])
      runs.push(await scoreDataset(settings, data, candidate, baselineRunner, reference, keptColumns(settings), log, sink, text))
    }

    const acc0 = runs[0].candidate.acc
    const task = decideTask(
      settings.task,
      settings.classes,
      { values: acc0.hasValues, labels: acc0.hasLabels, probabilities: acc0.hasProbabilities, classes: acc0.classes },
      [...acc0.yTrue, ...acc0.labels],
    )
    checkGateMetrics(settings, task)
    checkAnalysisMetrics(settings, task)

    const notes: string[] = []
    const warnings: string[] = inferred.warning ? [inferred.warning] : []
    const dataResults: DatasetResult[] = []
    const gateInputs: GateInput[] = []
    const extraChecks: CheckResult[] = []
    const comparisons: Comparison[] = []
    const slices: SliceResult[] = []
    const fairness: FairnessResult[] = []
    const calibration: CalibrationResult[] = []
    const gateSeconds = new Map<string, number>()
    for (const run of runs) {
      const tm = performance.now()
      const m = metricsFor(settings, task, run.candidate, run.data)
      gateSeconds.set(run.data.name, (performance.now() - tm) / 1000)
      notes.push(...m.notes.map((n) => (runs.length > 1 ? `${run.data.name}: ${n}` : n)))
      const perf = latencyStats(run.candidate.latenciesMs)
      const rowsPerSecond = run.rows / Math.max(run.seconds, 1e-9)
      const metrics: Record<string, number> = {
        ...m.metrics,
        latency_p50_ms: perf.p50,
        latency_p95_ms: perf.p95,
        latency_p99_ms: perf.p99,
        latency_mean_ms: perf.mean,
        latency_max_ms: perf.max,
        rows_per_second: rowsPerSecond,
      }
      if (info.sizeBytes !== undefined) metrics.model_size_bytes = info.sizeBytes
      let baselineMetrics: Record<string, number> | undefined
      let baselineOut: MetricsOut | undefined
      if (run.baseline) {
        baselineOut = metricsFor(settings, task, run.baseline, run.data)
        baselineMetrics = baselineOut.metrics
        if (baselineInfo?.sizeBytes !== undefined) baselineMetrics.model_size_bytes = baselineInfo.sizeBytes
      } else if (baselineReport) {
        baselineMetrics = baselineReport.byDataset.get(run.data.name) ?? (run === runs[0] ? baselineReport.primary : undefined)
        if (!baselineMetrics) notes.push(`The baseline report has no data set named "${run.data.name}": its change checks were skipped.`)
      }
      gateInputs.push({ dataset: run.data.name, metrics, baseline: baselineMetrics, unavailable: m.unavailable })
      if (wantsAnalysis(settings, baselineOut !== undefined)) {
        const scoredRows = buildScoredRows({
          task,
          classes: m.classes,
          positiveClass: settings.positiveClass,
          threshold: settings.decisionThreshold,
          eceBins: settings.eceBins,
          yTrue: m.yTrue,
          candidate: m.predictions,
          baseline: baselineOut?.predictions,
          columns: run.kept,
        })
        const ta = performance.now()
        const analysis = analyse(settings, scoredRows, run.data.name)
        const analysisSeconds = (performance.now() - ta) / 1000
        for (const c of analysis.checks) c.seconds ??= analysisSeconds
        comparisons.push(...analysis.comparisons)
        slices.push(...analysis.slices)
        fairness.push(...analysis.fairness)
        if (analysis.calibration) calibration.push(analysis.calibration)
        extraChecks.push(...analysis.checks)
        notes.push(...analysis.notes)
      }
      const dr: DatasetResult = {
        name: run.data.name,
        path: run.data.path,
        format: run.data.format ?? inferFormat(run.data.path),
        digest: run.digest,
        rows: run.rows,
        metrics,
        metricSources: m.sources,
        confusionMatrix: m.confusionMatrix,
        perClass: m.perClass,
        performance: {
          batches: run.candidate.latenciesMs.length,
          batchSize: settings.batchSize,
          latencyMs: perf,
          rowsPerSecond,
          totalSeconds: run.seconds,
        },
      }
      const prefix = runs.length > 1 ? `${run.data.name}: ` : ''
      if (run.emptyFeatures.length > 0)
        warnings.push(
          `${describeEmpty(run.emptyFeatures, run.data.path, run.rows, true)}: the model was scored on a column with nothing in it. Check the column name and the file.`,
        )
      const adjustment = run.candidate.acc.guard?.summary()
      if (adjustment) {
        dr.probabilityAdjustment = adjustment
        notes.push(...describeAdjustment(adjustment, `${prefix}the model`))
      }
      const baselineAdjustment = run.baseline?.acc.guard?.summary()
      if (baselineAdjustment) notes.push(...describeAdjustment(baselineAdjustment, `${prefix}the baseline`))
      const consistency = outputConsistency(settings, run)
      if (consistency) {
        dr.outputConsistency = consistency.result
        if (consistency.check) extraChecks.push(consistency.check)
      }
      if (run.candidate.acc.skipped > 0) {
        dr.skippedRows = run.candidate.acc.skipped
        notes.push(
          `${run.data.name}: ${plural(run.candidate.acc.skipped, 'row')} ${run.candidate.acc.skipped === 1 ? 'has' : 'have'} no value in the label column "${settings.label}" and ${run.candidate.acc.skipped === 1 ? 'was' : 'were'} not scored.`,
        )
      }
      if (run.contract) {
        dr.contract = run.contract
        extraChecks.push({
          id: `contract/${run.data.name}`,
          kind: 'contract',
          dataset: run.data.name,
          status: run.contract.violations === 0 ? 'pass' : 'fail',
          severity: 'fail',
          value: run.contract.violations,
          threshold: { op: '==', value: 0, expression: 'violations == 0' },
          seconds: run.checkSeconds.contract,
          message:
            run.contract.violations === 0
              ? `all ${run.contract.rowsChecked} rows match the data contract`
              : `${run.contract.violations} of ${run.contract.rowsChecked} rows violate the data contract, e.g. ${run.contract.examples[0]?.message ?? ''}`,
        })
      }
      if (run.parity) {
        const p = run.parity.result()
        dr.parity = p
        const allowed = settings.referencePredictions!.maxMismatches
        const n = run.parity.mismatches
        extraChecks.push({
          id: `parity/${run.data.name}`,
          kind: 'parity',
          dataset: run.data.name,
          status: n <= allowed ? 'pass' : 'fail',
          severity: 'fail',
          value: n,
          threshold: { op: '<=', value: allowed, expression: `mismatching rows <= ${allowed}` },
          seconds: run.checkSeconds.parity,
          message:
            n === 0
              ? `all ${p.rows} rows agree with the reference predictions (largest difference ${p.maxAbsDiff.toExponential(2)}, tolerance ${p.tolerance})`
              : `${n} of ${p.rows} rows disagree with the reference predictions (labels: ${p.labelMismatches}, beyond tolerance ${p.tolerance}: ${p.probabilityMismatches})`,
        })
      }
      dataResults.push(dr)
    }

    const reproduced = reproducibilityChecks(
      settings.baselineEvidence,
      baselineInfo?.digest,
      `${settings.baselineFrom?.name ?? 'the baseline'} ${settings.baselineFrom?.version ?? ''}`.trim(),
      dataResults.map((result, i) => ({ result, baseline: gateInputs[i]?.baseline })),
    )
    notes.push(...reproduced.notes)
    if (settings.baselineNote) notes.push(settings.baselineNote)
    const checks = [
      ...extraChecks,
      ...evaluateGates(settings.gates, gateInputs).map((c) => ({ ...c, seconds: gateSeconds.get(c.dataset ?? '') ?? 0 })),
      ...reproduced.checks,
    ]
    const from = settings.baselineFrom
    if (from && !from.version) {
      notes.push(
        `No ${from.ref.startsWith('production') || from.stage === 'prod' || from.stage === 'production' ? 'production version' : `version in stage ${from.stage}`} yet: no version of ${from.name} holds stage ${from.stage} in ${from.registry}, so change thresholds and comparisons were skipped (as on a first run).`,
      )
    } else if (settings.gates.some((g) => g.bound.kind === 'change') && !settings.baseline) {
      notes.push(
        'No baseline yet (first run): change thresholds were skipped. Set `baseline` to a model or a previous report to enable them.',
      )
    }
    notes.push(...describeSources(dataResults[0].metricSources))
    if (settings.features !== given.features) notes.push(`Features (inferred): ${settings.features.join(', ')}.`)
    if (settings.baseline?.kind === 'report' && settings.comparison.metrics) {
      notes.push(
        'The baseline is a previous report, which holds no per-row predictions: the comparison section needs a baseline model or predictions file on the same rows, so no intervals or verdicts were computed.',
      )
    }

    const primaryBaseline = gateInputs[0].baseline
    for (const sink of sinks) {
      await sink.commit()
      log(`predictions: ${displayPath(sink.path, settings.workspace)}`)
    }
    sinks.length = 0
    return {
      schemaVersion: RESULT_SCHEMA_VERSION,
      status: overallStatus(checks),
      task,
      metrics: dataResults[0].metrics,
      checks,
      model: { name: settings.name, ...info },
      ...(settings.features.length > 0 ? { features: settings.features } : {}),
      data: dataResults,
      baseline:
        settings.baseline && primaryBaseline
          ? {
              // A registered version is named by name and version, not by the cache folder it was fetched into.
              source: from?.version
                ? `${from.name} ${from.version}`
                : settings.baseline.kind === 'model'
                  ? (baselineInfo?.source ?? settings.baseline.source)
                  : settings.baseline.path,
              kind: settings.baseline.kind,
              metrics: primaryBaseline,
              digest: settings.baseline.kind === 'model' ? baselineInfo?.digest : baselineReport?.digest,
            }
          : undefined,
      ...(from ? { registryBaseline: from } : {}),
      comparisons: comparisons.length > 0 ? comparisons : undefined,
      slices: slices.length > 0 ? slices : undefined,
      fairness: fairness.length > 0 ? fairness : undefined,
      calibration: calibration.length > 0 ? calibration : undefined,
      notes,
      ...(warnings.length > 0 ? { warnings } : {}),
      context: {
        ...opts.context,
        ...(settings.manifestPath ? { manifest: settings.manifestPath } : {}),
        startedAt: started.toISOString(),
        durationSeconds: (performance.now() - t0) / 1000,
      },
    }
  } finally {
    await Promise.allSettled([...runners.map((r) => r.close()), ...sinks.map((s) => s.abort())])
  }
}

/**
 * A classifier that gives labels and probabilities may disagree with itself: tree ensembles break ties
 * between equal probabilities their own way, and a custom threshold moves the label. The metrics use
 * each output as the report says, so a disagreement is shown, never hidden.
 */
function outputConsistency(
  settings: Settings,
  run: DatasetRun,
): { result: NonNullable<DatasetResult['outputConsistency']>; check?: CheckResult } | undefined {
  const acc = run.candidate.acc
  if (!acc.hasLabels || !acc.hasProbabilities) return undefined
  const rows = acc.yTrue.length
  const { count, rows: examples } = acc.disagreements
  const result = {
    labelOutput: acc.sources.labels ?? 'labels',
    probabilityOutput: acc.sources.probabilities ?? 'probabilities',
    rows,
    disagreements: count,
    examples,
  }
  if (settings.outputConsistency === 'off') return { result }
  const shown = examples.join(', ') + (count > examples.length ? ', …' : '')
  return {
    result,
    check: {
      id: `output-consistency/${run.data.name}`,
      kind: 'consistency',
      dataset: run.data.name,
      status: count === 0 ? 'pass' : settings.outputConsistency,
      severity: settings.outputConsistency,
      value: count,
      threshold: { op: '==', value: 0, expression: 'disagreeing rows == 0' },
      seconds: acc.consistencySeconds,
      message:
        count === 0
          ? `the label output "${result.labelOutput}" is the argmax of "${result.probabilityOutput}" on all ${plural(rows, 'row')}`
          : `the label output "${result.labelOutput}" is not the argmax of "${result.probabilityOutput}" on ${count} of ${plural(rows, 'row')} (data row${examples.length === 1 ? '' : 's'} ${shown}); label metrics use "${result.labelOutput}", probability metrics "${result.probabilityOutput}"`,
    },
  }
}

function checkGateMetrics(settings: Settings, task?: Task): void {
  const tasks = task ? [task] : (['binary', 'multiclass', 'regression'] as const)
  const known = new Set(tasks.flatMap((t) => metricNames(t)))
  for (const g of settings.gates) {
    if (known.has(g.metric)) continue
    // Before scoring the task may not be known yet: the message lists each task's metrics.
    const lists = task
      ? ` for a ${task} model; known: ${metricNames(task).join(', ')}`
      : `; known: ${tasks
          .map(
            (t) =>
              `${t}: ${metricNames(t)
                .filter((m) => !PERFORMANCE_METRIC_NAMES.includes(m))
                .join(', ')}`,
          )
          .join('; ')}; any task: ${PERFORMANCE_METRIC_NAMES.join(', ')}`
    throw new UserError(`${settings.thresholdsFrom}: "${g.expression}": unknown metric "${g.metric}"${lists}`, {
      file: settings.thresholdsFrom.startsWith(`${settings.manifestPath}:`) ? settings.manifestPath : undefined,
      field: 'thresholds',
    })
  }
}

function runnerHints(settings: Settings): { task?: 'classification' | 'regression'; classes?: (number | string)[] } {
  return {
    task: settings.task === undefined ? undefined : settings.task === 'regression' ? 'regression' : 'classification',
    classes: settings.classes,
  }
}

async function scoreDataset(
  settings: Settings,
  data: ResolvedData,
  candidate: ModelRunner,
  baseline: ModelRunner | undefined,
  reference: ModelRunner | undefined,
  keep: string[],
  log: (line: string) => void,
  sink?: PredictionsFile,
  text: string[] = [],
): Promise<DatasetRun> {
  const source = openTable(data.path, data.format)
  const contract = data.contract ? await createContractChecker(data.contract) : undefined
  const baselineModel = settings.baseline?.kind === 'model' ? settings.baseline.model : undefined
  const [digest, fileColumns] = await Promise.all([digestFile(data.path), source.columns()])
  checkAnalysisColumns(settings, fileColumns, data.path)
  // Columns the models need must exist (the reader names what is missing); a contract may name optional ones.
  const readColumns = unique([
    ...settings.model.features,
    ...(baselineModel?.features ?? []),
    settings.label,
    ...(settings.idColumn ? [settings.idColumn] : []),
    ...(contract ? contractColumns(contract.schema).filter((c) => fileColumns.includes(c)) : []),
    ...keep,
  ])
  const kept: Record<string, Cell[]> = Object.fromEntries(keep.map((c) => [c, []]))
  const cand: Scored = { acc: new PredictionAccumulator(), latenciesMs: [] }
  const base: Scored | undefined = baseline ? { acc: new PredictionAccumulator(), latenciesMs: [] } : undefined
  const parity = reference ? new ParityCounter(settings.referencePredictions!.path, settings.referencePredictions!.tolerance) : undefined
  const started = performance.now()
  const checkSeconds = { contract: 0, parity: 0 }
  const present = new PresenceCounter(settings.model.features)
  let rows = 0
  for await (const batch of source.batches({ batchSize: settings.batchSize, columns: readColumns, text })) {
    const labels = batch.columns[settings.label]
    present.count(batch)
    const pred = await timed(cand.latenciesMs, data, () => candidate.predict(featureBatch(batch, settings.model)))
    checkLength(pred, batch, candidate, settings.model)
    try {
      cand.acc.add(labels, pred, data.path, batch.offset)
    } catch (e) {
      // NaN out of the model is most often NaN in: say which features had no value in that row, or at all so far.
      if (!(e instanceof UserError)) throw e
      const row = Number(/: data row (\d+):/.exec(e.message)?.[1])
      const i = row - 1 - batch.offset
      let blank =
        Number.isInteger(i) && i >= 0 && i < batch.length ? settings.model.features.filter((f) => isBlank(batch.columns[f]?.[i])) : []
      const empty = present.empty()
      // A feature empty in every row so far is said once, as such.
      blank = blank.filter((f) => !empty.includes(f))
      const notes = [
        ...(blank.length > 0
          ? [
              `in data row ${row}, ${blank.map((f) => `"${f}"`).join(', ')} ${blank.length === 1 ? 'has' : 'have'} no value (missing or NaN)`,
            ]
          : []),
        ...(empty.length > 0 ? [describeEmpty(empty, data.path, batch.offset + batch.length, false)] : []),
      ]
      if (notes.length === 0) throw e
      throw new UserError(`${e.message}; note: ${notes.join('; ')}`, { file: e.file, field: e.field })
    }
    await sink?.write(batch.offset, pred, labels, settings.idColumn ? batch.columns[settings.idColumn] : undefined)
    if (baseline && base && baselineModel) {
      const bp = await timed(base.latenciesMs, data, () => baseline.predict(featureBatch(batch, baselineModel)))
      checkLength(bp, batch, baseline, baselineModel)
      base.acc.add(labels, bp, data.path, batch.offset)
    }
    if (reference && parity) {
      const tp = performance.now()
      const rp = await reference.predict(featureBatch(batch, settings.model))
      parity.add(pred, rp, batch.offset)
      checkSeconds.parity += (performance.now() - tp) / 1000
    }
    if (contract) {
      const tc = performance.now()
      contract.check(batch)
      checkSeconds.contract += (performance.now() - tc) / 1000
    }
    keepLabelledRows(kept, batch, labels)
    rows += batch.length
  }
  const seconds = (performance.now() - started) / 1000
  if (rows === 0) throw new UserError(`${data.path}: no data rows (the file has a header or schema but no rows)`, { file: data.path })
  if (cand.acc.yTrue.length === 0)
    throw new UserError(
      `${data.path}: none of its ${plural(rows, 'row')} has a value in the label column "${settings.label}"; the metrics need labelled rows`,
      { file: data.path, field: settings.label },
    )
  // Predictions files are read in lockstep with the data: left-over rows mean the two do not line up.
  for (const runner of [candidate, baseline, reference]) {
    const r = runner as (ModelRunner & { checkRowCount?: (rows: number) => Promise<void> }) | undefined
    await r?.checkRowCount?.(rows)
  }
  log(`${data.name}: scored ${rows.toLocaleString('en-US')} rows in ${seconds.toFixed(2)} s`)
  return {
    data,
    digest,
    rows,
    seconds,
    candidate: cand,
    baseline: base,
    contract: contract?.summary(),
    parity,
    kept,
    checkSeconds,
    emptyFeatures: present.empty(),
  }
}

/** Columns the statistics need per row (slices, fairness groups), aligned with the scored rows: unlabelled rows are skipped there too. */
function keepLabelledRows(kept: Record<string, Cell[]>, batch: Batch, labels: Cell[]): void {
  for (const [name, out] of Object.entries(kept)) {
    const cells = batch.columns[name]
    for (let i = 0; i < batch.length; i++) if (labels[i] !== null && labels[i] !== undefined) out.push(cells[i])
  }
}

/** Times one model call; a value the model cannot take is reported against the data file it came from. */
async function timed<T>(sink: number[], data: ResolvedData, fn: () => Promise<T>): Promise<T> {
  const t = performance.now()
  let out: T
  try {
    out = await fn()
  } catch (e) {
    if (e instanceof CellError)
      throw new UserError(`${data.path}: column '${e.column}', data row ${e.row}: ${e.reason}`, { file: data.path, field: e.column })
    throw e
  }
  sink.push(performance.now() - t)
  return out
}

function featureBatch(batch: Batch, model: ResolvedModel): FeatureBatch {
  return { offset: batch.offset, length: batch.length, features: model.features, columns: model.features.map((f) => batch.columns[f]) }
}

function checkLength(pred: PredictionBatch, batch: Batch, runner: ModelRunner, model: ResolvedModel): void {
  if (pred.length !== batch.length) {
    throw new UserError(`${model.path ?? model.url ?? runner.kind}: the model returned ${pred.length} predictions for ${batch.length} rows`)
  }
}

/** Counts, per feature, the rows that have a value (neither missing nor NaN). */
const isBlank = (c: Cell | undefined) => c === null || c === undefined || (typeof c === 'number' && Number.isNaN(c))

class PresenceCounter {
  private readonly seen: number[]
  constructor(private readonly features: string[]) {
    this.seen = features.map(() => 0)
  }
  count(batch: Batch): void {
    this.features.forEach((f, j) => {
      if (this.seen[j] > 0) return
      const cells = batch.columns[f] ?? []
      if (cells.some((c) => !isBlank(c))) this.seen[j]++
    })
  }
  empty(): string[] {
    return this.features.filter((_, j) => this.seen[j] === 0)
  }
}

/** `whole`: the rows are the whole file; otherwise those read so far. */
function describeEmpty(features: string[], file: string, rows: number, whole: boolean): string {
  const names = features.map((f) => `"${f}"`).join(', ')
  const where = whole ? `any of the ${rows.toLocaleString('en-US')} rows` : `any of the first ${rows.toLocaleString('en-US')} rows`
  return `${features.length === 1 ? 'feature' : 'features'} ${names} ${features.length === 1 ? 'has' : 'have'} no value (missing or NaN) in ${where} of ${file}`
}

/** Features a model takes as strings: read as text, so that a category "007" reaches it as "007". */
export function textColumns(info: ModelInfo, features: string[]): string[] {
  const strings = info.inputs.filter((i) => i.dtype === 'string')
  if (info.inputs.length === 1 && strings.length === 1) return features
  const names = new Set(strings.map((i) => i.name))
  return features.filter((f) => names.has(f))
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)]
}

interface MetricsOut {
  notes: string[]
  metrics: Record<string, number>
  sources: Record<string, string>
  unavailable: Record<string, string>
  confusionMatrix?: DatasetResult['confusionMatrix']
  perClass?: DatasetResult['perClass']
  /** What the metrics were computed from, matched to the classes: the statistics reuse it. */
  classes?: (number | string)[]
  yTrue: (number | string)[]
  predictions: ModelPredictions
}

function metricsFor(settings: Settings, task: Task, scored: Scored, data: ResolvedData): MetricsOut {
  const acc = scored.acc
  const unavailable: Record<string, string> = {}
  if (task === 'regression') {
    if (!acc.hasValues)
      throw new UserError(
        `${data.path}: the task is regression but the model gives no numeric predictions (only ${acc.hasLabels ? 'labels' : 'probabilities'})`,
      )
    const yTrue = acc.yTrue.map((y) => (typeof y === 'number' ? y : Number(y)))
    const bad = yTrue.findIndex((y) => !Number.isFinite(y))
    if (bad >= 0)
      throw new UserError(
        `${data.path}: column "${settings.label}" has a non-numeric value "${String(acc.yTrue[bad])}"; a regression label must be a number`,
        { file: data.path, field: settings.label },
      )
    const values = acc.values.view()
    const out = metricsOrUserError(data, () => computeMetrics('regression', { yTrue, values }))
    return { ...out, sources: nameSources(out.sources, acc), unavailable, yTrue, predictions: { values } }
  }
  const classes = resolveClasses(settings, acc)
  const yTrue = alignLabels(acc.yTrue, classes, settings.label, data.path)
  const yPred = acc.hasLabels ? alignLabels(acc.labels, classes, 'the model output', data.path) : undefined
  if (!acc.hasProbabilities) {
    for (const m of ['roc_auc', 'average_precision', 'log_loss', 'brier', 'ece', 'mce', 'roc_auc_ovr'])
      unavailable[m] = 'the model gives no probabilities'
  }
  const proba = acc.hasProbabilities ? acc.probabilities.view() : undefined
  const out = metricsOrUserError(data, () =>
    computeMetrics(task, {
      yTrue,
      yPred,
      proba,
      classes,
      positiveClass: settings.positiveClass ?? (task === 'binary' ? classes?.[classes.length - 1] : undefined),
      threshold: settings.decisionThreshold,
      eceBins: settings.eceBins,
    }),
  )
  return { ...out, sources: nameSources(out.sources, acc), unavailable, classes, yTrue, predictions: { labels: yPred, proba } }
}

/** The metric functions validate their inputs like scikit-learn; what fails there is a problem with the model's outputs or the labels. */
function metricsOrUserError<T>(data: ResolvedData, fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    throw new UserError(`${data.path}: cannot compute the metrics: ${(e as Error).message}`, { file: data.path, cause: e })
  }
}

function resolveClasses(settings: Settings, acc: PredictionAccumulator): (number | string)[] | undefined {
  if (settings.classes) {
    if (acc.classes && acc.classes.length !== settings.classes.length) {
      throw new UserError(
        `${settings.manifestPath ?? 'manifest'}: classes: ${settings.classes.length} classes given but the model's probability output has ${acc.classes.length} columns`,
        { file: settings.manifestPath, field: 'classes' },
      )
    }
    return settings.classes
  }
  if (acc.classes) return acc.classes
  // Labels only: the classes are the labels seen, sorted as scikit-learn sorts them.
  const seen = [...new Set([...acc.yTrue, ...acc.labels])]
  return seen.sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0,
  )
}

/** Labels read from a file may be `1` where the model says `"1"` (or the reverse): match them by their text. */
function alignLabels(
  values: (number | string)[],
  classes: (number | string)[] | undefined,
  what: string,
  file: string,
): (number | string)[] {
  if (!classes) return values
  const exact = new Set<number | string>(classes)
  // The common case, labels already of the classes' type, needs no conversion (a million rows: one Set lookup each).
  const firstOff = values.findIndex((v) => !exact.has(v))
  if (firstOff < 0) return values
  const byText = new Map(classes.map((c) => [String(c), c]))
  return values.map((v) => {
    const c = exact.has(v) ? v : byText.get(String(v))
    if (c === undefined) {
      throw new UserError(
        `${file}: ${what} has the value "${String(v)}", which is not one of the model's classes (${classes.map(String).join(', ')})`,
        { file, field: what },
      )
    }
    return c
  })
}

/** metric → the model output it was computed from, by the output's own name (`label`, `probabilities`, …). */
function nameSources(sources: Record<string, string>, acc: PredictionAccumulator): Record<string, string> {
  const names: Record<string, string | undefined> = {
    labels: acc.sources.labels,
    probabilities: acc.sources.probabilities,
    values: acc.sources.values,
  }
  return Object.fromEntries(Object.entries(sources).map(([metric, kind]) => [metric, names[kind] ?? kind]))
}

function describeSources(sources: Record<string, string>): string[] {
  const byOutput = new Map<string, string[]>()
  for (const [metric, output] of Object.entries(sources)) byOutput.set(output, [...(byOutput.get(output) ?? []), metric])
  return [...byOutput].map(([output, metrics]) => `Metrics from the model output "${output}": ${metrics.join(', ')}.`)
}
