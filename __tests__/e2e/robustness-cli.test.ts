import { describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { outside } from '../helpers/workspace.js'
import { parseManifest } from '../../src/core/manifest/load.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import type { RobustnessResult } from '../../src/core/robustness/types.js'
import { runActionOutside } from '../helpers/action-harness.js'
import { mermaidBlocks, xychartProblems } from '../helpers/xychart.js'

/*
 * `modelgate robustness` through runCli, on the breast-cancer example model with
 * __tests__/fixtures/e2e/robustness.yml (100-row budget, seed 7): the same results as the bundled action,
 * the text rendering, the output files, exit codes.
 */

const ROOT = path.resolve(import.meta.dirname, '../..')
const MANIFEST = path.join(ROOT, '__tests__/fixtures/e2e/robustness.yml')
const tmp = mkdtempSync(path.join(tmpdir(), 'mg-robustness-cli-'))

async function cli(args: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(outside(args), { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd: ROOT })
  return { code, stdout: out.join('\n'), stderr: err }
}

function robustnessOf(file: string): RobustnessResult {
  const r = (JSON.parse(readFileSync(file, 'utf8')) as ValidationResult).robustness!
  // Wall-clock figures (the cost's and each test's) differ from run to run; nothing else may.
  return { ...r, tests: r.tests.map((t) => ({ ...t, seconds: 0 })), cost: { ...r.cost, seconds: 0 } }
}

describe('modelgate robustness on the breast-cancer example', () => {
  const report = path.join(tmp, 'report.json')
  const summary = path.join(tmp, 'summary.md')
  const junit = path.join(tmp, 'junit.xml')

  it('exits 1 on the failed tests, prints them first, and writes the report, JUnit and summary', async () => {
    const r = await cli(['robustness', '--config', MANIFEST, '--report', report, '--junit', junit, '--summary', summary])
    expect(r.code).toBe(1)
    const result = JSON.parse(readFileSync(report, 'utf8')) as ValidationResult
    const rob = result.robustness!
    const worst = rob.tests.find((t) => t.id === 'invariance/shift/1')!
    const lines = r.stdout.split('\n')
    const failed = result.checks.filter((c) => c.status === 'fail').length
    expect(lines[0]).toBe(`FAILED: ${failed} check${failed === 1 ? '' : 's'} failed for breast-cancer-logreg`)
    expect(lines[2]).toMatch(
      /^Robustness on 100 of 171 rows, seed 7; worst flip rate 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] \(invariance\/shift\/1\)$/,
    )
    expect(lines[2]).toContain(`worst flip rate ${worst.flipRate!.toFixed(3)} `)
    expect(lines[3]).toMatch(/^ {2}test +flip rate \[CI\] +metric +change +violations$/)
    // Failures first, then warnings, then passes.
    const marks = lines.slice(4, 4 + rob.tests.length).map((l) => l.slice(2, 6))
    expect(marks).toEqual(
      [...marks].sort((a, b) => ['FAIL', 'WARN', 'PASS', 'SKIP'].indexOf(a) - ['FAIL', 'WARN', 'PASS', 'SKIP'].indexOf(b)),
    )
    expect(marks.filter((m) => m === 'FAIL')).toHaveLength(rob.tests.filter((t) => t.status === 'fail').length)
    const shiftLine = lines.find((l) => l.startsWith('  FAIL  invariance/shift/1 '))!
    expect(shiftLine).toContain(`accuracy ${result.metrics.accuracy} → ${worst.metric!.perturbed}`)
    expect(shiftLine.trimEnd().endsWith('major')).toBe(worst.level === 'major')
    expect(lines).toContain('Sensitivity: the smallest change of one feature that flipped a row (most sensitive first)')
    expect(r.stdout).toMatch(/\nCost: [\d,]+ model calls, [\d,]+ rows scored: [\d.]+ clean passes of 100 rows, /)
    // The checks repeat the tests, so the text does not list them twice.
    expect(lines).not.toContain('Checks')
    expect(r.stderr).toContain('model: examples/breast-cancer/model.onnx (onnx)')

    expect(readFileSync(junit, 'utf8')).toContain('<testsuites name="modelgate test-robustness"')
    const md = readFileSync(summary, 'utf8')
    expect(md.startsWith('## ❌ modelgate robustness: breast-cancer-logreg failed:')).toBe(true)
    for (const chart of mermaidBlocks(md)) expect(xychartProblems(chart)).toEqual([])
  })

  it('gives the same results as the bundled action on the same manifest and seed', async () => {
    const actionReport = path.join(tmp, 'action.json')
    const run = await runActionOutside('test-robustness', { config: MANIFEST, 'report-path': actionReport, comment: 'false' })
    expect(run.code).toBe(1)
    expect(robustnessOf(actionReport)).toEqual(robustnessOf(report))
  })

  it('prints the JSON with --json, nothing with --quiet, and exits 0 with --fail-on never', async () => {
    const json = await cli(['robustness', '--config', MANIFEST, '--json', '--rows', '30', '--seed', '3'])
    const result = JSON.parse(json.stdout) as ValidationResult
    expect([result.robustness!.rows, result.robustness!.seed]).toEqual([30, 3])
    expect(json.stderr).toEqual([])
    const quiet = await cli(['robustness', '--config', MANIFEST, '--quiet', '--fail-on', 'never', '--time-budget', '60'])
    expect(quiet).toEqual({ code: 0, stdout: '', stderr: [] })
  })

  it('rejects bad flags with exit 2 and one message, before writing anything', async () => {
    const out = path.join(tmp, 'never.json')
    expect(await cli(['robustness', '--config', MANIFEST, '--rows', '0', '--report', out])).toEqual({
      code: 2,
      stdout: '',
      stderr: ['modelgate: --rows: "0" is not valid: too small: expected number to be >=1'],
    })
    expect((await cli(['robustness', '--config', MANIFEST, '--seed', 'x'])).stderr).toEqual([
      'modelgate: --seed: "x" is not valid: not a number',
    ])
    // validate's flags are not robustness's.
    const gate = await cli(['robustness', '--config', MANIFEST, '--threshold', 'accuracy >= 0.9'])
    expect(gate.code).toBe(2)
    expect(gate.stderr[0]).toMatch(/Unknown option '--threshold'; see modelgate robustness --help$/)
    expect(existsSync(out)).toBe(false)
  })

  it('refuses a predictions file as the model, with exit 2 and one message', async () => {
    const r = await cli([
      'robustness',
      '--model',
      'examples/breast-cancer/reference-predictions.csv',
      '--data',
      'examples/breast-cancer/data/test.csv',
      '--label',
      'target',
      '--features',
      'mean_radius',
    ])
    expect(r.code).toBe(2)
    expect(r.stderr).toEqual([
      'modelgate: model: test-robustness needs a model it can call (onnx, command or http); a predictions file cannot score perturbed rows',
    ])
  })

  it('documents itself: its usage, and the top-level usage names both commands', async () => {
    const help = await cli(['robustness', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout.split('\n')[0]).toBe('Usage: modelgate robustness [options]')
    for (const flag of ['--seed <n>', '--rows <n>', '--time-budget <seconds>', '--report <file.json>']) expect(help.stdout).toContain(flag)
    const top = await cli(['--help'])
    expect(top.stdout).toMatch(/^ {2}validate {5}/m)
    expect(top.stdout).toMatch(/^ {2}robustness {3}/m)
    expect((await cli(['robust'])).stderr).toEqual(['modelgate: unknown command "robust"; try: modelgate --help'])
  })

  it('the README’s robustness manifest example is a valid manifest section', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    const block = [...readme.matchAll(/```yaml\n(robustness:[\s\S]*?)```/g)].map((m) => m[1]!)
    expect(block).toHaveLength(1)
    const manifest = parseManifest(
      `name: x\nmodel: m.onnx\nfeatures: [worst_radius, mean_radius, mean_area]\nlabel: y\ndata: d.csv\n${block[0]}`,
      'README.md',
    )
    expect(manifest.robustness).toMatchObject({ seed: 7, rows: 500, directional: [{ feature: 'worst_radius', direction: 'decreasing' }] })
  })
})
