/** Regression metrics, each equal to the scikit-learn function named in its comment. */
import { Sum } from './sum.js'
import { assertFinite, assertPaired } from './validate.js'

type Values = ArrayLike<number>

function checkPair(yTrue: Values, yPred: Values): void {
  assertPaired('yTrue', yTrue, 'yPred', yPred)
  assertFinite('yTrue', yTrue)
  assertFinite('yPred', yPred)
}

function meanOf(yTrue: Values, yPred: Values, term: (t: number, p: number) => number): number {
  checkPair(yTrue, yPred)
  const sum = new Sum()
  for (let i = 0; i < yTrue.length; i++) sum.add(term(yTrue[i], yPred[i]))
  return sum.value / yTrue.length
}

/**
 * The per-row terms whose means are mae, mse and mape (and whose largest is max_error): shared with the
 * weighted kernels, so their means are of the same numbers.
 */
export const REGRESSION_TERMS = {
  /** |y − ŷ| */
  mae: (t: number, p: number) => Math.abs(t - p),
  /** (y − ŷ)² */
  mse: (t: number, p: number) => (t - p) * (t - p),
  /** |y − ŷ| / max(|y|, eps) */
  mape: (t: number, p: number) => Math.abs(t - p) / Math.max(Math.abs(t), Number.EPSILON),
}

/** sklearn `mean_absolute_error`: mean |y − ŷ|. */
export function mae(yTrue: Values, yPred: Values): number {
  return meanOf(yTrue, yPred, REGRESSION_TERMS.mae)
}

/** sklearn `mean_squared_error`: mean (y − ŷ)². */
export function mse(yTrue: Values, yPred: Values): number {
  return meanOf(yTrue, yPred, REGRESSION_TERMS.mse)
}

/** sklearn `mean_squared_error(squared=False)` (`root_mean_squared_error` since 1.4): √MSE. */
export function rmse(yTrue: Values, yPred: Values): number {
  return Math.sqrt(mse(yTrue, yPred))
}

/**
 * sklearn `r2_score` with its default `force_finite=True`: 1 − Σ(y − ŷ)² / Σ(y − ȳ)². When y is constant the
 * ratio is undefined and scikit-learn returns 1 for a perfect prediction and 0 otherwise; with one row it
 * warns and returns NaN.
 */
export function r2(yTrue: Values, yPred: Values): number {
  checkPair(yTrue, yPred)
  if (yTrue.length < 2) return NaN
  const sum = new Sum()
  for (let i = 0; i < yTrue.length; i++) sum.add(yTrue[i])
  const mean = sum.value / yTrue.length
  const residual = new Sum()
  const totalSq = new Sum()
  for (let i = 0; i < yTrue.length; i++) {
    residual.add((yTrue[i] - yPred[i]) ** 2)
    totalSq.add((yTrue[i] - mean) ** 2)
  }
  if (totalSq.value === 0) return residual.value === 0 ? 1 : 0
  return 1 - residual.value / totalSq.value
}

/**
 * sklearn `mean_absolute_percentage_error`: mean |y − ŷ| / max(|y|, eps) with eps = float64 machine epsilon,
 * a fraction (not ×100). A zero target therefore contributes |ŷ| / 2.2e-16, as in scikit-learn.
 */
export function mape(yTrue: Values, yPred: Values): number {
  return meanOf(yTrue, yPred, REGRESSION_TERMS.mape)
}

/** sklearn `max_error`: max |y − ŷ|. */
export function max_error(yTrue: Values, yPred: Values): number {
  checkPair(yTrue, yPred)
  let max = 0
  for (let i = 0; i < yTrue.length; i++) max = Math.max(max, Math.abs(yTrue[i] - yPred[i]))
  return max
}

/** Each regression metric by name, for `computeMetrics`, which reports them in the catalogue's order. */
export const REGRESSION_METRICS: Readonly<Record<string, (yTrue: Values, yPred: Values) => number>> = {
  mae,
  mse,
  rmse,
  r2,
  mape,
  max_error,
}
