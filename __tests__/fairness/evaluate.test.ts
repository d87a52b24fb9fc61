import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import type { Cell } from '../../src/core/data/types.js'
import { evaluateFairness, fairnessUnsupported } from '../../src/core/fairness/evaluate.js'
import { fairnessSchema, type FairnessConfigInput } from '../../src/core/fairness/schema.js'
import { UserError } from '../../src/core/errors.js'
import type { BootstrapOptions } from '../../src/core/stats/types.js'
import { binaryRows, concatGroups, groupRows } from './scored-rows.js'

const QUICK: BootstrapOptions = { resamples: 200, confidence: 0.95, method: 'percentile', seed: 7 }
const config = (c: FairnessConfigInput) => fairnessSchema.parse(c)
const n4 = (x: number) => Number(x.toPrecision(4)).toString()

/*
 * Hand-made: A (10 rows) sel 5/10, TPR 4/5, FPR 1/5; B (8) sel 4/8, TPR 2/4, FPR 2/4; C (5) sel 2/5, TPR 1/2,
 * FPR 1/3; D (2 rows, below min-group-size 5) sel 1/2, TPR 0/1, FPR 1/1; 3 rows with no value.
 */
function handMade(withBaseline = true) {
  const parts = [groupRows('A', 5, 4, 5, 1), groupRows('B', 4, 2, 4, 2), groupRows('C', 2, 1, 3, 1), groupRows('D', 1, 0, 1, 1)]
  const missing = { g: [null, null, null] as Cell[], y: [1, 1, 0], pred: [0, 0, 1] }
  const all = concatGroups([...parts, missing])
  // The baseline: A perfect (TPR 1, FPR 0), the others as the candidate.
  const base = concatGroups([groupRows('A', 5, 5, 5, 0), ...parts.slice(1), missing])
  return binaryRows({ y: all.y, pred: all.pred, baselinePred: withBaseline ? base.pred : undefined, columns: { sex: all.g } })
}

describe('evaluateFairness on a hand-made table', () => {
  const cfg = config({
    sensitive: 'sex',
    'min-group-size': 5,
    thresholds: [
      'demographic_parity_difference <= 0.1',
      'equalized_odds_ratio >= 0.8',
      'equalized_odds_difference <= baseline + 0.02 warn',
      'equalized_odds_difference <= baseline - 0.25',
    ],
  })

  it('reports every group with its rates, and the metrics over the gated groups only', () => {
    const { results } = evaluateFairness(handMade(), 'test', cfg, QUICK)
    expect(results).toHaveLength(1)
    const r = results[0]
    expect(r.dataset).toBe('test')
    expect(r.sensitive).toBe('sex')
    expect(r.groups).toEqual([
      { value: 'A', rows: 10, gated: true, selection_rate: 0.5, true_positive_rate: 0.8, false_positive_rate: 0.2 },
      { value: 'B', rows: 8, gated: true, selection_rate: 0.5, true_positive_rate: 0.5, false_positive_rate: 0.5 },
      { value: 'C', rows: 5, gated: true, selection_rate: 0.4, true_positive_rate: 0.5, false_positive_rate: 1 / 3 },
      { value: 'D', rows: 2, gated: false, selection_rate: 0.5, true_positive_rate: 0, false_positive_rate: 1 },
    ])
    // D (TPR 0, FPR 1) would make both equalized odds rates differ by 0.8; left out, they differ by 0.3.
    expect(r.metrics).toEqual({
      demographic_parity_difference: 0.5 - 0.4,
      demographic_parity_ratio: 0.4 / 0.5,
      equalized_odds_difference: Math.max(0.8 - 0.5, 0.5 - 0.2),
      equalized_odds_ratio: Math.min(0.5 / 0.8, 0.2 / 0.5),
    })
    expect(r.baseline).toEqual({
      demographic_parity_difference: 0.5 - 0.4,
      demographic_parity_ratio: 0.4 / 0.5,
      equalized_odds_difference: 0.5,
      equalized_odds_ratio: 0,
    })
    expect(Object.keys(r.intervals).sort()).toEqual(Object.keys(r.metrics).sort())
    for (const i of Object.values(r.intervals)) expect(i).toMatchObject({ confidence: 0.95, method: 'percentile', resamples: 200 })
  })

  it('gates absolutely and against the baseline, with ids, intervals and verdicts in the messages', () => {
    const { results, checks } = evaluateFairness(handMade(), 'test', cfg, QUICK)
    const ci = (m: string) => `95% CI [${n4(results[0].intervals[m].low)}, ${n4(results[0].intervals[m].high)}]`
    expect(checks.map((c) => [c.id, c.kind, c.dataset, c.status, c.severity, c.metric])).toEqual([
      ['fairness/test/sex/demographic_parity_difference<=0.1', 'fairness', 'test', 'pass', 'fail', 'demographic_parity_difference'],
      ['fairness/test/sex/equalized_odds_ratio>=0.8', 'fairness', 'test', 'fail', 'fail', 'equalized_odds_ratio'],
      ['fairness/test/sex/equalized_odds_difference<=baseline+0.02', 'fairness', 'test', 'pass', 'warn', 'equalized_odds_difference'],
      ['fairness/test/sex/equalized_odds_difference<=baseline-0.25', 'fairness', 'test', 'fail', 'fail', 'equalized_odds_difference'],
    ])
    expect(checks[0].message).toBe(`demographic_parity_difference across sex = 0.1, ${ci('demographic_parity_difference')}, meets <= 0.1`)
    expect(checks[1].message).toBe(`equalized_odds_ratio across sex = 0.4, ${ci('equalized_odds_ratio')}, does not meet >= 0.8`)
    expect(checks[2]).toMatchObject({ value: 0.8 - 0.5, baseline: 0.5, threshold: { op: '<=', value: 0.52 } })
    expect(checks[2].message).toBe(
      `equalized_odds_difference across sex = 0.3, ${ci('equalized_odds_difference')} vs baseline 0.5 (-0.2); meets <= 0.52`,
    )
    expect(checks[3]).toMatchObject({ threshold: { op: '<=', value: 0.25, expression: 'equalized_odds_difference <= baseline - 0.25' } })
    expect(checks[3].message).toContain('does not meet <= 0.25')
  })

  it('skips baseline gates when there is no baseline, and still gates the absolute ones', () => {
    const { results, checks } = evaluateFairness(handMade(false), 'test', cfg, QUICK)
    expect(results[0].baseline).toBeUndefined()
    expect(checks.map((c) => c.status)).toEqual(['pass', 'fail', 'skipped', 'skipped'])
    expect(checks[2]).toMatchObject({ value: 0.8 - 0.5, baseline: null })
    expect(checks[2].message).toMatch(
      /^equalized_odds_difference across sex = 0\.3, 95% CI \[.*\]; no baseline yet \(first run\): equalized_odds_difference <= baseline \+ 0\.02 skipped$/,
    )
  })

  it('says which rows belong to no group and which groups are left out', () => {
    const { notes } = evaluateFairness(handMade(), 'test', cfg, QUICK)
    expect(notes).toEqual([
      'fairness on test: sex: 3 rows have no value and belong to no group',
      'fairness on test: sex: groups below min-group-size 5, reported but left out of the differences and ratios: "D" 2 rows',
    ])
  })

  it('leaves missing values out of every group: the same result as without those rows', () => {
    const parts = concatGroups([groupRows('A', 5, 4, 5, 1), groupRows('B', 4, 2, 4, 2)])
    const clean = binaryRows({ y: parts.y, pred: parts.pred, columns: { sex: parts.g } })
    const withMissing = binaryRows({
      y: [1, 0, ...parts.y, 1],
      pred: [0, 1, ...parts.pred, 1],
      columns: { sex: [null, Number.NaN, ...parts.g, null] },
    })
    const cfg5 = config({ sensitive: 'sex', 'min-group-size': 5 })
    const a = evaluateFairness(clean, 'd', cfg5, QUICK).results[0]
    const b = evaluateFairness(withMissing, 'd', cfg5, QUICK).results[0]
    expect(b.groups).toEqual(a.groups)
    expect(b.metrics).toEqual(a.metrics)
  })
})

describe('the min-group-size rule', () => {
  const parts = concatGroups([groupRows('A', 5, 4, 5, 1), groupRows('B', 4, 2, 4, 2), groupRows('C', 2, 1, 3, 1)])
  const rows = binaryRows({ y: parts.y, pred: parts.pred, columns: { sex: parts.g } })

  it('a group of exactly min-group-size rows is gated; one row fewer is not', () => {
    const at = evaluateFairness(rows, 'd', config({ sensitive: 'sex', 'min-group-size': 5 }), QUICK).results[0]
    expect(at.groups.map((g) => g.gated)).toEqual([true, true, true])
    const above = evaluateFairness(rows, 'd', config({ sensitive: 'sex', 'min-group-size': 6 }), QUICK).results[0]
    expect(above.groups.map((g) => g.gated)).toEqual([true, true, false])
    expect(above.metrics.demographic_parity_difference).toBe(0)
    expect(above.metrics.demographic_parity_ratio).toBe(1)
    expect(above.metrics.equalized_odds_difference).toBe(0.8 - 0.5)
  })

  it('with fewer than 2 gated groups computes nothing and skips every gate, saying why', () => {
    const out = evaluateFairness(
      rows,
      'd',
      config({ sensitive: 'sex', thresholds: ['demographic_parity_ratio >= 0.8', 'equalized_odds_difference <= baseline'] }),
      QUICK,
    )
    expect(out.results[0].metrics).toEqual({})
    expect(out.results[0].intervals).toEqual({})
    expect(out.results[0].groups.map((g) => g.gated)).toEqual([false, false, false])
    const reason = 'fewer than 2 groups of sex have at least 30 rows ("A" 10 rows, "B" 8 rows, "C" 5 rows)'
    expect(out.checks).toEqual([
      {
        id: 'fairness/d/sex/demographic_parity_ratio>=0.8',
        kind: 'fairness',
        dataset: 'd',
        status: 'skipped',
        severity: 'fail',
        metric: 'demographic_parity_ratio',
        value: null,
        message: `demographic_parity_ratio across sex is not computed: ${reason}; demographic_parity_ratio >= 0.8 skipped`,
      },
      expect.objectContaining({ status: 'skipped', value: null, metric: 'equalized_odds_difference' }),
    ])
    expect(out.notes).toContain(`fairness on d: sex: ${reason}; its disparity metrics are not computed`)
  })
})

describe('rates that are undefined', () => {
  it('a group with no positives: fairlearn reports TPR 0, here it is left out of equalized odds (and noted)', () => {
    // A: TPR 4/5, FPR 1/5; B: TPR 2/4, FPR 2/4; Z: no positives, FPR 3/6.
    const parts = concatGroups([groupRows('A', 5, 4, 5, 1), groupRows('B', 4, 2, 4, 2), groupRows('Z', 0, 0, 6, 3)])
    const rows = binaryRows({ y: parts.y, pred: parts.pred, columns: { g: parts.g } })
    const out = evaluateFairness(rows, 'd', config({ sensitive: 'g', 'min-group-size': 5 }), QUICK)
    const r = out.results[0]
    expect(r.groups[2]).toEqual({ value: 'Z', rows: 6, gated: true, selection_rate: 0.5, true_positive_rate: 0, false_positive_rate: 0.5 })
    // With fairlearn's 0 the TPR difference would be 0.8 and the ratio 0; over A and B they are 0.3 and 0.625.
    expect(r.metrics.equalized_odds_difference).toBe(Math.max(0.8 - 0.5, 0.5 - 0.2))
    expect(r.metrics.equalized_odds_ratio).toBe(Math.min(0.5 / 0.8, 0.2 / 0.5))
    expect(out.notes).toContain(
      'fairness on d: g: group "Z" has no positive rows, so its true positive rate is undefined (reported as 0, as fairlearn does) and left out of equalized odds',
    )
  })

  it('equalized odds is undefined when no rate is defined in two gated groups: its gates are skipped', () => {
    // P has only positives (no FPR), N only negatives (no TPR).
    const parts = concatGroups([groupRows('P', 5, 3, 0, 0), groupRows('N', 0, 0, 5, 1)])
    const rows = binaryRows({ y: parts.y, pred: parts.pred, columns: { g: parts.g } })
    const out = evaluateFairness(
      rows,
      'd',
      config({ sensitive: 'g', 'min-group-size': 5, thresholds: ['equalized_odds_ratio >= 0.8', 'demographic_parity_ratio >= 0.8'] }),
      QUICK,
    )
    expect(out.results[0].metrics).toEqual({ demographic_parity_difference: 0.6 - 0.2, demographic_parity_ratio: 0.2 / 0.6 })
    expect(out.checks[0]).toMatchObject({ status: 'skipped', value: null })
    expect(out.checks[0].message).toBe(
      'equalized_odds_ratio across g is not computed: fewer than 2 of the groups of g with at least 5 rows have positive rows, and fewer than 2 have negative rows; equalized_odds_ratio >= 0.8 skipped',
    )
    expect(out.checks[1]).toMatchObject({ status: 'fail', value: 0.2 / 0.6 })
  })

  it('a ratio whose groups all have rate 0 is 1 (fairlearn: 0/0 = NaN), with difference 0', () => {
    const parts = concatGroups([groupRows('A', 3, 0, 3, 0), groupRows('B', 2, 0, 4, 0)])
    const rows = binaryRows({ y: parts.y, pred: parts.pred, columns: { g: parts.g } })
    const out = evaluateFairness(
      rows,
      'd',
      config({ sensitive: 'g', 'min-group-size': 1, thresholds: ['demographic_parity_ratio >= 0.8'] }),
      QUICK,
    )
    expect(out.results[0].metrics).toEqual({
      demographic_parity_difference: 0,
      demographic_parity_ratio: 1,
      equalized_odds_difference: 0,
      equalized_odds_ratio: 1,
    })
    expect(out.checks[0].status).toBe('pass')
  })
})

describe('groups of a column', () => {
  it('are numbers ascending then strings, 1 and "1" apart, booleans as "false"/"true"', () => {
    const g: Cell[] = ['b', 10, '1', 2, 1, 'a', true, false, 2, 10]
    const rows = binaryRows({ y: g.map((_, i) => i % 2), pred: g.map(() => 1), columns: { g } })
    const r = evaluateFairness(rows, 'd', config({ sensitive: 'g', 'min-group-size': 2 }), QUICK).results[0]
    expect(r.groups.map((x) => [x.value, x.rows, x.gated])).toEqual([
      [1, 1, false],
      [2, 2, true],
      [10, 2, true],
      ['1', 1, false],
      ['a', 1, false],
      ['b', 1, false],
      ['false', 1, false],
      ['true', 1, false],
    ])
  })

  it('one result and one set of gates per sensitive column', () => {
    const parts = concatGroups([groupRows('A', 5, 4, 5, 1), groupRows('B', 4, 2, 4, 2)])
    const region = parts.g.map((_, i) => (i % 3 === 0 ? 'north' : 'south'))
    const rows = binaryRows({ y: parts.y, pred: parts.pred, columns: { sex: parts.g, region } })
    const out = evaluateFairness(
      rows,
      'd',
      config({ sensitive: ['sex', 'region'], 'min-group-size': 5, thresholds: ['demographic_parity_difference <= 0.1'] }),
      QUICK,
    )
    expect(out.results.map((r) => r.sensitive)).toEqual(['sex', 'region'])
    expect(out.results[1].groups.map((g) => [g.value, g.rows])).toEqual([
      ['north', 6],
      ['south', 12],
    ])
    expect(out.checks.map((c) => c.id)).toEqual([
      'fairness/d/sex/demographic_parity_difference<=0.1',
      'fairness/d/region/demographic_parity_difference<=0.1',
    ])
  })
})

describe('bootstrap intervals', () => {
  const fx = JSON.parse(readFileSync(new URL('../fixtures/fairness/fairlearn-reference.json', import.meta.url), 'utf8')) as {
    cases: { sensitive: Cell[]; y_true: number[]; y_pred: number[] }[]
  }
  const c = fx.cases[0]
  const rows = binaryRows({ y: c.y_true, pred: c.y_pred, columns: { g: c.sensitive } })
  const cfg = config({ sensitive: 'g' })
  const bca: BootstrapOptions = { resamples: 400, confidence: 0.95, method: 'bca', seed: 11 }

  it('are the same for the same seed, differ for another, and contain the estimate', () => {
    const a = evaluateFairness(rows, 'd', cfg, bca).results[0]
    const b = evaluateFairness(rows, 'd', cfg, bca).results[0]
    const other = evaluateFairness(rows, 'd', cfg, { ...bca, seed: 12 }).results[0]
    expect(b.intervals).toEqual(a.intervals)
    expect(other.intervals.demographic_parity_difference).not.toEqual(a.intervals.demographic_parity_difference)
    for (const [m, i] of Object.entries(a.intervals)) {
      expect(i.method).toBe('bca')
      expect(i.low).toBeLessThan(a.metrics[m])
      expect(i.high).toBeGreaterThan(a.metrics[m])
    }
  })
})

describe('unsupported input', () => {
  it('refuses multiclass and regression tasks with a message naming the key', () => {
    const rows = { ...binaryRows({ y: [0, 1, 2], pred: [0, 1, 2], columns: { g: ['a', 'b', 'c'] } }), task: 'multiclass' as const }
    expect(() => evaluateFairness(rows, 'd', config({ sensitive: 'g' }), QUICK)).toThrow(UserError)
    expect(() => evaluateFairness(rows, 'd', config({ sensitive: 'g' }), QUICK)).toThrow(
      'fairness: demographic parity and equalized odds are computed for binary classification only; this is a multiclass task',
    )
    expect(fairnessUnsupported('regression')).toContain('this is a regression task')
    expect(fairnessUnsupported('binary')).toBeUndefined()
  })

  it('names a sensitive column the data set does not have', () => {
    const rows = binaryRows({ y: [0, 1], pred: [0, 1], columns: { sex: ['a', 'b'] } })
    let error: unknown
    try {
      evaluateFairness(rows, 'test', config({ sensitive: ['sex', 'age'] }), QUICK)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).message).toBe("fairness.sensitive: data set 'test' has no column 'age'")
    expect((error as UserError).field).toBe('fairness.sensitive')
  })
})
