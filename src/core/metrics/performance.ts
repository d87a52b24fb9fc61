/** Latency and throughput statistics over per-batch inference durations. */
import type { PerformanceStats } from '../result/types.js'
import { Sum } from './sum.js'
import { assertFinite, assertNonEmpty } from './validate.js'

/**
 * The q-th percentile (0–100) of ascending `sorted`, as numpy's default `np.percentile(a, q)` (method
 * "linear", Hyndman & Fan type 7): position h = (n − 1)·q/100 between neighbours, interpolated with numpy's
 * `_lerp`, which works from the nearer neighbour.
 */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  assertNonEmpty('values', sorted)
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile q = ${String(q)} must lie in [0, 100]`)
  const h = (sorted.length - 1) * (q / 100)
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, sorted.length - 1)
  const t = h - lo
  const a = sorted[lo]
  const b = sorted[hi]
  const diff = b - a
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t
}

export interface LatencyStats {
  p50: number
  p95: number
  p99: number
  mean: number
  max: number
}

/** p50/p95/p99 (`np.percentile`), mean and max of per-batch durations in milliseconds. */
export function latencyStats(durationsMs: ArrayLike<number>): LatencyStats {
  assertNonEmpty('durationsMs', durationsMs)
  assertFinite('durationsMs', durationsMs)
  const sorted = Float64Array.from(durationsMs).sort()
  const sum = new Sum()
  sorted.forEach((d) => sum.add(d))
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    mean: sum.value / sorted.length,
    max: sorted[sorted.length - 1],
  }
}

/** Rows scored per second of wall time. Zero seconds would make it infinite, which JSON cannot carry. */
export function rowsPerSecond(rows: number, seconds: number): number {
  if (!(rows >= 0 && Number.isFinite(rows))) throw new Error(`rows = ${rows} must be a non-negative number`)
  if (!(seconds > 0 && Number.isFinite(seconds))) throw new Error(`seconds = ${seconds} must be a positive number`)
  return rows / seconds
}

/**
 * The result file's `PerformanceStats`. `totalSeconds` is the measured wall time of the whole run; when
 * omitted it is the sum of the batch durations.
 */
export function performanceStats(
  durationsMs: ArrayLike<number>,
  opts: { rows: number; batchSize: number; totalSeconds?: number },
): PerformanceStats {
  const latencyMs = latencyStats(durationsMs)
  const totalSeconds = opts.totalSeconds ?? (latencyMs.mean * durationsMs.length) / 1000
  return {
    batches: durationsMs.length,
    batchSize: opts.batchSize,
    latencyMs,
    rowsPerSecond: rowsPerSecond(opts.rows, totalSeconds),
    totalSeconds,
  }
}

/** The gateable metric names of `PerformanceStats` (and the model size, when known). */
export function performanceMetrics(stats: PerformanceStats, modelSizeBytes?: number): Record<string, number> {
  const metrics: Record<string, number> = {
    latency_p50_ms: stats.latencyMs.p50,
    latency_p95_ms: stats.latencyMs.p95,
    latency_p99_ms: stats.latencyMs.p99,
    latency_mean_ms: stats.latencyMs.mean,
    latency_max_ms: stats.latencyMs.max,
    rows_per_second: stats.rowsPerSecond,
  }
  if (modelSizeBytes !== undefined) metrics.model_size_bytes = modelSizeBytes
  return metrics
}
