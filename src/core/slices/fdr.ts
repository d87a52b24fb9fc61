/*
 * Benjamini–Hochberg (1995) step-up procedure, as statsmodels' `multipletests(method='fdr_bh')` computes
 * it (the same floating-point steps, so the decisions agree at the boundary): sort the m p-values; reject
 * the k smallest, k the largest rank with p₍ₖ₎ ≤ (k/m)·q; adjusted p₍ᵢ₎ = minₖ≥ᵢ p₍ₖ₎ / (k/m), capped at 1.
 */

export interface BhResult {
  /** Per test, in the input order: rejected at false discovery rate q. */
  reject: boolean[]
  /** BH-adjusted p-values (reject ⇔ adjusted ≤ q, up to rounding), in the input order. */
  adjusted: number[]
}

export function benjaminiHochbergTest(pValues: readonly number[], q: number): BhResult {
  const m = pValues.length
  if (!(q > 0 && q < 1)) throw new Error(`false discovery rate q = ${q} must be in (0, 1)`)
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new Error(`p-value ${i} = ${p} is not in [0, 1]`)
  })
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a] - pValues[b] || a - b)
  const ecdf = (rank: number) => (rank + 1) / m
  let last = -1
  for (let r = 0; r < m; r++) if (pValues[order[r]] <= ecdf(r) * q) last = r
  const reject = new Array<boolean>(m).fill(false)
  for (let r = 0; r <= last; r++) reject[order[r]] = true
  const adjusted = new Array<number>(m)
  let running = Infinity
  for (let r = m - 1; r >= 0; r--) {
    running = Math.min(running, pValues[order[r]] / ecdf(r))
    adjusted[order[r]] = Math.min(running, 1)
  }
  return { reject, adjusted }
}

/** Which of the tests are rejected at false discovery rate q (Benjamini–Hochberg). */
export function benjaminiHochberg(pValues: readonly number[], q: number): boolean[] {
  return benjaminiHochbergTest(pValues, q).reject
}
