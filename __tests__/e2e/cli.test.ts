import { describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, existsSync, writeFileSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { outside } from '../helpers/workspace.js'
import type { ValidationResult } from '../../src/core/result/types.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')

async function cli(args: string[], cwd = ROOT) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(outside(args), { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

describe('modelgate validate on the breast-cancer example', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mg-cli-'))
  const report = path.join(tmp, 'report.json')
  const junit = path.join(tmp, 'junit.xml')

  it('passes, writes the report and JUnit, and reports the numbers of the example', async () => {
    const r = await cli(['validate', '--config', path.join(EXAMPLE, 'modelgate.yml'), '--report', report, '--junit', junit])
    expect(r.stderr).not.toContain('internal error')
    expect(r.code).toBe(0)
    const result = JSON.parse(readFileSync(report, 'utf8')) as ValidationResult
    expect(result.schemaVersion).toBe('1.0')
    expect(result.status).toBe('pass')
    expect(result.task).toBe('binary')
    expect(result.data[0].rows).toBe(171)
    // 168 of 171 right, AUC 6779/6848 (counted by hand from the committed predictions in examples/breast-cancer/README.md).
    expect(result.metrics.accuracy).toBeCloseTo(168 / 171, 12)
    expect(result.metrics.roc_auc).toBeCloseTo(6779 / 6848, 12)
    expect(result.baseline?.metrics.accuracy).toBeCloseTo(163 / 171, 12)
    expect(result.baseline?.metrics.roc_auc).toBeCloseTo(6771 / 6848, 12)
    expect(result.model.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(result.data[0].digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    // Paths are shown as the user wrote them, relative to the workspace.
    expect(result.data[0].path).toBe('examples/breast-cancer/data/test.csv')
    expect(result.model.source).toBe('examples/breast-cancer/model.onnx')
    expect(result.baseline?.source).toBe('examples/breast-cancer/baseline.onnx')
    expect(result.data[0].parity).toMatchObject({ rows: 171, labelMismatches: 0, probabilityMismatches: 0 })
    expect(result.data[0].contract).toMatchObject({ violations: 0, rowsChecked: 171 })
    const ids = result.checks.map((c) => `${c.status} ${c.id}`)
    expect(ids).toEqual([
      'pass comparison/test/accuracy/non-inferiority',
      'pass comparison/test/roc_auc/non-inferiority',
      'pass slice/test/large tumours/accuracy>=0.9',
      'pass slice/test/small tumours/accuracy>=0.9',
      'pass slice/test/large tumours/max-regression:accuracy',
      'pass slice/test/small tumours/max-regression:accuracy',
      'pass output-consistency/test',
      'pass contract/test',
      'pass parity/test',
      'pass threshold/test/accuracy>=0.95',
      'pass threshold/test/roc_auc>=0.98',
      expect.stringMatching(/^(pass|warn) threshold\/test\/log_loss<=0.15$/),
      expect.stringMatching(/^(pass|warn) threshold\/test\/ece<=0.1$/),
      'pass change/test/roc_auc>=baseline-0.005',
      'pass change/test/accuracy>=baseline-1%',
    ])
    expect(result.data[0].metricSources.accuracy).toBe('label')
    expect(result.data[0].metricSources.roc_auc).toBe('probabilities')
    expect(r.stdout).toMatch(/^PASSED/)
    expect(readFileSync(junit, 'utf8')).toContain('<testsuites')
  })

  it('fails a gate with exit 1, and the same run with --fail-on never exits 0', async () => {
    const args = ['validate', '--config', path.join(EXAMPLE, 'modelgate.yml'), '--threshold', 'accuracy >= 0.99', '--quiet']
    expect((await cli(args)).code).toBe(1)
    expect((await cli([...args, '--fail-on', 'never'])).code).toBe(0)
  })

  it('gives the same numbers from flags alone as from the manifest', async () => {
    const header = readFileSync(path.join(EXAMPLE, 'data/test.csv'), 'utf8').split('\n')[0]
    const features = header
      .split(',')
      .filter((c) => c !== 'target')
      .join(',')
    const flagsReport = path.join(tmp, 'flags.json')
    const r = await cli([
      'validate',
      '--model',
      'examples/breast-cancer/model.onnx',
      '--data',
      'examples/breast-cancer/data/test.csv',
      '--label',
      'target',
      '--features',
      features,
      '--report',
      flagsReport,
      '--quiet',
    ])
    expect(r.code).toBe(0)
    const a = JSON.parse(readFileSync(report, 'utf8')) as ValidationResult
    const b = JSON.parse(readFileSync(flagsReport, 'utf8')) as ValidationResult
    for (const m of ['accuracy', 'roc_auc', 'log_loss', 'f1', 'mcc', 'brier', 'ece']) expect(b.metrics[m]).toBe(a.metrics[m])
  })

  it('compares against a previous report as the baseline', async () => {
    const r = await cli([
      'validate',
      '--config',
      path.join(EXAMPLE, 'modelgate.yml'),
      '--baseline',
      report,
      '--threshold',
      'roc_auc >= baseline',
      '--json',
    ])
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout) as ValidationResult
    expect(result.baseline?.kind).toBe('report')
    expect(result.checks.find((c) => c.id === 'change/test/roc_auc>=baseline')).toMatchObject({
      status: 'pass',
      value: result.baseline?.metrics.roc_auc,
    })
  })

  it('skips change gates on a first run without a baseline and says so', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-first-'))
    const yml = readFileSync(path.join(EXAMPLE, 'modelgate.yml'), 'utf8').replace(/^baseline: .*$/m, '')
    for (const f of ['model.onnx', 'reference-predictions.csv', 'contract.schema.json'])
      copyFileSync(path.join(EXAMPLE, f), path.join(dir, f))
    writeFileSync(path.join(dir, 'modelgate.yml'), yml.replace('path: data/test.csv', `path: ${path.join(EXAMPLE, 'data/test.csv')}`))
    const r = await cli(['validate', '--json'], dir)
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout) as ValidationResult
    expect(result.checks.filter((c) => c.kind === 'change').map((c) => c.status)).toEqual(['skipped', 'skipped'])
    expect(result.notes.join('\n')).toContain('No baseline yet (first run): change thresholds were skipped')
  })

  it('prints usage and exits 2 without a command; --version prints the version', async () => {
    expect((await cli([])).code).toBe(2)
    const v = await cli(['--version'])
    expect(v.stdout).toBe(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version)
    expect(existsSync(report)).toBe(true)
  })
})
