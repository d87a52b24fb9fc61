/**
 * The ascending order of a score column and its runs of tied scores, computed once per score array and
 * cached (keyed on the array, so it goes when the array goes): every weighted ROC AUC / average precision
 * after the first is then one linear pass over this order, whatever the weights.
 */

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
 * Stable ascending argsort of finite float64 values: LSD radix sort on the IEEE-754 bits (four 16-bit
 * passes, a pass skipped when all keys share its digit) carrying the row index, as `metrics/sort.ts`
 * sorts values; a comparator sort below 512 values or on a big-endian host.
 */
export function argsortFloat64(values: ArrayLike<number>): Int32Array {
  const n = values.length
  if (!LITTLE_ENDIAN || n < 512) {
    const order = Array.from({ length: n }, (_, i) => i)
    order.sort((a, b) => values[a] - values[b] || a - b)
    return Int32Array.from(order)
  }
  const floats = Float64Array.from(values)
  const words = new Uint32Array(floats.buffer)
  let lo = new Uint32Array(n)
  let hi = new Uint32Array(n)
  let idx = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const h = words[2 * i + 1]
    // Order-preserving unsigned keys: negative floats flip all bits, the others only the sign bit.
    if (h & 0x80000000) {
      lo[i] = ~words[2 * i] >>> 0
      hi[i] = ~h >>> 0
    } else {
      lo[i] = words[2 * i]
      hi[i] = (h | 0x80000000) >>> 0
    }
    idx[i] = i
  }
  let lo2 = new Uint32Array(n)
  let hi2 = new Uint32Array(n)
  let idx2 = new Int32Array(n)
  const counts = new Uint32Array(65536)
  for (let pass = 0; pass < 4; pass++) {
    const shift = (pass & 1) * 16
    const key = pass < 2 ? lo : hi
    counts.fill(0)
    for (let i = 0; i < n; i++) counts[(key[i] >>> shift) & 0xffff]++
    if (counts[(key[0] >>> shift) & 0xffff] === n) continue
    let offset = 0
    for (let d = 0; d < 65536; d++) {
      const c = counts[d]
      counts[d] = offset
      offset += c
    }
    for (let i = 0; i < n; i++) {
      const at = counts[(key[i] >>> shift) & 0xffff]++
      lo2[at] = lo[i]
      hi2[at] = hi[i]
      idx2[at] = idx[i]
    }
    ;[lo, lo2] = [lo2, lo]
    ;[hi, hi2] = [hi2, hi]
    ;[idx, idx2] = [idx2, idx]
  }
  return idx
}
