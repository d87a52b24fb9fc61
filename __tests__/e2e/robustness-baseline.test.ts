/**
 * Issue 13, robustness against production: `modelgate robustness --baseline …` on the breast-cancer
 * example, copied into a fresh workspace with a local registry. The example's baseline.onnx is
 * registered as 1.0.0 and promoted to prod; the comparison with `--baseline stage:prod` (and
 * `production`, `version:1.0.0`) must be exactly the one with `--baseline baseline.onnx`: the same
 * flip rates, paired intervals and gate outcomes. Before any version holds prod the comparison is
 * skipped with a note; with the roles swapped, the gate `flip_rate <= baseline + 0.02` fails.
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { runCli } from '../../src/cli/main.js'
import type { ValidationResult } from '../../src/core/result/types.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const NAME = 'breast-cancer-logreg'
const GATE = 'degradation/flip_rate<=baseline+0.02'

async function cli(args: string[], cwd: string) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

async function json(args: string[], cwd: string): Promise<{ code: number; result: ValidationResult }> {
  const r = await cli(['robustness', ...args, '--json'], cwd)
  if (r.code > 1) throw new Error(`exit ${r.code}: ${r.stderr}`)
  return { code: r.code, result: JSON.parse(r.stdout) as ValidationResult }
}

/** The example in a fresh workspace: its model and data, a registry, and a small robustness run gated on the baseline. */
function workspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-robustness-baseline-'))
  cpSync(EXAMPLE, dir, { recursive: true })
  const example = parse(readFileSync(path.join(EXAMPLE, 'modelgate.yml'), 'utf8')) as { features: string[] }
  writeFileSync(
    path.join(dir, 'modelgate.yml'),
    [
      `name: ${NAME}`,
      'task: binary',
      'model: model.onnx',
      `features: [${example.features.join(', ')}]`,
      'label: target',
      'classes: [0, 1]',
      'positive-class: 1',
      'data: [{ name: test, path: data/test.csv }]',
      'registry:',
      '  uri: local:.modelgate/registry',
      '  stages: [staging, prod]',
      '  promotion: [staging, prod]',
      'robustness:',
      '  seed: 7',
      '  rows: 100',
      // The gate against the baseline decides the exit code, not the flip-fail rate.
      '  flip-fail: 0.5',
      '  flip-major: 0.6',
      '  perturbations:',
      '    - { kind: gaussian_noise, severity: 0.25 }',
      '    - { kind: shift, severity: [-0.1, 0.1] }',
      '  degradation: [flip_rate <= baseline + 0.02]',
      '  sensitivity: false',
      '  stress: false',
      '  determinism: false',
      '',
    ].join('\n'),
  )
  return dir
}

/** What must not depend on where the baseline came from: every figure of the comparison and of the checks. */
const comparison = (r: ValidationResult) => ({
  status: r.status,
  tests: r.robustness!.tests.map((t) => ({
    id: t.id,
    status: t.status,
    flipRate: t.flipRate,
    flipInterval: t.flipInterval,
    baseline: t.baseline,
    gate: t.gate,
    parameters: t.parameters,
  })),
  checks: r.checks.map((c) => ({ ...c, seconds: 0, message: '' })),
  clean: r.robustness!.baseline?.clean,
  digest: r.robustness!.baseline?.digest,
  rowsScored: r.robustness!.baseline?.rowsScored,
})

describe('modelgate robustness --baseline on the breast-cancer example', () => {
  let dir = ''
  beforeAll(() => {
    dir = workspace()
  })

  it('before any version holds prod: tests run as without a baseline, the gate is skipped, and the run says why', async () => {
    const { code, result } = await json(['--baseline', 'stage:prod'], dir)
    expect(code).toBe(0)
    expect(result.registryBaseline).toMatchObject({ name: NAME, ref: 'stage prod', stage: 'prod' })
    expect(result.registryBaseline!.version).toBeUndefined()
    expect(result.robustness!.baseline).toBeUndefined()
    expect(result.robustness!.tests.some((t) => t.baseline !== undefined)).toBe(false)
    expect(result.robustness!.tests.find((t) => t.id === GATE)).toMatchObject({
      status: 'skipped',
      message: `skipped: no version of ${NAME} holds stage prod yet`,
    })
    expect(result.notes).toContainEqual(
      expect.stringMatching(
        /^No production version yet: no version of breast-cancer-logreg holds stage prod in .*, so the robustness tests ran without a comparison/,
      ),
    )
    const text = await cli(['robustness', '--baseline', 'stage:prod'], dir)
    expect(text.stdout).toMatch(/^vs production: no production version yet \(.*\); change gates and comparisons were skipped$/m)
  }, 60_000)

  it('compares with the version holding prod exactly as with the file itself', async () => {
    const reg = await cli(['register', '--model', 'baseline.onnx', '--version', '1.0.0', '--stage', 'staging', '--quiet'], dir)
    expect([reg.code, reg.stderr]).toEqual([0, ''])
    const promote = await cli(['registry', 'promote', '1.0.0', 'prod', '--quiet'], dir)
    expect([promote.code, promote.stderr]).toEqual([0, ''])

    const byFile = await json(['--baseline', 'baseline.onnx'], dir)
    expect(byFile.code).toBe(0)
    const rob = byFile.result.robustness!
    expect(rob.baseline).toMatchObject({ against: 'the baseline', source: 'baseline.onnx', runner: 'onnx', rowsScored: 400 })
    const invariance = rob.tests.filter((t) => t.kind === 'invariance')
    expect(invariance).toHaveLength(3)
    for (const t of invariance) expect(t.baseline).toMatchObject({ differenceInterval: { method: 'newcombe-paired', confidence: 0.95 } })
    // model.onnx is the more robust of the two: the gate holds.
    expect(rob.tests.find((t) => t.id === GATE)).toMatchObject({ status: 'pass', violations: 0 })

    for (const ref of ['stage:prod', 'production', 'version:1.0.0']) {
      const byRegistry = await json(['--baseline', ref], dir)
      expect([ref, comparison(byRegistry.result)]).toEqual([ref, comparison(byFile.result)])
      expect(byRegistry.result.robustness!.baseline).toMatchObject({ source: `${NAME} 1.0.0`, digest: rob.baseline!.digest })
      expect(byRegistry.result.registryBaseline).toMatchObject({ name: NAME, version: '1.0.0', digest: rob.baseline!.digest })
    }

    // Words first, in the terminal and in the job summary.
    const text = await cli(['robustness', '--baseline', 'production', '--summary', 'summary.md'], dir)
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^vs production: breast-cancer-logreg 1\.0\.0 \(stage prod\) · sha256:[0-9a-f]{12}… · /m)
    expect(text.stdout).toMatch(
      /^note: Compared with production \(breast-cancer-logreg 1\.0\.0\) on the same 100 rows and the same perturbed inputs: more robust under /m,
    )
    const summary = readFileSync(path.join(dir, 'summary.md'), 'utf8')
    expect(summary).toContain('#### Against production: breast-cancer-logreg 1.0.0')
    expect(summary).toMatch(
      /^- ✔️ more robust than production under shift [−+]10% on 30 features: \d+\.\d% vs \d+\.\d%, −\d+\.\d points, 95% CI \[−/m,
    )
  }, 120_000)

  it('with the roles swapped the new model is less robust than production, and the gate fails the run', async () => {
    const r = await cli(['robustness', '--model', 'baseline.onnx', '--baseline', 'model.onnx', '--junit', 'junit.xml'], dir)
    expect(r.code).toBe(1)
    expect(r.stdout.split('\n')[0]).toBe(`FAILED: 1 check failed for ${NAME}`)
    expect(r.stdout).toMatch(
      /^ {2}FAIL {2}degradation\/flip_rate<=baseline\+0\.02: flip_rate <= baseline \+ 0\.02 breaks under \d of 3 perturbations; worst /m,
    )
    expect(r.stdout).toMatch(
      /^note: Compared with the baseline \(model\.onnx\) on the same 100 rows and the same perturbed inputs: less robust under gaussian noise σ = 0\.25·sd on 30 features \(\d+\.\d% vs \d+\.\d%, \+\d+\.\d points, 95% CI \[\+\d+\.\d, \+\d+\.\d\]\), under shift −10% on 30 features \(.*\) and under shift \+10% on 30 features \(/m,
    )
    const junit = readFileSync(path.join(dir, 'junit.xml'), 'utf8')
    expect(junit).toMatch(/<testcase [^>]*name="degradation\/flip_rate&lt;=baseline\+0\.02"[^>]*>\s*<failure /)
    expect(junit).toMatch(/threshold: flip_rate &lt;= baseline \+ 0\.02\nbaseline: 0\.\d+\nchange: \+0\.\d+/)
  }, 60_000)

  it('a previous report cannot be perturbed: a note, and the tests run without a comparison', async () => {
    writeFileSync(path.join(dir, 'previous.json'), '{}')
    const { code, result } = await json(['--baseline', 'previous.json'], dir)
    expect(code).toBe(0)
    expect(result.robustness!.baseline).toBeUndefined()
    expect(result.notes).toContainEqual(
      expect.stringMatching(/^The baseline \(previous\.json\) is a report, which cannot score perturbed rows/),
    )
    expect(result.robustness!.tests.find((t) => t.id === GATE)!.status).toBe('skipped')
  }, 60_000)
})
