/**
 * The fused bootstrap kernel of a binary task: each row's Poisson weight (see `random.ts`) is drawn once
 * per resample in one pass over the rows that adds it to every statistic's sufficient state at once, then
 * one pass per score order adds the ROC AUC sums (the weights hashed again from the row numbers there,
 * cheaper than a gather from a weight array at scale). Resamples go in batches of 16 and rows in blocks
 * of 4096, so a block's columns stay in cache while every resample of the batch passes over it; each
 * resample still sees its rows in ascending order, its running sums kept between blocks. The state of a
 * resample (its `stride` numbers):
 *   [0]            total weight
 *   [1 .. 8]       weighted counts of the cells truth + 2·candidate prediction + 4·baseline prediction
 *   then per column of per-row terms (log_loss, brier of one side): Neumaier sum and compensation
 *   then per score order (roc_auc of one side): 2U, weight of positives, weight of negatives.
 * A metric's value is its formula of the state (`planFused` value), with the same arithmetic in the same
 * row order as the weighted kernels (`kernels/`), so it equals the kernel on the same weight vector bit
 * for bit: the counts are sums of whole numbers, the means the kernels' Neumaier loop, ROC AUC their
 * tie-group loop. Counts and totals of disjoint row ranges add up exactly; sums to within rounding.
 *
 * `fusedStates` is self-contained (no imports, no closures over this module) so that a worker thread can
 * run it from its source text (see `workers.ts`).
 */
import type { ScoredRows, Side } from '../evaluation/types.js'
import { BINARY_COUNT_METRICS, type BinaryCounts } from '../metrics/binary.js'
import { clipProbability } from '../metrics/formulas.js'
import { binaryData, predictedClasses } from './kernels/inputs.js'
import { rankedTruth } from './kernels/ranking.js'
import { POISSON1_THRESHOLDS, weightKey } from './random.js'

/** What `fusedStates` reads: the prepared columns of the rows and which resamples to draw. */
export interface FusedJob {
  n: number
  /** `weightKey(seed)`. */
  key: number
  /** Resamples [bStart, bEnd). */
  bStart: number
  bEnd: number
  /** Rows [rowStart, rowEnd) (the whole rows unless a test splits them). */
  rowStart: number
  rowEnd: number
  /** Cell of each row (truth + 2·candidate + 4·baseline prediction), or empty when no count metric is asked for. */
  code: Uint8Array
  terms: Float64Array[]
  rankings: { order: Int32Array; truth: Uint8Array; groupEnd: Uint8Array }[]
  thresholds: readonly number[]
  /** When given (length n), the array `onResample` sees each resample's weights in. */
  weights?: Int32Array
}

export function fusedStride(terms: number, rankings: number): number {
  return 9 + 2 * terms + 3 * rankings
}

/** The states of resamples [bStart, bEnd) over rows [rowStart, rowEnd), (bEnd − bStart)·stride numbers. */
export function fusedStates(job: FusedJob, onResample?: (b: number, w: Int32Array) => void): Float64Array {
  const imul = Math.imul
  const { n, key, bStart, bEnd, rowStart, rowEnd, code, terms, rankings } = job
  const thresholds = job.thresholds
  // table[h] = the count of every u with u >>> 20 = h, or 255 where a threshold falls inside that cell.
  const table = new Uint8Array(4096)
  for (let h = 0; h < 4096; h++) {
    let lo = 0
    let hi = 0
    while (lo < 12 && h * 1048576 >= thresholds[lo]) lo++
    while (hi < 12 && h * 1048576 + 1048575 >= thresholds[hi]) hi++
    table[h] = lo === hi ? lo : 255
  }
  /** Resample b's key (random.ts resampleKey). */
  const resampleKey = (b: number): number => {
    let k = (key + imul(b + 1, 0x9e3779b9)) | 0
    k ^= k >>> 16
    k = imul(k, 0x7feb352d)
    k ^= k >>> 15
    k = imul(k, 0x846ca68b)
    return k ^ (k >>> 16)
  }
  // The first of the two hash rounds of a weight depends on the row only: done once per row here, so a
  // resample pays one round per row (random.ts poissonWeight; the same values).
  const rowHash = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    let x = i ^ key
    x ^= x >>> 16
    x = imul(x, 0x7feb352d)
    x ^= x >>> 15
    x = imul(x, 0x846ca68b)
    rowHash[i] = x ^ (x >>> 16)
  }
  /** Row i's Poisson(1) weight in the resample of key kb (random.ts poissonWeight). */
  const weight = (i: number, kb: number): number => weightOfHash(rowHash[i], kb)
  /** The weight from the row's first-round hash h. */
  const weightOfHash = (h: number, kb: number): number => {
    let x = (h + kb) | 0
    x ^= x >>> 16
    x = imul(x, 0x7feb352d)
    x ^= x >>> 15
    x = imul(x, 0x846ca68b)
    x ^= x >>> 16
    // Poisson(1) by inverse CDF: the top 12 bits give the count but in the few cells a threshold cuts.
    let wi = table[x >>> 20]
    if (wi === 255) {
      const u = x >>> 0
      wi = 0
      while (wi < 12 && u >= thresholds[wi]) wi++
    }
    return wi
  }
  const T = terms.length
  const R = rankings.length
  const stride = 9 + 2 * T + 3 * R
  const out = new Float64Array((bEnd - bStart) * stride)
  if (onResample) {
    // Weights only, one resample at a time, for the statistics outside the fused set.
    const w = job.weights ?? new Int32Array(n)
    w.fill(0)
    for (let b = bStart; b < bEnd; b++) {
      const kb = resampleKey(b)
      let total = 0
      for (let i = rowStart; i < rowEnd; i++) total += w[i] = weight(i, kb)
      out[(b - bStart) * stride] = total
      onResample(b, w)
    }
    return out
  }
  const hasCode = code.length > 0
  const small = n < 134217728
  const none = new Float64Array(0)
  const [t0, t1, t2, t3] = [terms[0] ?? none, terms[1] ?? none, terms[2] ?? none, terms[3] ?? none]
  // Resamples in batches and rows in blocks: a block's columns stay in cache while every resample of the
  // batch passes over it. Each resample still sees its rows in ascending order (and its score order in
  // ascending order), with its running sums kept between blocks: the same arithmetic as one pass.
  const BATCH = 16
  const BLOCK = 4096
  const cells = new Float64Array(BATCH * 8)
  const sums = new Float64Array(BATCH * 8)
  const auc = new Float64Array(BATCH * 5)
  const keys = new Int32Array(BATCH)
  // The rows' first-round hashes in each score order, read in step with it (a weight outside this job's
  // rows is 0, checked on the row number).
  const rankedHashes = rankings.map(({ order }) => {
    const hashes = new Int32Array(order.length)
    for (let j = 0; j < order.length; j++) hashes[j] = rowHash[order[j]]
    return hashes
  })
  const whole = rowStart === 0 && rowEnd === n
  // Per ranking and block of BLOCK rows: 1 when every row in it is its own tie group, so also when no group
  // runs into it from the block before (that block's last row ends a group): the fast loop below drops
  // the open group's wp, wn.
  const untied = rankings.map(({ groupEnd }) => {
    const flags = new Uint8Array(Math.ceil(groupEnd.length / BLOCK))
    for (let q = 0; q < flags.length; q++) {
      let all = 1
      for (let j = Math.max(0, q * BLOCK - 1), end = Math.min(groupEnd.length, q * BLOCK + BLOCK); j < end; j++) all &= groupEnd[j]
      flags[q] = all
    }
    return flags
  })
  for (let b0 = bStart; b0 < bEnd; b0 += BATCH) {
    const b1 = Math.min(bEnd, b0 + BATCH)
    for (let b = b0; b < b1; b++) keys[b - b0] = resampleKey(b)
    cells.fill(0)
    sums.fill(0)
    const totals = new Float64Array(BATCH)
    for (let i0 = rowStart; i0 < rowEnd; i0 += BLOCK) {
      const i1 = Math.min(rowEnd, i0 + BLOCK)
      for (let k = 0; k < b1 - b0; k++) {
        const kb = keys[k]
        let total = totals[k]
        const c = k * 8
        let s0 = sums[c]
        let c0 = sums[c + 1]
        let s1 = sums[c + 2]
        let c1 = sums[c + 3]
        let s2 = sums[c + 4]
        let c2 = sums[c + 5]
        let s3 = sums[c + 6]
        let c3 = sums[c + 7]
        for (let i = i0; i < i1; i++) {
          const wi = weight(i, kb)
          total += wi
          if (hasCode) cells[c + code[i]] += wi
          // The first four columns of terms (the kernels' Neumaier loop, kernels/kernel.ts weightedAverage).
          if (T > 0) {
            const x = wi * t0[i]
            const s = s0 + x
            c0 += (s0 >= 0 ? s0 : -s0) >= (x >= 0 ? x : -x) ? s0 - s + x : x - s + s0
            s0 = s
          }
          if (T > 1) {
            const x = wi * t1[i]
            const s = s1 + x
            c1 += (s1 >= 0 ? s1 : -s1) >= (x >= 0 ? x : -x) ? s1 - s + x : x - s + s1
            s1 = s
          }
          if (T > 2) {
            const x = wi * t2[i]
            const s = s2 + x
            c2 += (s2 >= 0 ? s2 : -s2) >= (x >= 0 ? x : -x) ? s2 - s + x : x - s + s2
            s2 = s
          }
          if (T > 3) {
            const x = wi * t3[i]
            const s = s3 + x
            c3 += (s3 >= 0 ? s3 : -s3) >= (x >= 0 ? x : -x) ? s3 - s + x : x - s + s3
            s3 = s
          }
        }
        totals[k] = total
        sums[c] = s0
        sums[c + 1] = c0
        sums[c + 2] = s1
        sums[c + 3] = c1
        sums[c + 4] = s2
        sums[c + 5] = c2
        sums[c + 6] = s3
        sums[c + 7] = c3
      }
    }
    for (let b = b0; b < b1; b++) {
      const k = b - b0
      const at = (b - bStart) * stride
      out[at] = totals[k]
      for (let cell = 0; cell < 8; cell++) out[at + 1 + cell] = cells[k * 8 + cell]
      for (let t = 0; t < Math.min(T, 4); t++) {
        out[at + 9 + 2 * t] = sums[k * 8 + 2 * t]
        out[at + 10 + 2 * t] = sums[k * 8 + 2 * t + 1]
      }
    }
    for (let t = 4; t < T; t++) {
      // Columns beyond four (not made by planFused): a pass of their own per resample.
      const column = terms[t]
      for (let b = b0; b < b1; b++) {
        const kb = keys[b - b0]
        let sum = 0
        let compensation = 0
        for (let i = rowStart; i < rowEnd; i++) {
          const x = weight(i, kb) * column[i]
          const s = sum + x
          compensation += (sum >= 0 ? sum : -sum) >= (x >= 0 ? x : -x) ? sum - s + x : x - s + sum
          sum = s
        }
        out[(b - bStart) * stride + 9 + 2 * t] = sum
        out[(b - bStart) * stride + 10 + 2 * t] = compensation
      }
    }
    for (let r = 0; r < R; r++) {
      // kernels/ranking.ts weightedAuc, by tie group in ascending score order; each row's weight hashed
      // again from its number (cheaper than a gather from a weight array at scale).
      const { order, truth, groupEnd } = rankings[r]
      const hashes = rankedHashes[r]
      auc.fill(0)
      for (let j0 = 0; j0 < order.length; j0 += BLOCK) {
        const j1 = Math.min(order.length, j0 + BLOCK)
        for (let k = 0; k < b1 - b0; k++) {
          const kb = keys[k]
          let negativesBelow = auc[5 * k]
          let positives = auc[5 * k + 1]
          let twiceU = auc[5 * k + 2]
          let wp = auc[5 * k + 3]
          let wn = auc[5 * k + 4]
          if (small && whole && untied[r][j0 / BLOCK] === 1) {
            // A block of distinct scores, every row its own tie group, all rows this job's: the loop below
            // with its group ends folded in (wp, wn are this row's alone; adding 0 leaves twiceU as it is).
            for (let j = j0; j < j1; j++) {
              const wi = weightOfHash(hashes[j], kb)
              const positive = wi & -truth[j]
              twiceU += positive * ((2 * negativesBelow) | 0)
              negativesBelow = (negativesBelow + wi - positive) | 0
              positives = (positives + positive) | 0
            }
          } else if (small) {
            // Weight sums below 2³¹ (n < 2²⁷ rows, weights ≤ 12): int32 arithmetic, exact as the doubles are.
            for (let j = j0; j < j1; j++) {
              const row = order[j]
              const wi = row >= rowStart && row < rowEnd ? weightOfHash(hashes[j], kb) : 0
              // Branch-free: truth is random in score order.
              const positive = wi & -truth[j]
              wp = (wp + positive) | 0
              wn = (wn + wi - positive) | 0
              if (groupEnd[j] === 1) {
                twiceU += wp * ((2 * negativesBelow + wn) | 0)
                negativesBelow = (negativesBelow + wn) | 0
                positives = (positives + wp) | 0
                wp = 0
                wn = 0
              }
            }
          } else {
            for (let j = j0; j < j1; j++) {
              const row = order[j]
              const wi = row >= rowStart && row < rowEnd ? weightOfHash(hashes[j], kb) : 0
              const positive = wi * truth[j]
              wp += positive
              wn += wi - positive
              if (groupEnd[j] === 1) {
                twiceU += wp * (2 * negativesBelow + wn)
                negativesBelow += wn
                positives += wp
                wp = 0
                wn = 0
              }
            }
          }
          auc[5 * k] = negativesBelow
          auc[5 * k + 1] = positives
          auc[5 * k + 2] = twiceU
          auc[5 * k + 3] = wp
          auc[5 * k + 4] = wn
        }
      }
      for (let b = b0; b < b1; b++) {
        const k = b - b0
        const base = (b - bStart) * stride + 9 + 2 * T + 3 * r
        out[base] = auc[5 * k + 2]
        out[base + 1] = auc[5 * k + 1]
        out[base + 2] = auc[5 * k]
      }
    }
  }
  return out
}

/** A fused statistic: metric of one side, or candidate − baseline. */
export interface FusedStatistic {
  metric: string
  side: Side | 'delta'
}

const TERM_METRICS = new Set(['log_loss', 'brier'])

/** Whether the fused kernel computes `metric` (binary count metrics, log_loss, brier, roc_auc). */
export function fusable(metric: string): boolean {
  return metric === 'mcc' || metric in BINARY_COUNT_METRICS || TERM_METRICS.has(metric) || metric === 'roc_auc'
}

/** mcc of rows of total weight 0 is NaN (as in kernels/binary.ts). */
function mccOfCounts(c: BinaryCounts): number {
  return c.tp + c.tn + c.fp + c.fn === 0 ? NaN : BINARY_COUNT_METRICS.mcc(c)
}

/** The columns of `rows` the statistics need, and each statistic's value from a state. */
export interface FusedPlan {
  job: Omit<FusedJob, 'key' | 'bStart' | 'bEnd'>
  stride: number
  /** The value of statistic s from the state at states[at .. at + stride). */
  value: (s: number, states: Float64Array, at: number) => number
}

export function planFused(rows: ScoredRows, statistics: FusedStatistic[]): FusedPlan {
  if (rows.task !== 'binary') throw new Error('the fused kernel is for binary tasks')
  const n = rows.n
  const sides: Side[] = ['candidate', 'baseline']
  const data = sides.map((side) => {
    const model = rows[side]
    return model && statistics.some((s) => s.side === side || s.side === 'delta') ? binaryData(rows, model) : undefined
  })
  const needs = (side: number, metric: string) =>
    statistics.some((s) => s.metric === metric && (s.side === sides[side] || s.side === 'delta'))
  const counted = statistics.some((s) => s.metric === 'mcc' || s.metric in BINARY_COUNT_METRICS)
  let code = new Uint8Array(0)
  if (counted) {
    code = new Uint8Array(n)
    for (let k = 0; k < 2; k++) {
      const d = data[k]
      if (!d) continue
      const uses = statistics.find(
        (s) => (s.metric === 'mcc' || s.metric in BINARY_COUNT_METRICS) && (s.side === sides[k] || s.side === 'delta'),
      )
      if (!uses) continue
      const predicted = predictedClasses(d, uses.metric)
      for (let i = 0; i < n; i++) code[i] |= predicted[i] << (k + 1)
    }
    const truth = (data[0] ?? data[1])!.truth
    for (let i = 0; i < n; i++) code[i] |= truth[i]
  }
  const terms: Float64Array[] = []
  const termAt = new Map<string, number>()
  const rankings: FusedJob['rankings'] = []
  const rankingAt = new Map<string, number>()
  for (let k = 0; k < 2; k++) {
    const d = data[k]
    if (!d) continue
    const score = d.score
    for (const metric of ['log_loss', 'brier']) {
      if (!needs(k, metric)) continue
      if (!score) throw new Error(`${metric} needs the model's probabilities`)
      const column = new Float64Array(n)
      // The kernels' own terms (kernels/binary.ts).
      if (metric === 'log_loss')
        for (let i = 0; i < n; i++) column[i] = -Math.log(clipProbability(d.truth[i] === 1 ? score[i] : 1 - score[i]))
      else for (let i = 0; i < n; i++) column[i] = (d.truth[i] - score[i]) ** 2
      termAt.set(`${k}${metric}`, terms.length)
      terms.push(column)
    }
    if (needs(k, 'roc_auc')) {
      if (!score) throw new Error("roc_auc needs the model's probabilities")
      rankingAt.set(`${k}`, rankings.length)
      rankings.push(rankedTruth(d.truth, score))
    }
  }
  const stride = fusedStride(terms.length, rankings.length)
  const sideValue = (metric: string, k: number, st: Float64Array, at: number): number => {
    if (metric === 'roc_auc') {
      const base = at + 9 + 2 * terms.length + 3 * rankingAt.get(`${k}`)!
      const positives = st[base + 1]
      const negatives = st[base + 2]
      if (positives === 0 || negatives === 0) return NaN
      return st[base] / (2 * positives * negatives)
    }
    const t = termAt.get(`${k}${metric}`)
    if (t !== undefined) {
      const total = st[at]
      return total === 0 ? NaN : (st[at + 9 + 2 * t] + st[at + 10 + 2 * t]) / total
    }
    const c: BinaryCounts = { tp: 0, fp: 0, fn: 0, tn: 0 }
    const bit = 2 << k
    for (let cell = 0; cell < 8; cell++) {
      const count = st[at + 1 + cell]
      const truth = cell & 1
      const predicted = cell & bit ? 1 : 0
      if (truth && predicted) c.tp += count
      else if (truth) c.fn += count
      else if (predicted) c.fp += count
      else c.tn += count
    }
    const formula = metric === 'mcc' ? mccOfCounts : BINARY_COUNT_METRICS[metric]
    return formula(c)
  }
  return {
    job: { n, rowStart: 0, rowEnd: n, code, terms, rankings, thresholds: POISSON1_THRESHOLDS },
    stride,
    value: (s, st, at) => {
      const { metric, side } = statistics[s]
      if (side === 'delta') return sideValue(metric, 0, st, at) - sideValue(metric, 1, st, at)
      return sideValue(metric, side === 'candidate' ? 0 : 1, st, at)
    },
  }
}

export { weightKey }
