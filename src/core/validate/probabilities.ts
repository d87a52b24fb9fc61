import { UserError } from '../errors.js'
import type { DatasetResult } from '../result/types.js'
import { plural } from '../report/common.js'

/** float32's machine epsilon, 2⁻²³: the spacing of floats just above 1. */
export const FLOAT32_EPSILON = 2 ** -23

/**
 * How far a probability may stray outside [0, 1], and a row's sum from 1, before it is more than rounding:
 * 16 · C · 2⁻²³ for C classes (3.8e-6 for a binary model). Runtimes compute probabilities in float32 and
 * tree ensembles sum one leaf weight per tree, so a forest's "1" comes out as 1.0000001192092896 and
 * the error grows with the number of terms. 16 ulp per class is far above what a few hundred trees
 * accumulate (a random walk of half-ulp errors) and far below anything a real bug produces (1.2, −0.1).
 */
export function probabilityTolerance(classes: number): number {
  return 16 * Math.max(1, classes) * FLOAT32_EPSILON
}

/**
 * Clips, in place, the probabilities that stray outside [0, 1] by no more than the tolerance, and leaves
 * anything further out for the caller to judge. Returns how many were clipped. test-robustness's model
 * calls go through here, so that a perturbed row is judged on the model's answer, not on float32's.
 */
export function clipRounding(matrix: Float64Array, classes: number): number {
  const tol = probabilityTolerance(classes)
  let clipped = 0
  for (let i = 0; i < matrix.length; i++) {
    const p = matrix[i]
    if (p < 0 && p >= -tol) {
      matrix[i] = 0
      clipped++
    } else if (p > 1 && p <= 1 + tol) {
      matrix[i] = 1
      clipped++
    }
  }
  return clipped
}

export type ProbabilityAdjustment = NonNullable<DatasetResult['probabilityAdjustment']>

/**
 * Clips rounding overshoots of [0, 1] in place and counts them, with the rows whose probabilities do not
 * sum to 1; anything beyond the tolerance (or not a number) is the model's error, named by output and row.
 * The metrics then see clipped values, so they equal scikit-learn's on the same clipped predictions.
 */
export class ProbabilityGuard {
  readonly tolerance: number
  private clippedValues = 0
  private clippedRows = 0
  private maxExcess = 0
  private offSumRows = 0
  private maxSumError = 0

  constructor(
    private readonly classes: number,
    /** Names the model output in messages. */
    private readonly output: string,
    private readonly where: string,
  ) {
    this.tolerance = probabilityTolerance(classes)
  }

  /** `matrix`: row-major rows × classes; `firstRow`: the 1-based data row of its first row. */
  check(matrix: Float64Array, firstRow: number): void {
    const k = this.classes
    const tol = this.tolerance
    for (let r = 0, at = 0; at < matrix.length; r++, at += k) {
      let sum = 0
      let clipped = false
      for (let j = 0; j < k; j++) {
        const p = matrix[at + j]
        if (!(p >= -tol && p <= 1 + tol)) {
          throw new UserError(
            `${this.where}: data row ${firstRow + r}: the model's output "${this.output}" gives probability ${String(p)} for class ${j + 1} of ${k}, which is not a probability in [0, 1] (nor within ${formatTolerance(tol)} of it, float32 rounding)`,
            { file: this.where, field: this.output },
          )
        }
        if (p < 0 || p > 1) {
          this.maxExcess = Math.max(this.maxExcess, p < 0 ? -p : p - 1)
          matrix[at + j] = p < 0 ? 0 : 1
          this.clippedValues++
          clipped = true
        }
        sum += p
      }
      if (clipped) this.clippedRows++
      const off = Math.abs(sum - 1)
      if (off > tol) {
        this.offSumRows++
        this.maxSumError = Math.max(this.maxSumError, off)
      }
    }
  }

  /** Adds another guard's counts (a shard's, when shards are merged): counts add, maxima take the larger. */
  absorb(a: ProbabilityAdjustment | undefined): void {
    if (!a) return
    this.clippedValues += a.clippedValues
    this.clippedRows += a.clippedRows
    this.maxExcess = Math.max(this.maxExcess, a.maxExcess)
    this.offSumRows += a.offSumRows
    this.maxSumError = Math.max(this.maxSumError, a.maxSumError)
  }

  summary(): ProbabilityAdjustment | undefined {
    if (this.clippedValues === 0 && this.offSumRows === 0) return undefined
    return {
      output: this.output,
      tolerance: this.tolerance,
      clippedValues: this.clippedValues,
      clippedRows: this.clippedRows,
      maxExcess: this.maxExcess,
      offSumRows: this.offSumRows,
      maxSumError: this.maxSumError,
    }
  }
}

function formatTolerance(t: number): string {
  return t.toExponential(1)
}

/** The report's note on an adjustment, in words first. */
export function describeAdjustment(a: ProbabilityAdjustment, label: string): string[] {
  const notes: string[] = []
  const rows = (n: number) => plural(n, 'row')
  if (a.clippedValues > 0)
    notes.push(
      `${label}: ${rows(a.clippedRows)} of "${a.output}" had probabilities outside [0, 1] by float32 rounding (largest excess ${a.maxExcess.toExponential(2)}, tolerance ${formatTolerance(a.tolerance)}); they were clipped to [0, 1] before the metrics.`,
    )
  if (a.offSumRows > 0)
    notes.push(
      `${label}: ${rows(a.offSumRows)} of "${a.output}" have probabilities that do not sum to 1 within ${formatTolerance(a.tolerance)} (largest difference ${a.maxSumError.toExponential(2)}); the metrics use them as given.`,
    )
  return notes
}
