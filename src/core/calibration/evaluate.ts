/**
 * Calibration of a binary classifier's positive-class probability: the reliability table, ECE, MCE and the
 * Brier score, each with a bootstrap interval. The values are the metrics module's own (`ece`, `brier` in
 * src/core/metrics/binary.ts), so a gate on ece/mce/brier and this report always agree; the bins follow the
 * same numpy histogram rule (`histogramBin`).
 */
import type { ScoredRows } from '../evaluation/types.js'
import { brier, calibrationBins, ece } from '../metrics/binary.js'
import type { CalibrationResult } from '../result/types.js'
import { bootstrapMany, metricStatistic } from '../stats/bootstrap.js'
import type { BootstrapOptions } from '../stats/types.js'

export type ReliabilityBin = CalibrationResult['bins'][number]

/** Below this many rows a bin's gap is noisy, and MCE (the largest gap) with it. */
export const SMALL_BIN_ROWS = 10

const DEFAULT_BINS = 10

/**
 * One row per non-empty bin, ascending. Empty bins are left out: their mean prediction and fraction positive
 * are undefined (0/0), and a 0 would draw a false point on a reliability diagram. `low`/`high` are numpy's
 * `histogram` edges (i · (1/bins), the last one 1), the ones the rows were binned by, so the bins that are
 * present say which are missing, and the rows add up to n.
 */
export function reliabilityTable(positive: ArrayLike<number>, pPositive: ArrayLike<number>, bins: number): ReliabilityBin[] {
  const { count, sumY, sumP } = calibrationBins(positive, pPositive, bins)
  const step = 1 / bins
  const table: ReliabilityBin[] = []
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue
    table.push({
      low: b * step,
      high: b === bins - 1 ? 1 : (b + 1) * step,
      rows: count[b],
      mean_predicted: sumP[b].value / count[b],
      fraction_positive: sumY[b] / count[b],
    })
  }
  return table
}

/** For binary tasks whose model gives probabilities; undefined otherwise (there is nothing to calibrate). */
export function evaluateCalibration(rows: ScoredRows, dataset: string, opts: BootstrapOptions): CalibrationResult | undefined {
  const score = rows.candidate.score
  if (rows.task !== 'binary' || score === undefined || rows.yTrue === undefined || rows.positiveIndex === undefined) return undefined
  const positiveIndex = rows.positiveIndex
  const positive = Uint8Array.from(rows.yTrue, (c) => (c === positiveIndex ? 1 : 0))
  const bins = rows.eceBins ?? DEFAULT_BINS
  const errors = ece(positive, score, bins)
  const [eceBoot, mceBoot, brierBoot] = bootstrapMany(
    rows.n,
    (['ece', 'mce', 'brier'] as const).map((name) => metricStatistic(name, rows, 'candidate')),
    opts,
  )
  return {
    dataset,
    bins: reliabilityTable(positive, score, bins),
    ece: errors.ece,
    mce: errors.mce,
    brier: brier(positive, score),
    intervals: { ece: eceBoot.interval, mce: mceBoot.interval, brier: brierBoot.interval },
  }
}

/** The number of equal-width bins the table was made with, read back from a bin's width. */
function binCount(result: CalibrationResult): number {
  const first = result.bins[0]
  return first === undefined ? 0 : Math.round(1 / (first.high - first.low))
}

/** What a reader of the calibration result should know: bins left out, bins too small for a stable MCE. */
export function calibrationNotes(result: CalibrationResult): string[] {
  const notes: string[] = []
  const bins = binCount(result)
  const where = `calibration on ${result.dataset}`
  const empty = bins - result.bins.length
  if (empty > 0) notes.push(`${where}: ${empty} of ${bins} probability bins have no rows and are left out of the reliability table`)
  const small = result.bins.filter((b) => b.rows < SMALL_BIN_ROWS)
  if (small.length > 0) {
    const list = small
      .map((b) => `[${Number(b.low.toPrecision(6))}, ${Number(b.high.toPrecision(6))}] ${b.rows} row${b.rows === 1 ? '' : 's'}`)
      .join(', ')
    notes.push(
      `${where}: ${small.length} of ${result.bins.length} non-empty bins have fewer than ${SMALL_BIN_ROWS} rows (${list}); MCE, the largest gap over the bins, is noisy there`,
    )
  }
  return notes
}
