/** McNemar's test against statsmodels 0.13 (fixture: scripts/fixtures/stats_mcnemar.py). */
import { describe, it, expect } from '@jest/globals'
import { mcnemar, mcnemarFromCounts } from '../../src/core/stats/mcnemar.js'
import { expectClose, statsFixture } from './fixture.js'

interface Fixture {
  cases: { b: number; c: number; exact: { statistic: number; pvalue: number }; chi2: { statistic: number; pvalue: number } }[]
}

const fixture = statsFixture<Fixture>('mcnemar.json')

describe('McNemar vs statsmodels', () => {
  it('matches mcnemar(exact=True) for every (b, c)', () => {
    for (const { b, c, exact } of fixture.cases) {
      const r = mcnemarFromCounts(b, c, { exactBelow: Infinity })
      expect(r.exact).toBe(true)
      expect(r.statistic).toBe(exact.statistic)
      expectClose(r.pValue, exact.pvalue, 1e-12, `exact p for b=${b}, c=${c}`)
    }
  })

  it('matches mcnemar(exact=False, correction=True) for every (b, c)', () => {
    for (const { b, c, chi2 } of fixture.cases) {
      const r = mcnemarFromCounts(b, c, { exactBelow: 0 })
      expect(r.exact).toBe(false)
      expectClose(r.statistic, chi2.statistic, 1e-14, `chi2 statistic for b=${b}, c=${c}`)
      expectClose(r.pValue, chi2.pvalue, 1e-12, `chi2 p for b=${b}, c=${c}`)
    }
  })

  it('uses the exact test below 25 discordant rows by default, chi-square from 25', () => {
    expect(mcnemarFromCounts(12, 12).exact).toBe(true)
    expect(mcnemarFromCounts(12, 13).exact).toBe(false)
    // b = 1, c = 5: 2·P(X ≤ 1), X ~ Bin(6, ½) = 2·7/64.
    expect(mcnemarFromCounts(1, 5).pValue).toBeCloseTo(14 / 64, 15)
  })

  it('counts discordant rows from per-row correctness (booleans or 0/1)', () => {
    const cand = [1, 1, 0, 1, 0, 1, 1, 0]
    const base = [1, 0, 0, 0, 1, 0, 1, 0]
    const r = mcnemar(Uint8Array.from(cand), Uint8Array.from(base))
    expect([r.b, r.c]).toEqual([3, 1])
    expect(mcnemar(cand.map(Boolean), base.map(Boolean))).toEqual(r)
    // 2·P(X ≤ 1), X ~ Bin(4, ½) = 2·5/16.
    expect(r.pValue).toBeCloseTo(10 / 16, 15)
  })

  it('gives p = 1 without discordant rows, and refuses unpaired input', () => {
    expect(mcnemarFromCounts(0, 0)).toEqual({ b: 0, c: 0, statistic: 0, pValue: 1, exact: true })
    expect(mcnemarFromCounts(0, 0, { exactBelow: 0 }).pValue).toBe(1)
    expect(() => mcnemar([1, 0], [1])).toThrow('candidateCorrect has 2 rows but baselineCorrect has 1')
    expect(() => mcnemarFromCounts(-1, 2)).toThrow('McNemar b = -1')
  })
})
