/*
 * The numeric core of the data-drift check (issue 17): the statistics Evidently's default stattests compute,
 * as pure functions over numbers and counts, equal to scipy 1.10.1 / numpy 1.24 to 1e-9 (fixtures from
 * scripts/fixtures/drift-stats.py, checked in __tests__/drift/stats.test.ts). NaN must be removed by the
 * caller. Evidently definitions are from evidently/legacy/calculations/stattests/*.py (cited per function).
 */
import { Sum } from '../metrics/sum.js'
import { normalCdf } from '../stats/normal.js'
import { gcd, kstwoSf, outerProbInsideMethod, probOutsideSquare, roundHalfEven } from './ks.js'
import { chiSquareSf } from './special.js'

/** A test's statistic and, for the p-value tests, its p-value (what the drift report shows per column). */
export interface TestOutcome {
  statistic: number
  pValue?: number
}

/** A sorted copy; NaN would sort last and silently corrupt the ECDFs, so it is refused (callers drop missing values). */
function sorted(values: ArrayLike<number>): Float64Array {
  const out = values instanceof Float64Array ? values.slice() : Float64Array.from(values)
  if (out.some(Number.isNaN)) throw new Error('drift statistics: NaN in a sample (drop missing values first)')
  // Samples arrive sorted once per column (drift/evaluate.ts) and then pass through several statistics.
  let ascending = true
  for (let i = 1; i < out.length && ascending; i++) ascending = out[i - 1] <= out[i]
  if (ascending) return out
  return out.sort()
}

/** Compensated Σ; non-finite terms are added plainly (Neumaier's correction would turn ∞ into NaN), as numpy would. */
function sumOf(values: ArrayLike<number>): number {
  const s = new Sum()
  let nonFinite = 0
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) s.add(values[i])
    else nonFinite += values[i]
  }
  return nonFinite === 0 ? s.value : nonFinite
}

const INT32_MAX = 2147483647
const MAX_AUTO_N = 10000

/**
 * scipy.stats.ks_2samp(a, b) two-sided (scipy/stats/_stats_py.py): D = sup |F_a − F_b| over the pooled sample;
 * method 'auto' is exact when max(n1, n2) ≤ 10000, else asymptotic (kstwo.sf(D, round(n1·n2/(n1+n2)))); exact
 * falls back to asymptotic when it fails (non-finite or outside [0, 1]) or, if forced, when lcm(n1, n2) would
 * pass int32. In exact mode D is reported as round(D·lcm)/lcm, as scipy does. Evidently's 'ks' stattest is
 * this p-value (ks_stattest.py). Inputs need not be sorted; NaN excluded by the caller.
 */
export function ks2samp(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  method: 'auto' | 'exact' | 'asymp' = 'auto',
): TestOutcome & { method: 'exact' | 'asymp' } {
  const x = sorted(a)
  const y = sorted(b)
  const n1 = x.length
  const n2 = y.length
  if (Math.min(n1, n2) === 0) throw new Error('ks2samp: both samples must be non-empty')
  // cdf1 − cdf2 at every pooled value (searchsorted side='right' counts, divided as numpy divides).
  let maxS = -Infinity
  let minDiff = Infinity
  let i = 0
  let j = 0
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && x[i] <= y[j]) ? x[i] : y[j]
    while (i < n1 && x[i] <= v) i++
    while (j < n2 && y[j] <= v) j++
    const diff = i / n1 - j / n2
    if (diff > maxS) maxS = diff
    if (diff < minDiff) minDiff = diff
  }
  const minS = Math.min(Math.max(-minDiff, 0), 1)
  let d = minS > maxS ? minS : maxS
  const g = gcd(n1, n2)
  const n1g = n1 / g
  const n2g = n2 / g
  let mode: 'exact' | 'asymp' = method === 'auto' ? (Math.max(n1, n2) <= MAX_AUTO_N ? 'exact' : 'asymp') : method
  if (method === 'exact' && n1g >= INT32_MAX / n2g) mode = 'asymp'
  let prob = NaN
  if (mode === 'exact') {
    // _attempt_exact_2kssamp
    const lcm = n1g * n2
    const h = roundHalfEven(d * lcm)
    d = h / lcm
    if (h === 0) prob = 1
    else prob = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInsideMethod(n1, n2, g, h)
    if (!(prob >= 0 && prob <= 1)) mode = 'asymp'
  }
  if (mode === 'asymp') {
    const m = Math.max(n1, n2)
    const n = Math.min(n1, n2)
    prob = kstwoSf(d, roundHalfEven((m * n) / (m + n)))
  }
  const pValue = prob < 0 ? 0 : prob > 1 ? 1 : prob
  return { statistic: d, pValue, method: mode }
}

/**
 * scipy.stats.chisquare(f_obs, f_exp) (power_divergence with λ = 1): Σ (o − e)²/e, p = chi2.sf(stat, k − 1).
 * This, not chi2_contingency, is what Evidently's 'chisquare' stattest calls (chisquare_stattest.py), with
 * f_obs the current counts and f_exp the reference counts scaled by n_current/n_reference. Sums must agree
 * to 1e-8 relative, as scipy requires.
 */
export function chiSquare(observed: ArrayLike<number>, expected: ArrayLike<number>): TestOutcome & { dof: number } {
  const k = observed.length
  if (k === 0 || expected.length !== k) throw new Error('chiSquare: observed and expected must be non-empty and of equal length')
  const so = sumOf(observed)
  const se = sumOf(expected)
  if (Math.abs(so - se) / Math.min(so, se) > 1e-8) {
    throw new Error(`chiSquare: observed sum ${so} and expected sum ${se} differ by more than 1e-8 relative`)
  }
  const statistic = sumOf(Array.from({ length: k }, (_, i) => (observed[i] - expected[i]) ** 2 / expected[i]))
  const dof = k - 1
  return { statistic, pValue: dof >= 1 ? chiSquareSf(statistic, dof) : NaN, dof }
}

/**
 * Evidently's 'chisquare' stattest p-value (legacy chisquare_stattest.py `_chi_stat_test`): chisquare of the
 * current counts against the reference counts × n_current/n_reference, one entry per category seen in either.
 */
export function chiSquareStattest(referenceCounts: ArrayLike<number>, currentCounts: ArrayLike<number>): TestOutcome & { dof: number } {
  const kNorm = sumOf(currentCounts) / sumOf(referenceCounts)
  return chiSquare(
    currentCounts,
    Array.from(referenceCounts, (c) => c * kNorm),
  )
}

/**
 * scipy.stats.chi2_contingency(table) with its default correction=True (scipy/stats/contingency.py): expected =
 * row sum × column sum / total, dof = (r − 1)(c − 1); when dof = 1 each cell moves toward its expected count by
 * min(0.5, |e − o|) (Yates); dof = 0 gives statistic 0, p 1. Rows = [reference counts, current counts] per
 * category; categories with zero in both rows must be removed by the caller (scipy rejects zero expected counts).
 */
export function chi2Contingency(table: number[][]): TestOutcome & { dof: number } {
  const r = table.length
  const c = r === 0 ? 0 : table[0].length
  if (r === 0 || c === 0 || table.some((row) => row.length !== c)) throw new Error('chi2Contingency: need a non-empty rectangular table')
  if (table.some((row) => row.some((v) => !(v >= 0)))) throw new Error('chi2Contingency: all counts must be nonnegative')
  const rowSums = table.map((row) => sumOf(row))
  const colSums = Array.from({ length: c }, (_, j) => sumOf(table.map((row) => row[j])))
  const total = sumOf(rowSums)
  const expected = table.map((_, i) => colSums.map((cs) => (rowSums[i] * cs) / total))
  if (expected.some((row) => row.some((e) => e === 0))) throw new Error('chi2Contingency: an expected frequency is zero')
  const dof = r * c - (r + c) + 1
  if (dof === 0) return { statistic: 0, pValue: 1, dof }
  const s = new Sum()
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      let o = table[i][j]
      const e = expected[i][j]
      if (dof === 1) {
        const diff = e - o
        o += Math.min(0.5, Math.abs(diff)) * Math.sign(diff)
      }
      s.add((o - e) ** 2 / e)
    }
  }
  const statistic = s.value
  return { statistic, pValue: chiSquareSf(statistic, dof), dof }
}

/**
 * scipy.stats.wasserstein_distance(u, v) (1-D, unweighted; `_cdf_distance` with p = 1): ∫|U − V| as
 * Σ |U(xᵢ) − V(xᵢ)|·(xᵢ₊₁ − xᵢ) over the sorted pooled values.
 */
export function wassersteinDistance(u: ArrayLike<number>, v: ArrayLike<number>): number {
  const x = sorted(u)
  const y = sorted(v)
  const nu = x.length
  const nv = y.length
  if (nu === 0 || nv === 0) throw new Error('wassersteinDistance: both samples must be non-empty')
  const all = new Float64Array(nu + nv)
  all.set(x)
  all.set(y, nu)
  all.sort()
  const s = new Sum()
  let i = 0
  let j = 0
  for (let k = 0; k < all.length - 1; k++) {
    const value = all[k]
    while (i < nu && x[i] <= value) i++
    while (j < nv && y[j] <= value) j++
    s.add(Math.abs(i / nu - j / nv) * (all[k + 1] - value))
  }
  return s.value
}

/** numpy.std(values) with ddof = 0: √(mean((x − mean)²)). */
export function populationStd(values: ArrayLike<number>): number {
  const n = values.length
  const mean = sumOf(values) / n
  const s = new Sum()
  for (let i = 0; i < n; i++) s.add((values[i] - mean) ** 2)
  return Math.sqrt(s.value / n)
}

/**
 * Evidently's 'wasserstein' stattest (wasserstein_distance_norm.py): wasserstein_distance(reference, current)
 * / max(np.std(reference), 0.001), so the distance is in units of the reference spread (threshold 0.1).
 */
export function normedWasserstein(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  return wassersteinDistance(reference, current) / Math.max(populationStd(reference), 0.001)
}

/** scipy.special.rel_entr(x, y): x·ln(x/y), 0 at x = 0, ∞ when x > 0 = y. */
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y)
  if (x === 0 && y >= 0) return 0
  return Infinity
}

/**
 * scipy.spatial.distance.jensenshannon(p, q) (natural log): p and q normalised to sum 1, m = (p + q)/2,
 * √((KL(p‖m) + KL(q‖m))/2). Evidently's 'jensenshannon' stattest applies it to get_binned_data shares
 * without zero filling (jensenshannon.py), threshold 0.1.
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length || p.length === 0) throw new Error('jensenShannon: p and q must be non-empty and of equal length')
  const sp = sumOf(p)
  const sq = sumOf(q)
  const left = new Sum()
  const right = new Sum()
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] / sp
    const qi = q[i] / sq
    const m = (pi + qi) / 2
    left.add(relEntr(pi, m))
    right.add(relEntr(qi, m))
  }
  return Math.sqrt((left.value + right.value) / 2)
}

/**
 * Population stability index as Evidently's 'psi' stattest computes it (psi.py `_psi`): Σ (ref − cur)·ln(ref/cur)
 * over bin (or category) shares from get_binned_data, whose zero filling (see `fillZeroShares`) keeps every
 * share positive. Threshold 0.1, drift when psi ≥ threshold.
 */
export function psi(referenceShares: ArrayLike<number>, currentShares: ArrayLike<number>): number {
  if (referenceShares.length !== currentShares.length) throw new Error('psi: share arrays must have equal length')
  return sumOf(Array.from(referenceShares, (r, i) => (r - currentShares[i]) * Math.log(r / currentShares[i])))
}

/**
 * get_binned_data's `feel_zeroes` step (Evidently utils.py): zero shares become 0.0001, or min(non-zero)/10⁶ when
 * the smallest non-zero share is itself ≤ 0.0001 — so that psi's logarithm stays finite.
 */
export function fillZeroShares(shares: ArrayLike<number>): number[] {
  const out = Array.from(shares)
  const nonZero = out.filter((s) => s !== 0)
  if (nonZero.length === 0) return out
  const min = Math.min(...nonZero)
  const fill = min <= 0.0001 ? min / 10 ** 6 : 0.0001
  return out.map((s) => (s === 0 ? fill : s))
}

/**
 * numpy.histogram_bin_edges(values, bins) for an integer bin count or 'sturges' (numpy/lib/histograms.py):
 * min..max (±0.5 when constant) split by np.linspace; 'sturges' takes ceil(range / (range/(log2(n) + 1))) bins.
 */
export function histogramBinEdges(values: ArrayLike<number>, bins: number | 'sturges' = 10): number[] {
  const n = values.length
  if (n === 0) throw new Error('histogramBinEdges: no values')
  let first = Infinity
  let last = -Infinity
  for (let i = 0; i < n; i++) {
    if (values[i] < first) first = values[i]
    if (values[i] > last) last = values[i]
  }
  if (!Number.isFinite(first) || !Number.isFinite(last)) throw new Error('histogramBinEdges: values must be finite')
  let count: number
  if (bins === 'sturges') {
    const width = (last - first) / (Math.log2(n) + 1)
    count = width ? Math.ceil((last - first) / width) : 1
  } else {
    if (!Number.isInteger(bins) || bins < 1) throw new Error(`histogramBinEdges: bins = ${bins} must be a whole number >= 1`)
    count = bins
  }
  if (first === last) {
    first -= 0.5
    last += 0.5
  }
  // np.linspace(first, last, count + 1): i·step + first, the last edge set to `last` exactly.
  const delta = last - first
  const step = delta / count
  const edges = Array.from({ length: count + 1 }, (_, i) => (step === 0 ? (i / count) * delta : i * step) + first)
  edges[count] = last
  return edges
}

/** np.histogram(values, edges)[0]: counts in [eᵢ, eᵢ₊₁), the last bin closed; values outside are dropped. */
export function histogramCounts(values: ArrayLike<number>, edges: readonly number[]): number[] {
  const x = sorted(values)
  // searchsorted(edges[:-1], 'left') and searchsorted(edges[-1], 'right'), differenced.
  const lower = (v: number, right: boolean) => {
    let lo = 0
    let hi = x.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (right ? x[mid] <= v : x[mid] < v) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const cum = edges.map((e, i) => lower(e, i === edges.length - 1))
  return cum.slice(1).map((c, i) => c - cum[i])
}

/**
 * Evidently's get_binned_data for a numeric column (legacy stattests/utils.py): edges from
 * np.histogram_bin_edges of reference and current pooled — with bins="sturges" in Evidently's source, whatever
 * n_bins the stattest passes — then each sample's np.histogram counts / its length, zero shares filled by
 * `fillZeroShares` unless `fillZeroes` is false (jensenshannon passes False). Evidently bins this way only when
 * the reference has > 20 distinct values; otherwise it uses per-category shares (the caller's job).
 */
export function binnedShares(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  bins: number | 'sturges' = 'sturges',
  fillZeroes = true,
): { edges: number[]; reference: number[]; current: number[] } {
  const pooled = new Float64Array(reference.length + current.length)
  pooled.set(Array.from(reference))
  pooled.set(Array.from(current), reference.length)
  const edges = histogramBinEdges(pooled, bins)
  const ref = histogramCounts(reference, edges).map((c) => c / reference.length)
  const cur = histogramCounts(current, edges).map((c) => c / current.length)
  return fillZeroes ? { edges, reference: fillZeroShares(ref), current: fillZeroShares(cur) } : { edges, reference: ref, current: cur }
}

/**
 * Evidently's 'z' stattest (legacy z_stattest.py): the pooled two-proportion Z statistic
 * (p₁ − p₂)/√(P(1 − P)(1/n₁ + 1/n₂)) with p-value 2·(1 − Φ(|z|)) computed as Evidently does (the difference,
 * so it bottoms out near 1e-16); p = 1 when both samples hold the same single value (P = 0 or 1). Counts are
 * of one fixed category (Evidently uses "not the smallest value"); the p-value is symmetric in the choice.
 */
export function zTestProportions(referenceCount: number, referenceTotal: number, currentCount: number, currentTotal: number): TestOutcome {
  if (!(referenceTotal > 0 && currentTotal > 0)) throw new Error('zTestProportions: both samples must be non-empty')
  const p1 = referenceCount / referenceTotal
  const p2 = currentCount / currentTotal
  const P = (p1 * referenceTotal + p2 * currentTotal) / (referenceTotal + currentTotal)
  if (P === 0 || P === 1) return { statistic: 0, pValue: 1 }
  const statistic = (p1 - p2) / Math.sqrt(P * (1 - P) * (1 / referenceTotal + 1 / currentTotal))
  return { statistic, pValue: 2 * (1 - normalCdf(Math.abs(statistic))) }
}
