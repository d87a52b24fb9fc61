/*
 * Which drift test applies to a column, and when it says "drifted": Evidently's defaults, so a modelgate drift
 * check reports what Evidently (the tool it replaces) would. Read from Evidently's source,
 * src/evidently/legacy/calculations/stattests/registry.py `_get_default_stattest` and each stattest's module
 * (default_threshold and the comparison in its `_…_stat_test` function).
 */

export type DriftTest = 'ks' | 'chisquare' | 'z' | 'wasserstein' | 'jensenshannon' | 'psi'

/**
 * Evidently's default stattest (registry.py `_get_default_stattest`). `referenceRows` is the reference column's
 * length after Evidently drops NaN and ±∞ (get_one_column_drift does that before choosing); `uniqueValues` the
 * distinct non-missing values of reference and current pooled (`pd.concat([reference, current]).nunique()`).
 * ≤ 1000 reference rows: numeric with > 5 values → 'ks'; otherwise > 2 values → 'chisquare', else 'z'.
 * > 1000 rows: numeric with > 5 values → 'wasserstein' (normed), otherwise 'jensenshannon'.
 */
export function defaultTest(kind: 'numeric' | 'categorical', referenceRows: number, uniqueValues: number): DriftTest {
  if (referenceRows <= 1000) {
    if (kind === 'numeric' && uniqueValues > 5) return 'ks'
    return uniqueValues > 2 ? 'chisquare' : 'z'
  }
  return kind === 'numeric' && uniqueValues > 5 ? 'wasserstein' : 'jensenshannon'
}

/**
 * Each stattest's `default_threshold`: 0.05 for the p-value tests (ks sets it, chisquare and z inherit
 * StatTest's 0.05), 0.1 for the distances (wasserstein, jensenshannon, psi).
 */
export function defaultThreshold(test: DriftTest): number {
  return isPValueTest(test) ? 0.05 : 0.1
}

/** The tests whose score is a p-value (small = drift); the others return a distance (large = drift). */
export function isPValueTest(test: DriftTest): boolean {
  return test === 'ks' || test === 'chisquare' || test === 'z'
}

/**
 * Evidently's drift decision, comparison for comparison: ks `p_value <= threshold` (ks_stattest.py), chisquare
 * and z `p_value < threshold`, wasserstein, jensenshannon and psi `value >= threshold`. NaN never drifts.
 */
export function isDrifted(test: DriftTest, score: number, threshold: number = defaultThreshold(test)): boolean {
  if (test === 'ks') return score <= threshold
  if (isPValueTest(test)) return score < threshold
  return score >= threshold
}
