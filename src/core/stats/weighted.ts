/**
 * Every metric of `src/core/metrics` with per-row weights, over `ScoredRows`.
 *
 * A weight is a row's multiplicity: the weighted metric equals the unweighted one (scikit-learn's
 * definition, as in `src/core/metrics`) on the rows repeated that many times, so a bootstrap resample is
 * its counts, a subset its 0/1 indicator, and `null` every row once. Like the repeated rows, a class with
 * zero total weight is absent (it leaves the macro averages; ROC AUC needing it is NaN).
 *
 * Each metric is a kernel prepared once per (rows, side, metric): the inputs are validated, the positive
 * indicator and score column extracted and, for the ranking metrics, the score order computed once (see
 * `order.ts`); each call is then one O(n) pass (O(n·k) for one-vs-rest AUC over k classes).
 *
 * A metric undefined on the weighted rows is NaN, as scikit-learn raises or returns NaN there: ROC AUC
 * with one class present, r2 with less than two rows, anything on rows of total weight 0. Weights must be
 * finite and ≥ 0 (not checked per call: they come from this module's own resampling or from 0/1 masks).
 *
 * Every kernel but average_precision also has an exact O(n) leave-one-out (`MetricKernel.leaveOneOut`):
 * a mean drops one term, a count one cell, ROC AUC one row's placement value (its Mann–Whitney share),
 * a calibration bin one row; so BCa's jackknife is exact at any n for them.
 *
 * This file is the entry: which metrics have kernels (from the metric catalogue), and the kernel of a
 * metric, made once per (rows, side, metric) and cached. The kernels themselves are in `kernels/`, one
 * file per task plus the ranking and calibration sums and the shared inputs and weighted mean.
 */
import type { ScoredRows, Side, Weights } from '../evaluation/types.js'
import { METRIC_CATALOGUE, metricNames } from '../metrics/catalog.js'
import type { Task } from '../result/types.js'
import { binaryKernel } from './kernels/binary.js'
import type { MetricKernel } from './kernels/kernel.js'
import { multiclassKernel } from './kernels/multiclass.js'
import { regressionKernel } from './kernels/regression.js'

export type { Side, Weights } from '../evaluation/types.js'
export type { MetricKernel } from './kernels/kernel.js'

const weightedMetricsOf = (task: Task) => metricNames(task).filter((name) => METRIC_CATALOGUE[name].weighted)

/** The metrics each task supports with weights: every metric `computeMetrics` produces for it. */
export const WEIGHTED_METRICS_BY_TASK: Record<Task, readonly string[]> = {
  binary: weightedMetricsOf('binary'),
  multiclass: weightedMetricsOf('multiclass'),
  regression: weightedMetricsOf('regression'),
}

/** Every metric name supported with weights, for some task. */
export const WEIGHTED_METRICS: string[] = [...new Set(Object.values(WEIGHTED_METRICS_BY_TASK).flat())]

/** Whether `name` has a weighted kernel (for `task`, when given). */
export function supportsWeightedMetric(name: string, task?: Task): boolean {
  return (task ? WEIGHTED_METRICS_BY_TASK[task] : WEIGHTED_METRICS).includes(name)
}

/** Whether the model's outputs on `rows` allow `name` (label metrics need labels or probabilities, the others probabilities). */
export function hasWeightedMetric(name: string, rows: ScoredRows, side: Side): boolean {
  const model = rows[side]
  if (!model || !supportsWeightedMetric(name, rows.task)) return false
  if (rows.task === 'regression') return model.values !== undefined
  const hasProbabilities = model.proba !== undefined || (rows.task === 'binary' && model.score !== undefined)
  const needsProbabilities = METRIC_CATALOGUE[name].needs === 'probabilities'
  return hasProbabilities || (!needsProbabilities && model.predIndex !== undefined)
}

/** The metric `name` of `side`'s predictions on `rows`, each row counted `weights[i]` times (null: once). */
export function weightedMetric(name: string, rows: ScoredRows, side: Side, weights: Weights): number {
  return metricKernel(name, rows, side)(weights)
}

const kernels = new WeakMap<ScoredRows, Map<string, MetricKernel>>()

/** The prepared kernel of `name` for `side` on `rows`, made once and cached on `rows` (treat rows as immutable). */
export function metricKernel(name: string, rows: ScoredRows, side: Side): MetricKernel {
  let byName = kernels.get(rows)
  if (!byName) {
    byName = new Map()
    kernels.set(rows, byName)
  }
  const key = `${side}\u0000${name}`
  let kernel = byName.get(key)
  if (!kernel) {
    kernel = onceUnweighted(makeKernel(name, rows, side))
    byName.set(key, kernel)
  }
  return kernel
}

/**
 * The kernel with its unweighted value (null weights) kept after the first call: a comparison asks for it
 * several times per metric and side (which metrics compare, each interval's estimate, the report), and
 * a ranking metric's pass over a million rows costs ~40 ms.
 */
function onceUnweighted(kernel: MetricKernel): MetricKernel {
  let unweighted: number | undefined
  const kept: MetricKernel = (weights) => (weights === null ? (unweighted ??= kernel(null)) : kernel(weights))
  if (kernel.leaveOneOut) kept.leaveOneOut = kernel.leaveOneOut
  return kept
}

function makeKernel(name: string, rows: ScoredRows, side: Side): MetricKernel {
  if (!supportsWeightedMetric(name, rows.task)) {
    throw new Error(`no weighted ${name} for a ${rows.task} task: expected one of ${WEIGHTED_METRICS_BY_TASK[rows.task].join(', ')}`)
  }
  const model = rows[side]
  if (!model) throw new Error(`no ${side} predictions on these rows: ${name} of the ${side} cannot be computed`)
  if (rows.task === 'binary') return binaryKernel(name, rows, model)
  if (rows.task === 'multiclass') return multiclassKernel(name, rows, model)
  return regressionKernel(name, rows, model)
}
