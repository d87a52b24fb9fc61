/**
 * src/core/drift/{stats,ks,special}.ts against scipy 1.10.1 / numpy 1.24.2 (and faithful numpy re-implementations
 * of Evidently's stattests): fixture from scripts/fixtures/drift-stats.py. Every value to 1e-9 (relative
 * above 1, absolute below), plus hand-worked cases.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, it, expect } from '@jest/globals'
import {
  binnedShares,
  chi2Contingency,
  chiSquare,
  chiSquareStattest,
  fillZeroShares,
  histogramBinEdges,
  jensenShannon,
  ks2samp,
  normedWasserstein,
  psi,
  wassersteinDistance,
  zTestProportions,
} from '../../src/core/drift/stats.js'
import { kstwoSf, smirnovSf } from '../../src/core/drift/ks.js'
import { chiSquareSf } from '../../src/core/drift/special.js'

type Gen = { gen: [number, number, 'normal' | 'int', number, number] }
type Sample = number[] | Gen

interface Fixture {
  versions: Record<string, string>
  genCheck: { gen: Gen['gen']; first: number[]; sum: number }[]
  ks: {
    a: Sample
    b: Sample
    method: 'auto' | 'exact' | 'asymp'
    note: string
    statistic: number
    pvalue: number
    used: 'exact' | 'asymp'
  }[]
  kstwo: { x: number; n: number; sf: number }[]
  smirnov: { n: number; x: number; sf: number }[]
  chi2sf: { x: number; dof: number; sf: number }[]
  contingency: { table: number[][]; statistic: number; pvalue: number; dof: number }[]
  chisquare: {
    reference: number[]
    current: number[]
    statistic: number
    pvalue: number
    evidently: { statistic: number; pvalue: number }
  }[]
  wasserstein: { u: Sample; v: Sample; distance: number; normed: number }[]
  jensenshannon: { p: number[]; q: number[]; distance: number }[]
  binning: {
    reference: Sample
    current: Sample
    bins: number | 'sturges'
    edges: number[]
    referenceShares: number[]
    currentShares: number[]
    referenceRaw: number[]
    currentRaw: number[]
    psi: number
    jensenshannon: number
  }[]
  psiShares: { referenceCounts: number[]; currentCounts: number[]; referenceShares: number[]; currentShares: number[]; psi: number }[]
  z: { counts: [number, number, number, number]; statistic: number | null; pvalue: number }[]
}

const fixture = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/drift/scipy-reference.json', import.meta.url)), 'utf8'),
) as Fixture

/** mulberry32, as scripts/fixtures/drift-stats.py has it: uniform k/2³² doubles from 32-bit integer steps. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t = ((t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t) >>> 0
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function materialise(s: Sample): number[] {
  if (Array.isArray(s)) return s
  const [seed, n, kind, loc, scale] = s.gen
  const u = mulberry32(seed)
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    if (kind === 'normal') {
      const sum = u() + u() + u() + u()
      out.push((sum - 2) * scale + loc)
    } else {
      out.push(Math.floor(u() * scale) + loc)
    }
  }
  return out
}

/** |ours − scipy| ≤ tol, relative when |scipy| > 1 and absolute otherwise (the brief's 1e-9 rule). */
function close(actual: number, expected: number, what: string, tol = 1e-9): void {
  if (actual === expected) return
  const scale = Math.abs(expected) > 1 ? Math.abs(expected) : 1
  if (!(Math.abs(actual - expected) <= tol * scale)) throw new Error(`${what}: got ${actual}, expected ${expected} (tolerance ${tol})`)
}

/** Relative agreement, for tail probabilities where an absolute 1e-9 says nothing. */
function closeRelative(actual: number, expected: number, rel: number, what: string): void {
  if (actual === expected) return
  if (!(Math.abs(actual - expected) <= rel * Math.abs(expected))) {
    throw new Error(`${what}: got ${actual}, expected ${expected} (relative tolerance ${rel})`)
  }
}

describe('fixture', () => {
  it('was made with scipy 1.10.1 and numpy 1.24.2', () => {
    expect(fixture.versions).toEqual({ scipy: '1.10.1', numpy: '1.24.2' })
  })

  it('rebuilds generated samples exactly as the generator does', () => {
    for (const { gen, first, sum } of fixture.genCheck) {
      const values = materialise({ gen })
      expect(values.slice(0, 5)).toEqual(first)
      expect(values.reduce((s, v) => s + v, 0)).toBeCloseTo(sum, 9)
    }
  })
})

describe('ks2samp vs scipy.stats.ks_2samp', () => {
  it('matches statistic, p-value and method for every case (sizes 1..20, 50..12000, ties, identical, disjoint, forced)', () => {
    for (const c of fixture.ks) {
      const a = materialise(c.a)
      const b = materialise(c.b)
      const r = ks2samp(a, b, c.method)
      const what = `ks2samp ${c.note} (${c.method})`
      close(r.statistic, c.statistic, `${what} statistic`)
      close(r.pValue ?? NaN, c.pvalue, `${what} p`)
      if (c.pvalue > 1e-300 && c.pvalue < 1e-3) closeRelative(r.pValue ?? NaN, c.pvalue, 1e-6, `${what} p (relative)`)
      expect([what, r.method]).toEqual([what, c.used])
    }
    expect(fixture.ks.some((c) => c.method === 'auto' && c.used === 'asymp')).toBe(true)
    expect(fixture.ks.length).toBeGreaterThan(60)
  })

  it('has the hand-worked values', () => {
    // D = 3/4 at x = 5; exact P(D ≥ 3/4) for sizes 5, 4 is 18/126 = 1/7.
    const r = ks2samp([1, 2, 3, 4, 5], [2.5, 6, 7, 8])
    expect(r.statistic).toBe(0.75)
    expect(r.pValue).toBeCloseTo(1 / 7, 15)
    expect(r.method).toBe('exact')
    // Identical samples: D = 0, p = 1. Disjoint 3 vs 3: only 2 of C(6,3) = 20 orderings reach D = 1.
    expect(ks2samp([3, 1, 2], [2, 3, 1])).toEqual({ statistic: 0, pValue: 1, method: 'exact' })
    expect(ks2samp([1, 2, 3], [4, 5, 6]).pValue).toBeCloseTo(0.1, 15)
    // Unsorted input and the side of the maximum do not matter.
    expect(ks2samp([6, 4, 5], [3, 1, 2]).pValue).toBeCloseTo(0.1, 15)
    expect(() => ks2samp([], [1])).toThrow()
    expect(() => ks2samp([1, NaN], [1])).toThrow(/NaN/)
  })

  it('switches auto to asymptotic above 10000 observations in either sample', () => {
    const big = Array.from({ length: 10001 }, (_, i) => i / 10001)
    expect(ks2samp(big, [0.2, 0.5, 0.9]).method).toBe('asymp')
    expect(ks2samp(big.slice(0, 10000), [0.2, 0.5, 0.9]).method).toBe('exact')
  })
})

describe('kstwo.sf and smirnov vs scipy', () => {
  it('kstwoSf(x, n) to 1e-9 absolute and 1e-9 relative where > 1e-250, across every branch (DMTW, Pomeranz, Pelz–Good, smirnov)', () => {
    for (const { x, n, sf } of fixture.kstwo) {
      const ours = kstwoSf(x, n)
      close(ours, sf, `kstwoSf(${x}, ${n})`)
      if (sf > 1e-250) closeRelative(ours, sf, 1e-9, `kstwoSf(${x}, ${n}) relative`)
    }
  })

  it('smirnovSf(n, x) to 1e-12 relative', () => {
    for (const { n, x, sf } of fixture.smirnov) {
      close(smirnovSf(n, x), sf, `smirnovSf(${n}, ${x})`)
      if (sf > 1e-290) closeRelative(smirnovSf(n, x), sf, 1e-12, `smirnovSf(${n}, ${x}) relative`)
    }
    expect(smirnovSf(1, 0.3)).toBeCloseTo(0.7, 15)
  })
})

describe('chi-square', () => {
  it('chiSquareSf(x, k) to 1e-12 relative for every dof from 1 to 1000, deep in the tail', () => {
    for (const { x, dof, sf } of fixture.chi2sf) {
      close(chiSquareSf(x, dof), sf, `chiSquareSf(${x}, ${dof})`)
      if (sf > 1e-300) closeRelative(chiSquareSf(x, dof), sf, 1e-12, `chiSquareSf(${x}, ${dof}) relative`)
    }
    expect(chiSquareSf(0, 3)).toBe(1)
    expect(chiSquareSf(2, 2)).toBeCloseTo(Math.exp(-1), 15)
    expect(() => chiSquareSf(1, 0)).toThrow()
  })

  it('chi2Contingency matches scipy.stats.chi2_contingency (Yates at dof 1, small counts, 2×10, dof 0)', () => {
    for (const { table, statistic, pvalue, dof } of fixture.contingency) {
      const r = chi2Contingency(table)
      const what = `chi2Contingency(${JSON.stringify(table)})`
      expect([what, r.dof]).toEqual([what, dof])
      close(r.statistic, statistic, `${what} statistic`)
      close(r.pValue ?? NaN, pvalue, `${what} p`)
      if (pvalue > 1e-300) closeRelative(r.pValue ?? NaN, pvalue, 1e-9, `${what} p relative`)
    }
  })

  it('chi2Contingency by hand: Yates moves each cell 0.5 toward its expectation, never past it', () => {
    // [[10, 20], [30, 25]]: expected 14.1176…, Yates-corrected χ² = 2.70615530303…
    const r = chi2Contingency([
      [10, 20],
      [30, 25],
    ])
    expect(r.dof).toBe(1)
    expect(r.statistic).toBeCloseTo(2.706155303030302, 12)
    // [[5, 5], [5, 6]]: |o − e| < 0.5 everywhere, so the corrected table equals the expected one: χ² = 0.
    expect(
      chi2Contingency([
        [5, 5],
        [5, 6],
      ]).statistic,
    ).toBeCloseTo(0, 15)
    expect(chi2Contingency([[7], [9]])).toEqual({ statistic: 0, pValue: 1, dof: 0 })
    expect(() =>
      chi2Contingency([
        [0, 1],
        [0, 2],
      ]),
    ).toThrow(/zero/)
  })

  it('chiSquare (scipy.stats.chisquare) and Evidently’s chisquare stattest', () => {
    for (const c of fixture.chisquare) {
      const kNorm = c.current.reduce((s, v) => s + v, 0) / c.reference.reduce((s, v) => s + v, 0)
      const r = chiSquare(
        c.current,
        c.reference.map((v) => v * kNorm),
      )
      close(r.statistic, c.statistic, 'chiSquare statistic')
      close(r.pValue ?? NaN, c.pvalue, 'chiSquare p')
      const e = chiSquareStattest(c.reference, c.current)
      close(e.statistic, c.evidently.statistic, 'chiSquareStattest statistic')
      close(e.pValue ?? NaN, c.evidently.pvalue, 'chiSquareStattest p')
    }
    expect(() => chiSquare([1, 2], [1, 1])).toThrow(/1e-8/)
    // A category the reference never saw: infinite statistic, p = 0, as scipy.
    expect(chiSquareStattest([5, 0], [3, 2]).pValue).toBe(0)
  })
})

describe('Wasserstein', () => {
  it('wassersteinDistance and normedWasserstein match scipy / Evidently (ties, different sizes, constant reference)', () => {
    for (const c of fixture.wasserstein) {
      const u = materialise(c.u)
      const v = materialise(c.v)
      close(wassersteinDistance(u, v), c.distance, `wasserstein n=${u.length},${v.length}`)
      close(normedWasserstein(u, v), c.normed, `normedWasserstein n=${u.length},${v.length}`)
    }
  })

  it('has the hand-worked values', () => {
    expect(wassersteinDistance([0, 1, 3], [5, 6, 8])).toBeCloseTo(5, 15)
    expect(wassersteinDistance([1, 2], [1, 2])).toBe(0)
    // Constant reference: std 0, so the divisor is 0.001.
    expect(normedWasserstein([2, 2], [2, 3])).toBeCloseTo(0.5 / 0.001, 9)
  })
})

describe('Jensen–Shannon', () => {
  it('matches scipy.spatial.distance.jensenshannon (zeros, unnormalised, disjoint)', () => {
    for (const { p, q, distance } of fixture.jensenshannon) close(jensenShannon(p, q), distance, `jensenShannon(${p}, ${q})`)
  })

  it('is √ln 2 for disjoint supports and 0 for equal shares', () => {
    expect(jensenShannon([1, 0], [0, 1])).toBeCloseTo(Math.sqrt(Math.LN2), 15)
    expect(jensenShannon([3, 4], [30, 40])).toBeCloseTo(0, 8)
  })
})

describe('PSI and binning (Evidently get_binned_data)', () => {
  it('histogram edges, shares (zero-filled and raw), PSI and JS match numpy for sturges, 10 and 30 bins', () => {
    for (const c of fixture.binning) {
      const ref = materialise(c.reference)
      const cur = materialise(c.current)
      const what = `binning n=${ref.length},${cur.length} bins=${c.bins}`
      const filled = binnedShares(ref, cur, c.bins)
      const raw = binnedShares(ref, cur, c.bins, false)
      expect([what, filled.edges.length]).toEqual([what, c.edges.length])
      filled.edges.forEach((e, i) => close(e, c.edges[i], `${what} edge ${i}`, 1e-15))
      filled.reference.forEach((s, i) => close(s, c.referenceShares[i], `${what} reference share ${i}`, 1e-15))
      filled.current.forEach((s, i) => close(s, c.currentShares[i], `${what} current share ${i}`, 1e-15))
      raw.reference.forEach((s, i) => close(s, c.referenceRaw[i], `${what} raw reference ${i}`, 1e-15))
      raw.current.forEach((s, i) => close(s, c.currentRaw[i], `${what} raw current ${i}`, 1e-15))
      close(psi(filled.reference, filled.current), c.psi, `${what} psi`)
      close(jensenShannon(raw.reference, raw.current), c.jensenshannon, `${what} jensenshannon`)
    }
  })

  it('PSI on zero-filled categorical shares', () => {
    for (const c of fixture.psiShares) {
      const n = (xs: number[]) => xs.reduce((s, v) => s + v, 0)
      const ref = fillZeroShares(c.referenceCounts.map((v) => v / n(c.referenceCounts)))
      const cur = fillZeroShares(c.currentCounts.map((v) => v / n(c.currentCounts)))
      ref.forEach((s, i) => close(s, c.referenceShares[i], 'reference share', 1e-15))
      cur.forEach((s, i) => close(s, c.currentShares[i], 'current share', 1e-15))
      close(psi(ref, cur), c.psi, `psi ${JSON.stringify(c.referenceCounts)}`)
    }
  })

  it('has the hand-worked values', () => {
    // Shares (0.5, 0.5) → (0.25, 0.75): psi = 0.25·ln 2 + (−0.25)·ln(2/3) = 0.25·ln 3.
    expect(psi([0.5, 0.5], [0.25, 0.75])).toBeCloseTo(0.25 * Math.log(3), 15)
    expect(fillZeroShares([0, 0.5, 0.5])).toEqual([0.0001, 0.5, 0.5])
    expect(fillZeroShares([0, 0.00005, 0.99995])).toEqual([0.00005 / 1e6, 0.00005, 0.99995])
    // Sturges on 8 values: ceil(log2 8 + 1) = 4 bins over [0, 8].
    expect(histogramBinEdges([0, 1, 2, 3, 4, 5, 6, 8], 'sturges')).toEqual([0, 2, 4, 6, 8])
    expect(histogramBinEdges([2, 2, 2], 'sturges')).toEqual([1.5, 2.5])
    // The last bin is closed: 8 lands in [6, 8].
    expect(binnedShares([0, 1, 2, 3], [4, 5, 6, 8], 'sturges', false)).toEqual({
      edges: [0, 2, 4, 6, 8],
      reference: [0.5, 0.5, 0, 0],
      current: [0, 0, 0.5, 0.5],
    })
  })
})

describe('zTestProportions (Evidently z_stat_test)', () => {
  it('matches the numpy re-implementation of Evidently’s proportions_diff_z_test', () => {
    for (const { counts, statistic, pvalue } of fixture.z) {
      const r = zTestProportions(...counts)
      if (statistic !== null) close(r.statistic, statistic, `z ${counts} statistic`)
      close(r.pValue ?? NaN, pvalue, `z ${counts} p`)
    }
  })

  it('is 0 / p = 1 when both samples are the same constant, and symmetric in the category counted', () => {
    expect(zTestProportions(0, 10, 0, 20)).toEqual({ statistic: 0, pValue: 1 })
    expect(zTestProportions(10, 10, 20, 20)).toEqual({ statistic: 0, pValue: 1 })
    const a = zTestProportions(10, 100, 20, 100)
    const b = zTestProportions(90, 100, 80, 100)
    expect(b.statistic).toBeCloseTo(-a.statistic, 12)
    expect(b.pValue).toBeCloseTo(a.pValue ?? NaN, 12)
  })
})
