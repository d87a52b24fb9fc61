/**
 * DeLong, DeLong & Clarke-Pearson (1988): the variance of the difference of two correlated ROC AUCs on
 * the same rows, from the per-row structural components (placement values) of each AUC; computed with
 * the O(n log n) midrank algorithm of Sun & Xu, "Fast implementation of DeLong's algorithm for comparing
 * the areas under correlated receiver operating characteristic curves" (IEEE Signal Processing Letters
 * 21, 2014). The fixture script re-implements the same paper in numpy after the widely used
 * `compare_auc_delong_xu` routine (yandexdataschool/roc_comparison) and checks the AUCs against
 * scikit-learn's `roc_auc_score` (`scripts/fixtures/stats_delong.py`).
 *
 * Needs at least two positive and two negative rows (the covariances divide by m − 1 and n − 1); throws
 * otherwise. When the variance of the difference is 0 (identical rankings) z is 0 for a zero difference
 * (p = 1) and ±∞ otherwise (p = 0).
 */
import { assertFinite } from '../metrics/validate.js'
import { normalQuantile, normalSf } from './normal.js'
import { argsortFloat64, rankingOf } from './order.js'
import type { Interval } from './types.js'

export interface DeLongResult {
  aucA: number
  aucB: number
  /** aucA − aucB. */
  delta: number
  /** Standard error of delta. */
  se: number
  z: number
  /** Two-sided p-value of delta = 0. */
  pValue: number
  /** Wald interval delta ± Φ⁻¹((1 + confidence)/2)·se. */
  interval(confidence: number): Interval
}

/** 1-based ranks of `values`, ties given their mean rank (scipy `rankdata(method='average')`). */
export function midranks(values: ArrayLike<number>): Float64Array {
  const order = argsortFloat64(values)
  const ranks = new Float64Array(values.length)
  let i = 0
  while (i < order.length) {
    let j = i
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++
    const rank = (i + j) / 2 + 1
    for (let k = i; k <= j; k++) ranks[order[k]] = rank
    i = j + 1
  }
  return ranks
}

/**
 * AUC and the structural components V10 (one per positive) and V01 (one per negative) of one score. The
 * three sets of midranks Sun & Xu sort for (of the positives, of the negatives, of all rows) come from one
 * walk over the score's cached ascending order (`order.ts`, the one the bootstrap's ROC AUC uses): in a run
 * of tied scores at positions [start, end) holding p positives after P earlier ones, every row's midrank
 * among all rows is (start + end − 1)/2 + 1 and a positive's among the positives (P + P + p − 1)/2 + 1,
 * the same arithmetic as `midranks` on each set.
 */
function components(score: ArrayLike<number>, yTrue: ArrayLike<number>, positive: Int32Array, negative: Int32Array) {
  const m = positive.length
  const n = negative.length
  const { order, groupEnds } = rankingOf(score instanceof Float64Array ? score : Float64Array.from(score))
  const rankAll = new Float64Array(order.length)
  const rankWithin = new Float64Array(order.length)
  let start = 0
  let positivesBefore = 0
  let negativesBefore = 0
  for (let g = 0; g < groupEnds.length; g++) {
    const end = groupEnds[g]
    let p = 0
    for (let j = start; j < end; j++) p += yTrue[order[j]] === 1 ? 1 : 0
    const q = end - start - p
    const all = (start + end - 1) / 2 + 1
    const amongPositives = (positivesBefore + positivesBefore + p - 1) / 2 + 1
    const amongNegatives = (negativesBefore + negativesBefore + q - 1) / 2 + 1
    for (let j = start; j < end; j++) {
      const row = order[j]
      rankAll[row] = all
      rankWithin[row] = yTrue[row] === 1 ? amongPositives : amongNegatives
    }
    positivesBefore += p
    negativesBefore += q
    start = end
  }
  const v10 = new Float64Array(m)
  const v01 = new Float64Array(n)
  let rankSum = 0
  for (let i = 0; i < m; i++) {
    const row = positive[i]
    rankSum += rankAll[row]
    v10[i] = (rankAll[row] - rankWithin[row]) / n
  }
  for (let j = 0; j < n; j++) {
    const row = negative[j]
    v01[j] = 1 - (rankAll[row] - rankWithin[row]) / m
  }
  // The Mann–Whitney U is a sum of half-integers, exact in a double: one rounding, as roc_auc_score.
  const auc = (rankSum - (m * (m + 1)) / 2) / (m * n)
  return { auc, v10, v01 }
}

/** Sample covariance (ddof 1) of two equally long arrays. */
function covariance(x: Float64Array, y: Float64Array): number {
  let mx = 0
  let my = 0
  for (let i = 0; i < x.length; i++) {
    mx += x[i]
    my += y[i]
  }
  mx /= x.length
  my /= y.length
  let s = 0
  for (let i = 0; i < x.length; i++) s += (x[i] - mx) * (y[i] - my)
  return s / (x.length - 1)
}

/** DeLong's test of AUC(scoreA) = AUC(scoreB) on the same rows; yTrue is 1 (positive) or 0 per row. */
export function delong(yTrue: ArrayLike<number>, scoreA: ArrayLike<number>, scoreB: ArrayLike<number>): DeLongResult {
  if (scoreA.length !== yTrue.length || scoreB.length !== yTrue.length) {
    throw new Error(`DeLong needs paired rows: yTrue ${yTrue.length}, scoreA ${scoreA.length}, scoreB ${scoreB.length}`)
  }
  assertFinite('scoreA', scoreA)
  assertFinite('scoreB', scoreB)
  const positive: number[] = []
  const negative: number[] = []
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] === 1) positive.push(i)
    else if (yTrue[i] === 0) negative.push(i)
    else throw new Error(`yTrue[${i}] = ${String(yTrue[i])}: expected 1 (positive class) or 0 (negative)`)
  }
  if (positive.length < 2 || negative.length < 2) {
    throw new Error(`DeLong needs at least 2 positive and 2 negative rows, got ${positive.length} and ${negative.length}`)
  }
  const pos = Int32Array.from(positive)
  const neg = Int32Array.from(negative)
  const a = components(scoreA, yTrue, pos, neg)
  const b = components(scoreB, yTrue, pos, neg)
  const m = pos.length
  const n = neg.length
  const variance =
    (covariance(a.v10, a.v10) + covariance(b.v10, b.v10) - 2 * covariance(a.v10, b.v10)) / m +
    (covariance(a.v01, a.v01) + covariance(b.v01, b.v01) - 2 * covariance(a.v01, b.v01)) / n
  // Rounding can leave a tiny negative variance for identical rankings.
  const se = Math.sqrt(Math.max(0, variance))
  const delta = a.auc - b.auc
  const z = se === 0 ? (delta === 0 ? 0 : delta > 0 ? Infinity : -Infinity) : delta / se
  return {
    aucA: a.auc,
    aucB: b.auc,
    delta,
    se,
    z,
    pValue: Math.min(1, 2 * normalSf(Math.abs(z))),
    interval(confidence: number): Interval {
      if (!(confidence > 0 && confidence < 1)) throw new Error(`confidence = ${String(confidence)} must lie strictly between 0 and 1`)
      const half = normalQuantile((1 + confidence) / 2) * se
      return { low: delta - half, high: delta + half, confidence, method: 'delong' }
    },
  }
}
