/*
 * Each action run from its TypeScript source entry (src/actions/<name>/index.ts, which exports run())
 * under GitHub's @github/local-action, as `npm run local-action -- <action> <env file>` does: its
 * @actions/* stubs, the inputs from a dotenv file, the action.yml of the action beside it.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse, stringify } from 'yaml'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')

function workspace(): string {
  const ws = mkdtempSync(path.join(tmpdir(), 'mg-local-action-'))
  for (const f of ['model.onnx', 'data/test.csv']) {
    mkdirSync(path.dirname(path.join(ws, f)), { recursive: true })
    cpSync(path.join(EXAMPLE, f), path.join(ws, f))
  }
  const { features } = parse(readFileSync(path.join(EXAMPLE, 'modelgate.yml'), 'utf8')) as { features: string[] }
  writeFileSync(
    path.join(ws, 'modelgate.yml'),
    stringify({
      name: 'bc',
      task: 'binary',
      model: 'model.onnx',
      features,
      label: 'target',
      classes: [0, 1],
      'positive-class': 1,
      data: 'data/test.csv',
      thresholds: ['accuracy >= 0.9'],
      registry: { uri: 'local:.modelgate/registry', promotion: ['staging', 'prod'] },
    }),
  )
  return ws
}

/** Runs one action from source; its outputs as the stubbed @actions/core printed them, and the summary. */
function localAction(action: string, ws: string, inputs: Record<string, string>) {
  const summary = path.join(ws, `${action}-summary.md`)
  writeFileSync(summary, '')
  const env = path.join(ws, `${action}.env`)
  const lines = {
    GITHUB_WORKSPACE: ws,
    GITHUB_STEP_SUMMARY: summary,
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
  }
  writeFileSync(
    env,
    Object.entries(lines)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  )
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/local-action.mjs'), action, env], {
    cwd: ws,
    encoding: 'utf8',
    timeout: 120_000,
  })
  const outputs: Record<string, string> = {}
  for (const m of r.stdout.matchAll(/^::set-output name=([^:]+)::(.*)$/gm)) outputs[m[1]!] = m[2]!
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, outputs, summary: readFileSync(summary, 'utf8') }
}

describe('the actions under @github/local-action, from their source entries', () => {
  const ws = workspace()

  it('validate-model', () => {
    const r = localAction('validate-model', ws, { comment: 'false' })
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.outputs).toMatchObject({ status: 'pass', passed: 'true', 'report-path': path.join(ws, 'modelgate-report.json') })
    expect(r.summary).toContain('modelgate validate-model: bc')
  })

  it('test-robustness', () => {
    const r = localAction('test-robustness', ws, { comment: 'false', rows: '60', 'report-path': 'robustness.json' })
    // Its verdict is the manifest's to decide; what is tested here is that the step ran and reported it.
    expect(r.outputs.status).toMatch(/^(pass|warn|fail)$/)
    expect(Number(r.outputs['flip-rate'])).toBeGreaterThanOrEqual(0)
    expect(JSON.parse(readFileSync(r.outputs['report-path']!, 'utf8')).robustness.tests.length).toBeGreaterThan(0)
  })

  it('register-version, then deploy-model (dry run)', () => {
    const reg = localAction('register-version', ws, { stage: 'staging' })
    expect(reg.outputs).toMatchObject({ version: '1.0.0', created: 'true', stage: 'staging' })
    const dep = localAction('deploy-model', ws, { environment: 'staging', stage: 'staging', 'dry-run': 'true', deployment: 'false' })
    expect(dep.outputs).toMatchObject({ version: '1.0.0', status: 'dry-run' })
    expect(dep.summary).toContain('bc')
  })

  it('the root pipeline', () => {
    const r = localAction('pipeline', ws, { stages: 'validate', comment: 'false', 'report-dir': 'reports' })
    expect(r.outputs).toMatchObject({ 'validate-status': 'pass', status: 'pass' })
  })
})
