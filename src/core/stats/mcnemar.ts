/**
 * McNemar's test (McNemar 1947) of two classifiers on the same rows: do they make errors at different
 * rates? Only the discordant rows carry information: b = rows only the candidate got right, c = rows only
 * the baseline got right; under the null each discordant row is a fair coin.
 *
 * - exact (b + c below `exactBelow`, default 25, the guidance in statsmodels' `mcnemar` docs): two-sided
 *   binomial test, p = min(1, 2·P(X ≤ min(b, c))) with X ~ Bin(b + c, ½); the statistic is min(b, c);
 * - otherwise the chi-square approximation with Edwards' continuity correction,
 *   (|b − c| − 1)² / (b + c) on 1 degree of freedom.
 * Both equal statsmodels 0.13 `mcnemar(table, exact=True)` and `mcnemar(table, exact=False,
 * correction=True)` (fixtures in `__tests__/fixtures/stats/mcnemar.json`). With no discordant row the
 * models cannot be told apart: statistic 0, p = 1.
 */
import { binomialCdf, chiSquare1Sf } from './normal.js'

export interface McNemarResult {
  /** Rows the candidate got right and the baseline wrong. */
  b: number
  /** Rows the baseline got right and the candidate wrong. */
  c: number
  statistic: number
  pValue: number
  exact: boolean
}

export const MCNEMAR_EXACT_BELOW = 25

type Correct = Uint8Array | boolean[] | ArrayLike<number | boolean>

/** McNemar's test from per-row correctness of the two models (1/true = correct). */
export function mcnemar(candidateCorrect: Correct, baselineCorrect: Correct, opts: { exactBelow?: number } = {}): McNemarResult {
  if (candidateCorrect.length !== baselineCorrect.length) {
    throw new Error(
      `candidateCorrect has ${candidateCorrect.length} rows but baselineCorrect has ${baselineCorrect.length}; they must be paired`,
    )
  }
  let b = 0
  let c = 0
  for (let i = 0; i < candidateCorrect.length; i++) {
    const cand = Boolean(candidateCorrect[i])
    const base = Boolean(baselineCorrect[i])
    if (cand && !base) b++
    else if (base && !cand) c++
  }
  return mcnemarFromCounts(b, c, opts)
}

/** McNemar's test from the discordant counts b and c. */
export function mcnemarFromCounts(b: number, c: number, opts: { exactBelow?: number } = {}): McNemarResult {
  for (const [name, v] of [
    ['b', b],
    ['c', c],
  ] as const) {
    if (!(Number.isInteger(v) && v >= 0)) throw new Error(`McNemar ${name} = ${String(v)} must be a whole number >= 0`)
  }
  const exactBelow = opts.exactBelow ?? MCNEMAR_EXACT_BELOW
  const discordant = b + c
  if (discordant === 0) return { b, c, statistic: 0, pValue: 1, exact: discordant < exactBelow }
  if (discordant < exactBelow) {
    const statistic = Math.min(b, c)
    return { b, c, statistic, pValue: Math.min(1, 2 * binomialCdf(statistic, discordant, 0.5)), exact: true }
  }
  const statistic = (Math.abs(b - c) - 1) ** 2 / discordant
  return { b, c, statistic, pValue: chiSquare1Sf(statistic), exact: false }
}
