import { describe, expect, it } from '@jest/globals'
import { parseGate, formatGate, type GateSpec } from '../../src/core/gates/expression.js'
import { evaluateGate, changeBound, overallStatus, exitCodeFor } from '../../src/core/gates/evaluate.js'

const gate = (s: string) => parseGate(s) as GateSpec

describe('gate lines', () => {
  it('reads absolute bounds with every comparator and a severity', () => {
    expect(gate('accuracy >= 0.9')).toEqual({
      metric: 'accuracy',
      op: '>=',
      severity: 'fail',
      bound: { kind: 'absolute', value: 0.9 },
      expression: 'accuracy >= 0.9',
    })
    expect(gate('log_loss<=0.3 warn')).toMatchObject({ op: '<=', severity: 'warn', bound: { value: 0.3 } })
    expect(gate('  mae < 1e-2 (fail) ')).toMatchObject({ op: '<', severity: 'fail', bound: { value: 0.01 } })
    expect(gate('n == 3').op).toBe('==')
    expect(gate('r2 > -0.5').bound).toEqual({ kind: 'absolute', value: -0.5 })
  })

  it('reads change bounds against the baseline, absolute and relative', () => {
    expect(gate('roc_auc >= baseline - 0.01').bound).toEqual({ kind: 'change', delta: -0.01, relative: false })
    expect(gate('accuracy >= baseline - 1%').bound).toEqual({ kind: 'change', delta: -0.01, relative: true })
    expect(gate('log_loss <= baseline + 5% warn')).toMatchObject({ severity: 'warn', bound: { delta: 0.05, relative: true } })
    expect(gate('mae <= baseline').bound).toEqual({ kind: 'change', delta: 0, relative: false })
    expect(gate('accuracy >= baseline - 1%').expression).toBe('accuracy >= baseline - 1%')
  })

  it('rejects what it cannot read, saying the syntax', () => {
    for (const bad of ['accuracy', 'accuracy => 0.9', 'accuracy >= high', '>= 0.9', 'accuracy >= 0.9 maybe', 'accuracy >= baseline * 2']) {
      const r = parseGate(bad)
      expect(typeof r).toBe('string')
      expect(r).toContain(`cannot read gate "${bad}"`)
      expect(r).toContain('<metric> <op> <number>')
    }
  })

  it('formats what it parsed back to the same line', () => {
    for (const s of ['accuracy >= 0.9', 'roc_auc >= baseline - 0.01', 'log_loss <= baseline + 5%', 'mae <= baseline']) {
      expect(formatGate(gate(s))).toBe(s)
    }
  })
})

describe('evaluating gates', () => {
  const input = (metrics: Record<string, number>, baseline?: Record<string, number>) => ({ dataset: 'test', metrics, baseline })

  it('passes and fails absolute bounds, with the severity as the failing status', () => {
    expect(evaluateGate(gate('accuracy >= 0.9'), input({ accuracy: 0.9 }))).toMatchObject({
      id: 'threshold/test/accuracy>=0.9',
      status: 'pass',
      value: 0.9,
      threshold: { op: '>=', value: 0.9 },
      message: 'accuracy = 0.9, meets >= 0.9',
    })
    expect(evaluateGate(gate('accuracy >= 0.95'), input({ accuracy: 0.9 })).status).toBe('fail')
    expect(evaluateGate(gate('accuracy >= 0.95 warn'), input({ accuracy: 0.9 })).status).toBe('warn')
  })

  it('allows a bounded regression against the baseline', () => {
    const c = evaluateGate(gate('roc_auc >= baseline - 0.01'), input({ roc_auc: 0.985 }, { roc_auc: 0.99 }))
    expect(c.status).toBe('pass')
    expect(c.baseline).toBe(0.99)
    expect(c.threshold?.value).toBeCloseTo(0.98, 15)
    expect(c.message).toBe('roc_auc = 0.985 vs baseline 0.99 (-0.005); needs >= 0.98')
    expect(evaluateGate(gate('roc_auc >= baseline - 0.01'), input({ roc_auc: 0.975 }, { roc_auc: 0.99 })).status).toBe('fail')
  })

  it('computes relative bounds from the magnitude of the baseline', () => {
    expect(changeBound(0.5, -0.1, true)).toBeCloseTo(0.45, 15)
    expect(changeBound(-2, 0.1, true)).toBeCloseTo(-1.8, 15) // r2 can be negative: +10% still means higher
    expect(changeBound(0.5, -0.1, false)).toBeCloseTo(0.4, 15)
  })

  it('skips change gates without a baseline and says why', () => {
    const c = evaluateGate(gate('accuracy >= baseline'), input({ accuracy: 0.9 }))
    expect(c.status).toBe('skipped')
    expect(c.message).toBe('no baseline yet (first run): accuracy >= baseline skipped')
    expect(evaluateGate(gate('mae <= baseline'), input({ mae: 1 }, { accuracy: 1 })).status).toBe('skipped')
  })

  it('fails a gate on a metric that was not computed', () => {
    const c = evaluateGate(gate('roc_auc >= 0.9'), {
      dataset: 'test',
      metrics: {},
      unavailable: { roc_auc: 'the model gives no probabilities' },
    })
    expect(c).toMatchObject({ status: 'fail', value: null, message: 'roc_auc is not available: the model gives no probabilities' })
  })

  it('derives the run status and exit code', () => {
    const c = (status: 'pass' | 'warn' | 'fail' | 'skipped') => ({
      id: status,
      kind: 'threshold' as const,
      status,
      severity: 'fail' as const,
      value: 1,
      message: '',
    })
    expect(overallStatus([c('pass'), c('skipped')])).toBe('pass')
    expect(overallStatus([c('pass'), c('warn')])).toBe('warn')
    expect(overallStatus([c('warn'), c('fail')])).toBe('fail')
    expect(exitCodeFor('pass', 'fail')).toBe(0)
    expect(exitCodeFor('warn', 'fail')).toBe(0)
    expect(exitCodeFor('warn', 'warn')).toBe(1)
    expect(exitCodeFor('fail', 'fail')).toBe(1)
    expect(exitCodeFor('fail', 'never')).toBe(0)
    expect(exitCodeFor('error', 'never')).toBe(2)
  })
})
