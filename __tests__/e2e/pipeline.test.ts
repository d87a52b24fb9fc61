import { describe, it, expect, afterAll } from '@jest/globals'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT, runActionOutside } from '../helpers/action-harness.js'
import { tmp } from '../registry/conformance.js'
import { stopEnvironmentServers } from '../helpers/servers.js'

/* The root action as the runner runs it: the lifecycle stages in one step, each handing its results on. */

const CONFIG = path.join(ROOT, 'examples/breast-cancer/modelgate.yml')
const workspaces: string[] = []

afterAll(() => workspaces.forEach(stopEnvironmentServers))

describe('the root action: validate → robustness → register → deploy', () => {
  it('its version input (the version to deploy) does not change what the register stage registers', async () => {
    const ws = tmp('mg-pipeline-version-')
    const r = await runActionOutside(
      '.',
      {
        stages: 'validate,register',
        config: CONFIG,
        'fail-on': 'never',
        registry: `local:${path.join(ws, 'registry')}`,
        version: '9.9.9',
        comment: 'false',
      },
      { GITHUB_WORKSPACE: ws },
    )
    expect(r.code).toBe(0)
    expect(r.outputs.version).toBe('1.0.0')
  })

  it('compares the validate stage with the version in production, named by stage, from the registry input', async () => {
    const ws = tmp('mg-pipeline-prod-')
    const registry = `local:${path.join(ws, 'registry')}`
    const production = await runActionOutside(
      'register-version',
      { config: CONFIG, model: path.join(ROOT, 'examples/breast-cancer/baseline.onnx'), registry, version: '1.0.0', stage: 'prod' },
      { GITHUB_WORKSPACE: ws },
    )
    expect(production.code).toBe(0)
    const r = await runActionOutside(
      '.',
      { stages: 'validate', config: CONFIG, baseline: 'stage:prod', registry, comment: 'false' },
      { GITHUB_WORKSPACE: ws },
    )
    expect(r.code).toBe(0)
    const report = JSON.parse(readFileSync(r.outputs['validate-report'], 'utf8')) as {
      registryBaseline?: { version?: string }
      comparisons?: unknown[]
    }
    expect(report.registryBaseline?.version).toBe('1.0.0')
    expect(report.comparisons?.length).toBeGreaterThan(0)
    expect(r.summary).toMatch(/\*\*vs production:\*\* breast-cancer-logreg 1\.0\.0 \(stage prod\)/)
  })

  it('runs every stage, attaches both reports as evidence, deploys the version it registered', async () => {
    const ws = tmp('mg-pipeline-')
    workspaces.push(ws)
    const r = await runActionOutside(
      '.',
      {
        stages: 'validate,robustness,register,deploy',
        config: CONFIG,
        // The example's robustness run finds real weaknesses: reported, not blocking here.
        'fail-on': 'never',
        registry: `local:${path.join(ws, 'registry')}`,
        environment: 'pipe',
        deployment: 'false',
        comment: 'false',
      },
      { GITHUB_WORKSPACE: ws },
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.outputs).toMatchObject({
      status: 'pass',
      'validate-status': 'pass',
      'robustness-status': 'fail',
      version: '1.0.0',
      created: 'true',
      'deploy-status': 'success',
      'rolled-back': 'false',
      'validate-report': path.join(ws, 'modelgate-reports/validate.json'),
      'robustness-report': path.join(ws, 'modelgate-reports/robustness.json'),
    })
    const register = JSON.parse(readFileSync(r.outputs['register-report']!, 'utf8'))
    expect(register.record.evidence.map((e: { kind: string; status: string }) => `${e.kind}:${e.status}`)).toEqual([
      'validate-model:pass',
      'test-robustness:fail',
      'golden-requests:pass',
    ])
    const deploy = JSON.parse(readFileSync(r.outputs['deploy-report']!, 'utf8'))
    expect(deploy).toMatchObject({ version: '1.0.0', status: 'success', digest: register.digest })
    for (const heading of [
      'modelgate validate-model',
      'modelgate test-robustness',
      'modelgate register-version',
      'modelgate deploy-model',
    ]) {
      expect(r.summary).toContain(heading)
    }
  }, 180_000)

  it('stops at the first failed stage: nothing is registered or deployed', async () => {
    const ws = tmp('mg-pipeline-')
    const r = await runActionOutside(
      '.',
      {
        stages: 'validate,register,deploy',
        config: CONFIG,
        thresholds: 'accuracy >= 0.999',
        registry: `local:${path.join(ws, 'registry')}`,
        environment: 'pipe',
        comment: 'false',
      },
      { GITHUB_WORKSPACE: ws },
    )
    expect(r.code).toBe(1)
    expect(r.outputs.status).toBe('fail')
    expect(r.outputs['validate-status']).toBe('fail')
    expect(r.outputs.version).toBeUndefined()
    expect(existsSync(path.join(ws, 'registry'))).toBe(false)
    const errors = r.commands.filter((c) => c.command === 'error').map((c) => c.message)
    expect(errors).toContain('modelgate: the validate stage failed; not run: register, deploy')
  }, 60_000)

  it('refuses a deploy stage without an environment before running any stage', async () => {
    const ws = tmp('mg-pipeline-')
    const r = await runActionOutside('.', { stages: 'validate,deploy', config: CONFIG }, { GITHUB_WORKSPACE: ws })
    expect(r.code).toBe(2)
    expect(r.commands.filter((c) => c.command === 'error').map((c) => c.message)).toEqual([
      'input environment is required when stages include deploy (e.g. environment: staging); no stage was run',
    ])
    expect(existsSync(path.join(ws, 'modelgate-reports'))).toBe(false)
  })

  it.each([
    [
      'validate,teleport',
      "input stages: unknown stage 'teleport'; use validate, robustness, register, deploy (comma-separated, in that order)",
    ],
    ['deploy,register', "input stages: 'deploy,register' is out of order; stages run as validate → robustness → register → deploy"],
  ])('refuses stages %s with exit 2', async (stages, message) => {
    const r = await runActionOutside('.', { stages, config: CONFIG }, { GITHUB_WORKSPACE: tmp('mg-pipeline-') })
    expect(r.code).toBe(2)
    expect(r.commands.filter((c) => c.command === 'error').map((c) => c.message)).toEqual([message])
  })
})
