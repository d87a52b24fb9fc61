import { describe, it, expect } from '@jest/globals'
import { COMMENT_MARKER, renderComment } from '../../src/core/report/comment.js'
import type { CheckResult } from '../../src/core/result/types.js'
import { loadResult } from './fixtures.js'

const SUMMARY_URL = 'https://github.com/acme/oncology-models/actions/runs/7312345678'

describe('renderComment with comparisons', () => {
  it('puts the champion/challenger verdicts and a compact table first, before the failed checks', () => {
    const lines = renderComment(loadResult('comparison'), { marker: COMMENT_MARKER, summaryUrl: SUMMARY_URL }).split('\n')
    expect(lines.slice(0, 23)).toEqual([
      '<!-- modelgate:validate-model -->',
      '### ❌ validate-model failed: 1 check failed',
      '',
      '**Champion vs challenger**',
      '',
      '- ❔ no detectable difference on accuracy: +0.018, 95% CI [−0.006, +0.041] (McNemar p = 0.45); superiority by 0.005: inconclusive (the CI includes a gain of 0.005; more rows would narrow it)',
      '- ✅ the new model is better on roc_auc: +0.012, 95% CI [+0.004, +0.020] (DeLong p = 0.0029); non-inferiority within 0.010: pass (the CI excludes a loss of 0.010)',
      '- ❌ the new model is worse on log_loss: +0.036, 95% CI [+0.021, +0.050] (lower is better); non-inferiority within 0.020: fail (the whole CI is beyond an increase of 0.020)',
      '- no detectable difference on brier: −0.003, 95% CI [−0.009, +0.002] (lower is better)',
      '',
      '| Metric | Δ | 95% CI | p-value | Verdict |',
      '| :--- | ---: | ---: | :--- | :--- |',
      '| accuracy | +0.018 | [−0.006, +0.041] | McNemar exact p = 0.45 (b = 5, c = 2) | ❔ inconclusive |',
      '| roc_auc | +0.012 | [+0.004, +0.020] | DeLong p = 0.0029 | ✅ pass |',
      '| log_loss | +0.036 | [+0.021, +0.050] | — | ❌ fail |',
      '| brier | −0.003 | [−0.009, +0.002] | — | report only |',
      '',
      'In the p-value column, b counts rows only the candidate got right and c rows only the baseline got right.',
      '',
      '4 of 7 checks passed, 1 skipped.',
      '',
      '|  | Check | Value | Threshold | Baseline | Change | Message |',
      '| :---: | :--- | ---: | :--- | ---: | ---: | :--- |',
    ])
    expect(lines.slice(23, 25)).toEqual([
      '| ❌ | comparison/test/log_loss/non-inferiority | 0.1187 | log_loss non-inferiority −0.02 | 0.08314 | +0.0356 | the new model is worse on log_loss: +0.036, 95% CI [+0.021, +0.050] (lower is better); non-inferiority within 0.020: fail (the whole CI is beyond an increase of 0.020) |',
      '| ⚠️ | comparison/test/accuracy/superiority | 0.9591 | accuracy superiority +0.005 | 0.9415 | +0.01754 | no detectable difference on accuracy: +0.018, 95% CI [−0.006, +0.041] (McNemar p = 0.45); superiority by 0.005: inconclusive (the CI includes a gain of 0.005; more rows would narrow it) |',
    ])
    expect(lines.at(-1)).toBe(`<sub>modelgate 0.2.0 · model breast_cancer_gbm · commit 4b825dc · [full report](${SUMMARY_URL})</sub>`)
  })

  it('leaves out the b/c legend when no McNemar counts are shown, and escapes a hostile message', () => {
    const result = loadResult('comparison')
    result.comparisons = result.comparisons!.slice(1, 2).map((c) => ({ ...c, metric: 'auc|<x>', message: 'better on a|b<script>\nreally' }))
    const text = renderComment(result, { marker: COMMENT_MARKER })
    expect(text).not.toContain('b counts rows')
    expect(text).not.toContain('<script>')
    expect(text).toContain('- ✅ better on a\\|b&lt;script&gt;<br>really\n')
    expect(text).toContain('| auc\\|&lt;x&gt; | +0.012 | [+0.004, +0.020] | DeLong p = 0.0029 | ✅ pass |')
  })

  it('keeps the verdicts when 5,000 failed checks overflow the comment', () => {
    const result = loadResult('comparison')
    result.checks = Array.from({ length: 5000 }, (_, i): CheckResult => ({
      id: `slice:s${i}:accuracy>=0.9`,
      kind: 'slice',
      status: 'fail',
      severity: 'fail',
      metric: 'accuracy',
      value: 0.5,
      threshold: { op: '>=', value: 0.9, expression: 'accuracy >= 0.9' },
      message: `accuracy on slice s${i} is 0.5, below 0.9`,
    }))
    const text = renderComment(result, { marker: COMMENT_MARKER, summaryUrl: SUMMARY_URL })
    expect(text.length).toBeLessThanOrEqual(65536)
    expect(text).toContain('| log_loss | +0.036 | [+0.021, +0.050] | — | ❌ fail |')
    expect(text.indexOf('**Champion vs challenger**')).toBeLessThan(text.indexOf('| Check |'))
    const lines = text.split('\n')
    expect(lines.at(-1)).toBe(`… truncated: see the full report in the job summary ([job summary](${SUMMARY_URL}))`)
    expect(lines.at(-3)).toMatch(
      /^\| ❌ \| slice:s\d+:accuracy&gt;=0\.9 \| 0\.5 \| accuracy &gt;= 0\.9 \| {2}\| {2}\| accuracy on slice s\d+ is 0\.5, below 0\.9 \|$/,
    )
  })
})
