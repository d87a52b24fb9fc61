/**
 * Seeded randomness, identical on every platform and Node version: xoshiro128** 1.1 (Blackman & Vigna
 * 2018), state seeded by SplitMix32 from the 32-bit seed (`createRng`: perturbations, synthetic data, the
 * multinomial `resampleCounts`); and the bootstrap's counter-based Poisson(1) weights (`poissonWeight`,
 * below). Only 32-bit integer operations (`imul`, shifts), so nothing depends on the host's floating point
 * or on `Math.random`.
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

/**
 * Doubles uniform on [0, 1); `uint32` draws the underlying 32-bit outputs (one per call). `state` is the
 * xoshiro128** state (s0..s3), in the open so that a hot loop can draw with it in local variables and
 * store it back (robustness/perturb.ts noiseOpen): the same numbers as calling the generator.
 */
export type Rng = (() => number) & { uint32: () => number; readonly state: Int32Array }

/**
 * A generator of doubles uniform on [0, 1) with 53 random bits each (two xoshiro128** outputs), from
 * `seed` (any number; its integer part modulo 2³² is used).
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`seed = ${String(seed)} must be a finite number`)
  const init = { x: Math.trunc(seed) | 0 }
  const state = Int32Array.of(splitMix32(init), splitMix32(init), splitMix32(init), splitMix32(init))
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1
  const next = () => {
    let s0 = state[0]
    let s1 = state[1]
    let s2 = state[2]
    let s3 = state[3]
    const result = imul(rotl(imul(s1, 5), 7), 9) >>> 0
    const t = s1 << 9
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 11)
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result
  }
  const rng = () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992
  return Object.assign(rng, { uint32: next, state })
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

/*
 * Counter-based Poisson(1) weights for the Poisson bootstrap (Hanley & MacGibbon 2006, "Creating
 * non-parametric bootstrap samples using Poisson frequencies"; Chamandy, Muralidharan, Najmi & Naidu 2012,
 * "Estimating uncertainty for massive data streams"): each row of a resample gets an independent Poisson(1)
 * count instead of a share of one multinomial draw. Its weight is a pure function of (seed, resample b,
 * row i), so a resample is the same whatever the rows' split across threads or runners, and the states of
 * two halves of the rows add up to the state of all of them.
 *
 * The function: Wellons' lowbias32 (the "hash prospector" 32-bit integer hash, 2018, bias ≈ 0.17: two
 * xor-shift-multiply rounds with full avalanche), applied as
 *   key = lowbias32(seed ^ 0x2c1b3c6d),  key_b = lowbias32(key + (b + 1)·0x9e3779b9),
 *   u(b, i) = lowbias32(lowbias32(i ^ key) + key_b),
 * and u mapped to Poisson(1) by inverse CDF: w = #{k : u ≥ T_k}, T_k = ⌊2³²·P(X ≤ k)⌋ for k = 0..11 (so
 * w ≤ 12; P(X > 12) < 1e-10). Only 32-bit integer operations: the same weights on every platform.
 */

/** ⌊2³²·P(X ≤ k)⌋ for X ~ Poisson(1), k = 0..11 (50-digit decimal arithmetic). */
export const POISSON1_THRESHOLDS: readonly number[] = [
  1580030168, 3160060337, 3950075421, 4213413783, 4279248373, 4292415291, 4294609777, 4294923276, 4294962463, 4294966817, 4294967252,
  4294967292,
]

/** Wellons' lowbias32, as an int32 (use `>>> 0` for the unsigned value). */
export function lowbias32(x: number): number {
  x ^= x >>> 16
  x = imul(x, 0x7feb352d)
  x ^= x >>> 15
  x = imul(x, 0x846ca68b)
  return x ^ (x >>> 16)
}

/** The seed's key (any finite number; its integer part modulo 2³² is used). */
export function weightKey(seed: number): number {
  if (!Number.isFinite(seed)) throw new Error(`seed = ${String(seed)} must be a finite number`)
  return lowbias32((Math.trunc(seed) | 0) ^ 0x2c1b3c6d)
}

/** Resample b's key, from the seed's. */
export function resampleKey(key: number, b: number): number {
  return lowbias32((key + imul(b + 1, 0x9e3779b9)) | 0)
}

/** The Poisson(1) count of uniform uint32 `u`. */
export function poisson1(u: number): number {
  const t = POISSON1_THRESHOLDS
  let w = 0
  while (w < 12 && u >= t[w]) w++
  return w
}

/** The weight of row i in resample b of `seed`: a pure function of the three. */
export function poissonWeight(seed: number, b: number, i: number): number {
  const key = weightKey(seed)
  return poisson1(lowbias32((lowbias32(i ^ key) + resampleKey(key, b)) | 0) >>> 0)
}

/** Weights of rows [start, end) of resample b into out[0 .. end − start). */
export function poissonWeights(seed: number, b: number, start: number, end: number, out: Int32Array | Uint8Array): void {
  const key = weightKey(seed)
  const kb = resampleKey(key, b)
  for (let i = start; i < end; i++) out[i - start] = poisson1(lowbias32((lowbias32(i ^ key) + kb) | 0) >>> 0)
}
