import { describe, it, expect } from '@jest/globals'
import {
  comparisonMethodText,
  comparisonOf,
  formatComparisonRow,
  formatBound,
  formatEstimate,
  formatInterval,
  formatPValue,
  formatRange,
  intervalDigits,
  intervalHeader,
  intervalMethodText,
  plural,
} from '../../src/core/report/common.js'
import { formatFixed } from '../../src/core/report/escape.js'
import type { Comparison } from '../../src/core/result/types.js'
import type { Interval } from '../../src/core/stats/types.js'
import { loadResult } from './fixtures.js'

function interval(low: number, high: number, extra: Partial<Interval> = {}): Interval {
  return { low, high, confidence: 0.95, method: 'bca', resamples: 1000, ...extra }
}

describe('formatFixed', () => {
  it('keeps a fixed count of decimals, groups thousands and signs on request', () => {
    expect(formatFixed(0.01204, 3, true)).toBe('+0.012')
    expect(formatFixed(-0.005848, 3, true)).toBe('−0.006')
    expect(formatFixed(0.8, 3)).toBe('0.800')
    expect(formatFixed(12345.678, 1, true)).toBe('+12,345.7')
    expect(formatFixed(-1234, 0)).toBe('-1,234')
  })

  it('signs a difference that rounds to zero ±, a value not at all, and leaves the undefined to formatNumber', () => {
    expect(formatFixed(-0.0001, 3, true)).toBe('±0.000')
    expect(formatFixed(0.0004, 3, true)).toBe('±0.000')
    expect(formatFixed(-0.0001, 3)).toBe('0.000')
    expect(formatFixed(-0.25, 2)).toBe('-0.25')
    expect(formatFixed(NaN, 3)).toBe('—')
    expect(formatFixed(-Infinity, 3, true)).toBe('-∞')
  })
})

describe('intervals', () => {
  it('shows the width to two significant digits, 3 to 6 decimals for scores, fewer for large values', () => {
    expect(intervalDigits(interval(0.00412, 0.01996))).toBe(3)
    expect(intervalDigits(interval(0.4, 1))).toBe(3)
    expect(intervalDigits(interval(0.0001, 0.0014))).toBe(4)
    expect(intervalDigits(interval(0.5, 0.5000001))).toBe(6)
    expect(intervalDigits(interval(1, 1))).toBe(3)
    expect(intervalDigits(interval(-12.5, 310))).toBe(0)
    expect(intervalDigits(interval(101.2, 104.9))).toBe(1)
  })

  it('formats a difference with explicit signs and a value without', () => {
    expect(formatInterval(interval(0.00412, 0.01996))).toBe('[+0.004, +0.020]')
    expect(formatInterval(interval(-0.005848, 0.040936))).toBe('[−0.006, +0.041]')
    expect(formatInterval(interval(0.0001, 0.0014))).toBe('[+0.0001, +0.0014]')
    expect(formatInterval(interval(0.00412, 0.01996), 2)).toBe('[+0.00, +0.02]')
    expect(formatInterval(interval(-12.5, 310))).toBe('[−13, +310]')
    expect(formatRange(interval(0.805726, 0.974802))).toBe('[0.806, 0.975]')
    expect(formatEstimate(0.926829268292683, interval(0.805726, 0.974802))).toBe('0.927 [0.806, 0.975]')
    expect(formatEstimate(0.926829268292683, undefined)).toBe('0.9268')
    expect(formatEstimate(undefined, interval(0, 1))).toBe('—')
  })

  it('signs each bound by its value, never ±: a bound at zero is unsigned, one that rounds to zero keeps its side', () => {
    // The breast-cancer example's accuracy comparison: the bootstrap's lower bound is exactly 0.
    expect(formatInterval(interval(0, 0.05847953216374269))).toBe('[0.000, +0.058]')
    expect(formatInterval(interval(-0.0123, 0.0041))).toBe('[−0.012, +0.004]')
    expect(formatInterval(interval(-0.0001, 0.0204), 3)).toBe('[−0.000, +0.020]')
    expect(formatInterval(interval(-0.0204, 0.0004), 3)).toBe('[−0.020, +0.000]')
    expect(formatBound(-0, 3)).toBe('0.000')
    expect(formatBound(1234.5, 1)).toBe('+1,234.5')
    expect(formatBound(-Infinity, 3)).toBe('-∞')
    for (const low of [0, -0.0001, 0.0001, -0]) expect(formatInterval(interval(low, 0.02), 3)).not.toContain('±')
  })

  it('says how an interval was made and heads a column by its confidence', () => {
    expect(intervalMethodText(interval(0, 1))).toBe('95% BCa bootstrap, 1,000 resamples')
    expect(intervalMethodText({ low: 0, high: 1, confidence: 0.9, method: 'wilson' })).toBe('90% Wilson score')
    expect(intervalMethodText(interval(0, 1, { undefinedResamples: 12, note: 'grouped jackknife' }))).toBe(
      '95% BCa bootstrap, 1,000 resamples (12 undefined, left out) (grouped jackknife)',
    )
    expect(intervalHeader([interval(0, 1), interval(0, 2)])).toEqual({ header: '95% CI', labelEach: false })
    expect(intervalHeader([interval(0, 1), interval(0, 2, { confidence: 0.9 })])).toEqual({ header: 'CI', labelEach: true })
    expect(intervalHeader([])).toEqual({ header: 'CI', labelEach: false })
  })

  it('gives p-values two significant digits, as the comparison messages do', () => {
    expect(formatPValue(0.031)).toBe('p = 0.031')
    expect(formatPValue(0.453125)).toBe('p = 0.45')
    expect(formatPValue(0.00291)).toBe('p = 0.0029')
    expect(formatPValue(0.00000029)).toBe('p = 2.9e-7')
    expect(formatPValue(1)).toBe('p = 1')
  })
})

describe('formatComparisonRow', () => {
  it('gives plain-text cells for each kind of comparison', () => {
    const rows = loadResult('comparison').comparisons!.map(formatComparisonRow)
    expect(rows).toEqual([
      {
        metric: 'accuracy',
        baseline: '0.9415',
        candidate: '0.9591',
        delta: '+0.018',
        interval: '[−0.006, +0.041]',
        test: 'McNemar exact p = 0.45 (b = 5, c = 2)',
        margin: 'superiority +0.005',
        verdict: 'inconclusive',
      },
      {
        metric: 'roc_auc',
        baseline: '0.9817',
        candidate: '0.9937',
        delta: '+0.012',
        interval: '[+0.004, +0.020]',
        test: 'DeLong p = 0.0029',
        margin: 'non-inferiority −0.01',
        verdict: 'pass',
      },
      {
        metric: 'log_loss',
        baseline: '0.08314',
        candidate: '0.1187',
        delta: '+0.036',
        interval: '[+0.021, +0.050]',
        test: '—',
        margin: 'non-inferiority −0.02',
        verdict: 'fail',
      },
      {
        metric: 'brier',
        baseline: '0.03842',
        candidate: '0.03512',
        delta: '−0.003',
        interval: '[−0.009, +0.002]',
        test: '—',
        margin: '—',
        verdict: 'report only',
      },
    ])
  })

  it('names a chi-squared McNemar test and a p-value without a named test', () => {
    const base = loadResult('comparison').comparisons![0]!
    const chi2: Comparison = { ...base, pValue: 0.0312, test: { name: 'mcnemar-chi2', statistic: 4.65 } }
    expect(formatComparisonRow(chi2).test).toBe('McNemar χ² p = 0.031')
    const bare: Comparison = { ...base, pValue: 0.2 }
    delete bare.test
    expect(formatComparisonRow(bare).test).toBe('p = 0.2')
  })
})

describe('comparisonMethodText', () => {
  it('states shared methods once and names the metrics of the others, keeping `;` inside brackets', () => {
    expect(comparisonMethodText(loadResult('comparison').comparisons!)).toBe(
      'Paired bootstrap (BCa, 1000 resamples, seed 20261126, 95% CI); ' +
        'McNemar test, exact binomial (5 rows right only by the candidate, 2 only by the baseline; p = 0.45) for accuracy; ' +
        'DeLong test (Sun & Xu algorithm; z = 2.978, p = 0.0029; its 95% Wald CI [+0.004, +0.020]) for roc_auc; ' +
        'n = 171 rows of test scored by both models. ' +
        'In the p-value column, b counts rows only the candidate got right and c rows only the baseline got right.',
    )
  })

  it('names the metrics of a method not all share', () => {
    const [accuracy, rocAuc] = loadResult('comparison').comparisons!
    const wilson = { ...rocAuc!, method: 'Wilson (a; b)' }
    expect(comparisonMethodText([{ ...accuracy!, pValue: null }, wilson])).toBe(
      'Paired bootstrap (BCa, 1000 resamples, seed 20261126, 95% CI) for accuracy; ' +
        'McNemar test, exact binomial (5 rows right only by the candidate, 2 only by the baseline; p = 0.45) for accuracy; ' +
        'Wilson (a; b) for roc_auc; n = 171 rows of test scored by both models.',
    )
  })

  it('states one method once, with the rows of each data set', () => {
    const [, , logLoss, brier] = loadResult('comparison').comparisons!
    const holdout: Comparison = { ...brier!, dataset: 'holdout', n: 12500 }
    expect(comparisonMethodText([logLoss!, brier!, holdout])).toBe(
      'Paired bootstrap (BCa, 1000 resamples, seed 20261126, 95% CI); n = 171 rows of test, 12,500 rows of holdout scored by both models.',
    )
  })
})

describe('comparisonOf', () => {
  it('finds the comparison a comparison check judged, by data set and metric', () => {
    const result = loadResult('comparison')
    const check = result.checks.find((c) => c.id === 'comparison/test/roc_auc/non-inferiority')!
    expect(comparisonOf(result, check)).toBe(result.comparisons![1])
    expect(comparisonOf(result, { ...check, dataset: 'holdout' })).toBeUndefined()
    expect(comparisonOf(result, { ...check, dataset: undefined })).toBe(result.comparisons![1])
    expect(comparisonOf(result, result.checks[0]!)).toBeUndefined()
  })
})

describe('plural', () => {
  it('is singular for exactly one, plural otherwise, with thousands separators and irregular plurals', () => {
    expect(plural(1, 'row')).toBe('1 row')
    expect(plural(0, 'row')).toBe('0 rows')
    expect(plural(2, 'row')).toBe('2 rows')
    expect(plural(12500, 'row')).toBe('12,500 rows')
    expect(plural(1, 'batch', 'batches')).toBe('1 batch')
    expect(plural(3, 'batch', 'batches')).toBe('3 batches')
    expect(plural(1.5, 'clean pass', 'clean passes')).toBe('1.5 clean passes')
  })

  it('says 1 row where the reports count rows', () => {
    const [c] = loadResult('comparison').comparisons!
    expect(comparisonMethodText([{ ...c!, n: 1 }])).toContain('n = 1 row of test scored by both models.')
  })
})
