import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { renderSummary } from '../../src/core/report/markdown.js'
import { renderComment } from '../../src/core/report/comment.js'
import { orderedSensitivity, severityCharts, worstFlipTest } from '../../src/core/report/robustness.js'
import { renderText } from '../../src/cli/text.js'
import { resultSchema } from '../../src/core/result/schema.js'
import type { CheckResult, ValidationResult } from '../../src/core/result/types.js'
import type { RobustnessTest } from '../../src/core/robustness/types.js'
import { mermaidBlocks, xychartProblems } from '../helpers/xychart.js'

/*
 * The robustness section of the job summary, the pull-request comment and the CLI's text, on a hand-made
 * result (__tests__/fixtures/report/result-robustness.json): 14 tests on 100 of 171 rows, three failing.
 */

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/report/result-robustness.json')

function load(): ValidationResult {
  return resultSchema.parse(JSON.parse(readFileSync(FIXTURE, 'utf8'))) as ValidationResult
}

/** The lines of `text` from the one starting with `start` up to the next blank line. */
function blockAfter(text: string, start: string): string[] {
  const from = text.indexOf(start)
  if (from < 0) throw new Error(`no ${JSON.stringify(start)} in:\n${text}`)
  const end = text.indexOf('\n\n', from)
  return text.slice(from, end < 0 ? undefined : end).split('\n')
}

const TITLE = { title: 'modelgate test-robustness: breast-cancer-logreg' }

describe('the job summary of a robustness result', () => {
  const text = renderSummary(load(), TITLE)

  it('leads with the verdict, the sample and the worst flip rate', () => {
    expect(text.startsWith('## ❌ modelgate test-robustness: breast-cancer-logreg failed: 3 checks failed\n')).toBe(true)
    expect(text).toContain(
      '### Robustness\n\n**Rows:** 100 of 171 rows, seed 7 · **Worst flip rate:** 0.140 [0.085, 0.221] (invariance/gaussian_noise/0.5)\n',
    )
  })

  it('has one row per perturbation test, failures first, with perturbation, flip rate and interval, metric change and level', () => {
    const table = blockAfter(text, '|  | Test |')
    expect(table.slice(0, 5)).toEqual([
      '|  | Test | Perturbation | Rows | Flip rate [95% CI] | Metric: clean → perturbed | Δ (rel.) | Violations | Major |',
      '| :--- | :--- | :--- | ---: | ---: | :--- | ---: | :--- | :--- |',
      '| ❌ fail | invariance/gaussian_noise/0.5 | gaussian_noise: severity 0.5; features mean_radius, mean_texture, mean_perimeter, … (5) | 100 | 0.140 [0.085, 0.221] | accuracy 0.98 → 0.88 | -0.1 (-10.2%) | — | major |',
      '| ❌ fail | invariance/missing/0.2 | missing: severity 0.2; features mean_radius, mean_texture, mean_perimeter, … (5) | 100 | 0.110 [0.063, 0.186] | accuracy 0.98 → 0.89 | -0.09 (-9.184%) | — | major |',
      '| ⚠️ warn | invariance/gaussian_noise/0.3 | gaussian_noise: severity 0.3; features mean_radius, mean_texture, mean_perimeter, … (5) | 100 | 0.060 [0.028, 0.125] | accuracy 0.98 → 0.95 | -0.03 (-3.061%) | — |  |',
    ])
    // Stress tests have a table of their own, determinism its lines: each test is shown once.
    expect(table.map((row) => row.split(' | ').slice(0, 2).join(' | '))).toEqual([
      '|  | Test',
      '| :--- | :---',
      '| ❌ fail | invariance/gaussian_noise/0.5',
      '| ❌ fail | invariance/missing/0.2',
      '| ⚠️ warn | invariance/gaussian_noise/0.3',
      '| ⚠️ warn | invariance/shift/0.5',
      '| ✅ pass | invariance/gaussian_noise/0.1',
      '| ✅ pass | invariance/shift/0.1',
      '| ✅ pass | invariance/shift/0.3',
      '| ✅ pass | invariance/missing/0.05',
      '| ✅ pass | invariance/quantize/0.5',
      '| ✅ pass | directional/worst_radius/decreasing',
    ])
    expect(table).toContain(
      '| ✅ pass | directional/worst_radius/decreasing | feature worst_radius; direction decreasing; class 1; step 0.5 | 100 | — | — | — | 0 of 100 rows |  |',
    )
    const r = load()
    r.robustness!.tests[0]!.parameters.features = []
    expect(renderSummary(r)).toContain('| ✅ pass | invariance/gaussian_noise/0.1 | gaussian_noise: severity 0.1; features none | 100 |')
  })

  it('does not repeat the tests as a checks table', () => {
    expect(text).not.toContain('### Checks')
    const withOther = load()
    const gate: CheckResult = {
      id: 'threshold/test/accuracy>=0.9',
      kind: 'threshold',
      status: 'pass',
      severity: 'fail',
      value: 0.98,
      message: 'accuracy 0.98 >= 0.9',
    }
    withOther.checks.push(gate)
    expect(blockAfter(renderSummary(withOther, TITLE), '### Checks')).toEqual(['### Checks'])
    expect(blockAfter(renderSummary(withOther, TITLE), '|  | Check |')).toEqual([
      '|  | Check | Value | Threshold | Baseline | Change | Message |',
      '| :---: | :--- | ---: | :--- | ---: | ---: | :--- |',
      '| ✅ | threshold/test/accuracy&gt;=0.9 | 0.98 |  |  |  | accuracy 0.98 &gt;= 0.9 |',
    ])
  })

  it('charts the metric against severity: one chart per set of severities, one line per kind, valid xychart syntax', () => {
    const charts = mermaidBlocks(text)
    expect(charts).toEqual([
      [
        '```mermaid',
        'xychart-beta',
        '    title "accuracy under gaussian_noise, shift"',
        '    x-axis "severity" ["0", "0.1", "0.3", "0.5"]',
        '    y-axis "accuracy"',
        '    line [0.98, 0.98, 0.95, 0.88]',
        '    line [0.98, 0.97, 0.96, 0.91]',
        '```',
      ],
      [
        '```mermaid',
        'xychart-beta',
        '    title "accuracy under missing"',
        '    x-axis "severity" ["0", "0.05", "0.2"]',
        '    y-axis "accuracy"',
        '    line [0.98, 0.97, 0.89]',
        '```',
      ],
    ])
    for (const chart of charts) expect(xychartProblems(chart)).toEqual([])
    expect(text).toContain('```\n\nLines, in order: gaussian_noise, shift. Severity 0 is the clean data.')
    // quantize ran at one severity only: a single point is no curve.
    expect(text).not.toContain('under quantize')
  })

  it('puts the clean metric at severity 0 between shifts down and up', () => {
    const r = load().robustness!
    const shift = (severity: number, perturbed: number): RobustnessTest => ({
      ...r.tests[0]!,
      id: `invariance/shift/${severity}`,
      perturbation: 'shift',
      parameters: { severity, features: ['mean_radius'] },
      metric: { name: 'accuracy', clean: 0.98, perturbed, absolute: perturbed - 0.98, relative: (perturbed - 0.98) / 0.98 },
    })
    const [chart] = severityCharts({ ...r, tests: [shift(0.1, 0.95), shift(-0.1, 0.9), shift(-0.01, 0.97)] })
    expect(chart!.split('\n').slice(3, 6)).toEqual([
      '    x-axis "severity" ["-0.1", "-0.01", "0", "0.1"]',
      '    y-axis "accuracy"',
      '    line [0.9, 0.97, 0.98, 0.95]',
    ])
    expect(xychartProblems(chart!.split('\n').slice(0, 7))).toEqual([])
  })

  it('draws no chart when no kind ran at two severities', () => {
    const r = load()
    r.robustness!.tests = r.robustness!.tests.filter((t) => !/\/0\.(3|5|05)$/.test(t.id))
    expect(severityCharts(r.robustness!)).toEqual([])
    expect(renderSummary(r)).not.toContain('```mermaid')
  })

  it('lists sensitivity most sensitive first, a feature that never flipped last', () => {
    expect(blockAfter(text, '| Feature |')).toEqual([
      '| Feature | Rows flipped | Median change to flip | In sd | Model queries |',
      '| :--- | ---: | ---: | ---: | ---: |',
      '| worst_radius | 14 of 20 | 2.1 | 0.43 | 160 |',
      '| worst_concave_points | 9 of 20 | 0.052 | 0.8 | 160 |',
      '| mean_texture | 6 of 20 | 9.5 | 2.2 | 160 |',
      '| mean_smoothness | 0 of 20 | — | — | 160 |',
    ])
    const rows = load().robustness!.sensitivity!
    expect(
      orderedSensitivity([rows[2]!, { ...rows[0]!, medianChangeInSd: 0.43, rowsFlipped: 19 }, rows[1]!]).map((s) => s.feature),
    ).toEqual(['mean_texture', 'worst_radius', 'mean_smoothness'])
  })

  it('gives stress findings with their inputs and example rows, determinism lines and the cost', () => {
    expect(text).toContain('#### Stress\n\n|  | Test | Input |')
    expect(blockAfter(text, '|  | Test | Input |')).toEqual([
      '|  | Test | Input | Violations | Finding |',
      '| :--- | :--- | :--- | ---: | :--- |',
      '| ❌ fail | stress/nan | input NaN in one feature; features mean_radius | 2 of 20 rows | 2 of 20 rows gave a non-finite output for a NaN input |',
      "| ✅ pass | stress/extreme | input 1e6 × the feature's range; features mean_area | 0 of 20 rows | every output stayed a valid probability |",
    ])
    expect(text).toContain(
      '<details>\n<summary>stress/nan: 2 example rows</summary>\n\n| Row | What happened |\n| ---: | :--- |\n' +
        '| 3 | mean_radius = NaN: probabilities [NaN, NaN] |\n| 17 | mean_radius = NaN: probabilities [NaN, NaN] |\n\n</details>',
    )
    expect(text).toContain(
      '- ✅ determinism: two passes over the same 100 rows gave identical outputs\n' +
        '- ✅ batch-consistency: batches of 1 and 100 rows gave the same outputs (max \\|Δp\\| 0)\n',
    )
    expect(text).toContain('**Cost:** 48 model calls, 2,140 rows scored: 21.4 clean passes of 100 rows, 1.37 s.\n')
  })

  it('says when the time budget ran out', () => {
    const r = load()
    r.robustness!.cost.budgetExhausted = true
    expect(renderSummary(r)).toContain('1.37 s; the time budget ran out, so some tests did not run.')
  })

  it('escapes feature names, parameters, ids and messages from the data, in tables and charts', () => {
    const r = load()
    const rob = r.robustness!
    rob.sensitivity![0]!.feature = 'mean|texture<script>'
    const noise = rob.tests.find((t) => t.id === 'invariance/gaussian_noise/0.5')!
    noise.parameters.features = ['a|b', '<img src=x>']
    noise.message = 'bad\nline | <b>'
    for (const t of rob.tests) if (t.metric) t.metric.name = 'acc"]\n```<x>'
    const nan = rob.tests.find((t) => t.id === 'stress/nan')!
    nan.id = 'stress/nan|<i>'
    nan.examples![0]!.message = '</details><script>alert(1)</script>'
    const out = renderSummary(r, TITLE)
    for (const raw of ['<script>', '<img', '<i>', '<b>', '<x>']) expect(out).not.toContain(raw)
    expect(out).toContain('| mean\\|texture&lt;script&gt; | 6 of 20 |')
    expect(out).toContain('| gaussian_noise: severity 0.5; features a\\|b, &lt;img src=x&gt; | 100 |')
    expect(out).toContain('| acc"]<br>\\`\\`\\`&lt;x&gt; 0.98 → 0.88 |')
    expect(out).toContain('| ❌ fail | stress/nan\\|&lt;i&gt; | input NaN in one feature;')
    expect(out).toContain('<summary>stress/nan|&lt;i&gt;: 2 example rows</summary>')
    expect(out).toContain('| 3 | &lt;/details&gt;&lt;script&gt;alert(1)&lt;/script&gt; |')
    const charts = mermaidBlocks(out)
    expect(charts.map((c) => c[2])).toEqual([`    title "acc' x under gaussian_noise, shift"`, `    title "acc' x under missing"`])
    for (const chart of charts) expect(xychartProblems(chart)).toEqual([])
    // Only the charts open or close a fence.
    expect(out.split('\n').filter((l) => l.startsWith('```') && !/^```(mermaid)?$/.test(l))).toEqual([])
  })
})

describe('the pull-request comment of a robustness result', () => {
  it('is compact: the tally, the worst flip rate, then only the tests that failed or warned, failures first', () => {
    const comment = renderComment(load(), { marker: '<!-- modelgate:test-robustness -->', title: 'test-robustness' })
    expect(comment.split('\n').slice(0, 12)).toEqual([
      '<!-- modelgate:test-robustness -->',
      '### ❌ test-robustness failed: 3 checks failed',
      '',
      '**Robustness** on 100 of 171 rows, seed 7: 9 of 14 tests passed; worst flip rate 0.140 [0.085, 0.221] (invariance/gaussian_noise/0.5).',
      '',
      '|  | Test | Flip rate [95% CI] | Δ metric (rel.) | Message |',
      '| :---: | :--- | ---: | ---: | :--- |',
      '| ❌ | invariance/gaussian_noise/0.5 | 0.140 [0.085, 0.221] | -0.1 (-10.2%) | 14 of 100 predictions changed under gaussian_noise at 0.5 (14% flip rate) |',
      '| ❌ | invariance/missing/0.2 | 0.110 [0.063, 0.186] | -0.09 (-9.184%) | 11 of 100 predictions changed under missing at 0.2 (11% flip rate) |',
      '| ❌ | stress/nan | — | — | 2 of 20 rows gave a non-finite output for a NaN input |',
      '| ⚠️ | invariance/gaussian_noise/0.3 | 0.060 [0.028, 0.125] | -0.03 (-3.061%) | 6 of 100 predictions changed under gaussian_noise at 0.3 (6% flip rate) |',
      '| ⚠️ | invariance/shift/0.5 | 0.090 [0.048, 0.162] | -0.07 (-7.143%) | 9 of 100 predictions changed under shift at 0.5 (9% flip rate) |',
    ])
    expect(comment).not.toContain('checks passed')
    expect(comment).not.toContain('```mermaid')
  })

  it('gives only the tally when every test passed, and escapes what it shows', () => {
    const r = load()
    r.status = 'pass'
    for (const t of r.robustness!.tests) t.status = 'pass'
    for (const c of r.checks) c.status = 'pass'
    r.robustness!.tests[2]!.id = 'invariance/<b>|x'
    const comment = renderComment(r, { marker: '<!-- m -->', title: 'test-robustness' })
    expect(comment.split('\n').slice(1, 5)).toEqual([
      '### ✅ test-robustness passed',
      '',
      '**Robustness** on 100 of 171 rows, seed 7: 14 of 14 tests passed; worst flip rate 0.140 [0.085, 0.221] (invariance/&lt;b&gt;\\|x).',
      '',
    ])
  })
})

describe('the CLI text of a robustness result', () => {
  it('lists failures first with flip rate, interval and metric drop, then sensitivity, stress findings and the cost', () => {
    expect(renderText(load()).split('\n')).toEqual([
      'FAILED: 3 checks failed for breast-cancer-logreg',
      '',
      'Robustness on 100 of 171 rows, seed 7; worst flip rate 0.140 [0.085, 0.221] (invariance/gaussian_noise/0.5)',
      '  test                                             flip rate [CI]                metric           change     violations',
      '  FAIL  invariance/gaussian_noise/0.5        0.140 [0.085, 0.221]  accuracy 0.98 → 0.88    -0.1 (-10.2%)              —  major',
      '  FAIL  invariance/missing/0.2               0.110 [0.063, 0.186]  accuracy 0.98 → 0.89  -0.09 (-9.184%)              —  major',
      '  FAIL  stress/nan                                              —                     —                —   2 of 20 rows',
      '  WARN  invariance/gaussian_noise/0.3        0.060 [0.028, 0.125]  accuracy 0.98 → 0.95  -0.03 (-3.061%)              —',
      '  WARN  invariance/shift/0.5                 0.090 [0.048, 0.162]  accuracy 0.98 → 0.91  -0.07 (-7.143%)              —',
      '  PASS  invariance/gaussian_noise/0.1        0.020 [0.006, 0.070]  accuracy 0.98 → 0.98           0 (0%)              —',
      '  PASS  invariance/shift/0.1                 0.010 [0.002, 0.054]  accuracy 0.98 → 0.97   -0.01 (-1.02%)              —',
      '  PASS  invariance/shift/0.3                 0.040 [0.016, 0.098]  accuracy 0.98 → 0.96  -0.02 (-2.041%)              —',
      '  PASS  invariance/missing/0.05              0.030 [0.010, 0.085]  accuracy 0.98 → 0.97   -0.01 (-1.02%)              —',
      '  PASS  invariance/quantize/0.5              0.000 [0.000, 0.037]  accuracy 0.98 → 0.98           0 (0%)              —',
      '  PASS  directional/worst_radius/decreasing                     —                     —                —  0 of 100 rows',
      '  PASS  stress/extreme                                          —                     —                —   0 of 20 rows',
      '  PASS  determinism                                             —                     —                —  0 of 100 rows',
      '  PASS  batch-consistency                                       —                     —                —  0 of 100 rows',
      '',
      '  FAIL  invariance/gaussian_noise/0.5: 14 of 100 predictions changed under gaussian_noise at 0.5 (14% flip rate)',
      '  FAIL  invariance/missing/0.2: 11 of 100 predictions changed under missing at 0.2 (11% flip rate)',
      '  WARN  invariance/gaussian_noise/0.3: 6 of 100 predictions changed under gaussian_noise at 0.3 (6% flip rate)',
      '  WARN  invariance/shift/0.5: 9 of 100 predictions changed under shift at 0.5 (9% flip rate)',
      '',
      'Sensitivity: the smallest change of one feature that flipped a row (most sensitive first)',
      '  feature               rows flipped  median change  in sd  queries',
      '  worst_radius              14 of 20            2.1   0.43      160',
      '  worst_concave_points       9 of 20          0.052    0.8      160',
      '  mean_texture               6 of 20            9.5    2.2      160',
      '  mean_smoothness            0 of 20              -      -      160',
      '',
      'Stress findings',
      '  FAIL  stress/nan (input NaN in one feature; features mean_radius): 2 of 20 rows gave a non-finite output for a NaN input',
      '        row 3: mean_radius = NaN: probabilities [NaN, NaN]',
      '        row 17: mean_radius = NaN: probabilities [NaN, NaN]',
      '',
      'Cost: 48 model calls, 2,140 rows scored: 21.4 clean passes of 100 rows, 1.37 s',
      '',
      'note: robustness ran on a seeded sample of 100 of 171 rows',
    ])
  })
})

describe('the worst flip rate', () => {
  it('is the highest of any test, the first of equals, and undefined when no test measured one', () => {
    const r = load().robustness!
    expect(worstFlipTest(r)?.id).toBe('invariance/gaussian_noise/0.5')
    const tie: RobustnessTest = { ...r.tests[2]!, id: 'later/tie' }
    expect(worstFlipTest({ ...r, tests: [...r.tests, tie] })?.id).toBe('invariance/gaussian_noise/0.5')
    expect(worstFlipTest({ ...r, tests: r.tests.filter((t) => t.flipRate === undefined) })).toBeUndefined()
  })
})

describe('the xychart checker the chart tests rely on', () => {
  it('rejects what Mermaid would not draw', () => {
    const valid = ['```mermaid', 'xychart-beta', '    x-axis "s" ["0", "1"]', '    y-axis "acc"', '    line [0.9, 0.8]', '```']
    expect(xychartProblems(valid)).toEqual([])
    expect(xychartProblems(valid.map((l) => l.replace('"acc"', '"a"c"')))).toEqual(['not a statement: "    y-axis \\"a\\"c\\""'])
    expect(xychartProblems(valid.map((l) => l.replace('[0.9, 0.8]', '[0.9, 0.8, 0.7]')))).toEqual(['a series of 3 points on 2 categories'])
    expect(xychartProblems(valid.map((l) => l.replace('[0.9, 0.8]', '[0.9, NaN]')))).toEqual([
      'not a statement: "    line [0.9, NaN]"',
      'no series',
    ])
    expect(xychartProblems(valid.map((l) => l.replace('["0", "1"]', '[0, 1]')))).toEqual([
      'not a statement: "    x-axis \\"s\\" [0, 1]"',
      'no x-axis categories',
    ])
  })
})
