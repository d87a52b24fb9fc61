/** The seeded generator and multinomial resampling. */
import { describe, it, expect } from '@jest/globals'
import { createRng, resampleCounts, xoshiro128StarStar } from '../../src/core/stats/random.js'

describe('xoshiro128** with SplitMix32 seeding', () => {
  it('gives the reference C implementation’s stream from state {1, 2, 3, 4}', () => {
    const next = xoshiro128StarStar([1, 2, 3, 4])
    expect(Array.from({ length: 8 }, next)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849])
  })

  it('seeds like a Python transcription of SplitMix32 + xoshiro128** (seed 42), so every platform agrees', () => {
    // State from SplitMix32(42): [939911724, 3948730756, 321366731, 3317318717]; doubles from output pairs.
    const rng = createRng(42)
    expect([rng(), rng(), rng()]).toEqual([0.6606157208001621, 0.1117019639532224, 0.0791056456144914])
  })

  it('is deterministic per seed and differs between seeds', () => {
    const a = createRng(7)
    const b = createRng(7)
    const c = createRng(8)
    const xs = Array.from({ length: 100 }, a)
    expect(Array.from({ length: 100 }, b)).toEqual(xs)
    expect(Array.from({ length: 100 }, c)).not.toEqual(xs)
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
    expect(() => createRng(NaN)).toThrow('seed = NaN')
  })
})

describe('resampleCounts', () => {
  it('draws n rows with replacement: counts sum to n, about 1/e of rows left out', () => {
    const n = 10000
    const counts = resampleCounts(n, createRng(1))
    expect(counts.reduce((a, b) => a + b, 0)).toBe(n)
    const zeros = counts.filter((c) => c === 0).length
    // P(row not drawn) = (1 − 1/n)^n ≈ 0.3679; sd of the share ≈ 0.005.
    expect(Math.abs(zeros / n - 0.3679)).toBeLessThan(0.02)
  })

  it('is uniform over rows on both index paths (32-bit Lemire and 53-bit double)', () => {
    for (const rng of [
      createRng(3),
      (() => {
        const r = createRng(3)
        return () => r()
      })(),
    ]) {
      const tally = new Float64Array(5)
      const counts = new Int32Array(5)
      for (let rep = 0; rep < 20000; rep++) {
        resampleCounts(5, rng, counts)
        for (let i = 0; i < 5; i++) tally[i] += counts[i]
      }
      // 100,000 draws over 5 rows: chi-square on 4 df; 18.5 is its 0.999 quantile.
      const expected = 20000
      const chi2 = tally.reduce((s, t) => s + (t - expected) ** 2 / expected, 0)
      expect(chi2).toBeLessThan(18.5)
    }
  })

  it('reuses out and checks its length', () => {
    const out = new Int32Array(4).fill(9)
    expect(resampleCounts(4, createRng(1), out)).toBe(out)
    expect(out.reduce((a, b) => a + b, 0)).toBe(4)
    expect(() => resampleCounts(3, createRng(1), out)).toThrow('out has length 4, expected 3')
    expect(resampleCounts(0, createRng(1)).length).toBe(0)
  })
})
