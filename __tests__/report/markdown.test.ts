import { describe, it, expect } from '@jest/globals'
import { formatBytes } from '../../src/core/report/escape.js'
import { renderSummary, SUMMARY_MAX_BYTES } from '../../src/core/report/markdown.js'
import type { CheckResult, ValidationResult } from '../../src/core/result/types.js'
import { loadResult } from './fixtures.js'

/** The lines of the first block that starts with `first`, up to the next blank line. */
function blockAfter(text: string, first: string): string[] {
  const start = text.indexOf(first)
  if (start < 0) throw new Error(`no block starting with ${first}`)
  const end = text.indexOf('\n\n', start)
  return text.slice(start, end < 0 ? undefined : end).split('\n')
}

describe('renderSummary headline', () => {
  it('says what happened in words for each status', () => {
    const binary = loadResult('binary')
    expect(renderSummary(binary).split('\n')[0]).toBe('## ❌ validate-model failed: 2 checks failed')
    expect(renderSummary(loadResult('multiclass')).split('\n')[0]).toBe('## ⚠️ validate-model passed with warnings: 1 check warned')
    expect(renderSummary(loadResult('regression')).split('\n')[0]).toBe('## ✅ validate-model passed')
    const errored: ValidationResult = {
      ...binary,
      status: 'error',
      checks: [],
      error: { message: 'column "age|x" not found', file: 'data/a<b>.csv', field: 'label' },
    }
    const text = renderSummary(errored, { title: 'modelgate validate-model' })
    expect(text.split('\n')[0]).toBe('## 💥 modelgate validate-model error: column "age\\|x" not found (data/a&lt;b&gt;.csv: label)')
    expect(text).toContain('> [!CAUTION]\n> column "age\\|x" not found (data/a&lt;b&gt;.csv: label)')
    expect(text).toContain('_No checks were configured._')
  })
})

describe('renderSummary for a run that stopped early', () => {
  it('renders an error result with no data, checks or signature', () => {
    const result: ValidationResult = {
      ...loadResult('regression'),
      status: 'error',
      checks: [],
      data: [],
      metrics: {},
      notes: [],
      model: { name: 'm<1>', source: 'm.onnx', runner: 'onnx', inputs: [], outputs: [], notes: [] },
      error: { message: 'cannot read m.onnx: not an ONNX model', file: 'm.onnx' },
    }
    expect(renderSummary(result).split('\n\n')).toEqual([
      '## 💥 validate-model error: cannot read m.onnx: not an ONNX model',
      '**Model:** m&lt;1&gt; · **Task:** regression · modelgate 0.1.0 · 12.5 s · commit 0123456',
      '> [!CAUTION]\n> cannot read m.onnx: not an ONNX model',
      '### Checks',
      '_No checks were configured._',
      '### Model',
      '| Model |  |\n| :--- | :--- |\n| Name | m&lt;1&gt; |\n| Source | m.onnx |\n| Runner | onnx |\n| Digest | — |\n| Size | — |\n',
    ])
  })
})

describe('renderSummary tables', () => {
  it('lists checks failures first with value, threshold, baseline and change', () => {
    const rows = blockAfter(renderSummary(loadResult('binary')), '|  | Check |')
    expect(rows).toEqual([
      '|  | Check | Value | Threshold | Baseline | Change | Message |',
      '| :---: | :--- | ---: | :--- | ---: | ---: | :--- |',
      '| ❌ | threshold:recall&gt;=0.98 | 0.9718 | recall &gt;= 0.98 |  |  | recall 0.9718 is below 0.98 |',
      '| ❌ | change:f1 | 0.965 | f1 &gt;= baseline - 0.005 | 0.979 | -0.01397 | f1 fell by 0.014 from the baseline 0.979; at most 0.005 is allowed |',
      '| ⚠️ | change:log_loss | 0.1187 | log_loss &lt;= baseline + 0.01 | 0.0975 | +0.02125 | log_loss rose by 0.0212 from the baseline 0.0975; at most 0.01 is allowed |',
      '| ✅ | threshold:accuracy&gt;=0.95 | 0.9561 | accuracy &gt;= 0.95 |  |  | accuracy 0.9561 meets &gt;= 0.95 |',
      '| ✅ | parity:probabilities | 0 | probability mismatches == 0 |  |  | all 114 rows agree with the reference within 1e-5 |',
      '| ✅ | contract:test | 0 | violations == 0 |  |  | all 114 rows of test satisfy schemas/input.schema.json |',
      '| ⏭️ | change:brier | 0.03422 |  | — | — | brier is not in the baseline report, so its change cannot be judged |',
    ])
  })

  it('shows metrics with baseline and source for the primary data set only', () => {
    const text = renderSummary(loadResult('binary'))
    expect(blockAfter(text, '| Metric | Value | Baseline')).toEqual([
      '| Metric | Value | Baseline | Δ | Source output |',
      '| :--- | ---: | ---: | ---: | :--- |',
      '| accuracy | 0.9561 | 0.9649 | -0.00876 | labels |',
      '| precision | 0.9583 | — | — | labels |',
      '| recall | 0.9718 | — | — | labels |',
      '| f1 | 0.965 | 0.979 | -0.01397 | labels |',
      '| roc_auc | 0.9938 | 0.9951 | -0.001323 | probabilities |',
      '| log_loss | 0.1187 | 0.0975 | +0.02125 | probabilities |',
      '| brier | 0.03422 | — | — | probabilities |',
    ])
    expect(blockAfter(text.slice(text.indexOf('### Metrics: holdout-2024')), '| Metric')).toEqual([
      '| Metric | Value | Source output |',
      '| :--- | ---: | :--- |',
      '| accuracy | 0.943 | labels |',
      '| roc_auc | 0.9881 | probabilities |',
    ])
    expect(text).toContain(
      '**Performance:** 12,500 rows in 0.1543 s · 81,022 rows/s · batch latency p50 11.42 ms, p95 14.88 ms, p99 15.93 ms (13 batches of up to 1,024 rows)',
    )
    expect(text).toContain('⚠️ 3 rows were skipped: a label or feature value was missing.')
  })

  it('describes the model, the data, the baseline and the notes', () => {
    const text = renderSummary(loadResult('binary'))
    expect(text).toContain('| Digest | sha256:5f0c6ad2c1b8e0a3d6f1e0c9b4f27a9e3d81c2f6a0b7e5d4c3b2a19081726354 |')
    expect(text).toContain('| Size | 1.5 KiB |')
    expect(text).toContain('| output | output_probability | unknown | [?] | sequence&lt;map&gt; |')
    expect(text).toContain('| input | float_input | float | [N, 30] | tensor |')
    expect(text).toContain(
      '| holdout-2024 | data/holdout 2024.parquet | parquet | 12,500 | sha256:7a6b5c4d3e2f10fedcba98765432100123456789abcdef0123456789abcdef01 |',
    )
    expect(text).toContain(
      '**Baseline** (report): reports/main/validate-model.json · digest sha256:1111111111111111111111111111111111111111111111111111111111111111',
    )
    expect(text).toContain('- 3 rows of holdout-2024 had a missing value and were skipped')
    expect(text).toContain(
      '**Conversion parity** against data/breast_cancer_test.sklearn.json on 114 rows: ✅ 0 label mismatches, 0 probability mismatches, max abs difference 3.2e-7 (tolerance 0.00001)',
    )
    expect(text).toContain('[workflow run](https://github.com/acme/churn-models/actions/runs/7301234567)')
  })
})

describe('renderSummary escaping', () => {
  it('escapes a hostile class label everywhere it appears', () => {
    const text = renderSummary(loadResult('multiclass'))
    expect(text).not.toContain('<script>')
    expect(text).not.toMatch(/[^\\]\|b&lt;/)
    expect(text).toContain('| true ↓ / predicted → | setosa | versicolor | a\\|b&lt;script&gt; |')
    expect(text).toContain('| **a\\|b&lt;script&gt;** | 0 | 3 | 7 |')
    expect(text).toContain('| a\\|b&lt;script&gt; | 0.875 | 0.7 | 0.7778 | 10 |')
    expect(text).toContain('| 21 | /species must be one of setosa, versicolor, a\\|b&lt;script&gt; |')
    expect(text).toContain('recall of class a\\|b&lt;script&gt; is 0.7,<br>below 0.8 &amp; falling')
    expect(text).toContain('**Model:** iris "v2" \\| rf')
    expect(text).toContain('| Source | https://models.example.com/iris?version=2&amp;fmt=onnx |')
    expect(text).toContain('| input | petal\\|width | float | [?, 1] | tensor |')
  })

  it('HTML-escapes text inside <summary>, where Markdown escapes would show literally', () => {
    const result = loadResult('multiclass')
    result.data[0]!.name = 'x|<y>'
    const text = renderSummary(result)
    expect(text).toContain('<summary>Confusion matrix: x|&lt;y&gt;</summary>')
    expect(text).toContain('### Metrics: x\\|&lt;y&gt;')
  })
})

describe('renderSummary details and chart', () => {
  it('builds details blocks with blank lines around the Markdown body', () => {
    const text = renderSummary(loadResult('multiclass'))
    expect(text).toContain('<details>\n<summary>Per-class metrics: flowers</summary>\n\n| Class | Precision | Recall | F1 | Support |\n')
    expect(text).toContain('| a\\|b&lt;script&gt; | 0.875 | 0.7 | 0.7778 | 10 |\n\n</details>')
    expect(text.match(/<details>/g)).toHaveLength(text.match(/<\/details>/g)!.length)
  })

  it('draws the [0,1] metrics as a fenced Mermaid chart with quoted labels', () => {
    const text = renderSummary(loadResult('binary'))
    const chart = blockAfter(text, '```mermaid')
    expect(chart).toEqual([
      '```mermaid',
      'xychart-beta',
      '    title "Metrics: test"',
      '    x-axis ["accuracy", "precision", "recall", "f1", "roc_auc"]',
      '    y-axis "score" 0 --> 1',
      '    bar [0.9561, 0.9583, 0.9718, 0.965, 0.9938]',
      '```',
    ])
  })

  it('caps the chart at 20 bars and draws none for unbounded regression metrics', () => {
    const result = loadResult('multiclass')
    const metrics: Record<string, number> = {}
    for (let i = 0; i < 25; i++) metrics[`recall_class_${i}`] = i / 100
    result.data[0]!.metrics = metrics
    const text = renderSummary(result)
    const xAxis = text.split('\n').find((l) => l.startsWith('    x-axis'))!
    expect(xAxis.match(/"recall_class_\d+"/g)).toHaveLength(20)
    expect(text).toContain('_The chart shows the first 20 of 25 metrics bounded to [0, 1]._')
    expect(renderSummary(loadResult('regression'))).not.toContain('```mermaid')
  })

  it('omits the confusion matrix above 20 classes and says so', () => {
    const result = loadResult('multiclass')
    const labels = Array.from({ length: 21 }, (_, i) => `c${i}`)
    result.data[0]!.confusionMatrix = { labels, matrix: labels.map(() => labels.map(() => 1)) }
    const text = renderSummary(result)
    expect(text).toContain('_Confusion matrix for flowers omitted: 21 classes (the table is shown for at most 20)._')
    expect(text).not.toContain('<summary>Confusion matrix')
  })
})

function manyChecks(n: number, messageLength: number): CheckResult[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `threshold:m${i}>=0.5`,
    kind: 'threshold' as const,
    status: 'fail' as const,
    severity: 'fail' as const,
    metric: `m${i}`,
    value: 0.25,
    threshold: { op: '>=' as const, value: 0.5, expression: `m${i} >= 0.5` },
    message: 'x'.repeat(messageLength),
  }))
}

describe('renderSummary size limit', () => {
  it('stays under 1 MiB for a normal result without dropping anything', () => {
    const text = renderSummary(loadResult('binary'))
    expect(Buffer.byteLength(text)).toBeLessThan(SUMMARY_MAX_BYTES)
    expect(text).not.toContain('omitted to keep this summary')
  })

  it('drops detail sections, per-class first, and says so when over budget', () => {
    const result = loadResult('multiclass')
    const full = renderSummary(result)
    const budget = Buffer.byteLength(full) - 10
    const text = renderSummary(result, { maxBytes: budget })
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(budget)
    expect(text).not.toContain('<summary>Per-class')
    expect(text).toContain(`_Per-class metrics for flowers omitted to keep this summary under ${formatBytes(budget)}._`)
    expect(text).toContain('<summary>Confusion matrix: flowers</summary>')
    expect(text).toContain('<summary>Contract violations (2 examples)</summary>')

    const tighter = renderSummary(result, { maxBytes: Buffer.byteLength(text) - 10 })
    expect(tighter).not.toContain('<summary>Confusion matrix')
    expect(tighter).toContain('_Confusion matrix for flowers omitted to keep this summary under')
    expect(tighter).toContain('<summary>Contract violations (2 examples)</summary>')
  })

  it('cuts at a line boundary when even the essentials exceed the budget', () => {
    const result = loadResult('binary')
    result.checks = manyChecks(3000, 900)
    const text = renderSummary(result)
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES)
    expect(text.endsWith('\n_… truncated: this summary exceeded 1 MiB._\n')).toBe(true)
    expect(text.includes('```mermaid')).toBe(false)
    expect(text.includes('<details>')).toBe(false)
    const lastRow = text.split('\n').at(-4)!
    expect(lastRow).toMatch(/^\| ❌ \| threshold:m\d+&gt;=0\.5 \| 0\.25 \| m\d+ &gt;= 0\.5 \| {2}\| {2}\| x+ \|$/)
  })
})
