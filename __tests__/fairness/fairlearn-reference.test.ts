import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import type { Cell } from '../../src/core/data/types.js'
import { evaluateFairness } from '../../src/core/fairness/evaluate.js'
import { FAIRNESS_METRICS, fairnessSchema } from '../../src/core/fairness/schema.js'
import { binaryRows } from './scored-rows.js'

/*
 * Cases made by scripts/fixtures/fairness_reference.py, which implements fairlearn's formulas from its source.
 * `fairlearn` holds fairlearn's literal values; `expected` modelgate's rule, which differs from fairlearn only
 * where fairlearn's value comes from 0/0 (see src/core/fairness/rates.ts); the script checks that both agree
 * on every case not marked `differs_from_fairlearn`.
 */
type Metrics = Record<string, number | null>
interface Side {
  groups: {
    value: number | string
    rows: number
    gated: boolean
    selection_rate: number
    true_positive_rate: number
    false_positive_rate: number
  }[]
  fairlearn: Metrics
  expected: Metrics
}
interface Case {
  name: string
  min_group_size: number
  sensitive: Cell[]
  y_true: number[]
  y_pred: number[]
  baseline_pred: number[]
  candidate: Side
  baseline: Side
  differs_from_fairlearn: boolean
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/fairness/fairlearn-reference.json', import.meta.url), 'utf8')) as {
  cases: Case[]
}
const OPTS = { resamples: 50, confidence: 0.9, method: 'percentile' as const, seed: 3 }

function run(c: Case) {
  const rows = binaryRows({ y: c.y_true, pred: c.y_pred, baselinePred: c.baseline_pred, columns: { group: c.sensitive } })
  const config = fairnessSchema.parse({ sensitive: 'group', 'min-group-size': c.min_group_size })
  return evaluateFairness(rows, 'ref', config, OPTS).results[0]
}

function expectMetrics(actual: Record<string, number> | undefined, expected: Metrics): void {
  for (const m of FAIRNESS_METRICS) {
    const e = expected[m]
    if (e === null) expect(actual?.[m]).toBeUndefined()
    else expect(Math.abs(actual![m] - e)).toBeLessThanOrEqual(1e-12)
  }
}

describe('fairlearn reference cases', () => {
  it('the fixture covers the cases the rules are about', () => {
    expect(fixture.cases.map((c) => c.name)).toEqual([
      'three string groups',
      'numeric groups, one below min-group-size',
      'a group with no positives',
      'missing sensitive values',
      'no false positives in any group',
    ])
  })

  for (const c of fixture.cases) {
    it(`${c.name}: group rates as fairlearn's by_group, metrics as expected`, () => {
      const r = run(c)
      expect(r.groups.map((g) => [g.value, g.rows, g.gated])).toEqual(c.candidate.groups.map((g) => [g.value, g.rows, g.gated]))
      r.groups.forEach((g, k) => {
        const ref = c.candidate.groups[k]
        expect(Math.abs(g.selection_rate - ref.selection_rate)).toBeLessThanOrEqual(1e-12)
        expect(Math.abs(g.true_positive_rate - ref.true_positive_rate)).toBeLessThanOrEqual(1e-12)
        expect(Math.abs(g.false_positive_rate - ref.false_positive_rate)).toBeLessThanOrEqual(1e-12)
      })
      expectMetrics(r.metrics, c.candidate.expected)
      expectMetrics(r.baseline, c.baseline.expected)
      if (!c.differs_from_fairlearn) {
        expectMetrics(r.metrics, c.candidate.fairlearn)
        expectMetrics(r.baseline, c.baseline.fairlearn)
      }
    })
  }

  it('the small group would change the metrics if it were not left out', () => {
    const c = fixture.cases[1]
    const r = run(c)
    const all = run({ ...c, min_group_size: 1 })
    expect(r.groups.filter((g) => !g.gated).map((g) => [g.value, g.rows])).toEqual([[3, 12]])
    expect(all.metrics.equalized_odds_difference).toBeGreaterThan(r.metrics.equalized_odds_difference + 0.5)
  })

  it('a group with no positives: fairlearn counts TPR 0 into equalized odds, modelgate leaves it out', () => {
    const c = fixture.cases[2]
    const z = c.candidate.groups.find((g) => g.value === 'z')!
    expect(z.true_positive_rate).toBe(0)
    expect(c.candidate.fairlearn.equalized_odds_ratio).toBe(0)
    expect(c.candidate.fairlearn.equalized_odds_difference).toBe(0.75)
    const r = run(c)
    expect(r.metrics.equalized_odds_ratio).toBeCloseTo(c.candidate.expected.equalized_odds_ratio!, 12)
    expect(r.metrics.equalized_odds_ratio).toBeGreaterThan(0.3)
    // Demographic parity does not involve the true positive rate: the same as fairlearn.
    expect(Math.abs(r.metrics.demographic_parity_difference - c.candidate.fairlearn.demographic_parity_difference!)).toBeLessThanOrEqual(
      1e-12,
    )
  })
})
