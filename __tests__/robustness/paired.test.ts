/** Newcombe's paired interval against the paper and scipy (fixture: __tests__/fixtures/robustness/newcombe_paired.py). */
import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { compareFlips, pairedDifferenceInterval } from '../../src/core/robustness/paired.js'
import { wilson } from '../../src/core/robustness/tests/common.js'

interface Fixture {
  published: { table: [number, number, number, number]; low: number; high: number }[]
  cases: { both: number; candidateOnly: number; baselineOnly: number; neither: number; low: number; high: number }[]
}

const fixture = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/robustness/newcombe-paired.json', import.meta.url)), 'utf8'),
) as Fixture

const table = ([both, candidateOnly, baselineOnly, neither]: number[]) => ({ both, candidateOnly, baselineOnly, neither })

describe('pairedDifferenceInterval (Newcombe 1998, method 10)', () => {
  it("gives the paper's Table II limits to its 4 decimals", () => {
    expect(fixture.published).toHaveLength(4)
    for (const { table: t, low, high } of fixture.published) {
      const ci = pairedDifferenceInterval(table(t))
      expect([t, Number(ci.low.toFixed(4)), Number(ci.high.toFixed(4))]).toEqual([t, low, high])
    }
    // The first example by hand: n = 50, θ = 10/50, p₁ = 48/50, p₂ = 38/50, φ = (0 − 24)/√(48·2·38·12).
    const ci = pairedDifferenceInterval(table([36, 12, 2, 0]))
    const [w1, w2] = [wilson(48, 50), wilson(38, 50)]
    const phi = -24 / Math.sqrt(48 * 2 * 38 * 12)
    const [a, b] = [0.96 - w1.low, w2.high - 0.76]
    expect(ci.low).toBeCloseTo(0.2 - Math.sqrt(a * a - 2 * phi * a * b + b * b), 14)
    expect(ci).toMatchObject({ confidence: 0.95, method: 'newcombe-paired' })
  })

  it('matches the independent computation with scipy’s Wilson intervals on every table', () => {
    expect(fixture.cases.length).toBeGreaterThan(60)
    for (const c of fixture.cases) {
      const ci = pairedDifferenceInterval(c)
      const what = `${c.both}/${c.candidateOnly}/${c.baselineOnly}/${c.neither}`
      expect([what, ci.low]).toEqual([what, expect.closeTo(c.low, 12)])
      expect([what, ci.high]).toEqual([what, expect.closeTo(c.high, 12)])
    }
  })

  it('is symmetric under swapping the models, contains the estimate, and stays in [−1, 1]', () => {
    for (const c of fixture.cases) {
      const n = c.both + c.candidateOnly + c.baselineOnly + c.neither
      const ci = pairedDifferenceInterval(c)
      const swapped = pairedDifferenceInterval({ ...c, candidateOnly: c.baselineOnly, baselineOnly: c.candidateOnly })
      expect(swapped.low).toBeCloseTo(-ci.high, 12)
      expect(swapped.high).toBeCloseTo(-ci.low, 12)
      const theta = (c.candidateOnly - c.baselineOnly) / n
      expect(ci.low).toBeLessThanOrEqual(theta + 1e-15)
      expect(ci.high).toBeGreaterThanOrEqual(theta - 1e-15)
      expect(ci.low).toBeGreaterThanOrEqual(-1)
      expect(ci.high).toBeLessThanOrEqual(1)
    }
    expect(pairedDifferenceInterval(table([0, 0, 0, 0]))).toMatchObject({ low: -1, high: 1 })
  })
})

describe('compareFlips', () => {
  it('counts the paired table from per-row flips and says which way the interval points', () => {
    // 100 rows: 2 flipped by both, 12 by the candidate only, 1 by the baseline only.
    const cand = Array.from({ length: 100 }, (_, i) => i < 14)
    const base = Array.from({ length: 100 }, (_, i) => i < 2 || i === 50)
    const r = compareFlips(cand, base)
    expect(r.rows).toEqual({ both: 2, candidateOnly: 12, baselineOnly: 1, neither: 85 })
    expect(r.flipRate).toBe(0.03)
    expect(r.flipInterval).toEqual(wilson(3, 100))
    expect(r.difference).toBeCloseTo(0.11, 15)
    expect(r.differenceInterval).toEqual(pairedDifferenceInterval(r.rows))
    expect(r.robustness).toBe('less')
    expect(compareFlips(base, cand).robustness).toBe('more')
    expect(compareFlips(cand, cand)).toMatchObject({ difference: 0, robustness: 'similar' })
    expect(() => compareFlips([true], [])).toThrow(/paired/)
  })
})
