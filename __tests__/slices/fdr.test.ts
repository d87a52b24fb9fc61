import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { benjaminiHochberg, benjaminiHochbergTest } from '../../src/core/slices/fdr.js'

interface Case {
  name: string
  q: number
  p: number[]
  reject: boolean[]
  adjusted: number[]
}

/** statsmodels.stats.multitest.multipletests(method='fdr_bh'); made by __tests__/fixtures/slices/make_fixtures.py. */
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/slices/bh.json', import.meta.url)), 'utf8')) as {
  statsmodels: string
  cases: Case[]
}

describe('Benjamini–Hochberg', () => {
  it.each(fixture.cases.map((c) => [`${c.name}, q = ${c.q}`, c] as const))('agrees with statsmodels: %s', (_, c) => {
    const r = benjaminiHochbergTest(c.p, c.q)
    expect(r.reject).toEqual(c.reject)
    r.adjusted.forEach((a, i) => expect(a).toBeCloseTo(c.adjusted[i], 14))
    expect(benjaminiHochberg(c.p, c.q)).toEqual(c.reject)
  })

  it('covers rejections and non-rejections in the fixtures', () => {
    const all = fixture.cases.flatMap((c) => c.reject)
    expect(all.filter(Boolean).length).toBeGreaterThan(20)
    expect(all.filter((r) => !r).length).toBeGreaterThan(20)
  })

  it('rejects the step-up set: a later p under its bound lifts earlier ones over theirs', () => {
    // Sorted: 0.001 ≤ 0.05/6; 0.03 > 2·0.05/6 but 0.04 ≤ 5·0.05/6, so the five smallest are rejected.
    expect(benjaminiHochberg([0.04, 0.04, 0.001, 0.5, 0.04, 0.03], 0.05)).toEqual([true, true, true, false, true, true])
    expect(benjaminiHochbergTest([], 0.05)).toEqual({ reject: [], adjusted: [] })
  })

  it('refuses p-values outside [0, 1] and a level outside (0, 1)', () => {
    expect(() => benjaminiHochberg([0.1, Number.NaN], 0.05)).toThrow('p-value 1 = NaN is not in [0, 1]')
    expect(() => benjaminiHochberg([1.5], 0.05)).toThrow('p-value 0 = 1.5 is not in [0, 1]')
    expect(() => benjaminiHochberg([0.1], 0)).toThrow('false discovery rate q = 0 must be in (0, 1)')
  })
})
