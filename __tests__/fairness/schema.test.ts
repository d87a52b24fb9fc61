import { describe, expect, it } from '@jest/globals'
import { z } from 'zod'
import { fairnessSchema, parseFairnessGate, sensitiveColumns } from '../../src/core/fairness/schema.js'

describe('the fairness manifest key', () => {
  it('defaults min-group-size to 30 and thresholds to none', () => {
    expect(fairnessSchema.parse({ sensitive: 'sex' })).toEqual({ sensitive: 'sex', 'min-group-size': 30, thresholds: [] })
  })

  it('takes a list of columns, and names each column once', () => {
    const c = fairnessSchema.parse({ sensitive: ['sex', 'age_band', 'sex'], thresholds: ['equalized_odds_ratio >= 0.8 warn'] })
    expect(sensitiveColumns(c)).toEqual(['sex', 'age_band'])
    expect(sensitiveColumns({ sensitive: 'sex' })).toEqual(['sex'])
  })

  it('refuses gates on other metrics, unreadable gates, unknown keys and bad sizes, naming the field', () => {
    const issues = (v: unknown) => {
      const r = fairnessSchema.safeParse(v)
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    }
    expect(issues({ sensitive: 'sex', thresholds: ['accuracy >= 0.9'] })).toEqual([
      'thresholds.0: "accuracy" is not a fairness metric: use one of demographic_parity_difference, demographic_parity_ratio, equalized_odds_difference, equalized_odds_ratio',
    ])
    expect(issues({ sensitive: 'sex', thresholds: ['demographic_parity_difference below 0.1'] })[0]).toContain(
      'thresholds.0: cannot read gate "demographic_parity_difference below 0.1"',
    )
    expect(issues({ sensitive: 'sex', 'min-group-size': 0 })[0]).toMatch(/^min-group-size: /)
    expect(issues({ sensitive: 'sex', 'min-group-size': 2.5 })[0]).toMatch(/^min-group-size: /)
    expect(issues({ sensitive: [] })[0]).toMatch(/^sensitive: /)
    expect(issues({ sensitive: 'sex', minGroupSize: 10 })[0]).toContain('minGroupSize')
  })

  it('parses fairness gates with the shared grammar', () => {
    expect(parseFairnessGate('equalized_odds_difference <= baseline + 0.02')).toEqual({
      metric: 'equalized_odds_difference',
      op: '<=',
      severity: 'fail',
      bound: { kind: 'change', delta: 0.02, relative: false },
      expression: 'equalized_odds_difference <= baseline + 0.02',
    })
  })

  it('describes every field in its JSON Schema', () => {
    const schema = z.toJSONSchema(fairnessSchema, { io: 'input' }) as { properties: Record<string, { description?: string }> }
    for (const key of ['sensitive', 'min-group-size', 'thresholds']) expect(schema.properties[key].description).toBeTruthy()
  })
})
