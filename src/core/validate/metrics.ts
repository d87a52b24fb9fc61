/*
 * Stage 3 of validate-model, accumulate: what each model's answers added up to over a data set becomes
 * its metrics, with the performance ones beside them and the baseline's (a model's, or a previous
 * report's) for the change thresholds. Labels are matched to the classes here, once, and the matched
 * arrays are kept for the statistics, which must see exactly the rows the metrics saw.
 */
import { performance } from 'node:perf_hooks'
import { UserError } from '../errors.js'
import { computeMetrics, METRIC_DIRECTIONS } from '../metrics/index.js'
import { METRIC_CATALOGUE } from '../metrics/catalog.js'
import { latencyStats } from '../metrics/performance.js'
import type { Task } from '../result/types.js'
import type { ResolvedData, Settings } from '../settings/index.js'
import type { PredictionAccumulator } from './accumulate.js'
import { judgeDrift } from './drift.js'
import type { DatasetMetrics, DatasetRun, MetricsOut, Scored, Scoring, DescribedModel, ValidationPlan } from './stages.js'

/** Every metric that needs the model's probabilities, in the report's order (the catalogue's). */
const PROBABILITY_METRICS = Object.keys(METRIC_DIRECTIONS).filter((m) => METRIC_CATALOGUE[m]!.needs === 'probabilities')

export function accumulateDataset(plan: ValidationPlan<DescribedModel>, scoring: Scoring, run: DatasetRun): DatasetMetrics {
  const { settings, baselineReport } = plan
  const { runs, task } = scoring
  const tm = performance.now()
  const m = metricsFor(settings, task, run.candidate, run.data)
  const gateSeconds = (performance.now() - tm) / 1000
  const notes = m.notes.map((n) => (runs.length > 1 ? `${run.data.name}: ${n}` : n))
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
  if (plan.candidate.info.sizeBytes !== undefined) metrics.model_size_bytes = plan.candidate.info.sizeBytes
  let baselineMetrics: Record<string, number> | undefined
  let baselineOut: MetricsOut | undefined
  if (run.baseline) {
    baselineOut = metricsFor(settings, task, run.baseline, run.data)
    baselineMetrics = baselineOut.metrics
    if (plan.baseline?.info.sizeBytes !== undefined) baselineMetrics.model_size_bytes = plan.baseline.info.sizeBytes
  } else if (baselineReport) {
    baselineMetrics = baselineReport.byDataset.get(run.data.name) ?? (run === runs[0] ? baselineReport.primary : undefined)
    if (!baselineMetrics) notes.push(`The baseline report has no data set named "${run.data.name}": its change checks were skipped.`)
  }
  const { drift, integrity, metrics: dataMetrics } = judgeDrift(run.collectors, scoring.reference, settings)
  return {
    run,
    candidate: m,
    baseline: baselineOut,
    metrics,
    ...(drift ? { drift } : {}),
    ...(integrity ? { integrity } : {}),
    performance: {
      batches: run.candidate.latenciesMs.length,
      batchSize: settings.batchSize,
      latencyMs: perf,
      rowsPerSecond,
      totalSeconds: run.seconds,
    },
    // Drift and integrity are gated by name (drift.share_drifted) but not listed among the model's metrics.
    gate: { dataset: run.data.name, metrics: { ...metrics, ...dataMetrics }, baseline: baselineMetrics, unavailable: m.unavailable },
    gateSeconds,
    notes,
  }
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
    for (const m of PROBABILITY_METRICS) unavailable[m] = 'the model gives no probabilities'
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
