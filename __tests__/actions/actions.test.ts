/*
 * The five actions from source, in the one frame (src/actions/frame.ts), with an in-memory ActionIO:
 * what each reads, what it writes and says, and its exit code, without the committed dist/ bundle
 * (the e2e tests run that one as the runner does).
 */
import { describe, expect, it } from '@jest/globals'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse, stringify } from 'yaml'
import { runValidateAction } from '../../src/actions/validate-model/main.js'
import { runRobustnessAction } from '../../src/actions/test-robustness/main.js'
import { runRegisterAction } from '../../src/actions/register-version/main.js'
import { runDeployAction } from '../../src/actions/deploy-model/main.js'
import { runPipelineAction } from '../../src/actions/pipeline/main.js'
import { runAction, type ActionSpec, type FrameInputs } from '../../src/actions/frame.js'
import { UserError } from '../../src/core/errors.js'
import { memoryIO } from '../helpers/memory-io.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const context = { tool: 'modelgate', version: 'test' }

/** A workspace holding the breast-cancer example's model and data, and a manifest over them. */
function workspace(extra: Record<string, unknown> = {}): string {
  const ws = mkdtempSync(path.join(tmpdir(), 'mg-actions-'))
  for (const f of ['model.onnx', 'baseline.onnx', 'data/test.csv']) {
    mkdirSync(path.dirname(path.join(ws, f)), { recursive: true })
    cpSync(path.join(EXAMPLE, f), path.join(ws, f))
  }
  const example = parse(readFileSync(path.join(EXAMPLE, 'modelgate.yml'), 'utf8')) as { features: string[] }
  const manifest = {
    name: 'bc',
    task: 'binary',
    model: 'model.onnx',
    features: example.features,
    label: 'target',
    classes: [0, 1],
    'positive-class': 1,
    data: 'data/test.csv',
    thresholds: ['accuracy >= 0.9'],
    registry: { uri: 'local:.modelgate/registry', promotion: ['staging', 'prod'] },
    ...extra,
  }
  writeFileSync(path.join(ws, 'modelgate.yml'), stringify(manifest))
  return ws
}

/** Every file under `dir`, relative, but the registry's and the environments' own. */
function files(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => !f.startsWith('.modelgate')).sort()
}

describe('validate-model from source', () => {
  it('validates, writes the report and JUnit together, and sets its outputs', async () => {
    const ws = workspace()
    const m = memoryIO({ 'report-path': 'out/report.json', 'junit-path': 'out/junit.xml', comment: 'true' })
    const code = await runValidateAction({ io: m.io, workspace: ws, context })
    expect(code).toBe(0)
    expect(m.said.failed).toEqual([])
    expect(Object.keys(m.said.outputs)).toEqual(['status', 'passed', 'metrics', 'report-path'])
    expect(m.said.outputs).toMatchObject({ status: 'pass', passed: 'true', 'report-path': path.join(ws, 'out/report.json') })
    expect(JSON.parse(m.said.outputs.metrics!).accuracy).toBeGreaterThan(0.9)
    expect(JSON.parse(readFileSync(path.join(ws, 'out/report.json'), 'utf8')).status).toBe('pass')
    expect(readFileSync(path.join(ws, 'out/junit.xml'), 'utf8')).toContain('<testsuites')
    expect(m.said.summary).toContain('modelgate validate-model: bc')
  })

  it('fails its gate with exit 1 and names the check', async () => {
    const ws = workspace({ thresholds: ['accuracy >= 0.999'] })
    const m = memoryIO({ comment: 'false' })
    expect(await runValidateAction({ io: m.io, workspace: ws, context })).toBe(1)
    expect(m.said.failed).toEqual([
      { message: expect.stringMatching(/^validate-model: 1 check\(s\) failed: threshold\/test\/accuracy>=0.999$/), code: 1 },
    ])
    expect(m.said.outputs).toMatchObject({ status: 'fail', passed: 'false' })
  })

  it('refuses bad input with exit 2 and one message, writes only the error JUnit, and masks the token', async () => {
    const ws = workspace()
    const before = files(ws)
    const m = memoryIO({ 'fail-on': 'sometimes', 'junit-path': 'junit.xml', 'github-token': 'ghs_secret_of_the_test_0123456789' })
    expect(await runValidateAction({ io: m.io, workspace: ws, context })).toBe(2)
    expect(m.said.failed).toEqual([{ message: 'input fail-on: "sometimes" is not one of fail, warn, never', code: 2 }])
    expect(m.said.outputs).toEqual({ status: 'error', passed: 'false' })
    expect(files(ws)).toEqual([...before, 'junit.xml'].sort())
    expect(m.said.secrets).toContain('ghs_secret_of_the_test_0123456789')
    expect(m.everything()).not.toContain('ghs_secret_of_the_test_0123456789')
  })
})

describe('test-robustness from source', () => {
  it('runs the tests and reports the worst flip rate', async () => {
    const ws = workspace({ robustness: { rows: 60, seed: 7 } })
    const m = memoryIO({ comment: 'false', 'report-path': 'robustness.json' })
    const code = await runRobustnessAction({ io: m.io, workspace: ws, context })
    // The example model is not hardened against NaN inputs: its stress checks fail, and the step with them.
    expect(code).toBe(1)
    expect(m.said.failed).toEqual([{ message: 'test-robustness: 2 check(s) failed: stress/nan, stress/missing', code: 1 }])
    expect(Object.keys(m.said.outputs)).toEqual(['status', 'passed', 'flip-rate', 'report-path'])
    expect(Number(m.said.outputs['flip-rate'])).toBeGreaterThanOrEqual(0)
    expect(JSON.parse(readFileSync(path.join(ws, 'robustness.json'), 'utf8')).robustness).toBeDefined()
  })
})

describe('register-version and deploy-model from source', () => {
  it('registers a version, then deploys it (dry run) and records both reports', async () => {
    const ws = workspace()
    const reg = memoryIO({ stage: 'staging', token: 'registry_token_of_the_test_0123' })
    expect(await runRegisterAction({ io: reg.io, workspace: ws, context })).toBe(0)
    expect(reg.said.failed).toEqual([])
    expect(Object.keys(reg.said.outputs)).toEqual(['version', 'digest', 'uri', 'tag', 'created', 'stage', 'report-path'])
    expect(reg.said.outputs).toMatchObject({ version: '1.0.0', created: 'true', stage: 'staging' })
    expect(reg.said.secrets).toEqual(['registry_token_of_the_test_0123'])
    expect(JSON.parse(readFileSync(path.join(ws, 'modelgate-register.json'), 'utf8')).version).toBe('1.0.0')

    const dep = memoryIO({ environment: 'staging', stage: 'staging', 'dry-run': 'true' })
    expect(await runDeployAction({ io: dep.io, workspace: ws, context })).toBe(0)
    expect(dep.said.failed).toEqual([])
    expect(dep.said.outputs).toMatchObject({ version: '1.0.0', status: 'dry-run', 'rolled-back': 'false' })
    expect(JSON.parse(readFileSync(path.join(ws, 'modelgate-deploy.json'), 'utf8')).status).toBe('dry-run')
  })

  it('refuses a report path over the model, before anything is registered', async () => {
    const ws = workspace()
    const m = memoryIO({ 'report-path': 'model.onnx' })
    expect(await runRegisterAction({ io: m.io, workspace: ws, context })).toBe(2)
    expect(m.said.failed[0]!.message).toMatch(/^input report-path .*model\.onnx: is the model, which this run reads/)
    expect(existsSync(path.join(ws, '.modelgate'))).toBe(false)
  })

  it('refuses deploy-model without an environment (exit 2)', async () => {
    const m = memoryIO({})
    expect(await runDeployAction({ io: m.io, workspace: workspace(), context })).toBe(2)
    expect(m.said.failed[0]!.message).toBe('input environment is required (e.g. staging)')
  })
})

describe('the pipeline from source', () => {
  it('runs validate and register through the same specs, the report the evidence of the version', async () => {
    const ws = workspace()
    const m = memoryIO({ stages: 'validate,register', comment: 'false' })
    expect(await runPipelineAction({ io: m.io, workspace: ws, context })).toBe(0)
    expect(m.said.failed).toEqual([])
    expect(m.said.outputs).toMatchObject({ 'validate-status': 'pass', version: '1.0.0', status: 'pass' })
    expect(m.said.outputs['validate-report']).toBe(path.join(ws, 'modelgate-reports/validate.json'))
    const register = JSON.parse(readFileSync(path.join(ws, 'modelgate-reports/register.json'), 'utf8'))
    expect(register.record.evidence[0]).toMatchObject({ kind: 'validate-model', status: 'pass' })
  })

  it('stops at a failing stage and says which did not run', async () => {
    const ws = workspace({ thresholds: ['accuracy >= 0.999'] })
    const m = memoryIO({ stages: 'validate,register', comment: 'false' })
    expect(await runPipelineAction({ io: m.io, workspace: ws, context })).toBe(1)
    expect(m.said.failed).toEqual([{ message: 'modelgate: the validate stage failed; not run: register', code: 1 }])
    expect(m.said.outputs.status).toBe('fail')
    expect(existsSync(path.join(ws, 'modelgate-reports/register.json'))).toBe(false)
  })
})

describe('the frame', () => {
  interface Inputs extends FrameInputs {
    fail?: 'user' | 'bug'
  }
  const spec = (ws: string): ActionSpec<Inputs, string> => ({
    name: 'toy',
    readInputs: (io) => ({
      secrets: [io.getInput('token')].filter(Boolean),
      allowOutsideWorkspace: false,
      fail: (io.getInput('fail') || undefined) as Inputs['fail'],
    }),
    async run(inputs, step) {
      step.staged.write(path.join(ws, 'a.txt'), 'a')
      if (inputs.fail === 'user') throw new UserError(`bad input ${step.io.getInput('token')}`)
      if (inputs.fail === 'bug') throw new TypeError('a bug')
      step.staged.write(path.join(ws, 'b.txt'), 'b')
      return 'done'
    },
    summary: (r) => `summary ${r}`,
    outputs: (r) => ({ result: r }),
    failure: () => undefined,
  })

  it('masks the secrets, commits the staged files, writes the summary and the outputs', async () => {
    const ws = mkdtempSync(path.join(tmpdir(), 'mg-frame-'))
    const m = memoryIO({ token: 'tok_of_the_frame_test_012345' })
    expect(await runAction({ io: m.io, workspace: ws, context }, spec(ws))).toBe(0)
    expect(m.said.secrets).toEqual(['tok_of_the_frame_test_012345'])
    expect(readdirSync(ws).sort()).toEqual(['a.txt', 'b.txt'])
    expect(m.said.summary).toBe('summary done')
    expect(m.said.outputs).toEqual({ result: 'done' })
  })

  it('writes nothing when the run fails, says exit 2 for the input and scrubs the secret', async () => {
    const ws = mkdtempSync(path.join(tmpdir(), 'mg-frame-'))
    const m = memoryIO({ token: 'tok_of_the_frame_test_012345', fail: 'user' })
    expect(await runAction({ io: m.io, workspace: ws, context }, spec(ws))).toBe(2)
    expect(readdirSync(ws)).toEqual([])
    expect(m.said.failed).toEqual([{ message: 'bad input ***', code: 2 }])
    expect(m.everything()).not.toContain('tok_of_the_frame_test_012345')
  })

  it('calls a bug a bug: exit 1 with the stack', async () => {
    const ws = mkdtempSync(path.join(tmpdir(), 'mg-frame-'))
    const m = memoryIO({ fail: 'bug' })
    expect(await runAction({ io: m.io, workspace: ws, context }, spec(ws))).toBe(1)
    expect(m.said.failed[0]!.message).toMatch(/^toy: internal error: a bug\n.*TypeError/s)
  })

  it('turns a summary that cannot be written into one warning, not an error', async () => {
    const ws = mkdtempSync(path.join(tmpdir(), 'mg-frame-'))
    const m = memoryIO({})
    m.io.appendSummary = async () => {
      throw new Error('no GITHUB_STEP_SUMMARY')
    }
    expect(await runAction({ io: m.io, workspace: ws, context }, spec(ws))).toBe(0)
    expect(m.said.warnings).toEqual([
      "Could not write the job summary (no GITHUB_STEP_SUMMARY); the report file and the step's outputs carry the result.",
    ])
  })
})
