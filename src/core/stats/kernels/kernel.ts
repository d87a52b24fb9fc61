/**
 * What a weighted metric kernel is, and the pieces every task's kernels share: weights as a typed array,
 * and the weighted mean of per-row terms that most metrics are (log_loss, brier, mae, mse, …), with its
 * exact leave-one-out, and the kernel of a metric of confusion counts. Kept apart from the tasks' kernels
 * so that each of those files is one task.
 */
import type { Weights } from '../../evaluation/types.js'
import { Sum } from '../../metrics/sum.js'
import { sharedArray } from '../shared.js'

// Module-level bindings: inside a vm context (jest) each global `Math` lookup in a hot loop costs ~100×.
const { abs } = Math

/**
 * A prepared metric: weights (or null) → value. `leaveOneOut`, when present, gives the metric on the data
 * with each row left out in turn (every other row once), exactly, in O(n): the BCa jackknife.
 */
export type MetricKernel = ((weights: Weights) => number) & { leaveOneOut?: () => Float64Array }

export function withLeaveOneOut(kernel: (weights: Weights) => number, leaveOneOut: () => Float64Array): MetricKernel {
  return Object.assign(kernel, { leaveOneOut })
}

/** Per-row weights as a typed array of length n: `null` becomes ones (one shared array per n). */
export function weightArray(weights: Weights, n: number): Int32Array | Float64Array {
  if (weights === null) return onesOf(n)
  if (weights.length !== n) throw new Error(`weights have length ${weights.length} but there are ${n} rows`)
  return weights
}

const ones = new Map<number, Int32Array>()
function onesOf(n: number): Int32Array {
  let w = ones.get(n)
  if (!w) {
    w = new Int32Array(n).fill(1)
    if (ones.size > 16) ones.clear()
    ones.set(n, w)
  }
  return w
}

/**
 * The kernel of a metric of confusion counts: `formula` of the weighted `counts`. Leaving a row out takes
 * one from its cell (`cell(i)`; `without(full, i)` is the counts less row i), so the leave-one-out has one
 * value per cell, each computed once.
 */
export function countKernel<Counts>(
  n: number,
  counts: (weights: Weights) => Counts,
  formula: (counts: Counts) => number,
  cell: (i: number) => number,
  without: (full: Counts, i: number) => Counts,
): MetricKernel {
  return withLeaveOneOut(
    (w) => formula(counts(w)),
    () => {
      const full = counts(null)
      const byCell = new Map<number, number>()
      // Plain loops here and below: a typed array's `from` with a mapping function took ~0.15 s a million rows.
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) {
        const c = cell(i)
        let value = byCell.get(c)
        if (value === undefined) {
          value = formula(without(full, i))
          byCell.set(c, value)
        }
        out[i] = value
      }
      return out
    },
  )
}

/** Each row's term, computed once when the kernel is made. */
export function rowTerms(n: number, term: (i: number) => number): Float64Array {
  // Shared: the fused bootstrap's workers read the columns without a copy each.
  const terms = sharedArray(Float64Array, n)
  for (let i = 0; i < n; i++) terms[i] = term(i)
  return terms
}

/** The kernel Σ w·term / Σ w (then `outer`, e.g. √ for rmse). */
export function meanOfTerms(terms: Float64Array, outer: (mean: number) => number = (m) => m): MetricKernel {
  return withLeaveOneOut(
    (w) => outer(weightedAverage(terms, weightArray(w, terms.length))),
    () => {
      const n = terms.length
      const sum = new Sum()
      for (let i = 0; i < n; i++) sum.add(terms[i])
      const total = sum.value
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) out[i] = n > 1 ? outer((total - terms[i]) / (n - 1)) : NaN
      return out
    },
  )
}

/**
 * Σ w·term / Σ w with Neumaier compensation (as `Sum`, inlined: this is the bootstrap's inner loop); NaN
 * on total weight 0.
 */
function weightedAverage(terms: Float64Array, w: Int32Array | Float64Array): number {
  let total = 0
  let sum = 0
  let compensation = 0
  for (let i = 0; i < terms.length; i++) {
    // No skip of zero weights: a data-dependent branch costs more than the multiply-add it saves.
    const wi = w[i]
    total += wi
    const x = wi * terms[i]
    const t = sum + x
    compensation += abs(sum) >= abs(x) ? sum - t + x : x - t + sum
    sum = t
  }
  return total === 0 ? NaN : (sum + compensation) / total
}
