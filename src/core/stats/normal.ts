/**
 * The distributions the tests need, to double precision: the standard normal CDF and quantile, the
 * chi-square(1) survival function and the binomial CDF. Checked against scipy 1.10 in
 * `__tests__/stats/distributions.test.ts` (fixtures from `scripts/fixtures/stats_distributions.py`).
 */

// W. J. Cody, "Rational Chebyshev approximations for the error function" (Math. Comp. 1969) as R's
// `pnorm_both` evaluates them: relative error near 1e-16 in both tails, where 1 − Φ(x) computed as a
// difference would lose every digit.
/* eslint-disable no-loss-of-precision -- coefficients as published, digit for digit, so they can be checked
   against the papers; each literal parses to the nearest double. */
const CODY_A = [2.2352520354606839287, 161.02823106855587881, 1067.6894854603709582, 18154.981253343561249, 0.065682337918207449113]
const CODY_B = [47.20258190468824187, 976.09855173777669322, 10260.932208618978205, 45507.789335026729956]
const CODY_C = [
  0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979, 597.27027639480026226, 2494.5375852903726711, 6848.1904505362823326,
  11602.651437647350124, 9842.7148383839780218, 1.0765576773720192317e-8,
]
const CODY_D = [
  22.266688044328115691, 235.38790178262499861, 1519.377599407554805, 6485.558298266760755, 18615.571640885098091, 34900.952721145977266,
  38912.003286093271411, 19685.429676859990727,
]
const CODY_P = [
  0.21589853405795699, 0.1274011611602473639, 0.022235277870649807, 0.001421619193227893466, 2.9112874951168792e-5, 0.02307344176494017303,
]
const CODY_Q = [1.28426009614491121, 0.468238212480865118, 0.0659881378689285515, 0.00378239633202758244, 7.29751555083966205e-5]
const ONE_OVER_SQRT_2PI = 0.398942280401432677939946059934
const SQRT_32 = 5.656854249492380195206754896838
/* eslint-enable no-loss-of-precision */

/** exp(−x²/2) · factor, with x² split so that its rounding error does not reach the result (Cody's trick). */
function gaussianTail(x: number, factor: number): number {
  const xsq = Math.trunc(x * 16) / 16
  const del = (x - xsq) * (x + xsq)
  return Math.exp(-xsq * xsq * 0.5) * Math.exp(-del * 0.5) * factor
}

/** Φ(x) and 1 − Φ(x), each to full relative precision. */
function normalTails(x: number): { lower: number; upper: number } {
  if (Number.isNaN(x)) return { lower: NaN, upper: NaN }
  const y = Math.abs(x)
  if (y <= 0.67448975) {
    let xnum = 0
    let xden = 0
    if (y > 1.1102230246251565e-16) {
      const xsq = x * x
      xnum = CODY_A[4] * xsq
      xden = xsq
      for (let i = 0; i < 3; i++) {
        xnum = (xnum + CODY_A[i]) * xsq
        xden = (xden + CODY_B[i]) * xsq
      }
    }
    const temp = (x * (xnum + CODY_A[3])) / (xden + CODY_B[3])
    return { lower: 0.5 + temp, upper: 0.5 - temp }
  }
  let small: number
  if (y <= SQRT_32) {
    let xnum = CODY_C[8] * y
    let xden = y
    for (let i = 0; i < 7; i++) {
      xnum = (xnum + CODY_C[i]) * y
      xden = (xden + CODY_D[i]) * y
    }
    small = gaussianTail(y, (xnum + CODY_C[7]) / (xden + CODY_D[7]))
  } else if (y < 40) {
    const xsq = 1 / (x * x)
    let xnum = CODY_P[5] * xsq
    let xden = xsq
    for (let i = 0; i < 4; i++) {
      xnum = (xnum + CODY_P[i]) * xsq
      xden = (xden + CODY_Q[i]) * xsq
    }
    const temp = (xsq * (xnum + CODY_P[4])) / (xden + CODY_Q[4])
    small = gaussianTail(y, (ONE_OVER_SQRT_2PI - temp) / y)
  } else {
    small = 0
  }
  return x > 0 ? { lower: 1 - small, upper: small } : { lower: small, upper: 1 - small }
}

/** Standard normal CDF Φ(x) (scipy `norm.cdf`). */
export function normalCdf(x: number): number {
  return normalTails(x).lower
}

/** 1 − Φ(x) without cancellation (scipy `norm.sf`). */
export function normalSf(x: number): number {
  return normalTails(x).upper
}

// M. J. Wichura, "Algorithm AS 241: The percentage points of the normal distribution" (Applied Statistics
// 37, 1988), PPND16: about 1e-16 relative accuracy on (0, 1).
/* eslint-disable no-loss-of-precision -- as published (see the Cody coefficients above). */
const AS241_A = [
  3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125, 45921.953931549871457, 67265.770927008700853,
  33430.575583588128105, 2509.0809287301226727,
]
const AS241_B = [
  1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867, 39307.89580009271061, 28729.085735721942674,
  5226.495278852854561,
]
const AS241_C = [
  1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504, 1.27045825245236838258,
  0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4,
]
const AS241_D = [
  1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459, 0.0151986665636164571966,
  5.475938084995344946e-4, 1.05075007164441684324e-9,
]
const AS241_E = [
  6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123, 0.026532189526576123093,
  0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7,
]
const AS241_F = [
  1, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525, 7.868691311456132591e-4, 1.8463183175100546818e-5,
  1.4215117583164458887e-7, 2.04426310338993978564e-15,
]

/* eslint-enable no-loss-of-precision */

/** Σ c[i] · r^i by Horner's rule. */
function polynomial(c: readonly number[], r: number): number {
  let value = c[c.length - 1]
  for (let i = c.length - 2; i >= 0; i--) value = value * r + c[i]
  return value
}

/** Standard normal quantile Φ⁻¹(p) (scipy `norm.ppf`): −∞ at 0, +∞ at 1, NaN outside [0, 1]. */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN
  if (p === 0) return -Infinity
  if (p === 1) return Infinity
  const q = p - 0.5
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q
    return (q * polynomial(AS241_A, r)) / polynomial(AS241_B, r)
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p))
  let value: number
  if (r <= 5) {
    r -= 1.6
    value = polynomial(AS241_C, r) / polynomial(AS241_D, r)
  } else {
    r -= 5
    value = polynomial(AS241_E, r) / polynomial(AS241_F, r)
  }
  return q < 0 ? -value : value
}

/** P(χ²₁ > x) = 2·(1 − Φ(√x)) (scipy `chi2.sf(x, 1)`); 1 for x ≤ 0. */
export function chiSquare1Sf(x: number): number {
  if (Number.isNaN(x)) return NaN
  if (x <= 0) return 1
  return 2 * normalSf(Math.sqrt(x))
}

import { Sum } from '../metrics/sum.js'

// Loader's saddle-point binomial probability ("Fast and accurate computation of binomial probabilities",
// 2000), as R's dbinom: stirlerr and bd0 keep the relative error near 1e-15 for any n, where a product of
// n factors, or lgamma differences, would lose digits.
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI)

/** log(n!) − log(√(2πn)·(n/e)ⁿ), the error of Stirling's formula, for a whole number n ≥ 0. */
function stirlerr(n: number): number {
  if (n <= 15) {
    if (n === 0) return 0
    let logFactorial = 0
    for (let k = 2; k <= n; k++) logFactorial += Math.log(k)
    return logFactorial - (n + 0.5) * Math.log(n) + n - HALF_LOG_2PI
  }
  return stirlingSeries(n)
}

/** Stirling's error for n > 15 by its asymptotic series (R's stirlerr, Loader 2000), for whole and half-whole n. */
export function stirlingSeries(n: number): number {
  const S0 = 1 / 12
  const S1 = 1 / 360
  const S2 = 1 / 1260
  const S3 = 1 / 1680
  const S4 = 1 / 1188
  const nn = n * n
  if (n > 500) return (S0 - S1 / nn) / n
  if (n > 80) return (S0 - (S1 - S2 / nn) / nn) / n
  if (n > 35) return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n
  return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n
}

/** x·log(x/np) + np − x, summed as a series when x is near np, where the direct form cancels (Loader's bd0). */
export function bd0(x: number, np: number): number {
  if (Math.abs(x - np) < 0.1 * (x + np)) {
    let v = (x - np) / (x + np)
    let s = (x - np) * v
    let ej = 2 * x * v
    v *= v
    for (let j = 1; j < 1000; j++) {
      ej *= v
      const s1 = s + ej / (2 * j + 1)
      if (s1 === s) return s1
      s = s1
    }
    return s
  }
  return x * Math.log(x / np) + np - x
}

/** P(X = k) for X ~ Bin(n, p) (scipy `binom.pmf`). */
export function binomialPmf(k: number, n: number, p: number): number {
  checkBinomial(n, p)
  if (!Number.isInteger(k) || k < 0 || k > n) return 0
  const q = 1 - p
  if (p === 0) return k === 0 ? 1 : 0
  if (q === 0) return k === n ? 1 : 0
  if (k === 0) return Math.exp(p < 0.1 ? -bd0(n, n * q) - n * p : n * Math.log(q))
  if (k === n) return Math.exp(q < 0.1 ? -bd0(n, n * p) - n * q : n * Math.log(p))
  const lc = stirlerr(n) - stirlerr(k) - stirlerr(n - k) - bd0(k, n * p) - bd0(n - k, n * q)
  const lf = Math.log(2 * Math.PI) + Math.log(k) + Math.log1p(-k / n)
  return Math.exp(lc - 0.5 * lf)
}

function checkBinomial(n: number, p: number): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`binomial n = ${String(n)} must be a whole number >= 0`)
  if (!(p >= 0 && p <= 1)) throw new Error(`binomial p = ${String(p)} must lie in [0, 1]`)
}

/**
 * P(X ≤ k) for X ~ Bin(n, p) (scipy `binom.cdf`). Below the mean it sums the pmf downwards from k (terms
 * shrink geometrically, so few are needed and the relative error stays near 1e-15 deep in the tail); above
 * it, 1 − P(X ≥ k + 1) summed upwards likewise.
 */
export function binomialCdf(k: number, n: number, p: number): number {
  checkBinomial(n, p)
  if (Number.isNaN(k)) return NaN
  const K = Math.floor(k)
  if (K < 0) return 0
  if (K >= n) return 1
  if (K <= n * p) return tailSum(K, n, p, -1)
  return 1 - tailSum(K + 1, n, p, +1)
}

/**
 * Σ pmf(i) for i from `from` towards 0 (step −1) or n (step +1). Terms follow by the ratio of successive
 * pmfs, re-anchored on the exact pmf every 256 steps so the product's rounding cannot build up near the mean.
 */
function tailSum(from: number, n: number, p: number, step: -1 | 1): number {
  const start = binomialPmf(from, n, p)
  if (start === 0) return 0
  const odds = p / (1 - p)
  let term = start
  const sum = new Sum()
  sum.add(start)
  for (let i = from, steps = 1; step < 0 ? i > 0 : i < n; i += step, steps++) {
    // pmf(i − 1)/pmf(i) = i/(n − i + 1) · q/p; pmf(i + 1)/pmf(i) = (n − i)/(i + 1) · p/q.
    term = steps % 256 === 0 ? binomialPmf(i + step, n, p) : term * (step < 0 ? i / (n - i + 1) / odds : ((n - i) / (i + 1)) * odds)
    sum.add(term)
    if (term < sum.value * 1e-17) break
  }
  return sum.value
}
