import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { renderComment } from '../../src/core/report/comment.js'
import { renderSummary } from '../../src/core/report/markdown.js'
import { costText, sampleText, violationsText } from '../../src/core/report/robustness.js'
import { resultSchema } from '../../src/core/result/schema.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import type { RobustnessTest } from '../../src/core/robustness/types.js'
import { loadResult } from './fixtures.js'

/*
 * Counts of one in every sink: `1 row`, never `1 rows` or `row(s)`. The fixtures count in the hundreds,
 * so each test sets a count to 1 and reads the sentence back.
 */

const ROBUSTNESS = path.resolve(import.meta.dirname, '../fixtures/report/result-robustness.json')

describe('the job summary', () => {
  it('counts one row, one batch, one violation and one mismatch in the singular', () => {
    const result = loadResult('binary')
    const d = result.data[0]!
    d.rows = 1
    d.performance = { ...d.performance, batches: 1, batchSize: 1 }
    d.skippedRows = 1
    d.contract = { ...d.contract!, violations: 1, rowsChecked: 1 }
    d.parity = { ...d.parity!, rows: 1, labelMismatches: 1, probabilityMismatches: 1 }
    const text = renderSummary(result)
    expect(text).toContain('**Data:** test (1 row), holdout-2024 (12,500 rows)')
    expect(text).toMatch(/\*\*Performance:\*\* 1 row in .* \(1 batch of up to 1 row\)/)
    expect(text).toContain('⚠️ 1 row was skipped: a label or feature value was missing.')
    expect(text).toContain('): ❌ 1 violation in 1 row checked')
    expect(text).toContain(' on 1 row: ❌ 1 label mismatch, 1 probability mismatch, ')
    expect(text).not.toMatch(/\b1 (rows|batches|violations|label mismatches|probability mismatches)\b/)
  })

  it('keeps the plural for other counts', () => {
    const text = renderSummary(loadResult('binary'))
    expect(text).toContain('⚠️ 3 rows were skipped: a label or feature value was missing.')
    expect(text).toContain('✅ 0 violations in 114 rows checked')
  })
})

describe('the pull-request comment', () => {
  it('says of 1 check, on 1 row', () => {
    const result = loadResult('regression')
    result.checks = result.checks.slice(0, 1)
    result.data[0]!.rows = 1
    const text = renderComment(result, { marker: '<!-- m -->' })
    expect(text).toMatch(/of 1 check passed/)
    expect(text).toContain('(1 row)')
    expect(text).not.toMatch(/\b1 (rows|checks)\b/)
  })
})

describe('the robustness texts', () => {
  const r = (resultSchema.parse(JSON.parse(readFileSync(ROBUSTNESS, 'utf8'))) as ValidationResult).robustness!
  const test = { ...r.tests[0]!, rows: 1, violations: 0 } as RobustnessTest

  it('count one row, one model call and one clean pass in the singular', () => {
    expect(violationsText(test)).toBe('0 of 1 row')
    expect(sampleText({ ...r, rows: 1, rowsAvailable: 1 })).toBe('1 of 1 row, seed 7')
    // A seed is a name, not a count: no thousands separators.
    expect(sampleText({ ...r, seed: 20261126 })).toBe('100 of 171 rows, seed 20261126')
    expect(costText({ ...r, cost: { ...r.cost, modelCalls: 1, rowsScored: 1, cleanPassRows: 1, seconds: 0.01 } })).toBe(
      '1 model call, 1 row scored: 1 clean pass of 1 row, 0.01 s',
    )
  })
})
