/**
 * DeLong's test against a numpy implementation of DeLong et al. (1988) / Sun & Xu (2014) whose AUCs equal
 * scikit-learn's roc_auc_score and whose variance equals the O(m·n) definition (fixture:
 * scripts/fixtures/stats_delong.py); and one case by hand.
 */
import { describe, it, expect } from '@jest/globals'
import { roc_auc } from '../../src/core/metrics/binary.js'
import { delong, midranks } from '../../src/core/stats/delong.js'
import { normalQuantile } from '../../src/core/stats/normal.js'
import { expectClose, statsFixture } from './fixture.js'

interface Fixture {
  cases: {
    name: string
    y: number[]
    a: number[]
    b: number[]
    aucA: number
    aucB: number
    delta: number
    se: number
    z: number
    pValue: number
  }[]
}

const fixture = statsFixture<Fixture>('delong.json')

describe('DeLong vs the numpy reference', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const r = delong(Int32Array.from(c.y), Float64Array.from(c.a), Float64Array.from(c.b))
    expectClose(r.aucA, c.aucA, 1e-14, 'aucA')
    expectClose(r.aucB, c.aucB, 1e-14, 'aucB')
    expect(r.aucA).toBe(roc_auc(c.y, c.a))
    expect(r.aucB).toBe(roc_auc(c.y, c.b))
    expectClose(r.delta, c.delta, 1e-12, 'delta')
    expectClose(r.se, c.se, 1e-10, 'se')
    expectClose(r.z, c.z, 1e-10, 'z')
    expectClose(r.pValue, c.pValue, 1e-8, 'p')
    const ci = r.interval(0.95)
    expect(ci.method).toBe('delong')
    expectClose(ci.high - ci.low, 2 * normalQuantile(0.975) * c.se, 1e-10, 'CI width')
  })
})

describe('DeLong by hand', () => {
  it('computes the structural components of a 2 + 2 case', () => {
    // Positives rows 0, 1; negatives rows 2, 3.
    // A: positives 0.9, 0.4; negatives 0.5, 0.1 → pairs won 1, 1, 0, 1: AUC 3/4.
    //   V10 (per positive): 0.9 → 1, 0.4 → ½; V01 (per negative): 0.5 → ½, 0.1 → 1.
    // B: positives 0.8, 0.7; negatives 0.7, 0.2 → pairs 1, 1, ½, 1: AUC 7/8.
    //   V10: 0.8 → 1, 0.7 → ¾; V01: 0.7 → ¾, 0.2 → 1.
    // Differences A − B: V10 (0, −¼), V01 (−¼, 0): each sample variance (ddof 1) = 1/32.
    // var = (1/32)/2 + (1/32)/2 = 1/32; se = √(1/32); delta = −1/8; z = −(1/8)·√32 ≈ −0.7071.
    const r = delong(Int32Array.from([1, 1, 0, 0]), Float64Array.from([0.9, 0.4, 0.5, 0.1]), Float64Array.from([0.8, 0.7, 0.7, 0.2]))
    expect(r.aucA).toBe(0.75)
    expect(r.aucB).toBe(0.875)
    expect(r.delta).toBe(-0.125)
    expect(r.se).toBeCloseTo(Math.sqrt(1 / 32), 15)
    expect(r.z).toBeCloseTo(-0.125 * Math.sqrt(32), 14)
  })

  it('gives midranks like scipy rankdata(average)', () => {
    expect(Array.from(midranks([0.3, 0.1, 0.3, 0.2, 0.3]))).toEqual([4, 1, 4, 2, 4])
    const big = Float64Array.from({ length: 2000 }, (_, i) => (i * 7919) % 13)
    const ranks = midranks(big)
    // 2000 values over 13 levels: ranks of a level are the mean of its positions in sorted order.
    const counts = new Array(13).fill(0)
    for (const v of big) counts[v]++
    let below = 0
    for (let level = 0; level < 13; level++) {
      const expected = below + (counts[level] + 1) / 2
      expect(ranks[big.indexOf(level)]).toBe(expected)
      below += counts[level]
    }
  })

  it('takes its midranks from one walk of the score order, equal bit for bit to sorting each set (Sun & Xu)', () => {
    // The paper's algorithm: midranks of the positives, of the negatives and of all rows, each sorted apart.
    const sunXu = (y: Int32Array, score: Float64Array) => {
      const pos = score.filter((_, i) => y[i] === 1)
      const neg = score.filter((_, i) => y[i] === 0)
      const [tx, ty, tz] = [pos, neg, Float64Array.from([...pos, ...neg])].map(midranks)
      const m = pos.length
      const n = neg.length
      const v10 = tx.map((r, i) => (tz[i] - r) / n)
      const v01 = ty.map((r, j) => 1 - (tz[m + j] - r) / m)
      let rankSum = 0
      for (let i = 0; i < m; i++) rankSum += tz[i]
      return { auc: (rankSum - (m * (m + 1)) / 2) / (m * n), v10, v01 }
    }
    const variance = (a: ReturnType<typeof sunXu>, b: ReturnType<typeof sunXu>) => {
      const cov = (x: Float64Array, z: Float64Array) => {
        const mx = x.reduce((s, v) => s + v, 0) / x.length
        const mz = z.reduce((s, v) => s + v, 0) / z.length
        let s = 0
        for (let i = 0; i < x.length; i++) s += (x[i] - mx) * (z[i] - mz)
        return s / (x.length - 1)
      }
      return (
        (cov(a.v10, a.v10) + cov(b.v10, b.v10) - 2 * cov(a.v10, b.v10)) / a.v10.length +
        (cov(a.v01, a.v01) + cov(b.v01, b.v01) - 2 * cov(a.v01, b.v01)) / a.v01.length
      )
    }
    let seed = 11
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
    for (const levels of [3, 50, 0]) {
      const n = 3001
      const y = Int32Array.from({ length: n }, () => (rand() < 0.3 ? 1 : 0))
      // Few levels (long tie runs, −0 among them), many, or continuous scores.
      const draw = () => (levels ? (Math.floor(rand() * levels) / levels) * (rand() < 0.1 ? -1 : 1) : rand())
      const a = Float64Array.from({ length: n }, draw)
      const b = Float64Array.from({ length: n }, draw)
      const r = delong(y, a, b)
      const ra = sunXu(y, a)
      const rb = sunXu(y, b)
      expect(r.aucA).toBe(ra.auc)
      expect(r.aucB).toBe(rb.auc)
      expect(r.se).toBe(Math.sqrt(Math.max(0, variance(ra, rb))))
    }
  })

  it('has p = 1 for identical scores and refuses too few rows of a class', () => {
    const y = Int32Array.from([1, 0, 1, 0, 1])
    const s = Float64Array.from([0.9, 0.2, 0.6, 0.7, 0.4])
    const same = delong(y, s, s)
    expect([same.delta, same.se, same.z, same.pValue]).toEqual([0, 0, 0, 1])
    expect(() => delong(Int32Array.from([1, 0, 0]), s.subarray(0, 3), s.subarray(0, 3))).toThrow(
      'DeLong needs at least 2 positive and 2 negative rows, got 1 and 2',
    )
    expect(() => delong(Int32Array.from([1, 2]), s.subarray(0, 2), s.subarray(0, 2))).toThrow('yTrue[1] = 2')
  })
})
