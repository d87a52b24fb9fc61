/**
 * The multiclass task's weighted kernels. The label metrics are the metrics module's own formulas
 * (`MULTICLASS_COUNT_METRICS`) applied to weighted class counts, where a class of weight 0 is absent as
 * it would be from the repeated rows; log_loss is a mean of per-row terms, one-vs-rest ROC AUC the mean
 * of one ranking kernel per class (`ranking.ts`).
 */
import type { ModelRows, ScoredRows, Weights } from '../../evaluation/types.js'
import { clipProbability } from '../../metrics/formulas.js'
import { MULTICLASS_COUNT_METRICS, assertRowsSumToOne, type ClassCounts } from '../../metrics/multiclass.js'
import { multiclassData, predictedClasses, type MulticlassData } from './inputs.js'
import { countKernel, meanOfTerms, rowTerms, weightArray, withLeaveOneOut, type MetricKernel } from './kernel.js'
import { aucLeaveOneOut, rankedTruth, weightedAuc } from './ranking.js'

/** Class counts of weighted rows, in arrays this file copies for the leave-one-out. */
interface WeightedClassCounts extends ClassCounts {
  tp: Float64Array
  trueSum: Float64Array
  predSum: Float64Array
  present: number[]
}

function classCounts(d: MulticlassData, predicted: Int32Array, weights: Weights): WeightedClassCounts {
  const w = weightArray(weights, d.n)
  const tp = new Float64Array(d.k)
  const trueSum = new Float64Array(d.k)
  const predSum = new Float64Array(d.k)
  for (let i = 0; i < d.n; i++) {
    const wi = w[i]
    const t = d.truth[i]
    const p = predicted[i]
    trueSum[t] += wi
    predSum[p] += wi
    if (t === p) tp[t] += wi
  }
  const present: number[] = []
  for (let c = 0; c < d.k; c++) if (trueSum[c] > 0 || predSum[c] > 0) present.push(c)
  return { tp, trueSum, predSum, present }
}

function withoutRow(s: WeightedClassCounts, t: number, p: number): WeightedClassCounts {
  const tp = s.tp.slice()
  const trueSum = s.trueSum.slice()
  const predSum = s.predSum.slice()
  trueSum[t]--
  predSum[p]--
  if (t === p) tp[t]--
  const present = s.present.filter((c) => trueSum[c] > 0 || predSum[c] > 0)
  return { tp, trueSum, predSum, present }
}

export function multiclassKernel(name: string, rows: ScoredRows, model: ModelRows): MetricKernel {
  const d = multiclassData(rows, model)
  const shared = MULTICLASS_COUNT_METRICS[name] as ((s: ClassCounts) => number) | undefined
  if (shared) {
    const predicted = predictedClasses(d, name)
    // Rows of total weight 0 leave no class present: nothing to average, NaN (the shared formulas only see rows that exist).
    return countKernel(
      d.n,
      (w) => classCounts(d, predicted, w),
      (s) => (s.present.length === 0 ? NaN : shared(s)),
      (i) => d.truth[i] * d.k + predicted[i],
      (full, i) => withoutRow(full, d.truth[i], predicted[i]),
    )
  }
  const proba = d.proba
  if (!proba) throw new Error(`${name} needs the model's probabilities`)
  const { n, k, truth } = d
  if (name === 'log_loss') return meanOfTerms(rowTerms(n, (i) => -Math.log(clipProbability(proba[i * k + truth[i]]))))
  if (name === 'roc_auc_ovr') {
    assertRowsSumToOne(proba, n, k)
    const columns = Array.from({ length: k }, (_, j) => {
      const column = new Float64Array(n)
      const isClass = new Uint8Array(n)
      for (let i = 0; i < n; i++) {
        column[i] = proba[i * k + j]
        isClass[i] = truth[i] === j ? 1 : 0
      }
      return rankedTruth(isClass, column)
    })
    return withLeaveOneOut(
      (weights) => {
        const w = weightArray(weights, n)
        let sum = 0
        for (const ranked of columns) sum += weightedAuc(ranked, w)
        return sum / k
      },
      () => {
        const out = new Float64Array(n)
        for (const ranked of columns) {
          const column = aucLeaveOneOut(ranked)
          for (let i = 0; i < n; i++) out[i] += column[i]
        }
        for (let i = 0; i < n; i++) out[i] /= k
        return out
      },
    )
  }
  throw new Error(`no weighted ${name} for a multiclass task`)
}
