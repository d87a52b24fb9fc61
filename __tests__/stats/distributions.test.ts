/**
 * normal.ts against 40-digit mpmath values (tight) and scipy 1.10 (within scipy's own error), fixture from
 * scripts/fixtures/stats_distributions.py.
 */
import { describe, it, expect } from '@jest/globals'
import { binomialCdf, binomialPmf, chiSquare1Sf, normalCdf, normalQuantile, normalSf } from '../../src/core/stats/normal.js'
import { expectClose, statsFixture } from './fixture.js'

interface Fixture {
  versions: Record<string, string>
  normal: { x: number; cdf: number; sf: number; exact: { cdf: number; sf: number } }[]
  quantile: { p: number; ppf: number; exact: number }[]
  chi2_1: { x: number; sf: number; exact: number }[]
  binomial: { k: number; n: number; p: number; pmf: number; cdf: number; exact: { pmf: number; cdf: number } }[]
}

const fixture = statsFixture<Fixture>('distributions.json')

describe('normal distribution vs scipy.stats.norm', () => {
  it('cdf and sf to 1e-15 relative of the exact values (scipy, less exact past 1e-100: 1e-12), deep in both tails', () => {
    for (const { x, cdf, sf, exact } of fixture.normal) {
      expectClose(normalCdf(x), exact.cdf, 1e-15, `normalCdf(${x})`)
      expectClose(normalSf(x), exact.sf, 1e-15, `normalSf(${x})`)
      // Past |x| = 37.5 scipy returns 0 where the exact value is still a (subnormal) double.
      if (Math.abs(x) > 37.5) continue
      expectClose(normalCdf(x), cdf, 1e-12, `normalCdf(${x}) vs scipy`)
      expectClose(normalSf(x), sf, 1e-12, `normalSf(${x}) vs scipy`)
    }
    expect(fixture.normal.some((c) => c.sf < 1e-200 && c.sf > 0)).toBe(true)
  })

  it('quantile (AS 241) to 1e-15 relative, and inverts the cdf', () => {
    for (const { p, ppf, exact } of fixture.quantile) {
      expectClose(normalQuantile(p), exact, 1e-15, `normalQuantile(${p})`)
      expectClose(normalQuantile(p), ppf, 1e-15, `normalQuantile(${p}) vs scipy`)
    }
    for (const p of [1e-10, 0.01, 0.3, 0.5, 0.8, 0.975]) expectClose(normalCdf(normalQuantile(p)), p, 1e-14, `Φ(Φ⁻¹(${p}))`)
  })

  it('has the textbook values and edges', () => {
    expect(normalCdf(0)).toBe(0.5)
    expect(normalQuantile(0.5)).toBe(0)
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 15)
    expect(normalQuantile(0)).toBe(-Infinity)
    expect(normalQuantile(1)).toBe(Infinity)
    expect(normalQuantile(1.5)).toBeNaN()
    expect(normalSf(Infinity)).toBe(0)
    expect(normalCdf(-Infinity)).toBe(0)
  })
})

describe('chi-square(1) survival vs scipy.stats.chi2.sf(x, 1)', () => {
  // The rounding of √x alone moves sf by up to (x/2)·1.1e-16 relatively: 1e-14 is that bound at x = 100.
  it('matches the exact values to 1e-14 relative (scipy: 1e-13)', () => {
    for (const { x, sf, exact } of fixture.chi2_1) {
      expectClose(chiSquare1Sf(x), exact, x <= 100 ? 1e-14 : 1e-13, `chiSquare1Sf(${x})`)
      expectClose(chiSquare1Sf(x), sf, 1e-13, `chiSquare1Sf(${x}) vs scipy`)
    }
    expect(chiSquare1Sf(-1)).toBe(1)
  })
})

describe('binomial vs scipy.stats.binom', () => {
  // Loader's saddle point: ~1e-15 where the log-probability is moderate, ~1e-13 as it nears −700. For p ≠ ½
  // the double 1 − p is itself off by up to 1.1e-16 relatively, which moves log pmf by |n − k − n·q|·1.1e-16
  // (1e-13 at n = 10⁶); p = ½, McNemar's case, is exact.
  it('pmf and cdf to 1e-12 relative of the exact values (scipy: 1e-10) for n up to a million, tails too', () => {
    for (const { k, n, p, pmf, cdf, exact } of fixture.binomial) {
      const tolerance = exact.pmf > 1e-20 && (p === 0.5 || n <= 1000) ? 1e-14 : 1e-12
      expectClose(binomialPmf(k, n, p), exact.pmf, tolerance, `binomialPmf(${k}, ${n}, ${p})`)
      expectClose(binomialCdf(k, n, p), exact.cdf, tolerance, `binomialCdf(${k}, ${n}, ${p})`)
      expectClose(binomialPmf(k, n, p), pmf, 1e-10, `binomialPmf(${k}, ${n}, ${p}) vs scipy`)
      expectClose(binomialCdf(k, n, p), cdf, 1e-10, `binomialCdf(${k}, ${n}, ${p}) vs scipy`)
    }
    expect(fixture.binomial.some((c) => c.n === 1000000)).toBe(true)
  })

  it('sums to 1 and follows the small cases by hand', () => {
    // Bin(4, ½): 1, 4, 6, 4, 1 over 16.
    expect([0, 1, 2, 3, 4].map((k) => binomialPmf(k, 4, 0.5) * 16).map((v) => Number(v.toFixed(12)))).toEqual([1, 4, 6, 4, 1])
    expect(binomialCdf(1, 4, 0.5)).toBeCloseTo(5 / 16, 15)
    expect(binomialCdf(-1, 4, 0.5)).toBe(0)
    expect(binomialCdf(4, 4, 0.5)).toBe(1)
    expect(() => binomialCdf(1, 2.5, 0.5)).toThrow('binomial n = 2.5')
    expect(() => binomialPmf(1, 3, 1.5)).toThrow('binomial p = 1.5')
  })
})
