/*
 * The chi-square survival function for any number of degrees of freedom (scipy.stats.chi2.sf(x, k) =
 * cephes chdtrc = igamc(k/2, x/2)), as the regularized upper incomplete gamma Q(a, x). Not a port of
 * cephes' igam.c (which switches to Temme's expansion for large a): the textbook pair, series for P below
 * x = a + 1 and Lentz's continued fraction for Q above it (Numerical Recipes §6.2), with the prefactor
 * xᵃe⁻ˣ/Γ(a+1) evaluated as Loader's saddle-point form exp(−stirlerr(a) − bd0(a, x))/√(2πa), as R's
 * dpois_raw does, so it keeps ~1e-14 relative accuracy for large a where exp(a·ln x − x − lnΓ(a)) would
 * lose digits to cancellation. Checked against scipy 1.10 to 1e-12 relative in __tests__/drift/stats.test.ts.
 */
import { bd0, stirlingSeries } from '../stats/normal.js'

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI)
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI)

/** ln Γ(z) for z > 0 with 2z a whole number (exact products; only used for z ≤ 16). */
function logGammaHalfInteger(z: number): number {
  let value = 0
  if (Number.isInteger(z)) {
    for (let k = 2; k < z; k++) value += Math.log(k)
    return value
  }
  // Γ(k + ½) = √π · Π_{i<k} (i + ½)
  for (let t = 0.5; t < z; t++) value += Math.log(t)
  return value + LOG_SQRT_PI
}

/** ln Γ(a + 1) − ((a + ½)·ln a − a + ½·ln 2π): the error of Stirling's formula (R's stirlerr), a whole or half-whole. */
function stirlerr(a: number): number {
  if (a <= 15) return logGammaHalfInteger(a + 1) - (a + 0.5) * Math.log(a) + a - HALF_LOG_2PI
  return stirlingSeries(a)
}

/** xᵃ·e⁻ˣ / Γ(a + 1). */
function gammaPrefix(a: number, x: number): number {
  return Math.exp(-stirlerr(a) - bd0(a, x)) / Math.sqrt(2 * Math.PI * a)
}

const EPS = 2.220446049250313e-16
const TINY = 1e-300

/** Q(a, x) = Γ(a, x)/Γ(a), the regularized upper incomplete gamma function, for a > 0 with 2a whole. */
export function regularizedGammaQ(a: number, x: number): number {
  if (Number.isNaN(a) || Number.isNaN(x)) return NaN
  if (!(a > 0) || !Number.isInteger(2 * a)) throw new Error(`regularizedGammaQ: a = ${a} must be a positive multiple of 1/2`)
  if (x <= 0) return 1
  if (x === Infinity) return 0
  if (x < a + 1) {
    // P(a, x) = xᵃe⁻ˣ/Γ(a+1) · Σₙ xⁿ / ((a+1)…(a+n))
    let term = 1
    let sum = 1
    for (let n = 1; n < 100000; n++) {
      term *= x / (a + n)
      sum += term
      if (term < sum * EPS * 0.5) break
    }
    return 1 - gammaPrefix(a, x) * sum
  }
  // Q(a, x) = xᵃe⁻ˣ/Γ(a) · 1/(x+1−a− 1·(1−a)/(x+3−a− 2·(2−a)/(x+5−a− …))), modified Lentz.
  let b = x + 1 - a
  let c = 1 / TINY
  let d = 1 / b
  let h = d
  for (let i = 1; i < 100000; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < TINY) d = TINY
    c = b + an / c
    if (Math.abs(c) < TINY) c = TINY
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < EPS) break
  }
  return a * gammaPrefix(a, x) * h
}

/** scipy.stats.chi2.sf(x, dof): P(χ²_dof > x), for a whole number of degrees of freedom ≥ 1; 1 for x ≤ 0. */
export function chiSquareSf(x: number, dof: number): number {
  if (!Number.isInteger(dof) || dof < 1) throw new Error(`chi-square degrees of freedom ${dof} must be a whole number >= 1`)
  return regularizedGammaQ(dof / 2, x / 2)
}
