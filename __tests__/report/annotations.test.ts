import { describe, it, expect } from '@jest/globals'
import { ANNOTATION_MESSAGE_MAX, annotationsFor } from '../../src/core/report/annotations.js'
import type { CheckResult, ValidationResult } from '../../src/core/result/types.js'
import { loadResult } from './fixtures.js'

function check(i: number, status: 'fail' | 'warn'): CheckResult {
  return {
    id: `threshold:m${i}>=0.5`,
    kind: 'threshold',
    status,
    severity: status,
    metric: `m${i}`,
    value: 0.25,
    threshold: { op: '>=', value: 0.5, expression: `m${i} >= 0.5` },
    message: `m${i} is below 0.5`,
  }
}

describe('annotationsFor', () => {
  it('turns failed checks into errors and warned checks into warnings', () => {
    expect(annotationsFor(loadResult('binary'))).toEqual([
      {
        level: 'error',
        title: 'validate-model: threshold:recall>=0.98',
        message: 'recall 0.9718 is below 0.98 (value 0.9718, threshold recall >= 0.98)',
      },
      {
        level: 'error',
        title: 'validate-model: change:f1',
        message:
          'f1 fell by 0.014 from the baseline 0.979; at most 0.005 is allowed (value 0.965, threshold f1 >= baseline - 0.005, baseline 0.979, change -0.01397)',
      },
      {
        level: 'warning',
        title: 'validate-model: change:log_loss',
        message:
          'log_loss rose by 0.0212 from the baseline 0.0975; at most 0.01 is allowed (value 0.1187, threshold log_loss <= baseline + 0.01, baseline 0.0975, change +0.02125)',
      },
    ])
    expect(annotationsFor(loadResult('regression'))).toEqual([])
  })

  it('keeps data text verbatim: annotations are plain text, not markup', () => {
    const [warning] = annotationsFor(loadResult('multiclass'), { action: 'test-robustness' })
    expect(warning).toEqual({
      level: 'warning',
      title: 'test-robustness: threshold:recall[a|b<script>]>=0.8',
      message: 'recall of class a|b<script> is 0.7,\nbelow 0.8 & falling (value 0.7, threshold recall[a|b<script>] >= 0.8)',
    })
  })

  it('caps each level at 10, the last slot counting what was left out', () => {
    const result = loadResult('binary')
    result.checks = [
      ...Array.from({ length: 25 }, (_, i) => check(i, 'fail')),
      ...Array.from({ length: 11 }, (_, i) => check(100 + i, 'warn')),
    ]
    const annotations = annotationsFor(result)
    const errors = annotations.filter((a) => a.level === 'error')
    const warnings = annotations.filter((a) => a.level === 'warning')
    expect(errors).toHaveLength(10)
    expect(warnings).toHaveLength(10)
    expect(errors.slice(0, 9).map((a) => a.title)).toEqual(Array.from({ length: 9 }, (_, i) => `validate-model: threshold:m${i}>=0.5`))
    expect(errors[9]).toEqual({
      level: 'error',
      title: '16 more failed checks',
      message: '16 more failed checks are not annotated here: see the job summary for all of them.',
    })
    expect(warnings[9]!.title).toBe('2 more warnings')
  })

  it('keeps exactly 10 without a summary annotation', () => {
    const result = loadResult('binary')
    result.checks = Array.from({ length: 10 }, (_, i) => check(i, 'fail'))
    expect(annotationsFor(result).map((a) => a.title.startsWith('validate-model: '))).toEqual(Array(10).fill(true))
  })

  it('reports an error run first and clips long messages to 4096 characters', () => {
    const result: ValidationResult = {
      ...loadResult('binary'),
      status: 'error',
      checks: [{ ...check(1, 'fail'), message: 'z'.repeat(10_000) }],
      error: { message: 'model crashed', file: 'models/m.onnx' },
    }
    const annotations = annotationsFor(result)
    expect(annotations[0]).toEqual({
      level: 'error',
      title: 'validate-model could not judge the model',
      message: 'model crashed (models/m.onnx)',
    })
    expect(annotations[1]!.message).toHaveLength(ANNOTATION_MESSAGE_MAX)
    expect(annotations[1]!.message.endsWith('z…')).toBe(true)
  })

  it('annotates a failed comparison with its verdict message and evidence, an inconclusive one as a warning', () => {
    expect(annotationsFor(loadResult('comparison'))).toEqual([
      {
        level: 'error',
        title: 'validate-model: comparison/test/log_loss/non-inferiority',
        message:
          'the new model is worse on log_loss: +0.036, 95% CI [+0.021, +0.050] (lower is better); non-inferiority within 0.020: fail (the whole CI is beyond an increase of 0.020) ' +
          '(value 0.1187, threshold log_loss non-inferiority −0.02, baseline 0.08314, change +0.0356, ' +
          'interval 95% CI [+0.021, +0.050], verdict fail)',
      },
      {
        level: 'warning',
        title: 'validate-model: comparison/test/accuracy/superiority',
        message:
          'no detectable difference on accuracy: +0.018, 95% CI [−0.006, +0.041] (McNemar p = 0.45); superiority by 0.005: inconclusive (the CI includes a gain of 0.005; more rows would narrow it) ' +
          '(value 0.9591, threshold accuracy superiority +0.005, baseline 0.9415, change +0.01754, ' +
          'interval 95% CI [−0.006, +0.041], test McNemar exact p = 0.45 (b = 5, c = 2), verdict inconclusive)',
      },
    ])
  })

  it('states the margin of a comparison check that has no threshold', () => {
    const result = loadResult('comparison')
    const check = result.checks.find((c) => c.status === 'fail')!
    delete check.threshold
    expect(
      annotationsFor(result)[0]!.message.endsWith(
        '(value 0.1187, baseline 0.08314, change +0.0356, interval 95% CI [+0.021, +0.050], margin non-inferiority −0.02, verdict fail)',
      ),
    ).toBe(true)
  })

  it('annotates failed slice and fairness checks like any other', () => {
    const result = loadResult('comparison')
    const slice = result.checks.find((c) => c.kind === 'slice' && c.status === 'pass')!
    Object.assign(slice, { status: 'fail', value: 0.85, message: 'accuracy on slice a|b<script> (41 rows) is 0.85, below 0.9' })
    const fairness = result.checks.find((c) => c.kind === 'fairness')!
    Object.assign(fairness, { status: 'warn', value: 0.12, message: 'demographic_parity_difference across site is 0.12, above 0.1' })
    const seen = annotationsFor(result).map((a) => [a.level, a.title, a.message])
    expect(seen).toContainEqual([
      'error',
      'validate-model: slice/test/large tumours/accuracy>=0.9',
      'accuracy on slice a|b<script> (41 rows) is 0.85, below 0.9 (value 0.85, threshold accuracy >= 0.9)',
    ])
    expect(seen).toContainEqual([
      'warning',
      'validate-model: fairness/test/site/demographic_parity_difference<=0.1',
      'demographic_parity_difference across site is 0.12, above 0.1 (value 0.12, threshold demographic_parity_difference <= 0.1)',
    ])
  })
})
