/**
 * Nonparametric bootstrap confidence intervals (Efron & Tibshirani 1993) over per-row weights.
 *
 * A resample is a vector of per-row counts; a statistic sees the counts and computes its value on the rows
 * repeated that many times (see `weighted.ts`). The counts are a Poisson bootstrap (Hanley & MacGibbon
 * 2006; Chamandy et al. 2012): each row's count is Poisson(1), a pure function of (seed, resample, row)
 * (`random.ts` poissonWeight), so a resample does not depend on how the rows are split (threads, shards),
 * and a seed gives the same interval on every machine. A resample's size is random (mean n); for the
 * smooth statistics compared here that is asymptotically the multinomial bootstrap. A statistic that
 * compares two models (`deltaStatistic`) applies the same counts to both: a paired bootstrap, so the
 * row-to-row correlation of the two models' errors is kept and the interval of the difference is as
 * narrow as the data allow. Statistics described as data (`Statistic.fused`) are computed together by
 * the fused kernel (`fused.ts`), one pass over the rows per resample.
 *
 * Intervals (each checked against numpy/scipy on fixed replicates in `__tests__/stats/bootstrap.test.ts`):
 * - percentile: the (1 − c)/2 and (1 + c)/2 quantiles of the replicates, `np.percentile` linear rule,
 *   as `scipy.stats.bootstrap(method='percentile')`;
 * - BCa (Efron 1987), as `scipy.stats.bootstrap(method='BCa')`: bias correction z0 = Φ⁻¹(share of
 *   replicates below the estimate, ties counting one half), acceleration a = Σd³ / (6·(Σd²)^{3/2}) with
 *   d = mean(θ₍ᵢ₎) − θ₍ᵢ₎ over jackknife values θ₍ᵢ₎, and the replicates' quantiles at
 *   Φ(z0 + (z0 ± z)/(1 − a·(z0 ± z))).
 *
 * The jackknife: exact leave-one-out, from the statistic's own O(n) `leaveOneOut` when it has one (every
 * metric kernel but average_precision, and deltas of them); else by weight 0 on one row at a time up to
 * `JACKKNIFE_EXACT_MAX` rows (n evaluations); above that, a delete-d jackknife over `JACKKNIFE_GROUPS`
 * groups of rows assigned by a seeded hash of the row number (`jackknifeGroup`: so a group is not a run of
 * sorted rows, and is the same rows however the rows are split), each group
 * left out in turn: 1,000 evaluations at any n. With random groups a group's influence is the sum of its
 * rows' influences, so Σd³/(Σd²)^{3/2} estimates the same acceleration, with more noise (within ~30% of
 * the exact value in the tests); since a is O(1/√n) it moves the endpoints by well under 1% of the
 * interval's width (`__tests__/stats/bootstrap.test.ts` checks both). The interval's `note` says when the
 * jackknife was grouped.
 *
 * Degenerate cases, never a silent NaN:
 * - the statistic undefined (NaN) on the full data: `bootstrap` throws (there is nothing to bracket);
 * - NaN replicates (a resample with one class for ROC AUC, a resample of total weight 0, …): left out and counted in
 *   `interval.undefinedResamples`; when none is finite, `bootstrap` throws;
 * - all finite replicates equal: the interval is that value at both ends;
 * - BCa with every replicate on one side of the estimate (z0 infinite), or 1 − a·(z0 ± z) ≤ 0: the
 *   percentile interval instead, with `method: 'percentile'` and a `note` saying why;
 * - jackknife values all equal (or NaN): acceleration 0 (bias-corrected percentile), said in `note`.
 */
import type { ScoredRows, Side, Weights } from '../evaluation/types.js'
import { fusable, fusedStates, fusedStride, planFused, type FusedStatistic } from './fused.js'
import { normalCdf, normalQuantile } from './normal.js'
import { lowbias32, POISSON1_THRESHOLDS, weightKey } from './random.js'
import type { BootstrapOptions, Interval } from './types.js'
import { defaultThreads, parallelStates } from './workers.js'
import { metricKernel } from './weighted.js'

/**
 * A statistic of the rows counted with the given weights (null: each row once). Must not keep `w`.
 * `leaveOneOut`, when present, returns the statistic with each row left out in turn (exactly, faster than
 * n calls); metric kernels and `deltaStatistic` provide it. `fused`, when present, describes the statistic
 * as data (a metric of one side of `rows`, or the paired delta) so that the fused kernel (`fused.ts`)
 * computes it with the other statistics in one pass; it must equal the closure on every weight vector.
 */
export type Statistic = ((w: Weights) => number) & {
  leaveOneOut?: () => Float64Array
  fused?: FusedStatistic & { rows: ScoredRows }
}

export interface BootstrapResult {
  /** The statistic on the data as they are (weights null). */
  estimate: number
  interval: Interval
  /** One value per resample, in resample order (NaN where the statistic was undefined). */
  replicates: Float64Array
}

/** Rows up to which the BCa jackknife is exact leave-one-out. */
export const JACKKNIFE_EXACT_MAX = 2000
/** Groups of the delete-d jackknife above `JACKKNIFE_EXACT_MAX` rows. */
export const JACKKNIFE_GROUPS = 1000

/** `candidate − baseline` of `metric` on the same weights: the paired delta of a comparison. */
export function deltaStatistic(metric: string, rows: ScoredRows): Statistic {
  const candidate = metricKernel(metric, rows, 'candidate')
  const baseline = metricKernel(metric, rows, 'baseline')
  const delta: Statistic = Object.assign((w: Weights) => candidate(w) - baseline(w), describe(metric, rows, 'delta'))
  const [a, b] = [candidate.leaveOneOut, baseline.leaveOneOut]
  if (!a || !b) return delta
  return Object.assign(delta, {
    leaveOneOut: () => {
      const out = a()
      const base = b()
      for (let i = 0; i < out.length; i++) out[i] -= base[i]
      return out
    },
  })
}

/** `metric` of `side` on `rows` as a bootstrap statistic (its kernel, described for the fused kernel). */
export function metricStatistic(metric: string, rows: ScoredRows, side: Side): Statistic {
  const kernel = metricKernel(metric, rows, side)
  const statistic: Statistic = Object.assign((w: Weights) => kernel(w), describe(metric, rows, side))
  return kernel.leaveOneOut ? Object.assign(statistic, { leaveOneOut: kernel.leaveOneOut }) : statistic
}

function describe(metric: string, rows: ScoredRows, side: Side | 'delta'): Pick<Statistic, 'fused'> {
  return rows.task === 'binary' && fusable(metric) ? { fused: { metric, side, rows } } : {}
}

/** Paired bootstrap of one statistic over n rows; see the top of this file. */
export function bootstrap(n: number, statistic: Statistic, opts: BootstrapOptions): BootstrapResult {
  return bootstrapMany(n, [statistic], opts)[0]
}

/**
 * Bootstrap of several statistics on the same resamples (each resample's weights drawn once and shown to
 * every statistic), as `bootstrap` gives for each alone with the same seed. The statistics described for
 * the fused kernel (on the same rows) are computed there in one pass per resample; the others are called
 * with the resample's weights.
 */
export function bootstrapMany(n: number, statistics: Statistic[], opts: BootstrapOptions): BootstrapResult[] {
  checkOptions(opts)
  if (!Number.isInteger(n) || n < 1) throw new Error(`bootstrap needs at least one row, got n = ${String(n)}`)
  const estimates = statistics.map((statistic, s) => {
    const estimate = statistic(null)
    if (Number.isNaN(estimate)) throw new Error(`statistic ${s} is undefined (NaN) on the full data: no interval to bootstrap`)
    return estimate
  })
  const replicates = bootstrapReplicates(n, statistics, opts)
  const jackknives = opts.method === 'bca' ? jackknifeMany(n, statistics, opts.seed) : undefined
  return statistics.map((_, s) => {
    const finite = replicates[s].filter((v) => !Number.isNaN(v))
    if (finite.length === 0) throw new Error(`statistic ${s} is undefined (NaN) on every bootstrap resample`)
    const interval = jackknives
      ? bcaInterval(finite, estimates[s], jackknives.values[s], opts.confidence)
      : percentileInterval(finite, opts.confidence)
    interval.resamples = opts.resamples
    const undefinedResamples = opts.resamples - finite.length
    if (undefinedResamples > 0) interval.undefinedResamples = undefinedResamples
    if (jackknives?.grouped[s] && interval.method === 'bca') {
      interval.note = joinNotes(interval.note, `acceleration from a grouped jackknife (${JACKKNIFE_GROUPS} random groups of rows)`)
    }
    return { estimate: estimates[s], interval, replicates: replicates[s] }
  })
}

/**
 * The replicates of each statistic over `opts.resamples` Poisson resamples (`random.ts`): resample b
 * weighs row i by poissonWeight(seed, b, i). A resample of total weight 0 is NaN for every statistic.
 */
export function bootstrapReplicates(
  n: number,
  statistics: Statistic[],
  opts: Pick<BootstrapOptions, 'resamples' | 'seed' | 'threads'>,
): Float64Array[] {
  const B = opts.resamples
  const replicates = statistics.map(() => new Float64Array(B))
  const rows = statistics.find((s) => s.fused && s.fused.rows.n === n)?.fused?.rows
  const fusedIndex = statistics.flatMap((s, k) => (rows && s.fused?.rows === rows ? [k] : []))
  const others = statistics.flatMap((s, k) => (fusedIndex.includes(k) ? [] : [k]))
  const plan = rows
    ? planFused(
        rows,
        fusedIndex.map((k) => statistics[k].fused!),
      )
    : undefined
  const key = weightKey(opts.seed)
  const threads = opts.threads ?? defaultThreads()
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`bootstrap threads = ${String(threads)} must be a whole number >= 1`)
  const bare = { n, rowStart: 0, rowEnd: n, code: new Uint8Array(0), terms: [], rankings: [], thresholds: POISSON1_THRESHOLDS }
  const states = plan ? parallelStates({ ...plan.job, key }, B, threads) : undefined
  // The statistics outside the fused set see each resample's weights here (the same weights, drawn again).
  const weightStates =
    others.length === 0
      ? undefined
      : fusedStates({ ...bare, key, bStart: 0, bEnd: B }, (b, w) => {
          for (const k of others) replicates[k][b] = statistics[k](w)
        })
  const bareStride = fusedStride(0, 0)
  for (let b = 0; b < B; b++) {
    if (plan && states) fusedIndex.forEach((k, s) => (replicates[k][b] = plan.value(s, states, b * plan.stride)))
    const total = states ? states[b * plan!.stride] : weightStates![b * bareStride]
    if (total === 0) for (const r of replicates) r[b] = NaN
  }
  return replicates
}

function checkOptions(opts: BootstrapOptions): void {
  if (!Number.isInteger(opts.resamples) || opts.resamples < 2) {
    throw new Error(`bootstrap resamples = ${String(opts.resamples)} must be a whole number >= 2`)
  }
  checkConfidence(opts.confidence)
  if (opts.method !== 'bca' && opts.method !== 'percentile') {
    throw new Error(`bootstrap method ${JSON.stringify(opts.method)}: expected "bca" or "percentile"`)
  }
}

function checkConfidence(confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) throw new Error(`confidence = ${String(confidence)} must lie strictly between 0 and 1`)
}

function joinNotes(a: string | undefined, b: string): string {
  return a ? `${a}; ${b}` : b
}

/**
 * Jackknife values of each statistic: its own `leaveOneOut` when it has one; else leave-one-out by weights
 * when n ≤ `JACKKNIFE_EXACT_MAX`; else leave-one-group-out over `JACKKNIFE_GROUPS` groups made by a
 * hash seeded with `seed` (see the top of this file). `grouped[s]` says which statistics got groups.
 */
export function jackknifeMany(n: number, statistics: Statistic[], seed: number): { values: Float64Array[]; grouped: boolean[] } {
  const values: Float64Array[] = statistics.map((statistic) => statistic.leaveOneOut?.() ?? new Float64Array(0))
  const pending = statistics.flatMap((statistic, s) => (statistic.leaveOneOut ? [] : [s]))
  const grouped = statistics.map(() => false)
  if (pending.length === 0) return { values, grouped }
  const groups = n <= JACKKNIFE_EXACT_MAX ? n : JACKKNIFE_GROUPS
  const { rows, starts } =
    groups < n
      ? hashedGroups(n, groups, seed)
      : { rows: Int32Array.from({ length: n }, (_, i) => i), starts: Int32Array.from({ length: n + 1 }, (_, i) => i) }
  for (const s of pending) {
    values[s] = new Float64Array(groups)
    grouped[s] = groups < n
  }
  const w = new Int32Array(n).fill(1)
  for (let g = 0; g < groups; g++) {
    for (let j = starts[g]; j < starts[g + 1]; j++) w[rows[j]] = 0
    for (const s of pending) values[s][g] = statistics[s](w)
    for (let j = starts[g]; j < starts[g + 1]; j++) w[rows[j]] = 1
  }
  return { values, grouped }
}

/**
 * Row i's jackknife group: ⌊h·groups / 2³²⌋ of h = lowbias32(i ^ lowbias32(seed ^ 0x5bd1e995)), a pure
 * function of (seed, i), so a group is the same rows whatever the split of the rows. The rows by group
 * (ascending within one), group g at rows[starts[g] .. starts[g + 1]).
 */
export function jackknifeGroup(key: number, i: number, groups: number): number {
  return Math.floor(((lowbias32(i ^ key) >>> 0) * groups) / 4294967296)
}

export function jackknifeKey(seed: number): number {
  return lowbias32((Math.trunc(seed) | 0) ^ 0x5bd1e995)
}

function hashedGroups(n: number, groups: number, seed: number): { rows: Int32Array; starts: Int32Array } {
  const key = jackknifeKey(seed)
  const group = new Int32Array(n)
  const starts = new Int32Array(groups + 1)
  for (let i = 0; i < n; i++) {
    group[i] = jackknifeGroup(key, i, groups)
    starts[group[i] + 1]++
  }
  for (let g = 0; g < groups; g++) starts[g + 1] += starts[g]
  const next = starts.slice(0, groups)
  const rows = new Int32Array(n)
  for (let i = 0; i < n; i++) rows[next[group[i]]++] = i
  return { rows, starts }
}

/** `np.percentile(sorted, 100·q)` with numpy's default linear rule, on ascending `sorted`. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) return NaN
  const h = (n - 1) * q
  const lo = Math.max(0, Math.min(n - 1, Math.floor(h)))
  const hi = Math.min(n - 1, lo + 1)
  const t = h - lo
  const a = sorted[lo]
  const b = sorted[hi]
  // numpy's _lerp: from the nearer end, so t = 1 gives b exactly.
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t
}

function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort()
}

/** Percentile interval of `replicates` (finite numbers) at `confidence`. */
export function percentileInterval(replicates: ArrayLike<number>, confidence: number): Interval {
  checkConfidence(confidence)
  const sorted = sortedCopy(replicates)
  const alpha = (1 - confidence) / 2
  return {
    low: quantileSorted(sorted, alpha),
    high: quantileSorted(sorted, 1 - alpha),
    confidence,
    method: 'percentile',
    resamples: sorted.length,
  }
}

/**
 * BCa interval of `replicates` (finite numbers) around `estimate`, with acceleration from `jackknife`
 * (leave-one-out or grouped values; NaNs ignored). Degenerate cases: see the top of this file.
 */
export function bcaInterval(replicates: ArrayLike<number>, estimate: number, jackknife: ArrayLike<number>, confidence: number): Interval {
  checkConfidence(confidence)
  const sorted = sortedCopy(replicates)
  const B = sorted.length
  if (B === 0) throw new Error('no replicates to make an interval from')
  const interval = (low: number, high: number, method: 'bca' | 'percentile', note?: string): Interval => ({
    low,
    high,
    confidence,
    method,
    resamples: B,
    ...(note !== undefined && { note }),
  })
  if (sorted[0] === sorted[B - 1]) return interval(sorted[0], sorted[0], 'bca', 'every resample gave the same value')
  let below = 0
  let atOrBelow = 0
  for (let i = 0; i < B; i++) {
    if (sorted[i] < estimate) below++
    if (sorted[i] <= estimate) atOrBelow++
  }
  const z0 = normalQuantile((below + atOrBelow) / (2 * B))
  const alpha = (1 - confidence) / 2
  const fallback = (why: string): Interval => {
    const p = percentileInterval(sorted, confidence)
    return interval(p.low, p.high, 'percentile', `BCa not applicable (${why}): percentile interval`)
  }
  if (!Number.isFinite(z0)) return fallback('every resample lies on one side of the estimate')
  const a = acceleration(jackknife)
  const zAlpha = normalQuantile(alpha)
  const num1 = z0 + zAlpha
  const num2 = z0 - zAlpha
  if (!(1 - a.value * num1 > 0 && 1 - a.value * num2 > 0)) return fallback('the acceleration is too large for this confidence')
  const alpha1 = normalCdf(z0 + num1 / (1 - a.value * num1))
  const alpha2 = normalCdf(z0 + num2 / (1 - a.value * num2))
  return interval(quantileSorted(sorted, alpha1), quantileSorted(sorted, alpha2), 'bca', a.note)
}

/** a = Σd³ / (6·(Σd²)^{3/2}), d = mean − θ₍ᵢ₎ over the finite jackknife values; 0 when they do not vary. */
export function acceleration(jackknife: ArrayLike<number>): { value: number; note?: string } {
  let count = 0
  let sum = 0
  for (let i = 0; i < jackknife.length; i++) {
    if (Number.isNaN(jackknife[i])) continue
    sum += jackknife[i]
    count++
  }
  const mean = sum / count
  let s2 = 0
  let s3 = 0
  for (let i = 0; i < jackknife.length; i++) {
    if (Number.isNaN(jackknife[i])) continue
    const d = mean - jackknife[i]
    s2 += d * d
    s3 += d * d * d
  }
  if (count === 0 || s2 === 0) return { value: 0, note: 'jackknife values do not vary: acceleration 0' }
  const value = s3 / (6 * s2 ** 1.5)
  const dropped = jackknife.length - count
  return dropped > 0 ? { value, note: `${dropped} jackknife values undefined, left out` } : { value }
}
