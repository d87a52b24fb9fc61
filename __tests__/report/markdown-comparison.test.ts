import { describe, it, expect } from '@jest/globals'
import { formatBytes } from '../../src/core/report/escape.js'
import { renderSummary, SUMMARY_MAX_BYTES } from '../../src/core/report/markdown.js'
import type { SliceResult, ValidationResult } from '../../src/core/result/types.js'
import { loadResult } from './fixtures.js'

/** The lines of the first block that starts with `first`, up to the next blank line. */
function blockAfter(text: string, first: string): string[] {
  const start = text.indexOf(first)
  if (start < 0) throw new Error(`no block starting with ${first}`)
  const end = text.indexOf('\n\n', start)
  return text.slice(start, end < 0 ? undefined : end).split('\n')
}

/** The text of a section: from its heading to the next `###` heading. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`${heading}\n`)
  if (start < 0) throw new Error(`no section ${heading}`)
  const end = text.indexOf('\n### ', start + heading.length)
  return text.slice(start, end < 0 ? undefined : end).trimEnd()
}

describe('renderSummary: champion vs challenger', () => {
  it('comes right after the headline, before the checks, with verdicts in words, the table and the method', () => {
    const blocks = renderSummary(loadResult('comparison')).split('\n\n')
    expect(blocks.slice(0, 8)).toEqual([
      '## ❌ validate-model failed: 1 check failed',
      '**Model:** breast_cancer_gbm · **Task:** binary · **Data:** test (171 rows) · modelgate 0.2.0 · 4.219 s · commit 4b825dc · ' +
        '[workflow run](https://github.com/acme/oncology-models/actions/runs/7312345678)',
      '### Champion vs challenger',
      [
        '- ❔ no detectable difference on accuracy: +0.018, 95% CI [−0.006, +0.041] (McNemar p = 0.45); superiority by 0.005: inconclusive (the CI includes a gain of 0.005; more rows would narrow it)',
        '- ✅ the new model is better on roc_auc: +0.012, 95% CI [+0.004, +0.020] (DeLong p = 0.0029); non-inferiority within 0.010: pass (the CI excludes a loss of 0.010)',
        '- ❌ the new model is worse on log_loss: +0.036, 95% CI [+0.021, +0.050] (lower is better); non-inferiority within 0.020: fail (the whole CI is beyond an increase of 0.020)',
        '- no detectable difference on brier: −0.003, 95% CI [−0.009, +0.002] (lower is better)',
      ].join('\n'),
      [
        '| Metric | Baseline | Candidate | Δ | 95% CI | p-value | Margin | Verdict |',
        '| :--- | ---: | ---: | ---: | ---: | :--- | :--- | :--- |',
        '| accuracy | 0.9415 | 0.9591 | +0.018 | [−0.006, +0.041] | McNemar exact p = 0.45 (b = 5, c = 2) | superiority +0.005 | ❔ inconclusive |',
        '| roc_auc | 0.9817 | 0.9937 | +0.012 | [+0.004, +0.020] | DeLong p = 0.0029 | non-inferiority −0.01 | ✅ pass |',
        '| log_loss | 0.08314 | 0.1187 | +0.036 | [+0.021, +0.050] | — | non-inferiority −0.02 | ❌ fail |',
        '| brier | 0.03842 | 0.03512 | −0.003 | [−0.009, +0.002] | — | — | report only |',
      ].join('\n'),
      'Paired bootstrap (BCa, 1000 resamples, seed 20261126, 95% CI); ' +
        'McNemar test, exact binomial (5 rows right only by the candidate, 2 only by the baseline; p = 0.45) for accuracy; ' +
        'DeLong test (Sun &amp; Xu algorithm; z = 2.978, p = 0.0029; its 95% Wald CI [+0.004, +0.020]) for roc_auc; ' +
        'n = 171 rows of test scored by both models. ' +
        'In the p-value column, b counts rows only the candidate got right and c rows only the baseline got right.',
      '### Checks',
      expect.stringMatching(/^\| {2}\| Check \|/),
    ])
  })

  it('adds a data column when comparisons span data sets, and labels each interval when confidences differ', () => {
    const result = loadResult('comparison')
    const [accuracy, rocAuc] = result.comparisons!
    result.comparisons = [accuracy!, { ...rocAuc!, dataset: 'holdout|<2024>', interval: { ...rocAuc!.interval, confidence: 0.9 } }]
    expect(blockAfter(renderSummary(result), '| Data |')).toEqual([
      '| Data | Metric | Baseline | Candidate | Δ | CI | p-value | Margin | Verdict |',
      '| :--- | :--- | ---: | ---: | ---: | ---: | :--- | :--- | :--- |',
      '| test | accuracy | 0.9415 | 0.9591 | +0.018 | 95% [−0.006, +0.041] | McNemar exact p = 0.45 (b = 5, c = 2) | superiority +0.005 | ❔ inconclusive |',
      '| holdout\\|&lt;2024&gt; | roc_auc | 0.9817 | 0.9937 | +0.012 | 90% [+0.004, +0.020] | DeLong p = 0.0029 | non-inferiority −0.01 | ✅ pass |',
    ])
  })

  it('has no section without comparisons, so earlier results render as before', () => {
    const text = renderSummary(loadResult('binary'))
    expect(text).not.toContain('Champion vs challenger')
    expect(text).not.toContain('### Slices')
    expect(text).not.toContain('### Fairness')
    expect(text).not.toContain('### Calibration')
  })
})

describe('renderSummary: slices, fairness and calibration', () => {
  it('tables the manifest slices with intervals and baseline, and the discovered ones in details', () => {
    const text = section(renderSummary(loadResult('comparison')), '### Slices')
    expect(text.split('\n\n')).toEqual([
      '### Slices',
      [
        '| Slice | Definition | Rows | Gated | accuracy | f1 | Baseline |',
        '| :--- | :--- | ---: | :--- | ---: | ---: | :--- |',
        '| large tumours | mean_area &gt;= 1000 | 41 | yes | 0.927 [0.806, 0.975] | 0.800 [0.400, 1.000] | accuracy 0.9512, f1 0.8571 |',
        '| smooth cells | mean_smoothness &lt; 0.08 | 19 | no | 1.000 [0.832, 1.000] | 1.000 [1.000, 1.000] | accuracy 1, f1 1 |',
      ].join('\n'),
      'Intervals: 95% Wilson score for accuracy; 95% BCa bootstrap, 1,000 resamples for f1. ' +
        'A slice with fewer rows than the minimum size is reported, not gated.',
      '<details>\n<summary>Weak slices found by search (3)</summary>',
      [
        '| Slice | Definition | Rows | Gated | accuracy | f1 | Baseline |',
        '| :--- | :--- | ---: | :--- | ---: | ---: | :--- |',
        '| worst_texture &gt;= 30 | worst_texture &gt;= 30 | 31 | yes | 0.871 [0.711, 0.949] | 0.833 [0.600, 0.960] | accuracy 0.9032, f1 0.8696 |',
        '| mean_concavity in [0.1, 0.2) | mean_concavity &gt;= 0.1 and mean_concavity &lt; 0.2 | 24 | no | 0.875 [0.690, 0.957] | 0.571 [0.000, 0.880] | accuracy 0.9167, f1 0.6667 |',
        '| worst_area &gt;= 1500 and mean_texture &gt;= 20 | worst_area &gt;= 1500 and mean_texture &gt;= 20 | 9 | no | 0.778 [0.453, 0.937] | 0.000 [0.000, 0.000] | — |',
      ].join('\n'),
      '</details>',
    ])
  })

  it('shows each sensitive column: its groups, then the gated metrics with intervals and baseline', () => {
    const text = section(renderSummary(loadResult('comparison')), '### Fairness: site (test)')
    expect(text.split('\n\n')).toEqual([
      '### Fairness: site (test)',
      [
        '| Group | Rows | Selection rate | TPR | FPR | Gated |',
        '| :--- | ---: | ---: | ---: | ---: | :--- |',
        '| A | 88 | 0.6023 | 0.9808 | 0.05556 | yes |',
        '| B | 71 | 0.5493 | 0.95 | 0.03226 | yes |',
        '| C | 12 | 0.6667 | 1 | 0.2 | no |',
      ].join('\n'),
      [
        '| Metric | Value | 95% CI | Baseline | Δ |',
        '| :--- | ---: | ---: | ---: | ---: |',
        '| demographic_parity_difference | 0.05298 | [0.009, 0.203] | 0.07123 | -0.01825 |',
        '| demographic_parity_ratio | 0.912 | [0.709, 0.986] | 0.8853 | +0.02673 |',
        '| equalized_odds_difference | 0.03077 | [0.009, 0.129] | 0.05208 | -0.02131 |',
        '| equalized_odds_ratio | 0.5806 | [0.000, 0.935] | 0.4839 | +0.09678 |',
      ].join('\n'),
      'Intervals: 95% BCa bootstrap, 1,000 resamples. ' +
        'Left out of the differences and ratios for having fewer rows than the minimum group size: C.',
    ])
  })

  it('gives ECE, MCE and Brier with intervals, a reliability chart and the reliability table in details', () => {
    const text = section(renderSummary(loadResult('comparison')), '### Calibration: test')
    expect(blockAfter(text, '| Metric')).toEqual([
      '| Metric | Value | 95% CI |',
      '| :--- | ---: | ---: |',
      '| ECE (expected calibration error) | 0.02051 | [0.012, 0.047] |',
      '| MCE (maximum calibration error) | 0.1439 | [0.052, 0.331] |',
      '| Brier score | 0.03512 | [0.020, 0.054] |',
    ])
    expect(blockAfter(text, '```mermaid')).toEqual([
      '```mermaid',
      'xychart-beta',
      '    title "Reliability: test"',
      '    x-axis "predicted probability" ["0-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5", "0.5-0.6", "0.6-0.7", "0.7-0.8", "0.8-0.9", "0.9-1"]',
      '    y-axis "fraction positive" 0 --> 1',
      '    bar [0, 0.1667, 0.3333, 0.5, 0.5, 0.6667, 0.6667, 0.8, 0.8889, 0.9875]',
      '    line [0.0213, 0.1432, 0.2517, 0.3561, 0.4488, 0.5523, 0.6612, 0.7544, 0.8627, 0.9791]',
      '```',
    ])
    expect(text).toContain(
      '<details>\n<summary>Reliability table: test (10 bins)</summary>\n\n' +
        '| p(positive) | Rows | Mean predicted | Fraction positive | Gap |\n' +
        '| :--- | ---: | ---: | ---: | ---: |\n' +
        '| [0, 0.1) | 58 | 0.0213 | 0 | -0.0213 |\n',
    )
    expect(text).toContain('| [0.3, 0.4) | 2 | 0.3561 | 0.5 | +0.1439 |\n')
    expect(text).toContain('| [0.9, 1] | 80 | 0.9791 | 0.9875 | +0.0084 |\n\n</details>')
  })
})

/** The chart's lines must each be one statement of Mermaid's xychart grammar, with equal-length series. */
function expectValidReliabilityChart(lines: string[], bins: number): void {
  const quoted = String.raw`"[^"\n]*"`
  const numbers = String.raw`\[(-?\d+(\.\d+)?)(, -?\d+(\.\d+)?)*\]`
  expect(lines[0]).toBe('```mermaid')
  expect(lines[1]).toBe('xychart-beta')
  expect(lines[2]).toMatch(new RegExp(`^    title ${quoted}$`))
  expect(lines[3]).toMatch(new RegExp(`^    x-axis ${quoted} \\[${quoted}(, ${quoted})*\\]$`))
  expect(lines[4]).toBe('    y-axis "fraction positive" 0 --> 1')
  expect(lines[5]).toMatch(new RegExp(`^    bar ${numbers}$`))
  expect(lines[6]).toMatch(new RegExp(`^    line ${numbers}$`))
  expect(lines[7]).toBe('```')
  expect(lines).toHaveLength(8)
  expect(lines[3]!.match(new RegExp(quoted, 'g'))).toHaveLength(bins + 1)
  expect(lines[5]!.split(',')).toHaveLength(bins)
  expect(lines[6]!.split(',')).toHaveLength(bins)
}

describe('renderSummary with sparse sections', () => {
  it('states no interval method where there are no intervals', () => {
    const result = loadResult('comparison')
    result.slices = result.slices!.slice(0, 1).map((s) => ({ ...s, intervals: {} }))
    result.fairness![0]!.intervals = {}
    const text = renderSummary(result)
    expect(section(text, '### Slices').split('\n\n')).toEqual([
      '### Slices',
      [
        '| Slice | Definition | Rows | Gated | accuracy | f1 | Baseline |',
        '| :--- | :--- | ---: | :--- | ---: | ---: | :--- |',
        '| large tumours | mean_area &gt;= 1000 | 41 | yes | 0.9268 | 0.8 | accuracy 0.9512, f1 0.8571 |',
      ].join('\n'),
    ])
    expect(blockAfter(text, '| Metric | Value | CI |')).toEqual([
      '| Metric | Value | CI | Baseline | Δ |',
      '| :--- | ---: | ---: | ---: | ---: |',
      '| demographic_parity_difference | 0.05298 | — | 0.07123 | -0.01825 |',
      '| demographic_parity_ratio | 0.912 | — | 0.8853 | +0.02673 |',
      '| equalized_odds_difference | 0.03077 | — | 0.05208 | -0.02131 |',
      '| equalized_odds_ratio | 0.5806 | — | 0.4839 | +0.09678 |',
    ])
    expect(text).not.toContain('Intervals: .')
  })
})

describe('renderSummary escaping of slice, group and data set names', () => {
  it('escapes hostile names in every table, summary and chart', () => {
    const result = loadResult('comparison')
    result.slices![0]!.name = 'a|b<script>'
    result.slices![0]!.definition = 'x < 1 | y == "<b>"'
    result.slices![2]!.name = 'a|b<script>\nalert(1)'
    result.fairness![0]!.sensitive = 'sex|<i>'
    result.fairness![0]!.groups[0]!.value = 'a|b<script>'
    result.calibration![0]!.dataset = 'x"]\n```\n<script>'
    const text = renderSummary(result)
    expect(text).not.toContain('<script>')
    expect(text).not.toContain('<i>')
    expect(text).toContain('| a\\|b&lt;script&gt; | x &lt; 1 \\| y == "&lt;b&gt;" | 41 | yes |')
    expect(text).toContain('| a\\|b&lt;script&gt;<br>alert(1) | worst_texture &gt;= 30 | 31 |')
    expect(text).toContain('### Fairness: sex\\|&lt;i&gt; (test)')
    expect(text).toContain('| a\\|b&lt;script&gt; | 88 | 0.6023 |')
    expect(text).toContain('### Calibration: x"]<br>\\`\\`\\`<br>&lt;script&gt;')
    expect(text).toContain('<summary>Reliability table: x&quot;] &#96;&#96;&#96; &lt;script&gt; (10 bins)</summary>')
    const chart = blockAfter(text, '```mermaid\nxychart-beta\n    title "Reliability')
    expect(chart[2]).toBe(`    title "Reliability: x'  script"`)
    expectValidReliabilityChart(chart, 10)
    // Only the chart's own lines open or close a fence; the heading's backticks are escaped, so none of them is a run of three.
    expect(text.split('\n').filter((l) => l.includes('```') && !/^```(mermaid)?$/.test(l))).toEqual([])
  })

  it('draws an empty bin as a zero bar on the diagonal', () => {
    const result = loadResult('comparison')
    const bins = result.calibration![0]!.bins
    bins[4] = { low: 0.4, high: 0.5, rows: 0, mean_predicted: NaN, fraction_positive: NaN }
    const chart = blockAfter(renderSummary(result), '```mermaid\nxychart-beta\n    title "Reliability')
    expectValidReliabilityChart(chart, 10)
    expect(chart[5]).toBe('    bar [0, 0.1667, 0.3333, 0.5, 0, 0.6667, 0.6667, 0.8, 0.8889, 0.9875]')
    expect(chart[6]).toBe('    line [0.0213, 0.1432, 0.2517, 0.3561, 0.45, 0.5523, 0.6612, 0.7544, 0.8627, 0.9791]')
    expect(renderSummary(result)).toContain('| [0.4, 0.5) | 0 | — | — | — |')
  })
})

function slices(n: number, source: SliceResult['source'], definitionLength: number): SliceResult[] {
  return Array.from({ length: n }, (_, i) => ({
    dataset: 'test',
    name: `${source} slice ${i}`,
    definition: `feature_${i % 30} >= ${i} and note == "${'d'.repeat(definitionLength)}"`,
    source,
    rows: 30 + (i % 50),
    gated: i % 3 !== 0,
    metrics: { accuracy: 0.9 - (i % 7) / 100 },
    intervals: { accuracy: { low: 0.8, high: 0.95, confidence: 0.95, method: 'wilson' } },
  }))
}

describe('renderSummary size limit with the new sections', () => {
  it('keeps 2,000 slices whole under 1 MiB', () => {
    const result = loadResult('comparison')
    result.slices = slices(2000, 'manifest', 10)
    const text = renderSummary(result)
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES)
    expect(text).not.toContain('omitted to keep this summary')
    expect(text).toContain('| manifest slice 1999 | feature_19 &gt;= 1999 and note == "dddddddddd" | 79 | yes | 0.860 [0.800, 0.950] |')
  })

  it('drops 2,000 discovered slices first, keeping the key tables', () => {
    const result = loadResult('comparison')
    result.slices = [...result.slices!.filter((s) => s.source === 'manifest'), ...slices(2000, 'discovered', 600)]
    const text = renderSummary(result)
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES)
    expect(text).toContain('_Discovered weak slices omitted to keep this summary under 1 MiB._')
    expect(text).not.toContain('discovered slice')
    expect(text).toContain('<summary>Per-class metrics: test</summary>')
    expect(text).toContain('<summary>Reliability table: test (10 bins)</summary>')
    expect(text).toContain('| large tumours | mean_area &gt;= 1000 | 41 | yes |')
    expect(text.indexOf('### Champion vs challenger')).toBeLessThan(text.indexOf('### Checks'))
  })

  it('drops detail in order: discovered slices, per-class, confusion, reliability table, signature, charts', () => {
    const result = loadResult('comparison')
    const notices: string[] = []
    let text = renderSummary(result)
    for (let i = 0; i < 20 && !text.includes('truncated'); i++) {
      text = renderSummary(result, { maxBytes: Buffer.byteLength(text) - 1 })
      for (const [, what] of text.matchAll(/_(.+) omitted to keep this summary under [^_]+_/g)) {
        if (!notices.includes(what!)) notices.push(what!)
      }
    }
    expect(notices).toEqual([
      'Discovered weak slices',
      'Per-class metrics for test',
      'Confusion matrix for test',
      'Reliability table for test',
      'Model signature',
      'Reliability chart for test',
      'Metrics chart for test',
    ])
  })

  it('cuts 2,000 huge manifest slices at a line boundary, the verdict still on top', () => {
    const result = loadResult('comparison')
    result.slices = slices(2000, 'manifest', 1000)
    const text = renderSummary(result)
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES)
    expect(text.endsWith(`\n_… truncated: this summary exceeded ${formatBytes(SUMMARY_MAX_BYTES)}._\n`)).toBe(true)
    expect(text).toContain(
      '- ✅ the new model is better on roc_auc: +0.012, 95% CI [+0.004, +0.020] (DeLong p = 0.0029); non-inferiority within 0.010: pass (the CI excludes a loss of 0.010)',
    )
    expect(text).not.toContain('<details>')
    expect(text.split('\n').at(-4)).toMatch(
      /^\| manifest slice \d+ \| feature_\d+ &gt;= \d+ and note == "d{1000}" \| \d+ \| (yes|no) \| .+ \|$/,
    )
  })

  it('renders empty new sections as if they were absent', () => {
    const result: ValidationResult = loadResult('binary')
    expect(renderSummary(result)).toBe(renderSummary({ ...result, comparisons: [], slices: [], fairness: [], calibration: [] }))
  })
})
