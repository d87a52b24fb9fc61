/**
 * A seeded synthetic binary comparison for the benchmark: n rows, two correlated models (the candidate a
 * little sharper), compared on accuracy, roc_auc, log_loss, f1 and brier with `resamples` BCa resamples.
 */
import type { ScoredRows } from '../src/core/evaluation/types.js'
import { normalQuantile } from '../src/core/stats/normal.js'
import { createRng, resampleCounts } from '../src/core/stats/random.js'
import { accuracy, brier, f1, log_loss, roc_auc } from '../src/core/metrics/binary.js'
import { compareModels } from '../src/core/compare/compare.js'

export const BENCH_METRICS = ['accuracy', 'roc_auc', 'log_loss', 'f1', 'brier']

/** Synthetic binary rows: a latent signal per row, each model sees it with its own noise. */
export function syntheticBinaryRows(n: number, seed = 7): ScoredRows {
  const rng = createRng(seed)
  const yTrue = new Int32Array(n)
  const model = () => ({ proba: new Float64Array(2 * n), score: new Float64Array(n), predIndex: new Int32Array(n) })
  const candidate = model()
  const baseline = model()
  const gauss = () => normalQuantile(Math.min(1 - 1e-12, Math.max(1e-12, rng())))
  for (let i = 0; i < n; i++) {
    const y = rng() < 0.4 ? 1 : 0
    yTrue[i] = y
    const signal = (y ? 1 : -1) + gauss()
    for (const [m, noise] of [
      [candidate, 0.6],
      [baseline, 0.8],
    ] as const) {
      const p = 1 / (1 + Math.exp(-(signal + noise * gauss())))
      m.score[i] = p
      m.proba[2 * i] = 1 - p
      m.proba[2 * i + 1] = p
      m.predIndex[i] = p >= 0.5 ? 1 : 0
    }
  }
  return {
    n,
    task: 'binary',
    classes: [0, 1],
    positiveIndex: 1,
    yTrue,
    candidate: { predIndex: candidate.predIndex, proba: candidate.proba, score: candidate.score },
    baseline: { predIndex: baseline.predIndex, proba: baseline.proba, score: baseline.score },
    columns: {},
  }
}

/**
 * Seconds to build the comparison of `BENCH_METRICS` on n synthetic rows (data generation excluded), on
 * `threads` threads (default: the machine's).
 */
export function benchmarkCompare(n: number, resamples: number, threads?: number): number {
  const rows = syntheticBinaryRows(n)
  const start = performance.now()
  compareModels(
    rows,
    'bench',
    BENCH_METRICS.map((metric) => ({ metric })),
    { resamples, confidence: 0.95, method: 'bca', seed: 1, ...(threads !== undefined && { threads }) },
  )
  return (performance.now() - start) / 1000
}

/**
 * The baseline the benchmark measures the comparison against, in the same run: the straightforward
 * paired bootstrap a user would write, materialising each resample's rows and calling the (scikit-learn
 * equal) metric functions for both models, percentile intervals only (no jackknife, no tests).
 */
export function benchmarkNaiveBootstrap(n: number, resamples: number): number {
  const rows = syntheticBinaryRows(n)
  const y = rows.yTrue!
  const sides = [rows.candidate, rows.baseline!]
  const rng = createRng(1)
  const counts = new Int32Array(n)
  const idx = new Int32Array(n)
  const yr = new Int32Array(n)
  const pr = new Int32Array(n)
  const sr = new Float64Array(n)
  const deltas = BENCH_METRICS.map(() => new Float64Array(resamples))
  const start = performance.now()
  for (let r = 0; r < resamples; r++) {
    resampleCounts(n, rng, counts)
    let k = 0
    for (let i = 0; i < n; i++) for (let c = 0; c < counts[i]; c++) idx[k++] = i
    const values = sides.map((side) => {
      for (let j = 0; j < n; j++) {
        yr[j] = y[idx[j]]
        pr[j] = side.predIndex![idx[j]]
        sr[j] = side.score![idx[j]]
      }
      return [accuracy(yr, pr), roc_auc(yr, sr), log_loss(yr, sr), f1(yr, pr), brier(yr, sr)]
    })
    values[0].forEach((v, m) => (deltas[m][r] = v - values[1][m]))
  }
  for (const d of deltas) d.sort()
  return (performance.now() - start) / 1000
}
