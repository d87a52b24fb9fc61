/** Formulas shared by the binary and multiclass metrics, written as scikit-learn computes them. */

/** `a / b`, or 0 where scikit-learn's `zero_division="warn"` applies (b = 0). */
export function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b
}

/** Harmonic mean as scikit-learn 1.2 computes it in `precision_recall_fscore_support` (beta = 1). */
export function harmonicF1(precision: number, recall: number): number {
  const denominator = precision + recall
  return denominator === 0 ? 0 : (2 * precision * recall) / denominator
}

/**
 * Matthews correlation from a confusion matrix given as its row sums (true), column sums (predicted) and
 * trace: scikit-learn's `matthews_corrcoef`, i.e. Gorodkin's (2004) multiclass R_K, which reduces to
 * (tp·tn − fp·fn)/√((tp+fp)(tp+fn)(tn+fp)(tn+fn)) for two classes; 0 when a marginal is constant.
 */
export function mccFromMarginals(trueSums: ArrayLike<number>, predSums: ArrayLike<number>, correct: number): number {
  let n = 0
  let tDotP = 0
  let pDotP = 0
  let tDotT = 0
  for (let k = 0; k < trueSums.length; k++) {
    n += predSums[k]
    tDotP += trueSums[k] * predSums[k]
    pDotP += predSums[k] * predSums[k]
    tDotT += trueSums[k] * trueSums[k]
  }
  const covYtYp = correct * n - tDotP
  const covYpYp = n * n - pDotP
  const covYtYt = n * n - tDotT
  return covYpYp * covYtYt === 0 ? 0 : covYtYp / Math.sqrt(covYtYt * covYpYp)
}

/** float64 machine epsilon, `np.finfo(np.float64).eps`: scikit-learn's log_loss clipping bound. */
export const LOG_LOSS_EPS = Number.EPSILON

/** `p` clipped to [eps, 1 − eps] as `np.clip(p, eps, 1 - eps)`. */
export function clipProbability(p: number): number {
  return Math.min(Math.max(p, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS)
}
