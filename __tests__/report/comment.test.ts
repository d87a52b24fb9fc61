import { describe, it, expect } from '@jest/globals'
import { COMMENT_MARKER, COMMENT_MAX_BYTES, commentMarker, renderComment } from '../../src/core/report/comment.js'
import type { CheckResult, ValidationResult } from '../../src/core/result/types.js'
import { loadResult } from './fixtures.js'

const SUMMARY_URL = 'https://github.com/acme/churn-models/actions/runs/7301234567'

function withChecks(n: number, message: (i: number) => string): ValidationResult {
  const result = loadResult('binary')
  result.checks = Array.from({ length: n }, (_, i): CheckResult => ({
    id: `threshold:recall[class_${i}]>=0.9`,
    kind: 'threshold',
    status: i % 3 === 0 ? 'warn' : 'fail',
    severity: i % 3 === 0 ? 'warn' : 'fail',
    metric: `recall[class_${i}]`,
    value: 0.5,
    threshold: { op: '>=', value: 0.9, expression: `recall[class_${i}] >= 0.9` },
    message: message(i),
  }))
  return result
}

describe('commentMarker', () => {
  it('is a hidden HTML comment per action', () => {
    expect(COMMENT_MARKER).toBe('<!-- modelgate:validate-model -->')
    expect(commentMarker('test-robustness')).toBe('<!-- modelgate:test-robustness -->')
    expect(commentMarker('a -- b')).toBe('<!-- modelgate:a_-_b -->')
  })
})

describe('renderComment', () => {
  it('starts with the marker, then the headline, failed and warned checks and the key metrics', () => {
    const text = renderComment(loadResult('binary'), { marker: COMMENT_MARKER, summaryUrl: SUMMARY_URL })
    expect(text.split('\n')).toEqual([
      '<!-- modelgate:validate-model -->',
      '### ❌ validate-model failed: 2 checks failed',
      '',
      '3 of 7 checks passed, 1 skipped.',
      '',
      '|  | Check | Value | Threshold | Baseline | Change | Message |',
      '| :---: | :--- | ---: | :--- | ---: | ---: | :--- |',
      '| ❌ | threshold:recall&gt;=0.98 | 0.9718 | recall &gt;= 0.98 |  |  | recall 0.9718 is below 0.98 |',
      '| ❌ | change:f1 | 0.965 | f1 &gt;= baseline - 0.005 | 0.979 | -0.01397 | f1 fell by 0.014 from the baseline 0.979; at most 0.005 is allowed |',
      '| ⚠️ | change:log_loss | 0.1187 | log_loss &lt;= baseline + 0.01 | 0.0975 | +0.02125 | log_loss rose by 0.0212 from the baseline 0.0975; at most 0.01 is allowed |',
      '',
      '**Metrics** on test (114 rows)',
      '',
      '| Metric | Value | Baseline | Δ |',
      '| :--- | ---: | ---: | ---: |',
      '| accuracy | 0.9561 | 0.9649 | -0.00876 |',
      '| precision | 0.9583 | — | — |',
      '| recall | 0.9718 | — | — |',
      '| f1 | 0.965 | 0.979 | -0.01397 |',
      '| roc_auc | 0.9938 | 0.9951 | -0.001323 |',
      '| log_loss | 0.1187 | 0.0975 | +0.02125 |',
      '| brier | 0.03422 | — | — |',
      '',
      `<sub>modelgate 0.1.0 · model breast_cancer_lr · commit 9fceb02 · [full report](${SUMMARY_URL})</sub>`,
    ])
  })

  it('percent-encodes a link target so it cannot break out of the link', () => {
    const text = renderComment(loadResult('regression'), { marker: COMMENT_MARKER, summaryUrl: 'https://x.test/a b)[c](d' })
    expect(text.split('\n').at(-1)).toBe(
      '<sub>modelgate 0.1.0 · model diabetes_ridge · commit 0123456 · [full report](https://x.test/a%20b%29%5Bc%5D%28d)</sub>',
    )
  })

  it('says all checks passed when none failed or warned', () => {
    const text = renderComment(loadResult('regression'), { marker: COMMENT_MARKER })
    expect(text.split('\n').slice(0, 4)).toEqual([
      '<!-- modelgate:validate-model -->',
      '### ✅ validate-model passed',
      '',
      '2 of 2 checks passed.',
    ])
    expect(text).not.toContain('| Check |')
    expect(text).toContain('| r2 | 0.4526 |')
  })

  it('escapes a hostile class label and multi-line message', () => {
    const text = renderComment(loadResult('multiclass'), { marker: COMMENT_MARKER })
    expect(text).not.toContain('<script>')
    expect(text).toContain(
      '| ⚠️ | threshold:recall[a\\|b&lt;script&gt;]&gt;=0.8 | 0.7 | recall[a\\|b&lt;script&gt;] &gt;= 0.8 |  |  | recall of class a\\|b&lt;script&gt; is 0.7,<br>below 0.8 &amp; falling |',
    )
    expect(text).toContain('model iris "v2" \\| rf')
  })

  it('truncates 5,000 checks at a row boundary, keeping the marker and linking the summary', () => {
    const result = withChecks(5000, (i) => `recall of class_${i} is 0.5, below 0.9`)
    const text = renderComment(result, { marker: COMMENT_MARKER, summaryUrl: SUMMARY_URL })
    expect(text.length).toBeLessThanOrEqual(65536)
    expect(text.startsWith('<!-- modelgate:validate-model -->\n### ❌ validate-model failed: 3,333 checks failed\n')).toBe(true)
    const lines = text.split('\n')
    expect(lines.at(-1)).toBe(`… truncated: see the full report in the job summary ([job summary](${SUMMARY_URL}))`)
    expect(lines.at(-2)).toBe('')
    expect(lines.at(-3)).toMatch(
      /^\| ❌ \| threshold:recall\[class_\d+\]&gt;=0\.9 \| 0\.5 \| recall\[class_\d+\] &gt;= 0\.9 \| {2}\| {2}\| recall of class_\d+ is 0\.5, below 0\.9 \|$/,
    )
    // Failures come first, so the rows kept are failures.
    expect(text).not.toContain('| ⚠️ |')
    // Adding one more row would have broken the limit: the cut is as late as possible.
    expect(text.length + lines.at(-3)!.length + 1).toBeGreaterThan(65536)
  })

  it('respects a smaller limit and the UTF-8 byte limit', () => {
    const result = withChecks(200, (i) => `${i}`)
    const small = renderComment(result, { marker: COMMENT_MARKER, limit: 2000 })
    expect(small.length).toBeLessThanOrEqual(2000)
    expect(small.endsWith('\n\n… truncated: see the full report in the job summary')).toBe(true)

    // 4-byte characters: 65,536 UTF-16 units would be 131,072 bytes, so the character limit binds here...
    const emoji = withChecks(2000, () => '😀'.repeat(150))
    const text = renderComment(emoji, { marker: COMMENT_MARKER, summaryUrl: SUMMARY_URL })
    expect(text.length).toBeLessThanOrEqual(65536)
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(COMMENT_MAX_BYTES)
    // ...while with a larger character limit the byte limit takes over.
    const wide = renderComment(emoji, { marker: COMMENT_MARKER, summaryUrl: SUMMARY_URL, limit: 1_000_000 })
    expect(Buffer.byteLength(wide)).toBeLessThanOrEqual(COMMENT_MAX_BYTES)
    expect(Buffer.byteLength(wide)).toBeGreaterThan(COMMENT_MAX_BYTES - 2000)
    expect(wide.startsWith(COMMENT_MARKER)).toBe(true)
  })

  it('clips very long messages so one check cannot fill the comment', () => {
    const result = withChecks(1, () => 'y'.repeat(5000))
    const text = renderComment(result, { marker: COMMENT_MARKER })
    expect(text).toContain(`| ${'y'.repeat(299)}… |`)
    expect(text).not.toContain('truncated')
  })

  it('refuses a limit too small for the headline', () => {
    expect(() =>
      renderComment(
        withChecks(100, () => 'm'),
        { marker: COMMENT_MARKER, limit: 50 },
      ),
    ).toThrow('A comment limit of 50 characters cannot hold even the headline and the truncation notice.')
  })
})
