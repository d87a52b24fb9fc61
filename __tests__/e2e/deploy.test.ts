import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { execFile, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { ROOT, runActionOutside } from '../helpers/action-harness.js'
import { outside } from '../helpers/workspace.js'
import { tmp } from '../registry/conformance.js'
import { noisyModel, slowModel, unloadableModel } from '../helpers/faulty-models.js'
import type { DeployResult } from '../../src/core/deploy/run.js'
import { FakeGitHubApi } from '../helpers/github-api.js'
import { stopEnvironmentServers } from '../helpers/servers.js'

/*
 * deploy-model for real: the bundled CLI in child processes and the bundled action, a local registry,
 * and the local target (modelgate serve, started by the deploy itself). Versions: 1.0.0 the baseline,
 * 1.0.1 the example model, then models that fail as deploys fail: noisy outputs, never ready, slow.
 */

const run = promisify(execFile)
const CLI = path.join(ROOT, 'dist/cli/index.js')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const NAME = 'breast-cancer-logreg'

let ws = ''
const envDir = (env: string) => path.join(ws, '.modelgate/environments', NAME, env)

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...outside(args)], { cwd: ws })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

async function deploy(args: string[]): Promise<{ code: number; result: DeployResult; stderr: string }> {
  const r = await cli(['deploy', '--json', ...args])
  let result: DeployResult
  try {
    result = JSON.parse(r.stdout) as DeployResult
  } catch {
    throw new Error(`deploy printed no result (exit ${r.code}): ${r.stderr}`)
  }
  return { code: r.code, result, stderr: r.stderr }
}

async function served(env = 'staging'): Promise<{ versions: { version: string; role: string; digest: string; percent: number }[] }> {
  const info = JSON.parse(readFileSync(path.join(envDir(env), 'server.json'), 'utf8')) as { url: string }
  const res = await fetch(`${info.url}/v2/models/${NAME}/modelgate`)
  return (await res.json()) as { versions: { version: string; role: string; digest: string; percent: number }[] }
}

const stage = async (s: string) => JSON.parse((await cli(['registry', 'list', '--json'])).stdout).stages.current[s] as string | undefined

beforeAll(async () => {
  ws = tmp('modelgate-deploy-')
  const manifest = readFileSync(path.join(EXAMPLE, 'modelgate.yml'), 'utf8')
    .replace(/^(model|baseline): (\S+)/gm, (_m, k: string, v: string) => `${k}: ${path.join(EXAMPLE, v)}`)
    .replace(/path: (\S+)/g, (_m, v: string) => `path: ${path.join(EXAMPLE, v)}`)
    .replace(/contract: (\S+)/, (_m, v: string) => `contract: ${path.join(EXAMPLE, v)}`)
  writeFileSync(
    path.join(ws, 'modelgate.yml'),
    `${manifest}
registry:
  uri: local:registry
deploy:
  timeout: 15
  environments:
    staging:
      canary: [10, 50]
    prod:
      requires-stage: staging
      requires-evidence: [validate-model]
    action: {}
  verify:
    burst: 20
`,
  )
  for (const model of [path.join(EXAMPLE, 'baseline.onnx'), path.join(EXAMPLE, 'model.onnx')]) {
    const r = await cli(['register', '--model', model, '--quiet'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
  }
}, 120_000)

afterAll(() => stopEnvironmentServers(ws))

describe('modelgate deploy to the local target', () => {
  it('deploys the first version straight to 100%, verified, and moves the stage', async () => {
    const { code, result } = await deploy(['--environment', 'staging', '--version', '1.0.0'])
    expect(code).toBe(0)
    expect(result).toMatchObject({ status: 'success', version: '1.0.0', rolledBack: false, environment: 'staging' })
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([['deploy 100%', 'pass']])
    expect(result.steps[0]!.verify!.checks.map((c) => `${c.id}:${c.status}`)).toEqual([
      'ready:pass',
      'identity:pass',
      'golden:pass',
      'burst:pass',
    ])
    expect(result.steps[0]!.verify!.golden).toMatchObject({ rows: 20, mismatches: 0 })
    expect(result.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(await stage('staging')).toBe('1.0.0')
    expect((await served()).versions).toEqual([{ version: '1.0.0', role: 'stable', digest: result.digest, percent: 100 }])
  }, 60_000)

  it('steps a canary through 10% and 50%, verifying the candidate against the current version, then promotes', async () => {
    const { code, result } = await deploy(['--environment', 'staging', '--version', '1.0.1'])
    expect(code).toBe(0)
    expect(result.previous?.version).toBe('1.0.0')
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([
      ['canary 10%', 'pass'],
      ['canary 50%', 'pass'],
      ['promote 100%', 'pass'],
    ])
    // Between steps the candidate is addressed on its own route.
    expect(result.steps[0]!.verify!.url).toMatch(/\/v2\/models\/breast-cancer-logreg\/versions\/1\.0\.1$/)
    expect(await stage('staging')).toBe('1.0.1')
    expect((await served()).versions.map((v) => v.version)).toEqual(['1.0.1'])
  }, 60_000)

  it('a dry run renders the plan and leaves the environment as it was', async () => {
    const before = readFileSync(path.join(envDir('staging'), 'state.json'), 'utf8')
    const { code, result } = await deploy(['--environment', 'staging', '--version', '1.0.0', '--dry-run'])
    expect(code).toBe(0)
    expect(result.status).toBe('dry-run')
    expect(result.steps.map((s) => s.name)).toEqual(['canary 10%', 'canary 50%', 'promote 100%'])
    expect(readFileSync(path.join(envDir('staging'), 'state.json'), 'utf8')).toBe(before)
  }, 60_000)

  it.each([
    ['serves wrong outputs (noise on every call)', noisyModel, [], /golden: \d+ of 20 golden rows answered differently/],
    ['never gets ready (an operator no runtime has)', unloadableModel, [], /the server refused generation \d+: .*could not load/],
    [
      'is slow (2 GFLOP per request)',
      slowModel,
      ['--p95-latency-ms', '250'],
      /p95 latency [\d.]+ ms exceeds 250 ms|burst: .*p95 [\d.]+ ms \(budget 250 ms\)/,
    ],
  ] as const)(
    'rolls back a candidate that %s, and verifies the rollback',
    async (_label, make, extra, why) => {
      const file = make(path.join(tmp(), 'candidate.onnx'))
      const reg = await cli(['register', '--model', file, '--json'])
      expect(reg.code).toBe(0)
      const version = JSON.parse(reg.stdout).version as string
      const { code, result } = await deploy(['--environment', 'staging', '--version', version, ...extra])
      expect(code).toBe(1)
      expect(result.status).toBe('failure')
      expect(result.rolledBack).toBe(true)
      expect(result.rolledBackTo).toBe('1.0.1')
      const failed = result.steps.find((s) => s.status === 'fail')!
      expect(failed.name).toBe('canary 10%')
      expect(failed.message).toMatch(why)
      const rollback = result.steps.at(-1)!
      expect(rollback).toMatchObject({ name: 'roll back to 1.0.1', status: 'pass' })
      expect(rollback.verify!.checks.every((c) => c.status === 'pass')).toBe(true)
      expect(await stage('staging')).toBe('1.0.1')
      expect((await served()).versions.map((v) => v.version)).toEqual(['1.0.1'])
    },
    90_000,
  )

  it('brings the environment back when its server dies in the middle of a canary', async () => {
    const child = spawn(
      process.execPath,
      [CLI, ...outside(['deploy', '--environment', 'staging', '--version', '1.0.0', '--timeout', '5', '--json'])],
      {
        cwd: ws,
      },
    )
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    const stateFile = path.join(envDir('staging'), 'state.json')
    // Kill the server as soon as the canary is written.
    for (let i = 0; i < 500; i++) {
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { canary?: unknown }
      if (state.canary) break
      await new Promise((r) => setTimeout(r, 10))
    }
    const victim = (JSON.parse(readFileSync(path.join(envDir('staging'), 'server.json'), 'utf8')) as { pid: number }).pid
    process.kill(victim, 'SIGKILL')
    const code = await new Promise<number | null>((r) => child.on('close', r))
    const result = JSON.parse(stdout) as DeployResult
    expect(code).toBe(1)
    expect(result.rolledBack).toBe(true)
    expect(result.rolledBackTo).toBe('1.0.1')
    expect(result.steps.at(-1)).toMatchObject({ name: 'roll back to 1.0.1', status: 'pass' })
    const now = JSON.parse(readFileSync(path.join(envDir('staging'), 'server.json'), 'utf8')) as { pid: number }
    expect(now.pid).not.toBe(victim)
    expect((await served()).versions.map((v) => v.version)).toEqual(['1.0.1'])
  }, 90_000)

  it('refuses with exit 2 and changes nothing: a stage never held, missing evidence, a tampered artifact, an unknown version', async () => {
    const state = readFileSync(path.join(envDir('staging'), 'state.json'), 'utf8')
    const notHeld = await cli(['deploy', '--environment', 'prod', '--version', '1.0.0'])
    expect(notHeld.code).toBe(2)
    expect(notHeld.stderr.trim()).toBe(
      'modelgate: breast-cancer-logreg 1.0.0 cannot be deployed to prod: it has no validate-model report as evidence',
    )
    const unknown = await cli(['deploy', '--environment', 'staging', '--version', '9.9.9'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('breast-cancer-logreg has no version 9.9.9')
    const stored = path.join(ws, 'registry', NAME, 'versions', '1.0.0', 'artifact', 'baseline.onnx')
    const bytes = readFileSync(stored)
    writeFileSync(stored, bytes.subarray(0, bytes.length - 10))
    try {
      const tampered = await cli(['deploy', '--environment', 'staging', '--version', '1.0.0'])
      expect(tampered.code).toBe(2)
      expect(tampered.stderr).toMatch(/does not match the recorded sha256:80c1f6d3\w+: the file changed or was tampered with/)
    } finally {
      writeFileSync(stored, bytes)
    }
    expect(readFileSync(path.join(envDir('staging'), 'state.json'), 'utf8')).toBe(state)
  }, 60_000)

  it('refuses an environment the manifest does not declare (a typo must not deploy to a default server)', async () => {
    const r = await cli(['deploy', '--environment', 'prdo', '--version', '1.0.1'])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(
      "modelgate: --environment: unknown environment 'prdo'; modelgate.yml declares staging, prod, action (deploy.environments)",
    )
    expect(existsSync(envDir('prdo'))).toBe(false)
  }, 30_000)

  it('modelgate serve --stop stops the environment, and says so when nothing runs', async () => {
    const info = JSON.parse(readFileSync(path.join(envDir('staging'), 'server.json'), 'utf8')) as { url: string }
    const state = path.join(envDir('staging'), 'state.json')
    const stopped = await cli(['serve', '--stop', '--state', state])
    expect(stopped.code).toBe(0)
    expect(stopped.stderr.trim()).toMatch(/^modelgate serve: stopped http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)$/)
    await expect(fetch(`${info.url}/v2/health/live`)).rejects.toThrow()
    const again = await cli(['serve', '--stop', '--state', state])
    expect(again.stderr.trim()).toBe(`modelgate serve: no server is running (${path.join(envDir('staging'), 'server.json')} not found)`)
  }, 60_000)
})

describe('deploy-model action (dist, as the runner runs it)', () => {
  it('deploys, sets its outputs and writes the summary', async () => {
    const r = await runActionOutside(
      'deploy-model',
      { environment: 'action', version: '1.0.1', config: path.join(ws, 'modelgate.yml'), deployment: 'false' },
      { GITHUB_WORKSPACE: ws },
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.outputs).toMatchObject({
      version: '1.0.1',
      status: 'success',
      'rolled-back': 'false',
      'report-path': path.join(ws, 'modelgate-deploy.json'),
    })
    expect(r.outputs.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(r.summary).toContain('## 🚀 modelgate deploy-model: breast-cancer-logreg 1.0.1 deployed to action and verified')
    expect(r.summary).toContain('| ✅ | deploy 100% |')
  }, 60_000)

  it('records the deployment in GitHub Deployments: in progress, then success with the environment and log URLs', async () => {
    const api = new FakeGitHubApi({ owner: 'acme', repo: 'models', tokens: { ghs_test_token_from_default: 'write' } })
    await api.start()
    try {
      const sha = 'c'.repeat(40)
      const r = await runActionOutside(
        'deploy-model',
        { environment: 'action', version: '1.0.0', config: path.join(ws, 'modelgate.yml') },
        { GITHUB_WORKSPACE: ws, GITHUB_API_URL: api.baseUrl, GITHUB_REPOSITORY: 'acme/models', GITHUB_SHA: sha, GITHUB_RUN_ID: '99' },
      )
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(api.deployments).toHaveLength(1)
      const d = api.deployments[0]!
      expect(d).toMatchObject({ environment: 'action', sha, task: 'deploy' })
      expect(d.payload).toMatchObject({ name: NAME, version: '1.0.0' })
      expect(d.statuses.map((st) => st.state)).toEqual(['in_progress', 'success'])
      expect(d.statuses[1]).toMatchObject({ environment_url: r.outputs.url, log_url: 'https://github.com/acme/models/actions/runs/99' })
    } finally {
      await api.stop()
    }
  }, 60_000)

  it('exits 2 on bad input with one message', async () => {
    const r = await runActionOutside(
      'deploy-model',
      { environment: 'staging', 'canary-steps': '50,10', config: path.join(ws, 'modelgate.yml') },
      { GITHUB_WORKSPACE: ws },
    )
    expect(r.code).toBe(2)
    const errors = r.commands.filter((c) => c.command === 'error')
    expect(errors.map((e) => e.message)).toEqual(['input canary-steps: steps must increase (50, 10)'])
  }, 30_000)
})
