import { describe, expect, it } from '@jest/globals'
import { groupColumn } from '../../src/core/fairness/groups.js'
import { disparityMetrics, encodeCells, groupCounts, groupRates } from '../../src/core/fairness/rates.js'

describe('groupColumn', () => {
  it('codes each row by its sorted group, -1 for missing values (null or NaN)', () => {
    const g = groupColumn(['m', null, 'f', 3, 'm', Number.NaN, 3, 'f', -1])
    expect(g.values).toEqual([-1, 3, 'f', 'm'])
    expect([...g.codes]).toEqual([3, -1, 2, 1, 3, -1, 1, 2, 0])
    expect(g.rows).toEqual([1, 2, 2, 2])
    expect(g.missing).toBe(2)
  })
})

describe('group counts with weights', () => {
  // Rows: group, y, pred.
  const data: [number, number, number][] = [
    [0, 1, 1],
    [0, 1, 0],
    [0, 0, 1],
    [0, 0, 0],
    [1, 1, 1],
    [1, 0, 0],
    [1, 0, 1],
    [2, 1, 0],
    [2, 0, 0],
    [-1, 1, 1],
  ]
  const cellsOf = (rows: [number, number, number][]) =>
    encodeCells(
      Int32Array.from(rows, (r) => r[0]),
      Uint8Array.from(rows, (r) => r[1]),
      Uint8Array.from(rows, (r) => r[2]),
    )
  const cells = cellsOf(data)

  it('encodes each row as its cell of the group × truth × prediction table', () => {
    expect([...cells]).toEqual([3, 2, 1, 0, 7, 4, 5, 10, 8, -1])
  })

  it('gives the rates of the rows repeated: integer weights are multiplicities', () => {
    const w = Int32Array.from([3, 0, 1, 2, 1, 4, 0, 2, 1, 5])
    const expanded = data.flatMap((r, i) => Array.from({ length: w[i] }, () => r))
    const direct = groupCounts(cells, 3, w)
    const repeated = groupCounts(cellsOf(expanded), 3, null)
    expect(direct).toEqual(repeated)
    // Group 0 with weights 3,0,1,2: 6 rows, selected 3+1 = 4, positives 3 (all true positives).
    expect(groupRates(direct, 0)).toEqual({ selection_rate: 4 / 6, true_positive_rate: 1, false_positive_rate: 1 / 3 })
    expect(disparityMetrics(direct, [0, 1, 2])).toEqual(disparityMetrics(repeated, [0, 1, 2]))
  })

  it('a group with weight 0 everywhere has no rates and drops out of the aggregates', () => {
    const w = Int32Array.from([1, 1, 1, 1, 0, 0, 0, 1, 1, 1])
    const c = groupCounts(cells, 3, w)
    const r = groupRates(c, 1)
    expect([r.selection_rate, r.true_positive_rate, r.false_positive_rate].every(Number.isNaN)).toBe(true)
    // Groups 0 (sel 1/2, TPR 1/2, FPR 1/2) and 2 (sel 0, TPR 0, FPR 0) remain.
    expect(disparityMetrics(c, [0, 1, 2])).toEqual({
      demographic_parity_difference: 0.5,
      demographic_parity_ratio: 0,
      equalized_odds_difference: 0.5,
      equalized_odds_ratio: 0,
    })
    // With only one group left, no disparity is measured.
    expect(Object.values(disparityMetrics(c, [1, 2])).every(Number.isNaN)).toBe(true)
  })
})
