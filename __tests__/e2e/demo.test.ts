import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { buildDemoModels } from '../../examples/breast-cancer/demo/models.js'
import { onnxSignature } from '../../src/core/registry/signature.js'

/*
 * `npm run demo` end to end: scripts/demo.mjs runs the bundled CLI through the whole lifecycle on the
 * breast-cancer example, here into a temporary folder (MODELGATE_DEMO_OUT) so the repository stays clean.
 */

const run = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const DEMO = path.join(EXAMPLE, 'demo')

async function demo(out: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'scripts/demo.mjs')], {
      cwd: ROOT,
      env: { ...process.env, MODELGATE_DEMO_OUT: out },
    })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('the demo models', () => {
  it('are what make-models writes, byte for byte', () => {
    const out = buildDemoModels(readFileSync(path.join(EXAMPLE, 'data/breast_cancer.csv'), 'utf8'))
    expect(Buffer.from(out.files['broken.onnx']).equals(readFileSync(path.join(DEMO, 'broken.onnx')))).toBe(true)
    expect(Buffer.from(out.files['unstable.onnx']).equals(readFileSync(path.join(DEMO, 'unstable.onnx')))).toBe(true)
    expect(out.summary.brokenAccuracy.toFixed(4)).toBe('0.9064')
    expect(out.summary.unstableAccuracy.toFixed(4)).toBe('0.9825')
  })

  it('have the example model’s signature, so they register as patches of it', () => {
    const example = onnxSignature(path.join(EXAMPLE, 'model.onnx'))
    expect(onnxSignature(path.join(DEMO, 'broken.onnx'))).toEqual(example)
    expect(onnxSignature(path.join(DEMO, 'unstable.onnx'))).toEqual(example)
  })
})

describe('npm run demo (scripts/demo.mjs)', () => {
  let out = ''
  let result: { code: number; stdout: string; stderr: string }
  let lines: string[] = []
  const line = (prefix: string) => lines.find((l) => l.startsWith(prefix)) ?? `(no line starting with ${prefix})`

  beforeAll(async () => {
    out = path.join(mkdtempSync(path.join(tmpdir(), 'modelgate-demo-')), 'demo-output')
    result = await demo(out)
    lines = result.stdout.split('\n')
  }, 180_000)

  afterAll(() => {
    // Only if the demo failed to stop it itself.
    const file = path.join(out, '.modelgate/environments/breast-cancer-logreg/staging/server.json')
    if (existsSync(file)) process.kill((JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid, 'SIGTERM')
  })

  it('exits 0 with every stage decided as expected', () => {
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^demo: every stage decided as expected \(\d+\.\d s\)$/m)
  })

  it('prints one line per decision, each with the exit code it got', () => {
    expect(line('a. validate baseline.onnx')).toMatch(/exit 0 {2}pass: accuracy 0\.9532, roc_auc 0\.9888; (\d+) of \1 checks passed$/)
    expect(line('a. register baseline.onnx')).toMatch(
      /exit 0 {2}1\.0\.0 \(explicit\), stage dev; evidence: validate-model pass, 20 golden requests$/,
    )
    expect(line('a. deploy 1.0.0 → staging')).toMatch(/exit 0 {2}success: deploy 100% pass; staging serves 1\.0\.0$/)
    expect(line('b. validate model.onnx')).toMatch(
      /exit 0 {2}pass: accuracy 0\.9825, roc_auc 0\.9899 \(baseline 0\.9532, 0\.9888\); (\d+) of \1 checks passed$/,
    )
    expect(line('b. robustness model.onnx')).toMatch(
      /exit 1 {2}fail: 2 of 20 tests failed: stress\/nan, stress\/missing \(stress value NaN broke the model in 30 of 30 features\)$/,
    )
    expect(line('b. register model.onnx')).toMatch(
      /exit 0 {2}1\.0\.1 \(patch bump from 1\.0\.0\), stage dev; evidence: validate-model pass, test-robustness fail, 20 golden requests$/,
    )
    expect(line('b. promote 1.0.1 → staging')).toMatch(/exit 0 {2}done: /)
    expect(line('b. deploy 1.0.1 → staging')).toMatch(
      /exit 0 {2}success: canary 10% pass, canary 50% pass, promote 100% pass; staging serves 1\.0\.1$/,
    )
    expect(line('c. promote 1.0.1 → prod')).toMatch(
      /exit 2 {2}refused: breast-cancer-logreg 1\.0\.1 cannot reach prod: its test-robustness report \(reports\/robustness-model\.json, stored with 1\.0\.1 as registry\/breast-cancer-logreg\/versions\/1\.0\.1\/evidence\/test-robustness\.json\) has status fail$/,
    )
    expect(line('d. validate demo/broken.onnx')).toMatch(
      /exit 1 {2}fail: accuracy 0\.9064, roc_auc 0\.8844 .*failed, among them accuracy >= 0\.95, roc_auc >= 0\.98$/,
    )
    expect(lines).toContainEqual(expect.stringMatching(/^d\. +stopped by the gates: broken\.onnx is not registered$/))
    expect(line('e. register demo/unstable.onnx')).toMatch(
      /exit 0 {2}1\.0\.2 \(patch bump from 1\.0\.1\), stage dev; evidence: no reports, 20 golden requests$/,
    )
    expect(line('e. deploy 1.0.2 → staging')).toMatch(
      /exit 1 {2}failure: canary 10% fail \(golden: \d+ of 20 golden rows answered differently .*\); rolled back to 1\.0\.1 \(verified\)$/,
    )
    expect(line('f. registry list')).toMatch(/exit 0 {2}3 versions; stages: .*staging → 1\.0\.1.*; prod: none$/)
    expect(line('f. staging server')).toMatch(/served 1\.0\.1 at http:\/\/127\.0\.0\.1:\d+; stopped \(pid \d+\)$/)
  })

  it('says what its files hold, and each line agrees with them', () => {
    // The refusal names the demo's report and the registry's copy of it: the same bytes.
    const copy = path.join(out, 'registry/breast-cancer-logreg/versions/1.0.1/evidence/test-robustness.json')
    expect(readFileSync(copy).equals(readFileSync(path.join(out, 'reports/robustness-model.json')))).toBe(true)
    // The registry lists golden requests as evidence; the register lines count them, and a note says what they are.
    const table = readFileSync(path.join(out, 'reports/registry-list.txt'), 'utf8')
    expect(table).toMatch(/^1\.0\.2 .* golden-requests:stored$/m)
    expect(lines).toContain(
      "     golden-requests: not a report but 20 rows with the version's own answers, stored by register for deploy to check servers against",
    )
    for (const v of ['1.0.0', '1.0.1', '1.0.2']) {
      const golden = path.join(out, `registry/breast-cancer-logreg/versions/${v}/evidence/golden-requests.json`)
      expect((JSON.parse(readFileSync(golden, 'utf8')) as { rows: unknown[] }).rows).toHaveLength(20)
    }
    // The logs hold each command with its exit code and all it printed: the CLI ran without --quiet.
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}logs {5}.*\/logs\/ {2}each command with its exit code and all it printed$/))
    const log = (prefix: string) => {
      const file = readdirSync(path.join(out, 'logs')).find((f) => f.startsWith(prefix))!
      return readFileSync(path.join(out, 'logs', file), 'utf8')
    }
    for (const f of readdirSync(path.join(out, 'logs'))) {
      const text = readFileSync(path.join(out, 'logs', f), 'utf8')
      expect(text).toMatch(/^# in .+, modelgate = node .+dist\/cli\/index\.js\n\$ modelgate \S.*\n# exit \d+\n\n# (stdout|stderr)\n./)
      expect(text).not.toContain('--quiet')
    }
    expect(log('04-validate-model')).toContain('\n# stdout\nPASSED: breast-cancer-logreg\n')
    expect(log('05-robustness-model')).toMatch(/\n# stdout\nFAILED: .*\n[^]*\nStress findings\n/)
    expect(log('09-promote-1.0.1-prod')).toContain('# exit 2\n\n# stderr\nmodelgate: breast-cancer-logreg 1.0.1 cannot reach prod: ')
    // The command line can be pasted back into a shell.
    expect(log('02-register-1.0.0')).toContain(" --description 'the production model: logistic regression on the 10 mean_* features' ")
  })

  it('leaves the reports, the manifests, the registry and the environment in the one folder, and no server running', () => {
    expect(readdirSync(path.join(out, 'reports')).sort()).toEqual([
      'deploy-1.0.0.json',
      'deploy-1.0.1.json',
      'deploy-1.0.2.json',
      'register-1.0.0.json',
      'register-1.0.1.json',
      'register-1.0.2.json',
      'registry-list.txt',
      'robustness-model.json',
      'validate-baseline.json',
      'validate-broken.json',
      'validate-model.json',
    ])
    const report = (f: string) => JSON.parse(readFileSync(path.join(out, 'reports', f), 'utf8')) as Record<string, unknown>
    expect(report('validate-model.json').status).toBe('pass')
    expect(report('robustness-model.json').status).toBe('fail')
    expect(report('validate-broken.json').status).toBe('fail')
    expect(report('deploy-1.0.2.json')).toMatchObject({ status: 'failure', rolledBack: true, rolledBackTo: '1.0.1' })
    expect(readdirSync(path.join(out, 'registry/breast-cancer-logreg/versions')).sort()).toEqual(['1.0.0', '1.0.1', '1.0.2'])
    expect(existsSync(path.join(out, 'modelgate.yml'))).toBe(true)
    expect(readdirSync(path.join(out, 'logs'))).toHaveLength(14)
    const env = path.join(out, '.modelgate/environments/breast-cancer-logreg/staging')
    expect(existsSync(path.join(env, 'state.json'))).toBe(true)
    expect(existsSync(path.join(env, 'server.json'))).toBe(false)
    const pid = Number(/stopped \(pid (\d+)\)/.exec(result.stdout)?.[1])
    expect(alive(pid)).toBe(false)
  })
})

describe('the demo output folder', () => {
  it('is not wiped when the demo did not make it', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'modelgate-demo-foreign-'))
    mkdirSync(path.join(out, 'precious'))
    writeFileSync(path.join(out, 'precious/notes.txt'), 'keep me')
    const r = await demo(out)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/exists and was not made by the demo; remove it or set MODELGATE_DEMO_OUT/)
    expect(readFileSync(path.join(out, 'precious/notes.txt'), 'utf8')).toBe('keep me')
  })
})
