/**
 * src/core/drift/select.ts: Evidently's default stattest choice (legacy registry.py `_get_default_stattest`),
 * thresholds and drift comparisons, at every boundary.
 */
import { describe, it, expect } from '@jest/globals'
import { defaultTest, defaultThreshold, isDrifted, isPValueTest, type DriftTest } from '../../src/core/drift/select.js'

describe('defaultTest (Evidently _get_default_stattest)', () => {
  it('switches on reference rows at 1000 vs 1001', () => {
    expect(defaultTest('numeric', 1000, 50)).toBe('ks')
    expect(defaultTest('numeric', 1001, 50)).toBe('wasserstein')
    expect(defaultTest('categorical', 1000, 3)).toBe('chisquare')
    expect(defaultTest('categorical', 1001, 3)).toBe('jensenshannon')
    expect(defaultTest('categorical', 1000, 2)).toBe('z')
    expect(defaultTest('categorical', 1001, 2)).toBe('jensenshannon')
  })

  it('treats numeric columns with at most 5 distinct values as categorical (5 vs 6)', () => {
    expect(defaultTest('numeric', 200, 6)).toBe('ks')
    expect(defaultTest('numeric', 200, 5)).toBe('chisquare')
    expect(defaultTest('numeric', 5000, 6)).toBe('wasserstein')
    expect(defaultTest('numeric', 5000, 5)).toBe('jensenshannon')
  })

  it('uses the Z test for two values and chi-square from three (2 vs 3), numeric or categorical', () => {
    expect(defaultTest('numeric', 200, 3)).toBe('chisquare')
    expect(defaultTest('numeric', 200, 2)).toBe('z')
    expect(defaultTest('categorical', 200, 3)).toBe('chisquare')
    expect(defaultTest('categorical', 200, 2)).toBe('z')
    expect(defaultTest('categorical', 200, 1)).toBe('z')
    // Categorical columns never get ks or wasserstein, however many values.
    expect(defaultTest('categorical', 200, 500)).toBe('chisquare')
    expect(defaultTest('categorical', 50000, 500)).toBe('jensenshannon')
  })
})

describe('thresholds and decisions', () => {
  const all: DriftTest[] = ['ks', 'chisquare', 'z', 'wasserstein', 'jensenshannon', 'psi']

  it('has Evidently’s default thresholds', () => {
    expect(all.map(defaultThreshold)).toEqual([0.05, 0.05, 0.05, 0.1, 0.1, 0.1])
    expect(all.map(isPValueTest)).toEqual([true, true, true, false, false, false])
  })

  it('compares as Evidently does: ks p ≤ t, chisquare/z p < t, distances ≥ t', () => {
    expect(isDrifted('ks', 0.05)).toBe(true)
    expect(isDrifted('ks', 0.0500001)).toBe(false)
    expect(isDrifted('chisquare', 0.05)).toBe(false)
    expect(isDrifted('chisquare', 0.0499)).toBe(true)
    expect(isDrifted('z', 0.05)).toBe(false)
    expect(isDrifted('z', 0.01)).toBe(true)
    for (const t of ['wasserstein', 'jensenshannon', 'psi'] as const) {
      expect(isDrifted(t, 0.1)).toBe(true)
      expect(isDrifted(t, 0.0999)).toBe(false)
    }
    expect(isDrifted('psi', 0.3, 0.25)).toBe(true)
    expect(isDrifted('ks', NaN)).toBe(false)
    expect(isDrifted('wasserstein', NaN)).toBe(false)
  })
})
