/*
 * The null distributions behind scipy.stats.ks_2samp (scipy 1.10.1), ported step for step so that the
 * p-values agree with scipy's to about 1e-12 (the tests hold them to 1e-9):
 *
 * - exact two-sample: `_compute_prob_outside_square` (n1 = n2, Hodges' alternating series in Horner form)
 *   and `_compute_outer_prob_inside_method` (scipy/stats/_stats_pythran.py: the lattice-path recursion of
 *   Hodges 1958, in Viehmann's form that carries 1 − p, arXiv:2102.08037);
 * - asymptotic: scipy.stats.kstwo.sf(d, round(n1·n2/(n1 + n2))), i.e. `_kolmogn(n, d, cdf=False)` of
 *   scipy/stats/_ksstats.py (Simard & L'Ecuyer 2011's choice among Durbin's matrix method as Marsaglia,
 *   Tsang & Wang evaluate it, Pomeranz's recursion, the Pelz–Good expansion and 2·smirnov(n, d)).
 *
 * scipy.special.smirnov (cephes kolmogorov.c, double-double sums) is the one piece not ported line by line:
 * `smirnovSf` evaluates the same exact Birnbaum–Tingey sum with Loader's binomial pmf and compensated
 * summation (all terms are positive, so nothing cancels), which agrees with cephes to ~1e-13 relative.
 */
import { Sum } from '../metrics/sum.js'
import { binomialPmf } from '../stats/normal.js'

const E128 = 2 ** 128
const EM128 = 2 ** -128

/** np.round: half to even (the effective sample size n1·n2/(n1 + n2) can end in .5). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** Greatest common divisor of two positive integers (math.gcd). */
export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b]
  return a
}

/** scipy `_compute_prob_outside_square(n, h)`: P(D_{n,n} ≥ h/n), 2·A0·(1 − A1·(1 − A2·(…))) to avoid cancellation. */
export function probOutsideSquare(n: number, h: number): number {
  let P = 0
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1)
    P = p1 * (1 - P)
  }
  return 2 * P
}

/**
 * scipy `_compute_outer_prob_inside_method(m, n, g, h)`: the share of lattice paths (0,0)→(m,n) that leave the
 * band |x/m − y/n| < h/lcm(m, n), i.e. the exact two-sided P(D ≥ d). One column of A at a time, A(x, y) the
 * probability that a random path to (x, y) has already left the band (1 outside it).
 */
export function outerProbInsideMethod(m: number, n: number, g: number, h: number): number {
  if (m < n) [m, n] = [n, m]
  const mg = m / g
  const ng = n / g
  let minj = 0
  let maxj = Math.min(Math.ceil(h / mg), n + 1)
  let curlen = maxj - minj
  const lenA = Math.min(2 * maxj + 2, n + 1)
  const A = new Float64Array(lenA).fill(1)
  A.fill(0, minj, maxj)
  for (let i = 1; i <= m; i++) {
    const lastminj = minj
    const lastlen = curlen
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n)
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1)
    if (maxj <= minj) return 1
    let val = minj === 0 ? 0 : 1
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj
      val = (A[jj + minj - lastminj] * i + val * j) / (i + j)
      A[jj] = val
    }
    curlen = maxj - minj
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen))
  }
  return A[maxj - minj - 1]
}

/** Clip to [0, 1] (np.clip; NaN stays NaN). */
function clip(p: number): number {
  return p < 0 ? 0 : p > 1 ? 1 : p
}

// ---- scipy.stats.kstwo (scipy/stats/_ksstats.py) ----

const LOG_2PI = Math.log(2 * Math.PI)
const SQRT2PI = Math.sqrt(2 * Math.PI)
const SQRT3 = Math.sqrt(3)
const PI2 = Math.PI ** 2
const PI4 = Math.PI ** 4
const PI6 = Math.PI ** 6
const MIN_LOG = -708
/* eslint-disable no-loss-of-precision -- scipy's coefficients digit for digit (_ksstats.py _STIRLING_COEFFS). */
const STIRLING = [
  -2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4, -5.952380952380952381e-4,
  7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2,
]
/* eslint-enable no-loss-of-precision */

/** `_log_nfactorial_div_n_pow_n`: log(n!/nⁿ) by Stirling with n·log n removed up front. */
function logFactorialOverPower(n: number): number {
  const rn = 1 / n
  let poly = 0
  for (const c of STIRLING) poly = poly * (rn / n) + c
  return Math.log(n) / 2 - n + LOG_2PI / 2 + rn * poly
}

/** Row-major m×m product. */
function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const c = new Float64Array(m * m)
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k]
      if (aik === 0) continue
      for (let j = 0; j < m; j++) c[i * m + j] += aik * b[k * m + j]
    }
  }
  return c
}

/** `_kolmogn_DMTW`: Pr(D_n ≤ d) by Durbin's matrix, kth row of (n!/nⁿ)·Hⁿ with the MTW scaling. */
function kolmognDMTW(n: number, d: number): number {
  if (d >= 1) return 1
  const nd = n * d
  if (nd <= 0.5) return 0
  const k = Math.ceil(nd)
  const h = k - nd
  const m = 2 * k - 1
  const v = new Float64Array(m)
  const w = new Float64Array(m)
  let fac = 1
  for (let j = 1; j <= m; j++) {
    v[j - 1] = 1 - h ** j
    w[j - 1] = fac
    fac /= j
    v[j - 1] *= fac
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m
  v[m - 1] = (1 + tt) * fac
  let H: Float64Array = new Float64Array(m * m)
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)]
  for (let r = 0; r < m; r++) H[r * m] = v[r]
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c]
  let Hpwr: Float64Array = new Float64Array(m * m)
  for (let i = 0; i < m; i++) Hpwr[i * m + i] = 1
  let nn = n
  let expnt = 0
  let Hexpnt = 0
  while (nn > 0) {
    if (nn % 2) {
      Hpwr = matmul(Hpwr, H, m)
      expnt += Hexpnt
    }
    H = matmul(H, H, m)
    Hexpnt *= 2
    if (Math.abs(H[(k - 1) * m + (k - 1)]) > E128) {
      for (let i = 0; i < H.length; i++) H[i] /= E128
      Hexpnt += 128
    }
    nn = Math.floor(nn / 2)
  }
  let p = Hpwr[(k - 1) * m + (k - 1)]
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n
    if (Math.abs(p) < EM128) {
      p *= E128
      expnt -= 128
    }
  }
  if (expnt !== 0) p *= 2 ** expnt
  return clip(p)
}

/** `_pomeranz_compute_j1j2`: the non-zero window of row i. */
function pomeranzJ1J2(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number
  let j2: number
  if (i === 0) {
    j1 = -ll - ceilf - 1
    j2 = ll + ceilf - 1
  } else {
    const ip1div2 = Math.floor((i + 1) / 2)
    const ip1mod2 = (i + 1) % 2
    if (ip1mod2 === 0) {
      if (ip1div2 === n + 1) {
        j1 = n - ll - ceilf - 1
        j2 = n + ll + ceilf - 1
      } else {
        j1 = ip1div2 - 1 - ll - roundf - 1
        j2 = ip1div2 + ll - 1 + ceilf - 1
      }
    } else {
      j1 = ip1div2 - 1 - ll - 1
      j2 = ip1div2 + ll + roundf - 1
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)]
}

/** `_kolmogn_Pomeranz`: Pr(D_n ≤ x) by Pomeranz's recursion (rows convolved with near-Poisson weights). */
function kolmognPomeranz(n: number, x: number): number {
  const t = n * x
  const ll = Math.floor(t)
  const f = t - ll
  const g = Math.min(f, 1 - f)
  const ceilf = f > 0 ? 1 : 0
  const roundf = f > 0.5 ? 1 : 0
  const npwrs = 2 * (ll + 1)
  const gpower = new Float64Array(npwrs)
  const twogpower = new Float64Array(npwrs)
  const onem2gpower = new Float64Array(npwrs)
  gpower[0] = twogpower[0] = onem2gpower[0] = 1
  let expnt = 0
  const gn = g / n
  const g2n = (2 * g) / n
  const om2gn = (1 - 2 * g) / n
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = (gpower[m - 1] * gn) / m
    twogpower[m] = (twogpower[m - 1] * g2n) / m
    onem2gpower[m] = (onem2gpower[m - 1] * om2gn) / m
  }
  let V0 = new Float64Array(npwrs)
  let V1 = new Float64Array(npwrs)
  V1[0] = 1
  let V0s = 0
  let V1s = 0
  let j1 = pomeranzJ1J2(0, n, ll, ceilf, roundf)[0]
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1
    ;[V0, V1] = [V1, V0]
    ;[V0s, V1s] = [V1s, V0s]
    V1.fill(0)
    const window = pomeranzJ1J2(i, n, ll, ceilf, roundf)
    j1 = window[0]
    const j2 = window[1]
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 ? twogpower : onem2gpower
    const ln2 = j2 - k1 + 1
    if (ln2 > 0) {
      // np.convolve(V0[k1 - V0s : k1 - V0s + ln2], pwrs[:ln2]), slices truncated at the array end as numpy does.
      const aStart = k1 - V0s
      const aLen = Math.max(0, Math.min(aStart + ln2, npwrs) - aStart)
      const bLen = Math.min(ln2, npwrs)
      const convStart = j1 - k1
      const convLen = j2 - j1 + 1
      let max = -Infinity
      for (let c = 0; c < convLen; c++) {
        const kk = convStart + c
        let s = 0
        const lo = Math.max(0, kk - bLen + 1)
        const hi = Math.min(aLen - 1, kk)
        for (let a = lo; a <= hi; a++) s += V0[aStart + a] * pwrs[kk - a]
        V1[c] = s
      }
      for (let c = 0; c < npwrs; c++) if (V1[c] > max) max = V1[c]
      if (max > 0 && max < EM128) {
        for (let c = 0; c < npwrs; c++) V1[c] *= E128
        expnt -= 128
      }
      V1s = V0s + j1 - k1
    }
  }
  let ans = V1[n - V1s]
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > E128) {
      ans *= EM128
      expnt += 128
    }
    ans *= m
  }
  if (expnt !== 0) ans *= 2 ** expnt
  return clip(ans)
}

/** `_kolmogn_PelzGood`: the Li-Chien/Korolyuk expansion through n^(−3/2), Pelz & Good's small-z form. */
function kolmognPelzGood(n: number, x: number): number {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const z = Math.sqrt(n) * x
  const z2 = z ** 2
  const z3 = z ** 3
  const z4 = z ** 4
  const z6 = z ** 6
  const qlog = -PI2 / 8 / z2
  if (qlog < MIN_LOG) return 0
  let q = Math.exp(qlog)
  const k1a = -z2
  const k1b = PI2 / 4
  const k2a = 6 * z6 + 2 * z4
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4
  const k2c = (PI4 * (1 - 2 * z2)) / 16
  const k3d = (PI6 * (5 - 30 * z2)) / 64
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4
  const k3a = -30 * z6 - 90 * z ** 8
  const K = [0, 0, 0, 0]
  const maxk = Math.ceil((16 * z) / Math.PI)
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1
    const m2 = m ** 2
    const m4 = m ** 4
    const m6 = m ** 6
    const qpower = q ** (8 * k)
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6]
    for (let i = 0; i < 4; i++) K[i] = K[i] * qpower + coeffs[i]
  }
  const div = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10]
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT2PI) / div[i]
  q = Math.exp(-PI2 / 2 / z2)
  let k2extra = 0
  let k3extra = 0
  const sqrt3z = SQRT3 * z
  for (let k = maxk; k > 0; k--) {
    const qp = q ** (k * k)
    const kspi = Math.PI * k
    k2extra += k * k * qp
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * k * k * qp
  }
  K[2] += k2extra * ((PI2 * SQRT2PI) / (-36 * z3))
  K[3] += k3extra * ((PI2 * SQRT2PI) / (216 * z6))
  for (let i = 0; i < 4; i++) K[i] /= n ** (i / 2)
  return K[0] + K[1] + K[2] + K[3]
}

/**
 * P(D⁺_n ≥ x), the one-sided one-sample Smirnov survival function (scipy.special.smirnov), by the exact
 * Birnbaum–Tingey sum x·Σ_{j ≤ n(1−x)} C(n, j)·(1 − x − j/n)^(n−j)·(x + j/n)^(j−1). Each term is
 * binom.pmf(j; n, x + j/n)/(x + j/n), taken from Loader's saddle-point pmf (normal.ts, ~1e-15 relative),
 * and the terms are all positive, so the compensated sum keeps ~1e-14 relative accuracy for any n.
 */
export function smirnovSf(n: number, x: number): number {
  if (!(n > 0) || !(x >= 0 && x <= 1)) return NaN
  if (x === 0) return 1
  if (x === 1) return 0
  const last = Math.floor(n * (1 - x))
  const sum = new Sum()
  let previous = Infinity
  for (let j = 0; j <= last && j < n; j++) {
    const p = x + j / n
    if (!(p < 1)) continue
    const term = binomialPmf(j, n, p) / p
    sum.add(term)
    // The terms rise to one peak and fall (checked against the full sum for n up to 150000): stop once negligible.
    if (term < previous && term < sum.value * 1e-20) break
    previous = term
  }
  return clip(x * sum.value)
}

/** scipy.stats.kstwo.sf(x, n) = `_kolmogn(n, x, cdf=False)`: P(D_n > x) for the two-sided one-sample statistic. */
export function kstwoSf(x: number, n: number): number {
  if (Number.isNaN(x) || Number.isNaN(n)) return NaN
  if (!Number.isInteger(n) || n <= 0) return NaN
  if (x >= 1) return 0
  if (x <= 0) return 1
  const t = n * x
  if (t <= 1) {
    if (t <= 0.5) return 1
    let prob: number
    if (n <= 140) {
      prob = 1
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1)
    } else {
      prob = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1))
    }
    return clip(1 - prob)
  }
  if (t >= n - 1) return clip(2 * (1 - x) ** n)
  if (x >= 0.5) return clip(2 * smirnovSf(n, x))
  const nxsquared = t * x
  if (n <= 140) {
    if (nxsquared <= 0.754693) return clip(1 - kolmognDMTW(n, x))
    if (nxsquared <= 4) return clip(1 - kolmognPomeranz(n, x))
    return clip(2 * smirnovSf(n, x))
  }
  if (nxsquared >= 370) return 0
  if (nxsquared >= 2.2) return clip(2 * smirnovSf(n, x))
  const cdf = n <= 100000 && n * x ** 1.5 <= 1.4 ? kolmognDMTW(n, x) : kolmognPelzGood(n, x)
  return clip(1 - clip(cdf))
}
