import { createRng } from '../stats/random.js'
import type { Rng } from './types.js'

/*
 * The robustness tests draw from createRng (src/core/stats/random.ts), whose xoshiro128** state is in the
 * open: the gaussian-noise loop draws with it in local variables (a closure call per uniform cost a third
 * of the noise's time) and stores it back, so the numbers are those of calling the generator.
 */

/** An Rng whose xoshiro128** state (s0..s3) is `state`: whoever draws from it directly must store the state back. */
export interface OpenRng extends Rng {
  readonly state: Int32Array
}

export function isOpenRng(rng: Rng): rng is OpenRng {
  return (rng as Partial<OpenRng>).state instanceof Int32Array
}

/** createRng(seed): an OpenRng. */
export const openRng = createRng
