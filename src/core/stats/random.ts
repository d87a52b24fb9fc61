/**
 * Seeded randomness for the bootstrap, identical on every platform and Node version: xoshiro128** 1.1
 * (Blackman & Vigna 2018), state seeded by SplitMix32 from the 32-bit seed. Only 32-bit integer
 * operations (`imul`, shifts), so nothing depends on the host's floating point or on `Math.random`.
 */

// Module-level bindings: inside a vm context (jest) each global `Math` lookup in a hot loop costs ~100×.
const { floor, imul } = Math

/** SplitMix32 step: spreads a small seed over the 128-bit state so that seeds 1, 2, 3 give unrelated streams. */
function splitMix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0
  let z = state.x
  z = imul(z ^ (z >>> 16), 0x85ebca6b)
  z = imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/** Doubles uniform on [0, 1); `uint32` draws the underlying 32-bit outputs (one per call). */
export type Rng = (() => number) & { uint32: () => number }

/**
 * A generator of doubles uniform on [0, 1) with 53 random bits each (two xoshiro128** outputs), from
 * `seed` (any number; its integer part modulo 2³² is used).
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`seed = ${String(seed)} must be a finite number`)
  const init = { x: Math.trunc(seed) | 0 }
  const next = xoshiro128StarStar([splitMix32(init), splitMix32(init), splitMix32(init), splitMix32(init)])
  const rng = () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992
  return Object.assign(rng, { uint32: next })
}

/** The raw xoshiro128** 1.1 stream (unsigned 32-bit outputs) from a 128-bit state (all-zero is replaced). */
export function xoshiro128StarStar(state: readonly number[]): () => number {
  let [s0, s1, s2, s3] = state.map((v) => v | 0)
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1
  return () => {
    const result = imul(rotl(imul(s1, 5), 7), 9) >>> 0
    const t = s1 << 9
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 11)
    return result
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

/** Above this n the index draw falls back to a 53-bit double (x·n must stay exact in a double). */
const LEMIRE_MAX_N = 2 ** 21

/**
 * One bootstrap resample as per-row counts: n draws of a row index uniform on [0, n), with replacement
 * (a multinomial(n; 1/n, …, 1/n) vector). O(n). Reuses `out` when given (it must have length n).
 *
 * With a generator from `createRng` and n ≤ 2²¹, each index is Lemire's unbiased bounded draw from one
 * 32-bit output ("Fast random integer generation in an interval", 2019: x·n / 2³², rejecting the few x
 * that would bias it); otherwise ⌊u·n⌋ from a 53-bit double u.
 */
export function resampleCounts(n: number, rng: (() => number) | Rng, out?: Int32Array): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`n = ${String(n)} must be a whole number >= 0`)
  const counts = out ?? new Int32Array(n)
  if (counts.length !== n) throw new Error(`out has length ${counts.length}, expected ${n}`)
  counts.fill(0)
  const uint32 = 'uint32' in rng ? rng.uint32 : undefined
  if (uint32 && n <= LEMIRE_MAX_N) {
    lemireCounts(n, uint32, counts)
    return counts
  }
  for (let i = 0; i < n; i++) counts[floor(rng() * n)]++
  return counts
}

const TWO_POW_32 = 4294967296
const TWO_POW_MINUS_32 = 1 / TWO_POW_32

/** n bounded draws into counts; x·n is exact in a double (n ≤ 2²¹), split without `%` (slow on doubles). */
function lemireCounts(n: number, uint32: () => number, counts: Int32Array): void {
  const threshold = (TWO_POW_32 - n) % n
  for (let i = 0; i < n; i++) {
    let m = uint32() * n
    let index = floor(m * TWO_POW_MINUS_32)
    while (m - index * TWO_POW_32 < threshold) {
      m = uint32() * n
      index = floor(m * TWO_POW_MINUS_32)
    }
    counts[index]++
  }
}
