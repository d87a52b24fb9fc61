import { describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { outside } from '../helpers/workspace.js'
import type { ValidationResult } from '../../src/core/result/types.js'

/*
 * Issue 3 end to end through `modelgate validate`: champion vs challenger on the breast-cancer example,
 * slices, calibration, and fairness on a small table whose expected values are worked out by hand.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')

async function validate(args: string[], cwd = ROOT): Promise<{ code: number; result: ValidationResult; stderr: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-champion-'))
  const report = path.join(dir, 'report.json')
  const err: string[] = []
  const code = await runCli(outside(['validate', ...args, '--report', report, '--quiet']), {
    stdout: () => {},
    stderr: (t) => err.push(t),
    cwd,
  })
  const stderr = err.join('\n')
  if (code === 2) return { code, result: undefined as unknown as ValidationResult, stderr }
  return { code, result: JSON.parse(readFileSync(report, 'utf8')) as ValidationResult, stderr }
}

/** Two-sided exact binomial McNemar p-value, worked out directly: min(1, 2·P(X ≤ min(b, c))), X ~ Bin(b + c, ½). */
function exactMcNemar(b: number, c: number): number {
  const n = b + c
  let tail = 0
  let choose = 1
  for (let k = 0; k <= Math.min(b, c); k++) {
    tail += choose
    choose = (choose * (n - k)) / (k + 1)
  }
  return Math.min(1, (2 * tail) / 2 ** n)
}

describe('champion vs challenger on the breast-cancer example', () => {
  it('reports deltas, intervals, McNemar and DeLong, and non-inferiority verdicts', async () => {
    const { code, result } = await validate(['--config', path.join(EXAMPLE, 'modelgate.yml')])
    expect(code).toBe(0)
    const [accuracy, auc, logLoss] = result.comparisons!
    expect(accuracy).toMatchObject({
      dataset: 'test',
      metric: 'accuracy',
      n: 171,
      verdict: 'pass',
      margin: { kind: 'non-inferiority', delta: -0.01 },
    })
    expect(accuracy.candidate).toBeCloseTo(168 / 171, 12)
    expect(accuracy.baseline).toBeCloseTo(163 / 171, 12)
    expect(accuracy.delta).toBeCloseTo(5 / 171, 12)
    const { candidateOnly: b, baselineOnly: c } = accuracy.test!.discordant!
    expect(b - c).toBe(5) // 168 − 163 right answers
    expect(accuracy.test!.name).toBe('mcnemar-exact')
    expect(accuracy.pValue).toBeCloseTo(exactMcNemar(b, c), 15)
    expect(accuracy.interval).toMatchObject({ confidence: 0.95, method: 'bca', resamples: 1000 })
    expect(accuracy.interval.low).toBeLessThanOrEqual(accuracy.delta)
    expect(accuracy.interval.high).toBeGreaterThanOrEqual(accuracy.delta)
    expect(accuracy.interval.low).toBeGreaterThan(-0.01) // hence non-inferior
    expect(accuracy.method).toContain('BCa, 1000 resamples, seed 20261126')

    expect(auc).toMatchObject({ metric: 'roc_auc', verdict: 'pass', test: { name: 'delong' } })
    expect(auc.candidate).toBeCloseTo(6779 / 6848, 12)
    expect(auc.baseline).toBeCloseTo(6771 / 6848, 12)
    expect(auc.pValue).toBeGreaterThan(0.05) // a difference of 8 pairs in 6,848 is noise

    expect(logLoss.metric).toBe('log_loss')
    expect(logLoss.verdict).toBeUndefined()
    expect(logLoss.pValue).toBeNull()
    expect(logLoss.candidate).toBe(result.metrics.log_loss)

    const checks = result.checks.filter((x) => x.kind === 'comparison')
    expect(checks.map((x) => [x.id, x.status])).toEqual([
      ['comparison/test/accuracy/non-inferiority', 'pass'],
      ['comparison/test/roc_auc/non-inferiority', 'pass'],
    ])
  })

  it('is repeatable: the same seed gives the same intervals', async () => {
    const a = await validate(['--config', path.join(EXAMPLE, 'modelgate.yml')])
    const b = await validate(['--config', path.join(EXAMPLE, 'modelgate.yml')])
    expect(a.result.comparisons).toEqual(b.result.comparisons)
    expect(a.result.slices).toEqual(b.result.slices)
  })

  it('says inconclusive when the interval straddles a superiority margin, and lets the manifest decide what that does', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-superiority-'))
    const yml = readFileSync(path.join(EXAMPLE, 'modelgate.yml'), 'utf8')
      .replace(
        /^comparison:[\s\S]*?(?=^slices:)/m,
        'comparison:\n  metrics:\n    - metric: accuracy\n      superiority: 0.02\n  inconclusive: INCONCLUSIVE\n',
      )
      .replace(/^(\s+path: )(data\/test\.csv|reference-predictions\.csv)/gm, (_, p: string, f: string) => `${p}${path.join(EXAMPLE, f)}`)
      .replace(/^(model|baseline): (\S+)/gm, (_, k: string, f: string) => `${k}: ${path.join(EXAMPLE, f)}`)
      .replace(/contract: contract\.schema\.json/, `contract: ${path.join(EXAMPLE, 'contract.schema.json')}`)
    writeFileSync(path.join(dir, 'warn.yml'), yml.replace('INCONCLUSIVE', 'warn'))
    writeFileSync(path.join(dir, 'fail.yml'), yml.replace('INCONCLUSIVE', 'fail'))
    const warn = await validate(['--config', path.join(dir, 'warn.yml')])
    expect(warn.stderr).toBe('')
    const [acc] = warn.result.comparisons!
    expect(acc.interval.low).toBeLessThan(0.02)
    expect(acc.interval.high).toBeGreaterThan(0.02)
    expect(acc.verdict).toBe('inconclusive')
    expect(warn.result.status).toBe('warn')
    expect(warn.code).toBe(0)
    const fail = await validate(['--config', path.join(dir, 'fail.yml')])
    expect(fail.result.status).toBe('fail')
    expect(fail.code).toBe(1)
  })
})

describe('slices and calibration on the example', () => {
  const rows = readFileSync(path.join(EXAMPLE, 'data/test.csv'), 'utf8').trim().split('\n')
  const header = rows[0].split(',')
  const area = rows.slice(1).map((r) => Number(r.split(',')[header.indexOf('mean_area')]))

  it('evaluates the manifest slices on the right rows and discovers weak ones', async () => {
    const { result } = await validate(['--config', path.join(EXAMPLE, 'modelgate.yml')])
    const named = result.slices!.filter((s) => s.source === 'manifest')
    expect(named.map((s) => [s.name, s.definition, s.rows, s.gated])).toEqual([
      ['large tumours', 'mean_area >= 700', area.filter((a) => a >= 700).length, true],
      ['small tumours', 'mean_area < 700', area.filter((a) => a < 700).length, true],
    ])
    for (const s of named) {
      expect(s.baseline?.accuracy).toBeDefined()
      expect(s.intervals.accuracy.low).toBeLessThanOrEqual(s.metrics.accuracy)
    }
    const found = result.slices!.filter((s) => s.source === 'discovered')
    expect(found).toHaveLength(3)
    const worst = found.map((s) => s.metrics.accuracy)
    expect([...worst].sort((a, b) => a - b)).toEqual(worst) // worst first
    expect(result.checks.filter((c) => c.kind === 'slice').map((c) => c.status)).toEqual(['pass', 'pass', 'pass', 'pass'])
  })

  it('adds a reliability table and intervals for ECE, MCE and Brier equal to the metrics', async () => {
    const { result } = await validate(['--config', path.join(EXAMPLE, 'modelgate.yml')])
    const [cal] = result.calibration!
    expect(cal.bins.reduce((n, b) => n + b.rows, 0)).toBe(171)
    expect(cal.ece).toBe(result.metrics.ece)
    expect(cal.mce).toBe(result.metrics.mce)
    expect(cal.brier).toBe(result.metrics.brier)
    expect(cal.intervals.ece.low).toBeLessThanOrEqual(cal.ece)
    expect(cal.intervals.ece.high).toBeGreaterThanOrEqual(cal.ece)
  })
})

describe('fairness, through a predictions file', () => {
  // Group A: 40 rows, 20 positives; the model predicts positive for 16 of the positives and 4 of the negatives.
  // Group B: 40 rows, 20 positives; positive for 8 positives and 2 negatives. Group C: 10 rows (below min-group-size).
  // Selection rates: A 20/40 = 0.5, B 10/40 = 0.25 → difference 0.25, ratio 0.5.
  // TPR: A 0.8, B 0.4; FPR: A 0.2, B 0.1 → equalized odds difference max(0.4, 0.1) = 0.4, ratio min(0.5, 0.5) = 0.5.
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-fairness-'))
  const data = ['x,group,target']
  const preds = ['label']
  const add = (group: string, y: number, p: number, count: number) => {
    for (let i = 0; i < count; i++) {
      data.push(`${data.length},${group},${y}`)
      preds.push(String(p))
    }
  }
  for (const [group, y, p, count] of [
    ['A', 1, 1, 16],
    ['A', 1, 0, 4],
    ['A', 0, 1, 4],
    ['A', 0, 0, 16],
    ['B', 1, 1, 8],
    ['B', 1, 0, 12],
    ['B', 0, 1, 2],
    ['B', 0, 0, 18],
    ['C', 1, 1, 5],
    ['C', 0, 1, 5],
  ] as const)
    add(group, y, p, count)
  writeFileSync(path.join(dir, 'data.csv'), `${data.join('\n')}\n`)
  writeFileSync(path.join(dir, 'predictions.csv'), `${preds.join('\n')}\n`)
  writeFileSync(
    path.join(dir, 'modelgate.yml'),
    [
      'name: fair',
      'task: binary',
      'model: predictions.csv',
      'features: [x]',
      'label: target',
      'classes: [0, 1]',
      'data: data.csv',
      'fairness:',
      '  sensitive: group',
      '  min-group-size: 30',
      '  thresholds:',
      '    - demographic_parity_difference <= 0.2',
      '    - equalized_odds_ratio >= 0.4',
      '',
    ].join('\n'),
  )

  it('computes fairlearn’s differences and ratios over the gated groups and gates them', async () => {
    const { code, result } = await validate([], dir)
    const [f] = result.fairness!
    expect(f.sensitive).toBe('group')
    expect(f.groups.map((g) => [g.value, g.rows, g.gated])).toEqual([
      ['A', 40, true],
      ['B', 40, true],
      ['C', 10, false],
    ])
    expect(f.metrics.demographic_parity_difference).toBeCloseTo(0.25, 12)
    expect(f.metrics.demographic_parity_ratio).toBeCloseTo(0.5, 12)
    expect(f.metrics.equalized_odds_difference).toBeCloseTo(0.4, 12)
    expect(f.metrics.equalized_odds_ratio).toBeCloseTo(0.5, 12)
    expect(f.intervals.demographic_parity_difference.low).toBeLessThanOrEqual(0.25)
    const checks = result.checks.filter((c) => c.kind === 'fairness')
    expect(checks.map((c) => c.status)).toEqual(['fail', 'pass'])
    expect(code).toBe(1)
  })
})
