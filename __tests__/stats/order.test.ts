/** The score order the ranking kernels and the fused bootstrap share (src/core/stats/order.ts). */
import { describe, it, expect } from '@jest/globals'
import { argsortByBits, argsortFloat64, rankingOf } from '../../src/core/stats/order.js'
import { createRng } from '../../src/core/stats/random.js'

/** Stable ascending order, −0 before +0: the radix sort orders bit patterns, and IEEE's total order puts −0 first. */
function reference(values: ArrayLike<number>): number[] {
  const zero = (v: number) => (Object.is(v, -0) ? 0 : 1)
  return Array.from({ length: values.length }, (_, i) => i).sort(
    (a, b) => values[a] - values[b] || zero(values[a]) - zero(values[b]) || a - b,
  )
}

/** n float32 values with long runs of ties, both zeros, negatives, subnormals and infinities among them. */
function float32Scores(n: number, seed: number): Float64Array {
  const rng = createRng(seed)
  const special = [0, -0, 1, -1, 2 ** -149, -(2 ** -149), 2 ** -126, Infinity, -Infinity, 3.4028234663852886e38]
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const u = rng()
    out[i] = Math.fround(
      u < 0.1 ? special[Math.floor(rng() * special.length)] : u < 0.5 ? Math.round(rng() * 20) / 20 : (rng() - 0.3) * 1e3 * rng(),
    )
  }
  return out
}

describe('argsortFloat64', () => {
  it('orders float32 scores on their 32-bit patterns exactly as on their 64-bit ones, ties in row order', () => {
    for (const [n, seed] of [
      [600, 1],
      [5000, 2],
      [70000, 3],
    ]) {
      const scores = float32Scores(n, seed)
      const narrow = argsortByBits(scores, 32)
      expect(Array.from(narrow)).toEqual(Array.from(argsortByBits(scores, 64)))
      expect(Array.from(narrow)).toEqual(reference(scores))
      expect(Array.from(argsortFloat64(scores))).toEqual(reference(scores))
    }
  })

  it('sorts values float32 cannot hold on their 64-bit patterns (one such value is enough)', () => {
    const scores = float32Scores(3000, 4)
    scores[1234] = 0.1 // not a float32: the whole column sorts wide
    expect(Array.from(argsortFloat64(scores))).toEqual(reference(scores))
    // The narrow path would merge 0.1 with its float32 neighbour: the check must not take it.
    const f = Math.fround(0.1)
    scores[10] = f
    expect(Array.from(argsortFloat64(scores))).toEqual(reference(scores))
  })

  it('gives the comparator sort’s order below 512 values, and tie groups that treat −0 as 0', () => {
    const scores = float32Scores(300, 5)
    const ids = Array.from(argsortFloat64(scores))
    expect(ids).toEqual(Array.from({ length: 300 }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b))
    const big = float32Scores(4000, 6)
    const { order, groupEnds } = rankingOf(big)
    let start = 0
    for (const end of groupEnds) {
      for (let j = start + 1; j < end; j++) expect(big[order[j]] === big[order[start]]).toBe(true)
      if (end < order.length) expect(big[order[end]]).toBeGreaterThan(big[order[end - 1]])
      start = end
    }
  })
})
