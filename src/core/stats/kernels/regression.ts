/**
 * The regression task's weighted kernels: means of per-row terms (mae, mse, rmse, mape), the largest
 * error of the rows with weight (max_error) and r2, each with its exact leave-one-out. The per-row terms
 * are the metrics module's own (`REGRESSION_TERMS`), so a resample averages the reported metric's numbers.
 */
import type { ModelRows, ScoredRows } from '../../evaluation/types.js'
import { REGRESSION_TERMS } from '../../metrics/regression.js'
import { Sum } from '../../metrics/sum.js'
import { assertFinite } from '../../metrics/validate.js'
import { checkLength } from './inputs.js'
import { meanOfTerms, rowTerms, weightArray, withLeaveOneOut, type MetricKernel } from './kernel.js'

// Module-level binding: inside a vm context (jest) each global `Math` lookup in a hot loop costs ~100×.
const { max } = Math

export function regressionKernel(name: string, rows: ScoredRows, model: ModelRows): MetricKernel {
  const n = rows.n
  const y = rows.yValue
  const yHat = model.values
  if (!y) throw new Error('regression rows need yValue')
  if (!yHat) throw new Error(`${name} needs the model's predicted values`)
  checkLength('yValue', y, n)
  checkLength('values', yHat, n)
  assertFinite('yValue', y)
  assertFinite('values', yHat)
  switch (name) {
    case 'mae':
      return meanOfTerms(rowTerms(n, (i) => REGRESSION_TERMS.mae(y[i], yHat[i])))
    case 'mse':
      return meanOfTerms(rowTerms(n, (i) => REGRESSION_TERMS.mse(y[i], yHat[i])))
    case 'rmse':
      return meanOfTerms(
        rowTerms(n, (i) => REGRESSION_TERMS.mse(y[i], yHat[i])),
        Math.sqrt,
      )
    case 'mape':
      return meanOfTerms(rowTerms(n, (i) => REGRESSION_TERMS.mape(y[i], yHat[i])))
    case 'max_error': {
      const errors = rowTerms(n, (i) => REGRESSION_TERMS.mae(y[i], yHat[i]))
      return withLeaveOneOut(
        (weights) => {
          const w = weightArray(weights, n)
          let largest = -1
          for (let i = 0; i < n; i++) if (w[i] !== 0) largest = max(largest, errors[i])
          return largest < 0 ? NaN : largest
        },
        () => {
          // The largest error of the others: the largest, or the runner-up for the row that holds it.
          let first = 0
          let second = -1
          for (let i = 1; i < n; i++) {
            if (errors[i] > errors[first]) {
              second = first
              first = i
            } else if (second < 0 || errors[i] > errors[second]) second = i
          }
          return Float64Array.from(errors, (_, i) => (n === 1 ? NaN : i === first ? errors[second] : errors[first]))
        },
      )
    }
    case 'r2':
      return withLeaveOneOut(
        (w) => weightedR2(y, yHat, weightArray(w, n)),
        () => r2LeaveOneOut(y, yHat),
      )
  }
  throw new Error(`no weighted ${name} for a regression task`)
}

/**
 * 1 − Σw(y − ŷ)² / Σw(y − ȳ)² with scikit-learn's `force_finite` rule for a constant target (1 if the
 * prediction is perfect, else 0) and NaN below two (weighted) rows. A constant target is detected exactly
 * (all weighted y equal) rather than from a rounded Σ(y − ȳ)², which could be a tiny non-zero.
 */
function weightedR2(y: Float64Array, yHat: Float64Array, w: Int32Array | Float64Array): number {
  const sum = new Sum()
  let total = 0
  let first = NaN
  let constant = true
  for (let i = 0; i < y.length; i++) {
    const wi = w[i]
    if (wi === 0) continue
    sum.add(wi * y[i])
    total += wi
    if (Number.isNaN(first)) first = y[i]
    else if (y[i] !== first) constant = false
  }
  if (!(total >= 2)) return NaN
  const mean = sum.value / total
  const residual = new Sum()
  const spread = new Sum()
  for (let i = 0; i < y.length; i++) {
    const wi = w[i]
    if (wi === 0) continue
    residual.add(wi * (y[i] - yHat[i]) ** 2)
    spread.add(wi * (y[i] - mean) ** 2)
  }
  if (constant || spread.value === 0) return residual.value === 0 ? 1 : 0
  return 1 - residual.value / spread.value
}

/**
 * r2 with each row left out: the residual sum loses the row's squared error, the total sum of squares
 * about the mean loses (y − ȳ)²·n/(n − 1) (the mean moves too); a left-out set with constant y follows
 * scikit-learn's rule as `weightedR2` does.
 */
function r2LeaveOneOut(y: Float64Array, yHat: Float64Array): Float64Array {
  const n = y.length
  const sum = new Sum()
  for (let i = 0; i < n; i++) sum.add(y[i])
  const mean = sum.value / n
  const residual = new Sum()
  const spread = new Sum()
  const values = new Map<number, number>()
  for (let i = 0; i < n; i++) {
    residual.add((y[i] - yHat[i]) ** 2)
    spread.add((y[i] - mean) ** 2)
    values.set(y[i], (values.get(y[i]) ?? 0) + 1)
  }
  return Float64Array.from({ length: n }, (_, i) => {
    if (n - 1 < 2) return NaN
    const res = residual.value - (y[i] - yHat[i]) ** 2
    // Constant once row i is out: y takes two values, one of them only at row i, or one value.
    const constant = values.size === 1 || (values.size === 2 && values.get(y[i]) === 1)
    const tot = spread.value - ((y[i] - mean) ** 2 * n) / (n - 1)
    if (constant || tot <= 0) return res === 0 ? 1 : 0
    return 1 - res / tot
  })
}
