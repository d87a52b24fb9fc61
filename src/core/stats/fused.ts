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
 * tie-group sums (whole numbers too: added in int32 within a block of rows, so exact in any order below
 * 2⁵³; a resample that reaches 2⁵³ is summed again in the kernels' order). Counts and totals of disjoint
 * row ranges add up exactly; sums to within rounding.
 *
 * The two hot loops, the row pass and the score-order pass, run as WebAssembly (`fused.wat`, the job's
 * `kernel`) over one block of rows at a time, copied into the module's memory, four resamples a call in
 * SIMD lanes: the same operations in the same order in each lane, so the same states, about three times
 * as fast as the JavaScript loops they replaced (fused.wat has the figures).
 *
 * `fusedStates` is self-contained (no imports, no closures over this module) so that a worker thread can
 * run it from its source text (see `workers.ts`); the compiled kernel travels in the job.
 */
import type { ScoredRows, Side } from '../evaluation/types.js'
import { BINARY_COUNT_METRICS, type BinaryCounts } from '../metrics/binary.js'
import { FUSED_WASM_BASE64 } from './fused-wasm.js'
import { binaryTerms } from './kernels/binary.js'
import { binaryData, predictedClasses } from './kernels/inputs.js'
import { rankedTruth } from './kernels/ranking.js'
import { POISSON1_THRESHOLDS, weightKey } from './random.js'
import { sharedArray } from './shared.js'

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
  /** `fusedKernel()`: needed unless the job only draws weights (`onResample`). */
  kernel?: WebAssembly.Module
}

let compiled: WebAssembly.Module | undefined

/** fused.wat's module, compiled once per thread (a worker gets it in its job: a module clones to workers). */
export function fusedKernel(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(FUSED_WASM_BASE64, 'base64'))
  return compiled
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
  // Rows go in blocks of BLOCK (see below). The hot loops (the row pass, the score-order passes, in
  // fused.wat) hash their rows' weights inline; the others take a block's weights from `draw`. Both are
  // random.ts poissonWeight, the same values (the tests hold these kernels to the weighted ones bit for bit).
  const BLOCK = 4096
  const drawn = new Uint8Array(BLOCK)
  /** The Poisson(1) weights, in the resample of key kb, of the rows whose first-round hashes are hashes[from .. to). */
  function draw(hashes: Int32Array, kb: number, from: number, to: number): Uint8Array {
    for (let j = from; j < to; j++) {
      let x = (hashes[j] + kb) | 0
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
      drawn[j - from] = wi
    }
    return drawn
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
      for (let i0 = rowStart; i0 < rowEnd; i0 += BLOCK) {
        const i1 = Math.min(rowEnd, i0 + BLOCK)
        const d = draw(rowHash, kb, i0, i1)
        for (let i = i0; i < i1; i++) total += w[i] = d[i - i0]
      }
      out[(b - bStart) * stride] = total
      onResample(b, w)
    }
    return out
  }
  const hasCode = code.length > 0
  const small = n < 134217728
  // Resamples in batches and rows in blocks: a block's columns stay in cache while every resample of the
  // batch passes over it. Each resample still sees its rows in ascending order (and its score order in
  // ascending order), with its running sums kept between blocks: the same arithmetic as one pass.
  const BATCH = 16 // a multiple of four: fused.wat passes four resamples a call
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
  // Per ranking and block of BLOCK positions: where the groups lying wholly inside the block begin, one past
  // its first group end (the block's start when none ends in it: no group closes there).
  const firstOpen = rankings.map(({ groupEnd }) => {
    const starts = new Int32Array(Math.ceil(groupEnd.length / BLOCK))
    for (let q = 0; q < starts.length; q++) {
      const j0 = q * BLOCK
      const j1 = Math.min(groupEnd.length, j0 + BLOCK)
      let j = j0
      while (j < j1 && groupEnd[j] !== 1) j++
      starts[q] = j < j1 ? j + 1 : j0
    }
    return starts
  })
  /** Score-order rows [j0, j1) of ranking r added to the sums at state[at .. at + 5), in doubles. */
  function doubleSums(r: number, kb: number, j0: number, j1: number, state: Float64Array, at: number): void {
    const { order, truth, groupEnd } = rankings[r]
    const hashes = rankedHashes[r]
    let negativesBelow = state[at]
    let positives = state[at + 1]
    let twiceU = state[at + 2]
    let wp = state[at + 3]
    let wn = state[at + 4]
    const d = draw(hashes, kb, j0, j1)
    for (let j = j0; j < j1; j++) {
      const row = order[j]
      const wi = row >= rowStart && row < rowEnd ? d[j - j0] : 0
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
    state[at] = negativesBelow
    state[at + 1] = positives
    state[at + 2] = twiceU
    state[at + 3] = wp
    state[at + 4] = wn
  }
  if (!job.kernel) throw new Error('fusedStates: the job has no kernel (fusedKernel())')
  // One instance per call: its memory is this call's scratch (a few pages), whatever thread runs it.
  const kernel = new WebAssembly.Instance(job.kernel).exports as {
    memory: WebAssembly.Memory
    rank4: (start: number, end: number, whole: number, rowStart: number, rowEnd: number) => void
    rows4: (count: number, slot: number, terms: number, hasCode: number) => void
  }
  const heap = kernel.memory.buffer
  // The byte offsets of the areas fused.wat's header lists.
  const area = {
    thresholds: 4096,
    lanes: 4224,
    sums: 4352,
    cells: 5376,
    totals: 6400,
    hashes: 8192,
    truth: 24576,
    groupEnd: 28672,
    code: 32768,
    order: 36864,
    terms: 53248,
  }
  // fused.wat counts the thresholds a hash reaches, which is the inverse CDF only when they ascend.
  thresholds.forEach((q, i) => {
    if (!(Number.isInteger(q) && q >= 0 && q < 4294967296)) throw new Error(`threshold ${q} is not a uint32`)
    if (i > 0 && q < thresholds[i - 1]) throw new Error('the thresholds do not ascend')
  })
  new Uint32Array(heap, area.thresholds, 12).set(thresholds)
  const lanes = new Int32Array(heap, area.lanes, 24)
  /** A block's int32 results for resample slot k (fused.wat rank4) added to its AUC sums. */
  const closeBlock = (k: number, within: number, below: number, closedPositives: number, gp: number, gn: number): void => {
    auc[5 * k + 2] += 2 * auc[5 * k] * closedPositives + within
    auc[5 * k] = (auc[5 * k] + below) | 0
    auc[5 * k + 1] = (auc[5 * k + 1] + closedPositives) | 0
    auc[5 * k + 3] = gp
    auc[5 * k + 4] = gn
  }
  const sums = new Float64Array(heap, area.sums, BATCH * 8)
  const cells = new Float64Array(heap, area.cells, BATCH * 8)
  const totals = new Float64Array(heap, area.totals, BATCH)
  const blockHashes = new Int32Array(heap, area.hashes, BLOCK)
  const blockTruth = new Uint8Array(heap, area.truth, BLOCK)
  const blockGroupEnd = new Uint8Array(heap, area.groupEnd, BLOCK)
  const blockCode = new Uint8Array(heap, area.code, BLOCK)
  const blockOrder = new Int32Array(heap, area.order, BLOCK)
  const blockTerms = [0, 1, 2, 3].map((t) => new Float64Array(heap, area.terms + t * 8 * BLOCK, BLOCK))
  const fusedTerms = Math.min(T, 4)
  for (let b0 = bStart; b0 < bEnd; b0 += BATCH) {
    const b1 = Math.min(bEnd, b0 + BATCH)
    for (let b = b0; b < b1; b++) keys[b - b0] = resampleKey(b)
    cells.fill(0)
    sums.fill(0)
    totals.fill(0)
    // A block's cell counts are int32 adds in the row loop (below 12·BLOCK), added to the doubles once per block.
    for (let i0 = rowStart; i0 < rowEnd; i0 += BLOCK) {
      const i1 = Math.min(rowEnd, i0 + BLOCK)
      blockHashes.set(rowHash.subarray(i0, i1))
      if (hasCode) blockCode.set(code.subarray(i0, i1))
      for (let t = 0; t < fusedTerms; t++) blockTerms[t].set(terms[t].subarray(i0, i1))
      for (let k0 = 0; k0 < b1 - b0; k0 += 4) {
        // Four resamples a call (fused.wat rows4); a batch's lanes past its end fill slots never read.
        for (let l = 0; l < 4; l++) lanes[l] = k0 + l < b1 - b0 ? keys[k0 + l] : 0
        kernel.rows4(i1 - i0, k0, fusedTerms, hasCode ? 1 : 0)
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
        for (let i0 = rowStart; i0 < rowEnd; i0 += BLOCK) {
          const i1 = Math.min(rowEnd, i0 + BLOCK)
          const d = draw(rowHash, kb, i0, i1)
          for (let i = i0; i < i1; i++) {
            const x = d[i - i0] * column[i]
            const s = sum + x
            compensation += (sum >= 0 ? sum : -sum) >= (x >= 0 ? x : -x) ? sum - s + x : x - s + sum
            sum = s
          }
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
        if (small) {
          blockHashes.set(hashes.subarray(j0, j1))
          blockTruth.set(truth.subarray(j0, j1))
          blockGroupEnd.set(groupEnd.subarray(j0, j1))
          if (!whole) blockOrder.set(order.subarray(j0, j1))
        }
        if (!small) {
          for (let k = 0; k < b1 - b0; k++) doubleSums(r, keys[k], j0, j1, auc, 5 * k)
          continue
        }
        // The block's first tie group closes one begun in an earlier block, whose sums may be large: that
        // row range in doubles, as the kernel. Each group closed after it lies inside the block and adds
        // wp·(2·negativesBelow + wn) = 2·wp·(negatives before the range) + wp·(2·(its negatives below
        // the group) + wn); the last terms sum to at most 2·P·N with P + N ≤ 12·BLOCK, below 2³¹, so the
        // row loop is int32 adds (fused.wat rank4) and the doubles take one add per block (a double add per
        // group costs more than the rest of the loop). Whole numbers: the same value as group by group
        // while below 2⁵³ (checked after the pass). The open group's sums go in as int32: below 12·n.
        const start = firstOpen[r][j0 / BLOCK]
        const count = b1 - b0
        // Four resamples a call, one per lane (fused.wat rank4); a batch's last lanes past its end idle.
        for (let k0 = 0; k0 < count; k0 += 4) {
          for (let l = 0; l < 4; l++) {
            const k = k0 + l
            if (k < count && start > j0) doubleSums(r, keys[k], j0, start, auc, 5 * k)
            lanes[l] = k < count ? keys[k] : 0
            lanes[4 + l] = k < count ? auc[5 * k + 3] | 0 : 0
            lanes[8 + l] = k < count ? auc[5 * k + 4] | 0 : 0
          }
          kernel.rank4(start - j0, j1 - j0, whole ? 1 : 0, rowStart, rowEnd)
          for (let l = 0; l < 4 && k0 + l < count; l++)
            closeBlock(k0 + l, lanes[12 + l], lanes[16 + l], lanes[20 + l], lanes[4 + l], lanes[8 + l])
        }
      }
      for (let k = 0; k < b1 - b0; k++) {
        if (auc[5 * k + 2] < 9007199254740992) continue
        // From 2⁵³ on the sums round, and only the kernel's order of adds gives its value: that order again.
        auc.fill(0, 5 * k, 5 * k + 5)
        for (let j0 = 0; j0 < order.length; j0 += BLOCK) doubleSums(r, keys[k], j0, Math.min(order.length, j0 + BLOCK), auc, 5 * k)
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
    code = sharedArray(Uint8Array, n) // shared with the workers (shared.ts)
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
    for (const metric of ['log_loss', 'brier'] as const) {
      if (!needs(k, metric)) continue
      termAt.set(`${k}${metric}`, terms.length)
      terms.push(binaryTerms(d, metric))
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
    job: { n, rowStart: 0, rowEnd: n, code, terms, rankings, thresholds: POISSON1_THRESHOLDS, kernel: fusedKernel() },
    stride,
    value: (s, st, at) => {
      const { metric, side } = statistics[s]
      if (side === 'delta') return sideValue(metric, 0, st, at) - sideValue(metric, 1, st, at)
      return sideValue(metric, side === 'candidate' ? 0 : 1, st, at)
    },
  }
}

export { weightKey }
