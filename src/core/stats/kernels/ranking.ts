/**
 * The ranking metrics with weights: ROC AUC (binary, and per class for one-vs-rest) and average precision.
 * Both walk the score order that `order.ts` caches per score column, so a bootstrap resample costs one
 * linear pass whatever its weights; ROC AUC's leave-one-out comes from placement values, average precision
 * has none (a row's removal moves every later precision).
 */
import { Sum } from '../../metrics/sum.js'
import { rankingOf } from '../order.js'
import { sharedArray } from '../shared.js'

/** Rows in ascending score order with their class indicator, and where each run of tied scores ends. */
export interface RankedTruth {
  order: Int32Array
  /** truth of order[j]. */
  truth: Uint8Array
  /** 1 at the last position of each run of tied scores. */
  groupEnd: Uint8Array
}

const ranked = new WeakMap<Float64Array, { truth: ArrayLike<number>; ranked: RankedTruth }>()

/** `truth` in the order of `score` (cached per score column and truth array: the kernels and the fused bootstrap share it). */
export function rankedTruth(truth: ArrayLike<number>, score: Float64Array): RankedTruth {
  const hit = ranked.get(score)
  if (hit?.truth === truth) return hit.ranked
  const r = makeRankedTruth(truth, score)
  ranked.set(score, { truth, ranked: r })
  return r
}

function makeRankedTruth(truth: ArrayLike<number>, score: Float64Array): RankedTruth {
  const { order, groupEnds } = rankingOf(score)
  // Shared, as the order (order.ts): the fused bootstrap's workers read them without a copy each.
  const sortedTruth = sharedArray(Uint8Array, order.length)
  for (let j = 0; j < order.length; j++) sortedTruth[j] = truth[order[j]] === 1 ? 1 : 0
  const groupEnd = sharedArray(Uint8Array, order.length)
  for (let g = 0; g < groupEnds.length; g++) groupEnd[groupEnds[g] - 1] = 1
  return { order, truth: sortedTruth, groupEnd }
}

/**
 * ROC AUC as the weighted Mann–Whitney statistic: Σ over positives of the weight of negatives scored below
 * plus half those tied, over (weight of positives)·(weight of negatives); one pass over the cached order,
 * tie group by tie group. With whole-number weights every sum is an integer, so the result is exactly
 * scikit-learn's trapezoidal area on the repeated rows.
 */
export function weightedAuc(r: RankedTruth, w: Int32Array | Float64Array): number {
  const { order, truth, groupEnd } = r
  let negativesBelow = 0
  let positives = 0
  let twiceU = 0
  let wp = 0
  let wn = 0
  for (let j = 0; j < order.length; j++) {
    const wi = w[order[j]]
    if (truth[j] === 1) wp += wi
    else wn += wi
    if (groupEnd[j] === 1) {
      twiceU += wp * (2 * negativesBelow + wn)
      negativesBelow += wn
      positives += wp
      wp = 0
      wn = 0
    }
  }
  if (positives === 0 || negativesBelow === 0) return NaN
  return twiceU / (2 * positives * negativesBelow)
}

/**
 * ROC AUC with each row left out, from placement values: a positive's share of the Mann–Whitney count is
 * the negatives below it plus half those tied, a negative's the positives above it plus half those tied;
 * leaving a row out removes its share and shrinks its class by one.
 */
export function aucLeaveOneOut(r: RankedTruth): Float64Array {
  const { order, truth, groupEnd } = r
  const n = order.length
  let positives = 0
  for (let j = 0; j < n; j++) positives += truth[j]
  const negatives = n - positives
  const out = new Float64Array(n)
  // twice each row's share, filled run by run of tied scores.
  const share = new Float64Array(n)
  let negativesBelow = 0
  let positivesBelow = 0
  let twiceU = 0
  let start = 0
  for (let j = 0; j < n; j++) {
    if (groupEnd[j] !== 1) continue
    let p = 0
    for (let q = start; q <= j; q++) p += truth[q]
    const m = j + 1 - start - p
    for (let q = start; q <= j; q++) {
      share[q] = truth[q] === 1 ? 2 * negativesBelow + m : 2 * (positives - positivesBelow - p) + p
    }
    twiceU += p * (2 * negativesBelow + m)
    negativesBelow += m
    positivesBelow += p
    start = j + 1
  }
  for (let j = 0; j < n; j++) {
    const P = positives - truth[j]
    const N = negatives - (1 - truth[j])
    out[order[j]] = P === 0 || N === 0 ? NaN : (twiceU - share[j]) / (2 * P * N)
  }
  return out
}

/**
 * Average precision Σ (R_k − R_{k−1})·P_k over the distinct scores from the highest down (scikit-learn's
 * step rule, ties one threshold), with weighted cumulative counts; 0 when no positive has weight.
 */
export function weightedAveragePrecision(r: RankedTruth, w: Int32Array | Float64Array): number {
  const { order, truth, groupEnd } = r
  const sum = new Sum()
  let tp = 0
  let fp = 0
  let wp = 0
  let wn = 0
  for (let j = order.length - 1; j >= 0; j--) {
    const wi = w[order[j]]
    if (truth[j] === 1) wp += wi
    else wn += wi
    // Descending, a run of ties ends where the next (lower) position closes the previous run.
    if (j === 0 || groupEnd[j - 1] === 1) {
      tp += wp
      fp += wn
      if (wp !== 0) sum.add(wp * (tp / (tp + fp)))
      wp = 0
      wn = 0
    }
  }
  if (tp + fp === 0) return NaN
  return tp === 0 ? 0 : sum.value / tp
}
