import type { Rng } from './types.js'

/*
 * createRng's stream (src/core/stats/random.ts: xoshiro128** 1.1 seeded by SplitMix32, doubles of 53
 * bits from two outputs), with its state in the open so that the gaussian-noise loop can draw with the
 * state in local variables: a closure call per uniform cost a third of the noise's time. The same
 * numbers in the same order as createRng(seed) (__tests__/robustness/typed.test.ts checks it).
 */

const { imul, trunc } = Math

/** An Rng whose xoshiro128** state (s0..s3) is `state`: whoever draws from it directly must store the state back. */
export interface OpenRng extends Rng {
  readonly state: Int32Array
}

export function isOpenRng(rng: Rng): rng is OpenRng {
  return (rng as Partial<OpenRng>).state instanceof Int32Array
}

function splitMix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0
  let z = state.x
  z = imul(z ^ (z >>> 16), 0x85ebca6b)
  z = imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/** createRng(seed) as an OpenRng (with `uint32`, the raw 32-bit outputs, as createRng has). */
export function openRng(seed: number): OpenRng & { uint32: () => number } {
  if (!Number.isFinite(seed)) throw new Error(`seed = ${String(seed)} must be a finite number`)
  const init = { x: trunc(seed) | 0 }
  const state = Int32Array.of(splitMix32(init), splitMix32(init), splitMix32(init), splitMix32(init))
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1
  const next = () => {
    let s0 = state[0]
    let s1 = state[1]
    let s2 = state[2]
    let s3 = state[3]
    const m = imul(s1, 5)
    const result = imul((m << 7) | (m >>> 25), 9) >>> 0
    const t = s1 << 9
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << 11) | (s3 >>> 21)
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result
  }
  const rng = () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992
  return Object.assign(rng, { state, uint32: next })
}
