import type { ModelRows, ScoredRows, Side } from '../evaluation/types.js'
import { bootstrapMany, metricStatistic } from '../stats/bootstrap.js'
import type { BootstrapOptions, Interval } from '../stats/types.js'
import { hasWeightedMetric, weightedMetric } from '../stats/weighted.js'

/*
 * A slice is measured on its own rows: they are copied into a ScoredRows of their own and the bootstrap
 * resamples within them. The slice's size is then fixed at the size observed, which is what its report
 * states ("n = 54"), and a resample is never empty. Resampling the whole data set and masking would make
 * the size random too (both are used for subgroup estimates; for a fixed-definition slice they give
 * nearly the same interval); within the slice costs O(slice rows) per resample instead of O(all rows).
 */

/** The rows at `index` (ascending row numbers), as a ScoredRows of their own; `columns` are not copied. */
export function subsetRows(rows: ScoredRows, index: Int32Array): ScoredRows {
  const pick = <T extends Int32Array | Float32Array | Float64Array>(a: T | undefined, width = 1): T | undefined => {
    if (a === undefined) return undefined
    const out = new (a.constructor as new (n: number) => T)(index.length * width)
    for (let k = 0; k < index.length; k++) for (let j = 0; j < width; j++) out[k * width + j] = a[index[k] * width + j]
    return out
  }
  const model = (m: ModelRows): ModelRows => ({
    predIndex: pick(m.predIndex),
    proba: pick(m.proba, m.proba ? m.proba.length / rows.n : 1),
    score: pick(m.score),
    values: pick(m.values),
  })
  return {
    n: index.length,
    task: rows.task,
    classes: rows.classes,
    positiveIndex: rows.positiveIndex,
    threshold: rows.threshold,
    eceBins: rows.eceBins,
    yTrue: pick(rows.yTrue),
    yValue: pick(rows.yValue),
    candidate: model(rows.candidate),
    baseline: rows.baseline && model(rows.baseline),
    columns: {},
  }
}

/** The row numbers where `mask` is set. */
export function indicesOf(mask: Uint8Array): Int32Array {
  let count = 0
  for (let i = 0; i < mask.length; i++) count += mask[i]
  const out = new Int32Array(count)
  for (let i = 0, k = 0; i < mask.length; i++) if (mask[i]) out[k++] = i
  return out
}

/** The metrics reported per slice when the manifest does not list them: the task's headline ones the outputs allow. */
export function defaultSliceMetrics(rows: ScoredRows): string[] {
  const headline =
    rows.task === 'binary' ? ['accuracy', 'roc_auc'] : rows.task === 'multiclass' ? ['accuracy', 'f1_macro'] : ['mae', 'rmse']
  return headline.filter((m) => hasWeightedMetric(m, rows, 'candidate'))
}

export interface Measured {
  metrics: Record<string, number>
  intervals: Record<string, Interval>
  /** The baseline model's metrics on the same rows, when it scored them. */
  baseline?: Record<string, number>
  /** Metrics the slice does not have, and why (for check messages). */
  unavailable: Record<string, string>
}

/** Each metric of the candidate (with a bootstrap interval) and of the baseline on one slice's rows. */
export function measure(sub: ScoredRows, metrics: string[], opts: BootstrapOptions): Measured {
  const out: Measured = { metrics: {}, intervals: {}, unavailable: {}, baseline: sub.baseline ? {} : undefined }
  const available = metrics.filter((m) => {
    const why = unavailableReason(sub, m, 'candidate')
    if (why) out.unavailable[m] = why
    return why === undefined
  })
  if (available.length === 0) return out
  const results = bootstrapMany(
    sub.n,
    available.map((m) => metricStatistic(m, sub, 'candidate')),
    opts,
  )
  available.forEach((m, k) => {
    out.metrics[m] = results[k].estimate
    out.intervals[m] = results[k].interval
    if (out.baseline && unavailableReason(sub, m, 'baseline') === undefined) out.baseline[m] = weightedMetric(m, sub, 'baseline', null)
  })
  return out
}

/** Why `side` has no `metric` on these rows, or undefined when it has one. */
export function unavailableReason(sub: ScoredRows, metric: string, side: Side): string | undefined {
  if (sub.n === 0) return 'the slice has no rows'
  if (!hasWeightedMetric(metric, sub, side)) return `the ${side} model's outputs do not give ${metric} for a ${sub.task} task`
  if (Number.isNaN(weightedMetric(metric, sub, side, null))) return `${metric} is undefined on the slice's rows (e.g. one class only)`
  return undefined
}
