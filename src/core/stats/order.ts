/**
 * The ascending order of a score column and its runs of tied scores, computed once per score array and
 * cached (keyed on the array, so it goes when the array goes): every weighted ROC AUC / average precision
 * after the first is then one linear pass over this order, whatever the weights.
 */
import { sharedArray } from './shared.js'

export interface Ranking {
  /** Row indices by ascending score; ties keep row order. */
  order: Int32Array
  /** End (exclusive, in `order` positions) of each run of equal scores, ascending. */
  groupEnds: Int32Array
}

const cache = new WeakMap<Float64Array, Ranking>()

/** The ranking of `scores` (finite numbers; −0 ties with 0), from the cache when already made. */
export function rankingOf(scores: Float64Array): Ranking {
  let ranking = cache.get(scores)
  if (!ranking) {
    ranking = makeRanking(scores)
    cache.set(scores, ranking)
  }
  return ranking
}

function makeRanking(scores: Float64Array): Ranking {
  const order = argsortFloat64(scores)
  const ends = new Int32Array(scores.length)
  let groups = 0
  for (let j = 1; j < order.length; j++) if (scores[order[j]] !== scores[order[j - 1]]) ends[groups++] = j
  if (order.length > 0) ends[groups++] = order.length
  return { order, groupEnds: ends.slice(0, groups) }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * Stable ascending argsort of finite float64 values: LSD radix sort on the IEEE-754 bits (16-bit passes,
 * a pass skipped when all keys share its digit) carrying the row index, as `metrics/sort.ts` sorts
 * values; a comparator sort below 512 values or on a big-endian host. Scores that are all float32 (an
 * ONNX model's probabilities, widened exactly) sort on their 32-bit patterns: the same order, since
 * widening keeps the IEEE order, in half the passes and half the scratch (at 10M rows 160 MB, not 320).
 */
export function argsortFloat64(values: ArrayLike<number>): Int32Array {
  const n = values.length
  if (!LITTLE_ENDIAN || n < 512) {
    const order = Array.from({ length: n }, (_, i) => i)
    order.sort((a, b) => values[a] - values[b] || a - b)
    return Int32Array.from(order)
  }
  return argsortByBits(values, everyFloat32(values) ? 32 : 64)
}

function everyFloat32(values: ArrayLike<number>): boolean {
  const f = Math.fround
  for (let i = 0; i < values.length; i++) if (f(values[i]) !== values[i]) return false
  return true
}

/** The radix argsort on the values' float32 (when each is one: the caller checks) or float64 bit patterns. */
export function argsortByBits(values: ArrayLike<number>, width: 32 | 64): Int32Array {
  const n = values.length
  // Order-preserving unsigned keys, least significant word first: negative floats flip all bits, the
  // others only the sign bit.
  let keys: Uint32Array[]
  if (width === 32) {
    const key = new Uint32Array(Float32Array.from(values).buffer)
    for (let i = 0; i < n; i++) key[i] = key[i] & 0x80000000 ? ~key[i] : key[i] | 0x80000000
    keys = [key]
  } else {
    const words = new Uint32Array(Float64Array.from(values).buffer)
    const lo = new Uint32Array(n)
    const hi = new Uint32Array(n)
    for (let i = 0; i < n; i++) {
      const h = words[2 * i + 1]
      if (h & 0x80000000) {
        lo[i] = ~words[2 * i]
        hi[i] = ~h
      } else {
        lo[i] = words[2 * i]
        hi[i] = h | 0x80000000
      }
    }
    keys = [lo, hi]
  }
  // The result is one of idx and idx2: shared, so the fused bootstrap's workers read it without a copy each.
  let idx = sharedArray(Int32Array, n)
  for (let i = 0; i < n; i++) idx[i] = i
  let idx2 = sharedArray(Int32Array, n)
  let spare: Uint32Array[] = keys.map(() => new Uint32Array(n))
  const counts = new Uint32Array(65536)
  for (let pass = 0; pass < 2 * keys.length; pass++) {
    const shift = (pass & 1) * 16
    const key = keys[pass >> 1]
    counts.fill(0)
    for (let i = 0; i < n; i++) counts[(key[i] >>> shift) & 0xffff]++
    if (counts[(key[0] >>> shift) & 0xffff] === n) continue
    let offset = 0
    for (let d = 0; d < 65536; d++) {
      const c = counts[d]
      counts[d] = offset
      offset += c
    }
    if (keys.length === 1) scatter1(key, spare[0], idx, idx2, counts, shift)
    else scatter2(key, keys[0], keys[1], spare[0], spare[1], idx, idx2, counts, shift)
    ;[keys, spare] = [spare, keys]
    ;[idx, idx2] = [idx2, idx]
  }
  return idx
}

function scatter1(key: Uint32Array, key2: Uint32Array, idx: Int32Array, idx2: Int32Array, counts: Uint32Array, shift: number): void {
  for (let i = 0; i < key.length; i++) {
    const at = counts[(key[i] >>> shift) & 0xffff]++
    key2[at] = key[i]
    idx2[at] = idx[i]
  }
}

function scatter2(
  key: Uint32Array,
  lo: Uint32Array,
  hi: Uint32Array,
  lo2: Uint32Array,
  hi2: Uint32Array,
  idx: Int32Array,
  idx2: Int32Array,
  counts: Uint32Array,
  shift: number,
): void {
  for (let i = 0; i < key.length; i++) {
    const at = counts[(key[i] >>> shift) & 0xffff]++
    lo2[at] = lo[i]
    hi2[at] = hi[i]
    idx2[at] = idx[i]
  }
}
