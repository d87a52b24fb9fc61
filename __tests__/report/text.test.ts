import { describe, expect, it } from '@jest/globals'
import { renderText } from '../../src/cli/text.js'
import { loadResult } from './fixtures.js'

/*
 * The CLI's text (`modelgate validate` without --json or --quiet) on the hand-made results of
 * __tests__/fixtures/report: the wording a new user reads first.
 */

/** The lines of `text` from the one starting with `start` up to the next blank line. */
function blockAfter(text: string, start: string): string[] {
  const from = text.indexOf(start)
  if (from < 0) throw new Error(`no ${JSON.stringify(start)} in:\n${text}`)
  const end = text.indexOf('\n\n', from)
  return text.slice(from, end < 0 ? undefined : end).split('\n')
}

describe('the CLI text of a champion/challenger result', () => {
  const text = renderText(loadResult('comparison'))

  it('names the one data set in the heading, as a data set, and no line starts with its bare name', () => {
    expect(blockAfter(text, 'Champion vs challenger')).toEqual([
      'Champion vs challenger on data set "test": the new model vs models/champion.onnx (paired bootstrap (BCa, 1000 resamples, seed 20261126, 95% CI))',
      '  ????  no detectable difference on accuracy: +0.018, 95% CI [−0.006, +0.041] (McNemar p = 0.45); superiority by 0.005: inconclusive (the CI includes a gain of 0.005; more rows would narrow it)',
      '  PASS  the new model is better on roc_auc: +0.012, 95% CI [+0.004, +0.020] (DeLong p = 0.0029); non-inferiority within 0.010: pass (the CI excludes a loss of 0.010)',
      '  FAIL  the new model is worse on log_loss: +0.036, 95% CI [+0.021, +0.050] (lower is better); non-inferiority within 0.020: fail (the whole CI is beyond an increase of 0.020)',
      '        no detectable difference on brier: −0.003, 95% CI [−0.009, +0.002] (lower is better)',
    ])
    expect(text).not.toMatch(/^ {2}(PASS|FAIL|\?{4}| {4}) {2}test: /m)
  })

  it('prints each comparison once: its check points to it instead of repeating it', () => {
    for (const c of loadResult('comparison').comparisons!) expect(text.split(c.message)).toHaveLength(2)
    expect(blockAfter(text, 'Checks').filter((l) => l.includes('comparison/'))).toEqual([
      '  WARN  comparison/test/accuracy/superiority: see Champion vs challenger above',
      '  PASS  comparison/test/roc_auc/non-inferiority: see Champion vs challenger above',
      '  FAIL  comparison/test/log_loss/non-inferiority: see Champion vs challenger above',
    ])
    // Checks that are not comparisons keep their message.
    expect(text).toContain('  PASS  threshold:accuracy>=0.95: accuracy 0.9591 meets >= 0.95')
  })

  it('names the data set on each line when the comparisons span several', () => {
    const result = loadResult('comparison')
    const [accuracy, rocAuc] = result.comparisons!
    result.comparisons = [accuracy!, { ...rocAuc!, dataset: 'holdout' }]
    expect(blockAfter(renderText(result), 'Champion vs challenger')).toEqual([
      'Champion vs challenger: the new model vs models/champion.onnx (paired bootstrap (BCa, 1000 resamples, seed 20261126, 95% CI))',
      `  ????  data set "test": ${accuracy!.message}`,
      `  PASS  data set "holdout": ${rocAuc!.message}`,
    ])
  })

  it('heads metrics and calibration with the data set, so "test" is not read as a word', () => {
    expect(text).toContain('\nMetrics on data set "test" (171 rows)\n')
    expect(text).toMatch(/^Calibration on data set "test": ece 0\.021 /m)
  })
})

describe('the CLI text counts rows in words', () => {
  it('says 1 row, not 1 rows', () => {
    const result = loadResult('binary')
    result.data[0]!.rows = 1
    const text = renderText(result)
    expect(text).toContain('\nMetrics on data set "test" (1 row)\n')
    expect(text).toContain('\nMetrics on data set "holdout-2024" (12,500 rows)\n')
    expect(text).not.toMatch(/\b1 rows\b/)
  })
})
