import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { createGitHubDeploymentLedger } from '../../src/adapters/github/deployments.js'
import { deployModel, type DeployResult } from '../../src/core/deploy/run.js'
import { resolveDeploySettings, type OptionSource } from '../../src/core/settings/index.js'
import { createTarget } from '../../src/core/deploy/targets/index.js'
import { openRegistry } from '../../src/core/registry/open.js'
import { ROOT } from '../helpers/action-harness.js'
import {
  CLI,
  DEPLOY_SCRIPT,
  READY_SCRIPT,
  answersOf,
  csvRows,
  probe,
  startFront,
  startReceiver,
  startServe,
  type Front,
  type Receiver,
  type ServeProcess,
} from '../helpers/faults.js'
import { unloadableModel } from '../helpers/faulty-models.js'
import { FakeGitHubApi } from '../helpers/github-api.js'
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js'
import { freePort } from '../helpers/oci-registry.js'
import { stopEnvironmentServers } from '../helpers/servers.js'
import { tmp } from '../registry/conformance.js'

/*
 * Deploy fault injection, through `modelgate deploy` (runCli) with real parts: a local registry (and
 * an MLflow one), the example's ONNX models, `modelgate serve` child processes, and on loopback the
 * platforms the command and webhook targets hand off to (helpers/faults.ts). 1.0.0 (baseline.onnx)
 * serves in every environment first; then each case deploys a candidate and injects one fault:
 *
 *   a failing ready probe    the candidate cannot load (local, command); the server hangs, SIGSTOPped
 *                            on a fixed port (local); the receiver reports failure (webhook);
 *   a server that dies       SIGKILLed between canary steps (local), or at the first request of the
 *                            canary's verification traffic (command);
 *   the old model answering  a script that ships the old artifact under the new version, a front that
 *                            reports the new version over the old model (command), a receiver that
 *                            acknowledges without applying (webhook);
 *   a stage not assignable   a read-only registry token, a stage the registry cannot name, no stage name.
 *
 * Each asserts the exit code the usage promises (1: failed, rolled back; 0: deployed, with a note;
 * 2: refused before any change), the report's record of the rollback (and once, GitHub Deployments'),
 * and, asked independently over HTTP, that the previous version serves: its version and digest in the
 * metadata, its answers equal to what baseline.onnx computes in this process. No stack trace reaches
 * stderr, no secret or token any output. A healthy canary through a split the command target cannot
 * address shows the check that catches the faults does not also fail every canary there.
 */

const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const NAME = 'breast-cancer-logreg'
const SECRET = 'whsec-fault-injection-0123456789'
const MLFLOW_WRITE = 'mlflow-write-token-0123456789'
const MLFLOW_READ = 'mlflow-read-token-0123456789'

let ws = ''
let front: Front
let serve: ServeProcess
let receiver: Receiver
let mlflow: MlflowServer
const dir = (...parts: string[]) => path.join(ws, ...parts)
const envDir = (env: string) => dir('.modelgate/environments', NAME, env)
const sample = csvRows(path.join(EXAMPLE, 'data/test.csv'), 'target', 5)
const answers: Record<string, number[]> = {}
const digests: Record<string, string> = {}
const secretEnv = process.env.MODELGATE_WEBHOOK_SECRET

interface Run {
  code: number
  stdout: string
  stderr: string
  result: DeployResult
}

async function cli(args: string[], onLine: (line: string) => void = () => {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(args, {
    cwd: ws,
    stdout: (t) => out.push(t),
    stderr: (t) => {
      err.push(t)
      onLine(t)
    },
  })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

let reports = 0
async function deploy(args: string[], onLine?: (line: string) => void): Promise<Run> {
  const report = dir(`report-${++reports}.json`)
  const r = await cli(['deploy', '--report', report, ...args], onLine)
  let text: string
  try {
    text = readFileSync(report, 'utf8')
  } catch {
    throw new Error(`deploy wrote no report (exit ${r.code}): ${r.stderr}`)
  }
  expectClean(r, text)
  return { ...r, result: JSON.parse(text) as DeployResult }
}

/** What the user reads carries neither a stack trace nor a credential. */
function expectClean(r: { stdout: string; stderr: string }, report = ''): void {
  for (const text of [r.stdout, r.stderr, report]) {
    expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)
    expect(text).not.toContain('internal error')
    for (const secret of [SECRET, MLFLOW_WRITE, MLFLOW_READ]) expect(text).not.toContain(secret)
  }
}

const info = (d: string) => JSON.parse(readFileSync(path.join(d, 'server.json'), 'utf8')) as { pid: number; url: string }
const state = (d: string) =>
  JSON.parse(readFileSync(path.join(d, 'state.json'), 'utf8')) as { stable: { version: string }; canary?: unknown }

/** Asked over plain HTTP: `url` serves `version` alone, with its digest, answering as its ONNX file does. */
async function expectServing(url: string, version: string): Promise<void> {
  const served = await probe(url, NAME, sample.rows)
  expect(served.versions).toEqual([version])
  expect(served.digests).toEqual({ [version]: digests[version] })
  served.answers.forEach((a, i) => expect(a).toBeCloseTo(answers[version]![i]!, 6))
}

/** The report records a failed deploy returned to 1.0.0, and the rollback verified in full. */
function expectRolledBack(r: Run, failedStep: string, why: RegExp): void {
  expect(r.code).toBe(1)
  expect(r.result).toMatchObject({ status: 'failure', rolledBack: true, rolledBackTo: '1.0.0', previous: { version: '1.0.0' } })
  const failed = r.result.steps.find((s) => s.status === 'fail')!
  expect(failed.name).toBe(failedStep)
  expect(failed.message).toMatch(why)
  const rollback = r.result.steps.at(-1)!
  expect(rollback).toMatchObject({ name: 'roll back to 1.0.0', status: 'pass', message: 'the previous version serves and is verified' })
  expect(rollback.verify!.checks.map((c) => `${c.id}:${c.status}`)).toEqual(['ready:pass', 'identity:pass', 'golden:pass', 'burst:pass'])
  expect(r.stdout).toContain(`failed in ${r.result.environment}; rolled back to 1.0.0 (verified)`)
}

async function stageOf(env: string): Promise<string | undefined> {
  const r = await cli(['registry', 'list', '--json'])
  return (JSON.parse(r.stdout) as { stages: { current: Record<string, string> } }).stages.current[env]
}

function manifest(envs: string): void {
  const base = readFileSync(path.join(EXAMPLE, 'modelgate.yml'), 'utf8')
  writeFileSync(
    dir('modelgate.yml'),
    `${base}
registry:
  uri: local:registry
deploy:
  timeout: 5
  environments:
${envs}
  verify:
    burst: 8
`,
  )
}

let environments = ''
let fixedPort = 0
/** Processes a case stops or starts outside the deploy's own bookkeeping, killed at the end whatever happened. */
const strays: number[] = []

beforeAll(async () => {
  ws = tmp('modelgate-faults-')
  // The example, copied in: modelgate reads only inside its workspace.
  for (const f of ['model.onnx', 'baseline.onnx', 'contract.schema.json', 'reference-predictions.csv', 'data/test.csv'])
    cpSync(path.join(EXAMPLE, f), dir(f))
  unloadableModel(dir('unloadable.onnx'))
  mkdirSync(dir('platform/cmd'), { recursive: true })
  mkdirSync(dir('platform/hook'), { recursive: true })
  writeFileSync(dir('platform/deploy.mjs'), DEPLOY_SCRIPT)
  writeFileSync(dir('platform/ready.mjs'), READY_SCRIPT)

  const cmdPort = await freePort()
  fixedPort = await freePort()
  front = await startFront(`http://127.0.0.1:${cmdPort}`, dir('platform/cmd/claim.json'))
  serve = await startServe(dir('platform/hook/state.json'), dir('platform/hook/server.json'))
  receiver = await startReceiver({
    secret: SECRET,
    stateFile: dir('platform/hook/state.json'),
    serveUrl: serve.url,
    name: NAME,
  })
  process.env.MODELGATE_WEBHOOK_SECRET = SECRET
  mlflow = await startMlflowServer({ tokens: { [MLFLOW_WRITE]: 'MANAGE', [MLFLOW_READ]: 'READ' }, pendingPolls: 0 })

  const node = process.execPath
  environments = `    local:
      canary: [10, 50]
    fixed:
      port: ${fixedPort}
    cmd:
      target: command
      url: ${front.url}
      command: [${node}, ${dir('platform/deploy.mjs')}, ${CLI}, ${dir('platform/cmd')}, '${cmdPort}']
      ready-command: [${node}, ${dir('platform/ready.mjs')}, ${front.url}, ${NAME}]
    hook:
      target: webhook
      url: ${serve.url}
      webhook:
        url: ${receiver.url}/deploy
        status-url: ${receiver.url}/status/{id}
    mlflow: {}
`
  manifest(environments)
  for (const model of ['baseline.onnx', 'model.onnx', 'unloadable.onnx']) {
    const r = await cli(['register', '--model', model, '--json'])
    if (r.code !== 0) throw new Error(r.stderr)
    const reg = JSON.parse(r.stdout) as { version: string; digest: string }
    digests[reg.version] = reg.digest
    receiver.files[reg.digest] = dir(model)
  }
  for (const model of ['baseline.onnx', 'model.onnx']) {
    const r = await cli(['register', '--model', model, '--registry', `mlflow+${mlflow.url}`, '--token', MLFLOW_WRITE, '--quiet'])
    if (r.code !== 0) throw new Error(r.stderr)
  }
  answers['1.0.0'] = await answersOf(dir('baseline.onnx'), sample.features, sample.rows)
  answers['1.0.1'] = await answersOf(dir('model.onnx'), sample.features, sample.rows)
  // The answers tell the two models apart, or checking them would prove nothing.
  expect(Math.max(...answers['1.0.0'].map((a, i) => Math.abs(a - answers['1.0.1']![i]!)))).toBeGreaterThan(0.01)
}, 120_000)

afterAll(async () => {
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
  stopEnvironmentServers(ws)
  try {
    process.kill(info(dir('platform/cmd')).pid, 'SIGTERM')
  } catch {
    // Not running.
  }
  await Promise.all([serve?.stop(), front?.close(), receiver?.close(), mlflow?.stop()])
  if (secretEnv === undefined) delete process.env.MODELGATE_WEBHOOK_SECRET
  else process.env.MODELGATE_WEBHOOK_SECRET = secretEnv
  rmSync(ws, { recursive: true, force: true })
})

describe('local target (modelgate serve started by the deploy)', () => {
  const url = () => info(envDir('local')).url

  beforeAll(async () => {
    for (const env of ['local', 'fixed']) expect((await deploy(['--environment', env, '--version', '1.0.0'])).code).toBe(0)
  }, 30_000)

  it('a candidate that never gets ready: rolled back to 1.0.0, verified, exit 1', async () => {
    const r = await deploy(['--environment', 'local', '--version', '1.0.2'])
    expectRolledBack(r, 'canary 10%', /^the server refused generation \d+: .*could not load/)
    expect(state(envDir('local'))).toMatchObject({ stable: { version: '1.0.0' } })
    expect(state(envDir('local')).canary).toBeUndefined()
    expect(await stageOf('local')).toBe('1.0.0')
    await expectServing(url(), '1.0.0')
  }, 30_000)

  it('the server killed between canary steps: the rollback starts another, serving 1.0.0, exit 1', async () => {
    const victim = info(envDir('local')).pid
    const r = await deploy(['--environment', 'local', '--version', '1.0.1'], (line) => {
      // The canary serves 10% and is verified; the server dies before the 50% step.
      if (line === 'canary 10%: verified') process.kill(victim, 'SIGKILL')
    })
    expectRolledBack(r, 'canary 50%', new RegExp(`^modelgate serve for local \\(pid ${victim}\\) stopped during the deploy$`))
    expect(r.result.steps.map((s) => `${s.name}:${s.status}`)).toEqual(['canary 10%:pass', 'canary 50%:fail', 'roll back to 1.0.0:pass'])
    expect(info(envDir('local')).pid).not.toBe(victim)
    expect(state(envDir('local'))).toMatchObject({ stable: { version: '1.0.0' } })
    expect(await stageOf('local')).toBe('1.0.0')
    await expectServing(url(), '1.0.0')
  }, 30_000)

  it('a server that hangs on a fixed port answers no ready probe: the rollback stops it and starts another there, serving 1.0.0, exit 1', async () => {
    const victim = info(envDir('fixed')).pid
    strays.push(victim)
    let hung = false
    const r = await deploy(['--environment', 'fixed', '--version', '1.0.1', '--timeout', '2'], (line) => {
      // Stopped once the candidate's state is written: the process keeps its port and answers nothing, like a wedged event loop.
      if (!hung && line.endsWith('/fixed/state.json: generation 2')) {
        hung = true
        process.kill(victim, 'SIGSTOP')
      }
    })
    expect(hung).toBe(true)
    expectRolledBack(r, 'deploy 100%', /^fixed not ready after 2 s \(the server does not answer\)$/)
    expect(r.stderr).toContain(`modelgate serve for fixed (pid ${victim}) does not answer: stopping it`)
    const now = info(envDir('fixed'))
    expect(now.pid).not.toBe(victim)
    expect(now.url).toBe(`http://127.0.0.1:${fixedPort}`)
    expect(await stageOf('fixed')).toBe('1.0.0')
    await expectServing(now.url, '1.0.0')
  }, 30_000)
})

describe('command target (a deploy script driving modelgate serve behind a front)', () => {
  const cmd = () => dir('platform/cmd')
  const fault = (version: string, mode: string) => writeFileSync(path.join(cmd(), 'fault.json'), JSON.stringify({ version, mode }))

  beforeAll(async () => {
    const r = await deploy(['--environment', 'cmd', '--version', '1.0.0'])
    expect(r.code).toBe(0)
  }, 30_000)

  it('a ready probe that keeps failing: rolled back to 1.0.0, verified, exit 1', async () => {
    const r = await deploy(['--environment', 'cmd', '--version', '1.0.2', '--timeout', '2'])
    expectRolledBack(
      r,
      'deploy 100%',
      /^ready command .* did not succeed within 2000 ms \(\d+ attempts; last: exited with code 1.*is not ready: 404/s,
    )
    expect(state(cmd())).toMatchObject({ stable: { version: '1.0.0' } })
    expect(await stageOf('cmd')).toBe('1.0.0')
    await expectServing(front.url, '1.0.0')
  }, 30_000)

  it('the server killed during the canary’s verification traffic: the rollback restarts it, serving 1.0.0, exit 1', async () => {
    const victim = info(cmd()).pid
    let killed = false
    front.onRequest = (method, route) => {
      if (!killed && method === 'POST' && route.endsWith('/infer') && state(cmd()).canary) {
        killed = true
        process.kill(victim, 'SIGKILL')
      }
    }
    try {
      const r = await deploy(['--environment', 'cmd', '--version', '1.0.1', '--canary-steps', '10,50'])
      expect(killed).toBe(true)
      expectRolledBack(r, 'canary 10%', /^burst: 8 requests: 8 errors .*first error: /)
      expect(info(cmd()).pid).not.toBe(victim)
      expect(await stageOf('cmd')).toBe('1.0.0')
      await expectServing(front.url, '1.0.0')
    } finally {
      front.onRequest = undefined
    }
  }, 30_000)

  it('a script that ships the old artifact under the new version: the digest gives it away, rolled back, exit 1', async () => {
    fault('1.0.1', 'stale-artifact')
    const r = await deploy(['--environment', 'cmd', '--version', '1.0.1'])
    expectRolledBack(
      r,
      'deploy 100%',
      new RegExp(`^identity: version 1\\.0\\.1 is served with digest ${digests['1.0.0']}, not ${digests['1.0.1']}$`),
    )
    expect(await stageOf('cmd')).toBe('1.0.0')
    await expectServing(front.url, '1.0.0')
  }, 30_000)

  it('a front that reports the new version over the old model: the golden answers give it away, rolled back, exit 1', async () => {
    fault('1.0.1', 'claim-only')
    const r = await deploy(['--environment', 'cmd', '--version', '1.0.1'])
    expectRolledBack(r, 'deploy 100%', /^golden: 20 of 20 golden rows answered differently from the registered model/)
    // The metadata was fooled; only the answers told.
    const failed = r.result.steps[0]!.verify!
    expect(failed.checks.find((c) => c.id === 'identity')).toMatchObject({ status: 'pass' })
    expect(await stageOf('cmd')).toBe('1.0.0')
    await expectServing(front.url, '1.0.0')
  }, 30_000)

  it('a healthy canary through a traffic split it cannot address passes, its golden requests checked at 100%', async () => {
    fault('none', 'honest')
    const r = await deploy(['--environment', 'cmd', '--version', '1.0.1', '--canary-steps', '10'])
    expect(r.code).toBe(0)
    expect(r.result.steps.map((s) => `${s.name}:${s.status}`)).toEqual(['canary 10%:pass', 'promote 100%:pass'])
    expect(r.result.steps[0]!.verify!.checks.find((c) => c.id === 'golden')).toMatchObject({
      status: 'skipped',
      message:
        'the endpoint splits traffic between 1.0.0 and 1.0.1 (the target cannot address 1.0.1 alone): the golden requests are compared at 100%',
    })
    expect(r.result.steps[1]!.verify!.checks.find((c) => c.id === 'golden')).toMatchObject({ status: 'pass' })
    await expectServing(front.url, '1.0.1')
  }, 30_000)
})

describe('webhook target (a signed delivery to a receiver driving modelgate serve)', () => {
  beforeAll(async () => {
    const r = await deploy(['--environment', 'hook', '--version', '1.0.0'])
    expect(r.code).toBe(0)
  }, 30_000)

  it('a receiver that reports failure, quoting the secret: rolled back to 1.0.0, the secret masked, exit 1', async () => {
    receiver.fault = { version: '1.0.1', mode: 'fail-echo' }
    const r = await deploy(['--environment', 'hook', '--version', '1.0.1'])
    expectRolledBack(
      r,
      'deploy 100%',
      /^webhook receiver reports the deploy of breast-cancer-logreg 1\.0\.1 to hook failed: .*with key \*\*\*$/,
    )
    expect(receiver.deliveries.slice(-2)).toEqual(['1.0.1', '1.0.0'])
    expect(await stageOf('hook')).toBe('1.0.0')
    await expectServing(serve.url, '1.0.0')
  }, 30_000)

  it('with GitHub Deployments as the ledger: the failure and the rollback are recorded there, the secret masked', async () => {
    receiver.fault = { version: '1.0.1', mode: 'fail-echo' }
    const api = new FakeGitHubApi({ owner: 'acme', repo: 'models', tokens: { 'ghs-fault-injection': 'write' } })
    await api.start()
    try {
      // What the action does, through the core: the settings, the target and the registry it opens, and a ledger.
      const values: Record<string, string> = { environment: 'hook', version: '1.0.1' }
      const src: OptionSource = { value: (k) => values[k], lines: () => undefined, label: (k) => `--${k}` }
      const settings = resolveDeploySettings(src, ws, dir('.modelgate/artifacts', NAME))
      const sha = 'e'.repeat(40)
      const lines: string[] = []
      const result = await deployModel(
        { ...settings.request, ref: sha },
        {
          backend: await openRegistry(settings.registry.registry),
          target: createTarget(settings, { workspace: ws, cliCommand: [process.execPath, CLI], env: process.env }),
          ledger: createGitHubDeploymentLedger({ token: 'ghs-fault-injection', owner: 'acme', repo: 'models', baseUrl: api.baseUrl, sha }),
          log: (line) => lines.push(line),
        },
      )
      expect(result).toMatchObject({ status: 'failure', rolledBack: true, rolledBackTo: '1.0.0' })
      expect(api.deployments).toHaveLength(1)
      const statuses = api.deployments[0]!.statuses
      expect(statuses.map((st) => st.state)).toEqual(['in_progress', 'failure'])
      // GitHub keeps 140 characters: the rollback is in them, ahead of the receiver's long message.
      expect(statuses[1]!.description).toMatch(
        /^breast-cancer-logreg 1\.0\.1 failed, rolled back to 1\.0\.0: deploy 100%: webhook receiver reports .*…$/,
      )
      expect(statuses[1]!.description.length).toBeLessThanOrEqual(140)
      expect(JSON.stringify(api.deployments)).not.toContain(SECRET)
      expect(lines.join('\n')).not.toContain(SECRET)
      await expectServing(serve.url, '1.0.0')
    } finally {
      await api.stop()
    }
  }, 30_000)

  it('a receiver that acknowledges without applying: the server still says 1.0.0, rolled back, exit 1', async () => {
    receiver.fault = { version: '1.0.1', mode: 'ack-only' }
    const r = await deploy(['--environment', 'hook', '--version', '1.0.1'])
    expectRolledBack(r, 'deploy 100%', /^identity: the server serves 1\.0\.0, not 1\.0\.1$/)
    expect(await stageOf('hook')).toBe('1.0.0')
    await expectServing(serve.url, '1.0.0')
  }, 30_000)
})

describe('a stage that cannot be assigned', () => {
  const registry = () => ['--registry', `mlflow+${mlflow.url}`]
  const url = () => info(envDir('mlflow')).url

  beforeAll(async () => {
    const r = await deploy(['--environment', 'mlflow', '--version', '1.0.0', ...registry(), '--token', MLFLOW_WRITE])
    expect(r.code).toBe(0)
    expect([...mlflow.models.get(NAME)!.aliases]).toEqual([['mlflow', '1']])
  }, 30_000)

  it('a read-only registry token after a verified rollout: exit 0, the new version serves, a note says how to move the stage', async () => {
    const r = await deploy(['--environment', 'mlflow', '--version', '1.0.1', ...registry(), '--token', MLFLOW_READ])
    expect(r.code).toBe(0)
    expect(r.result).toMatchObject({ status: 'success', rolledBack: false, version: '1.0.1' })
    expect(r.result.stage).toBeUndefined()
    expect(r.result.notes.at(-1)).toMatch(
      /^1\.0\.1 is deployed and verified, but the registry's stage mlflow could not be moved to it \(.+\); move it with modelgate registry promote 1\.0\.1 mlflow --registry mlflow\+http:\/\/127\.0\.0\.1:\d+ \(and --token when the registry needs one\)$/,
    )
    expect(r.stderr).toMatch(/^warning: stage mlflow not moved: /m)
    expect([...mlflow.models.get(NAME)!.aliases]).toEqual([['mlflow', '1']])
    await expectServing(url(), '1.0.1')
    // Put back, for the next case.
    const back = await deploy(['--environment', 'mlflow', '--version', '1.0.0', ...registry(), '--token', MLFLOW_WRITE])
    expect(back.code).toBe(0)
  }, 30_000)

  it.each([
    [
      'a stage the registry cannot name (an MLflow alias cannot be "latest")',
      'latest',
      /^modelgate: deploy\.environments\.mlflow\.stage: stage 'latest' cannot be an MLflow alias \(/,
    ],
    [
      'a stage that is no stage name',
      "'not a stage'",
      /^modelgate: modelgate\.yml: invalid manifest: deploy\.environments\.mlflow\.stage \(line \d+, a stage name: /,
    ],
  ])(
    '%s: refused with exit 2 before anything changes; 1.0.0 still serves',
    async (_label, stage, why) => {
      manifest(environments.replace('    mlflow: {}', `    mlflow:\n      stage: ${stage}`))
      try {
        const before = readFileSync(path.join(envDir('mlflow'), 'state.json'), 'utf8')
        const r = await cli(['deploy', '--environment', 'mlflow', '--version', '1.0.1', ...registry(), '--token', MLFLOW_WRITE])
        expectClean(r)
        expect(r.code).toBe(2)
        expect(r.stderr).toMatch(why)
        expect(r.stderr.split('\n')).toHaveLength(1)
        expect(readFileSync(path.join(envDir('mlflow'), 'state.json'), 'utf8')).toBe(before)
        expect([...mlflow.models.get(NAME)!.aliases]).toEqual([['mlflow', '1']])
        await expectServing(url(), '1.0.0')
      } finally {
        manifest(environments)
      }
    },
    30_000,
  )
})
