import { afterAll, describe, expect, it } from '@jest/globals'
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { ROOT } from '../helpers/action-harness.js'
import { BC_HEADER, BC_TEXT } from '../helpers/bc40.js'
import { CLI } from '../helpers/faults.js'
import { stopEnvironmentServers } from '../helpers/servers.js'
import { stateOf } from '../serve/helpers.js'
import { snapshot } from '../helpers/snapshot.js'

/*
 * The deploy and registry gaps of the bad-input corpus (issue 12, __tests__/corpus/cases.ts, KNOWN_GAPS),
 * one `it` per row id, against the source: each row's files and argv in a fresh workspace, through
 * runCli. As the corpus runner asks: exit 2, one `modelgate: …` line naming the file and the field, and
 * the workspace as it was (no file changed, none added).
 */

const MODEL = path.join(ROOT, 'examples/breast-cancer/model.onnx')
const BASELINE = path.join(ROOT, 'examples/breast-cancer/baseline.onnx')
const FEATURES = BC_HEADER.filter((h) => h !== 'target')

function manifest(extra = ''): string {
  return `name: corpus\nmodel: model.onnx\nfeatures: [${FEATURES.join(', ')}]\nlabel: target\ndata: data.csv\n${extra}`
}

const DEPLOY = `registry:
  uri: local:registry
deploy:
  timeout: 5
  environments:
    staging:
      canary: [10, 50]
    missing-script:
      target: command
      command: [corpus-no-such-deployer]
      url: http://127.0.0.1:9/v2/models/corpus/infer
    missing-probe:
      target: command
      command: [node, -e, "0"]
      ready-command: [corpus-no-such-probe]
      url: http://127.0.0.1:9/v2/models/corpus/infer
    cluster:
      target: kserve
      kserve:
        kubectl: [corpus-no-such-kubectl]
`

const roots: string[] = []
const children: ChildProcess[] = []
const servers: Server[] = []

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const s of servers) {
    s.closeAllConnections()
    await new Promise((resolve) => s.close(resolve))
  }
  for (const r of roots) {
    stopEnvironmentServers(r)
    rmSync(r, { recursive: true, force: true })
  }
})

/** A fresh workspace (resolved: messages name real paths) with the example model, the 40-row slice and a manifest. */
function workspace(extra = '', files: Record<string, string | Buffer> = {}): string {
  const ws = realpathSync(mkdtempSync(path.join(tmpdir(), 'mg-gaps-')))
  roots.push(ws)
  copyFileSync(MODEL, path.join(ws, 'model.onnx'))
  writeFileSync(path.join(ws, 'data.csv'), BC_TEXT)
  writeFileSync(path.join(ws, 'modelgate.yml'), manifest(extra))
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(ws, name)), { recursive: true })
    writeFileSync(path.join(ws, name), content)
  }
  return ws
}

async function cli(ws: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(args, { cwd: ws, stdout: (t) => out.push(t), stderr: (t) => err.push(t) })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

async function registered(ws: string): Promise<void> {
  const r = await cli(ws, ['register', '--quiet'])
  if (r.code !== 0) throw new Error(`register exited ${r.code}: ${r.stderr}`)
}

/** Every entry under `dir`: a file's sha256, or `dir`. */
/** Files only: a folder made and left empty is no change the corpus counts. */
const filesOf = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== 'dir'))

/** Runs `args` in `ws` and asserts the refusal: exit 2, one `modelgate:` line matching `message`, nothing changed. */
async function refused(ws: string, args: string[], message: string | RegExp): Promise<string> {
  const before = snapshot(ws)
  const r = await cli(ws, args)
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('modelgate: '))
  expect({ code: r.code, lines: lines.length }).toEqual({ code: 2, lines: 1 })
  const line = lines[0]!
  if (typeof message === 'string') expect(line).toContain(message)
  else expect(line).toMatch(message)
  expect(r.stderr).not.toMatch(/^\s+at /m)
  expect(r.stderr).not.toContain('internal error')
  expect(filesOf(snapshot(ws))).toEqual(filesOf(before))
  return line
}

const ARTIFACTS = '.modelgate/artifacts'
const STATE = '.modelgate/environments/corpus/staging/state.json'

describe('bad-input corpus gaps: outputs inside the registry', () => {
  it('outputs/deploy-report-over-registry-record', async () => {
    const ws = workspace(DEPLOY)
    await registered(ws)
    const record = 'registry/corpus/versions/1.0.0/record.json'
    const line = await refused(
      ws,
      ['deploy', '--environment', 'staging', '--dry-run', '--report', record],
      `modelgate: --report ${ws}/${record}: is inside the local registry ${ws}/registry, which this run reads and writes`,
    )
    expect(line).not.toContain('\n')
    // Nothing was fetched for a refused deploy.
    expect(existsSync(path.join(ws, ARTIFACTS))).toBe(false)
    // The environment's folder and the artifacts' are the deploy's too; a report elsewhere is written.
    await refused(ws, ['deploy', '--environment', 'staging', '--dry-run', '--report', STATE], `--report ${ws}/${STATE}: is inside`)
    await refused(ws, ['deploy', '--environment', 'staging', '--dry-run', '--report', `${ARTIFACTS}/corpus/r.json`], 'is inside')
    const ok = await cli(ws, ['deploy', '--environment', 'staging', '--dry-run', '--report', 'deploy.json', '--quiet'])
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' })
    expect(JSON.parse(readFileSync(path.join(ws, 'deploy.json'), 'utf8'))).toMatchObject({ status: 'dry-run', version: '1.0.0' })
  })

  it('outputs/register-report-inside-registry', async () => {
    const ws = workspace('', { 'other.onnx': readFileSync(BASELINE) })
    await registered(ws)
    const card = '.modelgate/registry/corpus/versions/1.0.0/MODEL_CARD.md'
    await refused(
      ws,
      ['register', '--model', 'other.onnx', '--report', card, '--quiet'],
      `modelgate: --report ${ws}/${card}: is inside the local registry ${ws}/.modelgate/registry, which this run reads and writes`,
    )
    // The registry folder itself, and one reached through `..`.
    await refused(ws, ['register', '--model', 'other.onnx', '--report', '.modelgate/registry', '--quiet'], 'is the local registry')
    await refused(
      ws,
      ['register', '--model', 'other.onnx', '--report', 'x/../.modelgate/registry/corpus/stages.json', '--quiet'],
      'is inside the local registry',
    )
    const ok = await cli(ws, ['register', '--model', 'other.onnx', '--report', 'register.json', '--quiet'])
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' })
  })

  it('outputs inside a git registry: its .git folder is refused', async () => {
    const ws = workspace('registry:\n  uri: git\n', { '.git/HEAD': 'ref: refs/heads/main\n' })
    const before = snapshot(ws)
    const r = await cli(ws, ['register', '--report', '.git/modelgate.json', '--quiet'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`--report ${ws}/.git/modelgate.json: is inside the git registry's repository data ${ws}/.git`)
    expect(snapshot(ws)).toEqual(before)
  })
})

describe('bad-input corpus gaps: a refused deploy fetches nothing', () => {
  const stateRow = (id: string, content: string, message: string) =>
    it(id, async () => {
      const ws = workspace(DEPLOY)
      await registered(ws)
      mkdirSync(path.dirname(path.join(ws, STATE)), { recursive: true })
      writeFileSync(path.join(ws, STATE), content)
      await refused(ws, ['deploy', '--environment', 'staging', '--dry-run'], `modelgate: ${ws}/${STATE}: ${message}`)
      expect(existsSync(path.join(ws, ARTIFACTS))).toBe(false)
    })
  stateRow('deploy/state-not-json', 'garbage', 'the environment state is not valid JSON')
  stateRow('deploy/state-invalid', '{}', 'invalid environment state: schemaVersion: expected "1.0"')
  stateRow('deploy/state-an-array', '[]', 'invalid environment state: (top level): expected object, received array')

  it('deploy/command-not-found', async () => {
    const ws = workspace(DEPLOY)
    await registered(ws)
    await refused(
      ws,
      ['deploy', '--environment', 'missing-script'],
      /^modelgate: modelgate\.yml: deploy\.environments\.missing-script\.command: corpus-no-such-deployer is not a program on PATH$/,
    )
    expect(existsSync(path.join(ws, ARTIFACTS))).toBe(false)
  })

  it('deploy/ready-command-not-found', async () => {
    const ws = workspace(DEPLOY)
    await registered(ws)
    await refused(
      ws,
      ['deploy', '--environment', 'missing-probe'],
      /^modelgate: modelgate\.yml: deploy\.environments\.missing-probe\.ready-command: corpus-no-such-probe is not a program on PATH$/,
    )
    expect(existsSync(path.join(ws, ARTIFACTS))).toBe(false)
  })

  it('kserve: a kubectl that is not on PATH is refused before the fetch', async () => {
    const ws = workspace(DEPLOY)
    await registered(ws)
    await refused(ws, ['deploy', '--environment', 'cluster', '--dry-run'], "kserve: kubectl command 'corpus-no-such-kubectl' was not found")
    expect(existsSync(path.join(ws, ARTIFACTS))).toBe(false)
  })

  it('a refusal after the fetch takes the fetched artifact back, and leaves one fetched before', async () => {
    // The local target serves ONNX files only: a folder artifact is refused in the dry run, after the fetch.
    const ws = workspace(DEPLOY, { 'folder-model/model.bin': 'not onnx' })
    const reg = await cli(ws, ['register', '--model', 'folder-model', '--quiet'])
    expect(reg.code).toBe(0)
    await refused(ws, ['deploy', '--environment', 'staging', '--dry-run'], 'the local target serves ONNX files')
    expect(existsSync(path.join(ws, ARTIFACTS))).toBe(false)
    // Fetched by an earlier run: not this refusal's to remove.
    const earlier = path.join(ws, ARTIFACTS, 'corpus/artifacts/1.0.0/folder-model/model.bin')
    mkdirSync(path.dirname(earlier), { recursive: true })
    writeFileSync(earlier, 'not onnx')
    await refused(ws, ['deploy', '--environment', 'staging', '--dry-run'], 'the local target serves ONNX files')
    expect(existsSync(earlier)).toBe(true)
  })
})

describe('bad-input corpus gaps: --environment', () => {
  it('deploy/environment-not-a-name', async () => {
    const ws = workspace()
    await registered(ws)
    const line = await refused(
      ws,
      ['deploy', '--environment', '../../escape', '--dry-run'],
      "modelgate: --environment: '../../escape' is not a valid environment name",
    )
    expect(line).not.toContain('deploy.environments')
    expect(existsSync(path.join(ws, ARTIFACTS))).toBe(false)
  })
})

/** A loopback server that answers /v2/health/live as a modelgate server would, and is none. */
async function liveAnswerer(): Promise<string> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/v2/health/live' ? 200 : 404)
    res.end()
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function spawnChild(args: string[], cwd?: string): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd })
  children.push(child)
  return child
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null

describe('bad-input corpus gaps: serve --stop', () => {
  it('deploy/serve-stop-foreign-pid', async () => {
    const ws = workspace('', { 'env/state.json': '{}' })
    const victim = spawnChild(['-e', 'setTimeout(() => {}, 60000)'])
    const url = await liveAnswerer()
    writeFileSync(path.join(ws, 'env/server.json'), JSON.stringify({ pid: victim.pid, port: 1, url }))
    const line = await refused(
      ws,
      ['serve', '--stop', '--state', 'env/state.json'],
      `modelgate: ${ws}/env/server.json: pid: process ${victim.pid}`,
    )
    expect(line).toContain('is not modelgate serve for')
    await new Promise((r) => setTimeout(r, 200))
    expect(alive(victim)).toBe(true)
  })

  it('deploy/serve-stop-info-not-json', async () => {
    const ws = workspace('', { 'env/state.json': '{}', 'env/server.json': 'garbage\n' })
    await refused(ws, ['serve', '--stop', '--state', 'env/state.json'], `modelgate: ${ws}/env/server.json: is not valid JSON`)
    for (const [text, message] of [
      ['{}', "pid: expected the server's process id (a positive whole number), found no value"],
      ['[]', 'expected an object'],
      ['{"pid": 4242}', "url: expected the server's http URL, found no value"],
      ['{"pid": "1; rm -rf", "url": "http://127.0.0.1:9"}', 'pid: expected'],
    ]) {
      writeFileSync(path.join(ws, 'env/server.json'), text)
      await refused(ws, ['serve', '--stop', '--state', 'env/state.json'], `${ws}/env/server.json: ${message}`)
    }
    // Absent: nothing runs, as before.
    rmSync(path.join(ws, 'env/server.json'))
    const r = await cli(ws, ['serve', '--stop', '--state', 'env/state.json'])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('not found') })
  })

  it('stops the modelgate server of the state file, given by an absolute or a relative path', async () => {
    for (const relative of [false, true]) {
      const ws = workspace()
      copyFileSync(MODEL, path.join(ws, 'v1.onnx'))
      const stateFile = path.join(ws, 'env/state.json')
      mkdirSync(path.dirname(stateFile))
      writeFileSync(stateFile, JSON.stringify(stateOf(1, { version: '1.0.0', path: path.join(ws, 'v1.onnx') })))
      const info = path.join(ws, 'env/server.json')
      const server = spawnChild(
        [CLI, 'serve', '--state', relative ? 'env/state.json' : stateFile, '--port', '0', '--info', info],
        relative ? ws : undefined,
      )
      const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()))
      for (let i = 0; i < 300 && !existsSync(info); i++) await new Promise((r) => setTimeout(r, 50))
      const r = await cli(ws, ['serve', '--stop', '--state', 'env/state.json'])
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('modelgate serve: stopped') })
      await exited
    }
  })
})
