/**
 * Expected and maximum calibration error with weights, over the equal-width bins of p(positive) that
 * `histogramBin` assigns once per kernel (so a resample only re-sums the bins), and their exact
 * leave-one-out: leaving a row out changes only its own bin. From the bins' sums on, the formula is the
 * metrics module's (`calibrationErrors`).
 */
import { calibrationErrors } from '../../metrics/binary.js'

export function calibrationError(
  truth: Uint8Array,
  score: Float64Array,
  bin: Int32Array,
  bins: number,
  w: Int32Array | Float64Array,
): { ece: number; mce: number } {
  const count = new Float64Array(bins)
  const sumY = new Float64Array(bins)
  const sumP = new Float64Array(bins)
  let total = 0
  for (let i = 0; i < w.length; i++) {
    const wi = w[i]
    if (wi === 0) continue
    const b = bin[i]
    count[b] += wi
    sumY[b] += wi * truth[i]
    sumP[b] += wi * score[i]
    total += wi
  }
  if (total === 0) return { ece: NaN, mce: NaN }
  return calibrationErrors(count, sumY, sumP, total)
}

/** ECE and MCE with each row left out: only that row's bin changes. */
export function calibrationLeaveOneOut(
  truth: Uint8Array,
  score: Float64Array,
  bin: Int32Array,
  bins: number,
): { ece: Float64Array; mce: Float64Array } {
  const n = truth.length
  const count = new Float64Array(bins)
  const sumY = new Float64Array(bins)
  const sumP = new Float64Array(bins)
  for (let i = 0; i < n; i++) {
    count[bin[i]]++
    sumY[bin[i]] += truth[i]
    sumP[bin[i]] += score[i]
  }
  const gap = (c: number, y: number, p: number) => (c === 0 ? 0 : Math.abs(y / c - p / c))
  const gaps = Float64Array.from({ length: bins }, (_, b) => gap(count[b], sumY[b], sumP[b]))
  let weighted = 0
  for (let b = 0; b < bins; b++) weighted += gaps[b] * count[b]
  // The largest gap outside bin b: the overall largest, or the runner-up when b holds it.
  let first = -1
  let second = -1
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue
    if (first < 0 || gaps[b] > gaps[first]) {
      second = first
      first = b
    } else if (second < 0 || gaps[b] > gaps[second]) second = b
  }
  const ece = new Float64Array(n)
  const mce = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const b = bin[i]
    const newGap = gap(count[b] - 1, sumY[b] - truth[i], sumP[b] - score[i])
    ece[i] = n > 1 ? (weighted - gaps[b] * count[b] + newGap * (count[b] - 1)) / (n - 1) : NaN
    const other = b === first ? second : first
    mce[i] = n > 1 ? Math.max(other < 0 ? 0 : gaps[other], count[b] > 1 ? newGap : 0) : NaN
  }
  return { ece, mce }
}
