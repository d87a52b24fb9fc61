import { afterEach, describe, expect, it } from '@jest/globals'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CommandTarget, type CommandTargetOptions } from '../../src/core/deploy/targets/command.js'
import { DeployFailure, type Endpoint, type TrafficPlan } from '../../src/core/deploy/types.js'
import { CANARY, PLAN, STABLE } from '../helpers/plans.js'
import { UserError } from '../../src/core/errors.js'

const NODE = process.execPath
const ENDPOINT: Endpoint = { url: 'http://127.0.0.1:8080', protocol: 'v2', model: 'bc' }

/** Records what the deploy command got: its MODELGATE_* and EXTRA_TOKEN variables, argv, cwd and stdin. */
const RECORD = `
import { readFileSync, writeFileSync } from 'node:fs'
const stdin = readFileSync(0, 'utf8')
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MODELGATE_') || k === 'EXTRA_TOKEN'))
writeFileSync('record.json', JSON.stringify({ env, stdin, argv: process.argv.slice(2), cwd: process.cwd() }))
console.log('deploying ' + env.MODELGATE_VERSION)
console.error('warning: canary at ' + env.MODELGATE_CANARY_PERCENT)
`

const FAIL = `
for (let i = 1; i <= 15; i++) console.error('err line ' + i)
console.log('some stdout')
process.exit(3)
`

/** Starts a child that ignores SIGTERM and shares its stderr, records both pids once the child is up, then hangs. */
const HANG = `
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'inherit'] })
child.stdout.once('data', () => writeFileSync('pids.json', JSON.stringify([process.pid, child.pid])))
setInterval(() => {}, 1000)
`

/** Leaves a server-like child running (holding stdout) and exits 0, like a deploy script that starts a daemon. */
const DAEMON = `
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'inherit' })
child.unref()
writeFileSync('daemon.pid', String(child.pid))
console.log('started')
`

/** Fails twice, then succeeds; counts its runs in count.txt. */
const READY_THIRD = `
import { existsSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs'
const n = (existsSync('count.txt') ? Number(readFileSync('count.txt', 'utf8')) : 0) + 1
writeFileSync('count.txt', String(n))
appendFileSync('actions.txt', process.env.MODELGATE_ACTION + ' ' + process.env.MODELGATE_CANARY_VERSION + '\\n')
if (n < 3) { console.error('not ready yet (' + n + ')'); process.exit(1) }
`

const dirs: string[] = []
const pidsToKill: number[] = []

afterEach(() => {
  for (const pid of pidsToKill.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function workdir(scripts: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-command-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(scripts)) writeFileSync(path.join(dir, name), text)
  return dir
}

function target(cwd: string, extra: Partial<CommandTargetOptions> = {}): CommandTarget {
  return new CommandTarget({ command: [NODE, 'script.mjs'], cwd, endpoint: ENDPOINT, timeoutMs: 20_000, environment: 'staging', ...extra })
}

interface Recorded {
  env: Record<string, string>
  stdin: string
  argv: string[]
  cwd: string
}

const record = (dir: string): Recorded => JSON.parse(readFileSync(path.join(dir, 'record.json'), 'utf8')) as Recorded

async function failure(p: Promise<unknown>): Promise<DeployFailure> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(DeployFailure)
  return e as DeployFailure
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  )
}

/** A zombie (killed, not yet reaped by an init that may never reap) is dead too. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

/** Death after SIGKILL is asynchronous: waits for it, up to 10 s. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 200 && alive(pid); i++) await sleep(50)
  return !alive(pid)
}

describe('CommandTarget.apply', () => {
  it('passes the plan in MODELGATE_* variables and as JSON on stdin, and logs the output', async () => {
    const dir = workdir({ 'script.mjs': RECORD })
    const logs: string[] = []
    const outcome = await target(dir, { env: { EXTRA_TOKEN: 'tok-1', MODELGATE_VERSION: 'spoofed' } }).apply(PLAN, {
      dryRun: false,
      log: (line) => logs.push(line),
    })
    const got = record(dir)
    expect(got.env).toEqual({
      EXTRA_TOKEN: 'tok-1',
      MODELGATE_ACTION: 'apply',
      MODELGATE_NAME: 'bc',
      MODELGATE_VERSION: '1',
      MODELGATE_DIGEST: STABLE.digest,
      MODELGATE_URI: STABLE.uri,
      MODELGATE_ARTIFACT: '/tmp/fetched/v1/model.onnx',
      MODELGATE_ENVIRONMENT: 'staging',
      MODELGATE_CANARY_VERSION: '2',
      MODELGATE_CANARY_DIGEST: CANARY.digest,
      MODELGATE_CANARY_URI: CANARY.uri,
      MODELGATE_CANARY_ARTIFACT: '/tmp/fetched/v2/model.onnx',
      MODELGATE_CANARY_PERCENT: '10',
    })
    expect(got.stdin.endsWith('\n')).toBe(true)
    expect(JSON.parse(got.stdin)).toEqual(PLAN)
    expect(got.argv).toEqual([])
    expect(got.cwd).toBe(dir)
    expect([...logs].sort()).toEqual(['deploying 1', 'warning: canary at 10'])
    expect(outcome).toEqual({ files: [], notes: [`ran ${NODE} script.mjs`] })
  })

  it('sets no canary or artifact variables without them, even when the parent has stale ones', async () => {
    const dir = workdir({ 'script.mjs': RECORD })
    process.env.MODELGATE_CANARY_VERSION = 'stale'
    try {
      const { artifactPath: _unused, ...stable } = STABLE
      await new CommandTarget({ command: [NODE, 'script.mjs'], cwd: dir, endpoint: ENDPOINT, timeoutMs: 20_000 }).apply(
        { stable },
        { dryRun: false, log: () => {} },
      )
    } finally {
      delete process.env.MODELGATE_CANARY_VERSION
    }
    expect(record(dir).env).toEqual({
      MODELGATE_ACTION: 'apply',
      MODELGATE_NAME: 'bc',
      MODELGATE_VERSION: '1',
      MODELGATE_DIGEST: STABLE.digest,
      MODELGATE_URI: STABLE.uri,
    })
  })

  it('never lets plan values or arguments reach a shell', async () => {
    const dir = workdir({ 'script.mjs': RECORD })
    const victim = path.join(dir, 'victim')
    mkdirSync(victim)
    writeFileSync(path.join(victim, 'keep.txt'), 'x')
    const evil = {
      name: 'bc`touch pwned-name`',
      version: '1.0.0$(touch pwned)',
      digest: `sha256:${'c'.repeat(64)}`,
      uri: `oci://x/bc; rm -rf ${victim}; touch pwned-uri`,
    }
    const plan: TrafficPlan = { stable: evil, canary: { ...evil, version: "2' && touch pwned-canary && '", percent: 5 } }
    await target(dir, { command: [NODE, 'script.mjs', '$(touch pwned-arg)', '; rm -rf victim', '| touch pwned-pipe'] }).apply(plan, {
      dryRun: false,
      log: () => {},
    })
    const got = record(dir)
    expect(got.env.MODELGATE_NAME).toBe('bc`touch pwned-name`')
    expect(got.env.MODELGATE_VERSION).toBe('1.0.0$(touch pwned)')
    expect(got.env.MODELGATE_URI).toBe(`oci://x/bc; rm -rf ${victim}; touch pwned-uri`)
    expect(got.env.MODELGATE_CANARY_VERSION).toBe("2' && touch pwned-canary && '")
    expect(got.argv).toEqual(['$(touch pwned-arg)', '; rm -rf victim', '| touch pwned-pipe'])
    expect(JSON.parse(got.stdin)).toEqual(plan)
    expect(readdirSync(dir).sort()).toEqual(['record.json', 'script.mjs', 'victim'])
    expect(readdirSync(victim)).toEqual(['keep.txt'])
  })

  it('fails on a non-zero exit with the code and the last lines of stderr', async () => {
    const dir = workdir({ 'script.mjs': FAIL })
    const logs: string[] = []
    const e = await failure(target(dir).apply(PLAN, { dryRun: false, log: (line) => logs.push(line) }))
    const tail = Array.from({ length: 10 }, (_, i) => `err line ${i + 6}`).join('\n')
    expect(e.phase).toBe('apply')
    expect(e.message).toBe(`command ${NODE} script.mjs exited with code 3; last lines of stderr:\n${tail}`)
    expect(logs).toHaveLength(16)
    expect(logs).toContain('some stdout')
    expect(logs).toContain('err line 1')
  })

  it('fails when the command dies of a signal', async () => {
    const dir = workdir({ 'script.mjs': "process.kill(process.pid, 'SIGKILL')" })
    const e = await failure(target(dir).apply(PLAN, { dryRun: false, log: () => {} }))
    expect(e.message).toBe(`command ${NODE} script.mjs was killed by SIGKILL (no stderr)`)
  })

  it('kills the command and what it started when it runs past the timeout', async () => {
    const dir = workdir({ 'script.mjs': HANG })
    const e = await failure(target(dir, { timeoutMs: 4000 }).apply(PLAN, { dryRun: false, log: () => {} }))
    expect(e.message).toBe(`command ${NODE} script.mjs did not finish within 4000 ms and was killed (no stderr)`)
    const pids = JSON.parse(readFileSync(path.join(dir, 'pids.json'), 'utf8')) as number[]
    pidsToKill.push(...pids)
    expect(pids).toHaveLength(2)
    expect(await gone(pids[0])).toBe(true)
    expect(await gone(pids[1])).toBe(true)
  })

  it('returns when the command exits, though a server it started still holds its output', async () => {
    const dir = workdir({ 'script.mjs': DAEMON })
    const logs: string[] = []
    await target(dir).apply(PLAN, { dryRun: false, log: (line) => logs.push(line) })
    const daemon = Number(readFileSync(path.join(dir, 'daemon.pid'), 'utf8'))
    pidsToKill.push(daemon)
    expect(logs).toEqual(['started'])
    expect(alive(daemon)).toBe(true)
  })

  it('dry run: runs nothing and returns the environment it would set', async () => {
    const dir = workdir({ 'script.mjs': RECORD })
    const outcome = await target(dir, { env: { EXTRA_TOKEN: 'tok-1' } }).apply(PLAN, { dryRun: true, log: () => {} })
    expect(existsSync(path.join(dir, 'record.json'))).toBe(false)
    expect(outcome.files).toEqual([])
    expect(outcome.notes).toEqual([
      `dry run: would run ${JSON.stringify([NODE, 'script.mjs'])} in ${dir}`,
      `environment: ${JSON.stringify({
        MODELGATE_ACTION: 'apply',
        MODELGATE_NAME: 'bc',
        MODELGATE_VERSION: '1',
        MODELGATE_DIGEST: STABLE.digest,
        MODELGATE_URI: STABLE.uri,
        MODELGATE_ARTIFACT: STABLE.artifactPath,
        MODELGATE_ENVIRONMENT: 'staging',
        MODELGATE_CANARY_VERSION: '2',
        MODELGATE_CANARY_DIGEST: CANARY.digest,
        MODELGATE_CANARY_URI: CANARY.uri,
        MODELGATE_CANARY_ARTIFACT: CANARY.artifactPath,
        MODELGATE_CANARY_PERCENT: '10',
      })}`,
    ])
  })

  it('names a missing program, script or folder as a UserError', async () => {
    const dir = workdir({})
    const missingScript = await rejection(target(dir, { command: ['./deploy.sh'] }).apply(PLAN, { dryRun: true, log: () => {} }))
    expect(missingScript).toBeInstanceOf(UserError)
    expect(missingScript).toMatchObject({
      field: 'command',
      message: `command target: command ./deploy.sh is not an executable file (looked in ${dir})`,
    })

    const notOnPath = await rejection(
      target(dir, { command: ['modelgate-no-such-program-x'] }).apply(PLAN, { dryRun: false, log: () => {} }),
    )
    expect(notOnPath).toBeInstanceOf(UserError)
    expect(notOnPath).toMatchObject({
      field: 'command',
      message: 'command target: command modelgate-no-such-program-x is not a program on PATH',
    })

    const noDir = await rejection(target(path.join(dir, 'nope')).apply(PLAN, { dryRun: false, log: () => {} }))
    expect(noDir).toMatchObject({ name: 'UserError', field: 'cwd' })

    expect(() => target(dir, { command: [] })).toThrow(UserError)
    expect(() => target(dir, { readyCommand: [''] })).toThrow('command target: readyCommand must be a non-empty list of strings')
  })

  it('checks the ready command before the deploy command changes anything', async () => {
    for (const readyCommand of [['./ready.sh'], ['modelgate-no-such-probe-x']]) {
      const dir = workdir({ 'script.mjs': RECORD })
      const e = await rejection(target(dir, { readyCommand }).apply(PLAN, { dryRun: false, log: () => {} }))
      expect(e).toMatchObject({ name: 'UserError', field: 'readyCommand' })
      expect(existsSync(path.join(dir, 'record.json'))).toBe(false)
    }
  })

  it('runs an executable script by its path relative to cwd', async () => {
    const dir = workdir({ 'deploy.mjs': `#!${NODE}\n${RECORD}` })
    chmodSync(path.join(dir, 'deploy.mjs'), 0o755)
    await target(dir, { command: ['./deploy.mjs', 'prod'] }).apply(PLAN, { dryRun: false, log: () => {} })
    expect(record(dir).argv).toEqual(['prod'])
  })
})

describe('CommandTarget.waitReady', () => {
  it('runs the ready command until it exits 0', async () => {
    const dir = workdir({ 'ready.mjs': READY_THIRD })
    await target(dir, { readyCommand: [NODE, 'ready.mjs'] }).waitReady(PLAN, 30_000)
    expect(readFileSync(path.join(dir, 'count.txt'), 'utf8')).toBe('3')
    expect(readFileSync(path.join(dir, 'actions.txt'), 'utf8')).toBe('ready 2\nready 2\nready 2\n')
  })

  it('fails with the last stderr when the ready command never succeeds in time', async () => {
    const dir = workdir({ 'ready.mjs': "console.error('still warming'); process.exit(1)" })
    const e = await failure(target(dir, { readyCommand: [NODE, 'ready.mjs'] }).waitReady(PLAN, 3000))
    expect(e.phase).toBe('ready')
    expect(e.message).toMatch(
      new RegExp(
        `^ready command ${NODE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ready\\.mjs did not succeed within 3000 ms \\(\\d+ attempts?; last: exited with code 1; last lines of stderr:\\nstill warming\\)$`,
      ),
    )
  })

  it('is ready at once without a ready command', async () => {
    const dir = workdir({})
    await expect(target(dir).waitReady(PLAN, 1)).resolves.toBeUndefined()
  })
})

describe('CommandTarget, the rest of the port', () => {
  it('cannot tell what it serves, has one endpoint, and a lock that releases', async () => {
    const t = target(tmpdir())
    expect(await t.current()).toBeUndefined()
    expect(t.endpoint()).toEqual(ENDPOINT)
    expect(t.endpoint('1')).toBeUndefined()
    await expect((await t.lock())()).resolves.toBeUndefined()
    expect(t.kind).toBe('command')
    expect(t.description).toBe(`command ${NODE} script.mjs`)
  })
})
