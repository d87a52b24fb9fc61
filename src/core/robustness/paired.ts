import { wilson } from './tests/common.js'
import type { BaselineFlips, DifferenceInterval } from './types.js'

/**
 * The 95% interval of the difference of two paired proportions, p₁ − p₂ = (f − g) / n, from the 2×2 table
 * of n rows: e flipped under both models, f under the candidate only, g under the baseline only, h neither.
 *
 * Newcombe's hybrid score interval (R. G. Newcombe, "Improved confidence intervals for the difference
 * between binomial proportions based on paired data", Statistics in Medicine 17:2635–2650, 1998, method 10):
 * the Wilson score intervals [l₁, u₁] of p₁ and [l₂, u₂] of p₂ are combined by "square and add", with the
 * correlation φ of the two proportions taken into account, since on paired rows they move together:
 *   L = θ − √((p₁ − l₁)² − 2φ(p₁ − l₁)(u₂ − p₂) + (u₂ − p₂)²)
 *   U = θ + √((u₁ − p₁)² − 2φ(u₁ − p₁)(p₂ − l₂) + (p₂ − l₂)²)
 * φ = (eh − fg)/√((e+f)(g+h)(e+g)(f+h)), with eh − fg shrunk towards 0 by n/2 when it is positive (the
 * paper's correction) and φ = 0 when a margin is empty. Chosen because it stays inside [−1, 1], is never
 * degenerate at 0 or n flips (where the Wald interval collapses), needs no resampling (one interval per
 * test, deterministic), and had coverage close to nominal in the paper's evaluation; flip rates are
 * usually small, which is where the Wald interval fails. Checked against the paper's Table II and an
 * independent computation with scipy's Wilson intervals (`__tests__/fixtures/robustness/newcombe_paired.py`).
 */
export function pairedDifferenceInterval(rows: BaselineFlips['rows']): DifferenceInterval {
  const { both: e, candidateOnly: f, baselineOnly: g, neither: h } = rows
  const n = e + f + g + h
  const interval = (low: number, high: number): DifferenceInterval => ({ low, high, confidence: 0.95, method: 'newcombe-paired' })
  if (n === 0) return interval(-1, 1)
  const p1 = (e + f) / n
  const p2 = (e + g) / n
  const w1 = wilson(e + f, n)
  const w2 = wilson(e + g, n)
  const margins = (e + f) * (g + h) * (e + g) * (f + h)
  const cross = e * h - f * g
  const phi = margins === 0 ? 0 : (cross > 0 ? Math.max(cross - n / 2, 0) : cross) / Math.sqrt(margins)
  const [below1, above2] = [p1 - w1.low, w2.high - p2]
  const [above1, below2] = [w1.high - p1, p2 - w2.low]
  // Never negative for |φ| ≤ 1; the guard keeps rounding from turning a zero into NaN.
  const delta = Math.sqrt(Math.max(0, below1 ** 2 - 2 * phi * below1 * above2 + above2 ** 2))
  const epsilon = Math.sqrt(Math.max(0, above1 ** 2 - 2 * phi * above1 * below2 + below2 ** 2))
  const theta = (f - g) / n
  return interval(Math.max(-1, theta - delta), Math.min(1, theta + epsilon))
}

/** The baseline's side of an invariance test, from per-row flips of both models on the same perturbed rows. */
export function compareFlips(candidate: ArrayLike<boolean>, baseline: ArrayLike<boolean>): BaselineFlips {
  if (candidate.length !== baseline.length)
    throw new Error(`${candidate.length} candidate rows but ${baseline.length} baseline rows: flips must be paired`)
  const rows = { both: 0, candidateOnly: 0, baselineOnly: 0, neither: 0 }
  for (let i = 0; i < candidate.length; i++) {
    if (candidate[i] && baseline[i]) rows.both++
    else if (candidate[i]) rows.candidateOnly++
    else if (baseline[i]) rows.baselineOnly++
    else rows.neither++
  }
  const n = candidate.length
  const flipped = rows.both + rows.baselineOnly
  const differenceInterval = pairedDifferenceInterval(rows)
  return {
    flipRate: n === 0 ? 0 : flipped / n,
    flipInterval: wilson(flipped, n),
    difference: n === 0 ? 0 : (rows.candidateOnly - rows.baselineOnly) / n,
    differenceInterval,
    rows,
    robustness: differenceInterval.low > 0 ? 'less' : differenceInterval.high < 0 ? 'more' : 'similar',
  }
}
