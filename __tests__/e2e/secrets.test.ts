/**
 * Issue 12, "Secrets in output": a model server that quotes the credentials it was sent (the token after
 * its scheme, a Basic `user:password`, an environment value put into a header) must not get them into any
 * stream of the CLI, nor into any text of the action (failure, summary, annotations, log lines, outputs,
 * report); the action hands every part of each credential to setSecret. Both run from source: the CLI
 * through runCli, the action through runValidateAction with an in-memory ActionIO.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { runValidateAction } from '../../src/actions/validate-model/main.js'
import type { ActionIO } from '../../src/ports/io.js'
import { secrets } from '../../src/core/secrets.js'

const TOKEN = 'SECRET123'
const BASIC_USER = 'alice'
const BASIC_PASSWORD = 'hunter2-horse'
const BASIC = Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64')
const ENV_VALUE = 'env-s3cret-from-TOKEN_ENV'
const URL_PASSWORD = 'pa55w0rd-in-url'

/** What the server was sent, to quote back. */
function credentialsOf(req: IncomingMessage): string {
  const auth = req.headers.authorization ?? ''
  const [scheme, rest = ''] = auth.split(' ')
  if (scheme === 'Basic') {
    const decoded = Buffer.from(rest, 'base64').toString('utf8')
    return `user:password ${decoded} rejected; password ${decoded.slice(decoded.indexOf(':') + 1)} is wrong`
  }
  if (rest) return `token ${rest} expired`
  const key = req.headers['x-api-key']
  return `key ${String(key)} revoked; ${String(key).replace(/^team-/, '')} is not a key`
}

/**
 * A V2 model server. `mode: 'deny'` answers 401 to everything, quoting the credentials; `'metadata'` does so
 * only for the metadata (GET), then scores every row as 1, so the run reaches a report with its note.
 */
let mode: 'deny' | 'metadata' = 'deny'
let server: Server
let base: string
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      if (mode === 'deny' || req.method === 'GET') {
        res.writeHead(401, { 'content-type': 'text/plain' })
        res.end(credentialsOf(req))
        return
      }
      const { inputs } = JSON.parse(body) as { inputs: { shape: number[] }[] }
      const n = inputs[0]!.shape[0]!
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ outputs: [{ name: 'label', datatype: 'INT64', shape: [n], data: Array(n).fill(1) }] }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

// The registry is process-wide: forget earlier tests' secrets, so that each test proves its own masking.
beforeEach(() => {
  secrets.clear()
  mode = 'deny'
  process.env.TOKEN_ENV = ENV_VALUE
})
afterEach(() => {
  delete process.env.TOKEN_ENV
})

const infer = () => `${base}/v2/models/m/infer`

function workspace(manifest?: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-secrets-'))
  writeFileSync(path.join(dir, 'data.csv'), 'a,b,y\n1,2,1\n3,4,0\n5,6,1\n7,8,0\n')
  if (manifest) writeFileSync(path.join(dir, 'modelgate.yml'), manifest)
  return dir
}

/** A manifest whose header takes its value from the environment. */
const ENV_MANIFEST = () => `name: m
model:
  url: ${infer()}
  retries: 0
  headers:
    X-Api-Key: team-\${TOKEN_ENV}
data: data.csv
label: y
features: [a, b]
`

/** Every secret the cases below use, whole and in parts. */
const ALL = [TOKEN, BASIC, `${BASIC_USER}:${BASIC_PASSWORD}`, BASIC_PASSWORD, ENV_VALUE, URL_PASSWORD]
function expectClean(text: string): void {
  for (const s of ALL) expect(text).not.toContain(s)
}

async function cli(args: string[], cwd: string) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

const cliFlags = (dir: string) => ['--data', path.join(dir, 'data.csv'), '--label', 'y', '--features', 'a,b']

describe('modelgate validate (runCli) never prints a credential a server quotes', () => {
  it('Authorization: Bearer: the server answers "token SECRET123 expired"', async () => {
    const dir = workspace()
    const r = await cli(['validate', '--model', infer(), ...cliFlags(dir), '--header', `Authorization: Bearer ${TOKEN}`], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('the server answered 401 Unauthorized: token *** expired')
    expectClean(r.stdout + r.stderr)
  })

  it('Authorization: Basic: the server quotes the decoded user:password and the password', async () => {
    const dir = workspace()
    const r = await cli(['validate', '--model', infer(), ...cliFlags(dir), '--header', `Authorization: Basic ${BASIC}`, '--debug'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('user:password *** rejected; password *** is wrong')
    expectClean(r.stdout + r.stderr)
  })

  it('a header ${TOKEN_ENV} from the environment (manifest), the server quoting the value alone', async () => {
    const dir = workspace(ENV_MANIFEST())
    const r = await cli(['validate'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('key *** revoked; *** is not a key')
    expectClean(r.stdout + r.stderr)
  })

  it('a report that carries the metadata 401 (the run goes on) is clean too: stdout, stderr, report, summary', async () => {
    mode = 'metadata'
    const dir = workspace()
    const report = path.join(dir, 'report.json')
    const summary = path.join(dir, 'summary.md')
    const flags = [...cliFlags(dir), '--header', `Authorization: Bearer ${TOKEN}`, '--report', report, '--summary', summary]
    const text = await cli(['validate', '--model', infer(), ...flags], dir)
    const json = await cli(['validate', '--model', infer(), ...flags, '--json'], dir)
    expect(text.code).not.toBe(2)
    expect(readFileSync(report, 'utf8')).toContain('model metadata unavailable')
    expect(readFileSync(report, 'utf8')).toContain('token *** expired')
    for (const r of [text, json]) expectClean(r.stdout + r.stderr)
    expectClean(readFileSync(report, 'utf8'))
    expectClean(readFileSync(summary, 'utf8'))
  })

  it('a model URL with userinfo', async () => {
    const dir = workspace()
    const url = infer().replace('http://', `http://${BASIC_USER}:${URL_PASSWORD}@`)
    const r = await cli(['validate', '--model', url, ...cliFlags(dir)], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('do not put credentials in the URL')
    expectClean(r.stdout + r.stderr)
  })

  it('a malformed --header is not echoed, not even its start: it says which one and the expected form', async () => {
    const dir = workspace()
    const one = await cli(['validate', '--model', infer(), ...cliFlags(dir), '--header', `Authorization Bearer ${TOKEN}`], dir)
    expect(one.code).toBe(2)
    expect(one.stderr).toBe(
      'modelgate: --header: expected "Name: value" (a header name such as Authorization, a colon, then the value, e.g. "Authorization: Bearer <token>"); the text given is not shown, as it may hold a credential',
    )
    const two = await cli(
      ['validate', '--model', infer(), ...cliFlags(dir), '--header', 'X-Trace: 1', '--header', `Authorization Bearer ${TOKEN}`],
      dir,
    )
    expect(two.stderr).toMatch(/^modelgate: --header, header 2 of 2: expected "Name: value"/)
    for (const r of [one, two]) {
      expect(r.stderr).not.toContain('Authorization Bearer')
      expectClean(r.stdout + r.stderr)
    }
  })
})

/** An ActionIO that records everything the action says. */
function memoryIO(inputs: Record<string, string>) {
  const said = {
    secrets: [] as string[],
    failed: [] as string[],
    summary: '',
    lines: [] as string[],
    outputs: {} as Record<string, string>,
  }
  const io: ActionIO = {
    getInput: (name) => inputs[name] ?? '',
    setOutput: (name, value) => void (said.outputs[name] = value),
    appendSummary: async (markdown) => void (said.summary += markdown),
    annotate: (level, message, title) => void said.lines.push(`${level} ${title ?? ''}: ${message}`),
    setSecret: (secret) => void said.secrets.push(secret),
    info: (message) => void said.lines.push(message),
    warning: (message) => void said.lines.push(`warning: ${message}`),
    setFailed: (message) => void said.failed.push(message),
  }
  const everything = () => [...said.failed, said.summary, ...said.lines, ...Object.values(said.outputs)].join('\n')
  return { io, said, everything }
}

async function action(inputs: Record<string, string>, dir: string) {
  const m = memoryIO({ 'report-path': 'report.json', comment: 'false', ...inputs })
  const code = await runValidateAction({ io: m.io, workspace: dir, context: { tool: 'modelgate', version: 'test' }, env: process.env })
  const report = path.join(dir, 'report.json')
  return { code, ...m, report: existsSync(report) ? readFileSync(report, 'utf8') : '' }
}

const actionInputs = (headers: string) => ({ model: infer(), data: 'data.csv', label: 'y', features: 'a,b', 'http-headers': headers })

describe('validate-model (runValidateAction, in-memory io) never shows a credential a server quotes', () => {
  it('Authorization: Bearer: masked whole and after its scheme; no text carries the token', async () => {
    const a = await action(actionInputs(`Authorization: Bearer ${TOKEN}`), workspace())
    expect(a.code).toBe(2)
    expect(a.said.failed.join('\n')).toContain('token *** expired')
    expect(a.said.summary).toContain('token *** expired')
    expect(a.said.secrets).toEqual(expect.arrayContaining([`Bearer ${TOKEN}`, TOKEN]))
    expectClean(a.everything())
  })

  it('Authorization: Basic: masked whole, base64, user:password and the password', async () => {
    const a = await action(actionInputs(`Authorization: Basic ${BASIC}`), workspace())
    expect(a.code).toBe(2)
    expect(a.said.failed.join('\n')).toContain('user:password *** rejected; password *** is wrong')
    expect(a.said.secrets).toEqual(expect.arrayContaining([`Basic ${BASIC}`, BASIC, `${BASIC_USER}:${BASIC_PASSWORD}`, BASIC_PASSWORD]))
    expect(a.said.secrets).not.toContain(BASIC_USER)
    expectClean(a.everything())
  })

  it('a manifest header ${TOKEN_ENV}: the environment value is masked alone', async () => {
    const a = await action({}, workspace(ENV_MANIFEST()))
    expect(a.code).toBe(2)
    expect(a.said.failed.join('\n')).toContain('key *** revoked; *** is not a key')
    expect(a.said.secrets).toEqual(expect.arrayContaining([`team-${ENV_VALUE}`, ENV_VALUE]))
    expectClean(a.everything())
  })

  it('a run that reaches its report (metadata 401 noted): summary, annotations, outputs and report are clean', async () => {
    mode = 'metadata'
    const a = await action(actionInputs(`Authorization: Bearer ${TOKEN}`), workspace())
    expect(a.code).not.toBe(2)
    expect(a.report).toContain('token *** expired')
    expectClean(a.everything())
    expectClean(a.report)
  })

  it('a model URL with userinfo: user:password and the password are masked, and not shown', async () => {
    const url = infer().replace('http://', `http://${BASIC_USER}:${URL_PASSWORD}@`)
    const a = await action({ ...actionInputs(`Authorization: Bearer ${TOKEN}`), model: url }, workspace())
    expect(a.code).toBe(2)
    expect(a.said.failed.join('\n')).toContain('do not put credentials in the URL')
    expect(a.said.secrets).toEqual(expect.arrayContaining([`${BASIC_USER}:${URL_PASSWORD}`, URL_PASSWORD]))
    expectClean(a.everything())
  })

  it('a malformed header line is not echoed: it says which line of http-headers and the expected form', async () => {
    const a = await action(actionInputs(`X-Trace: 1\nAuthorization Bearer ${TOKEN}`), workspace())
    expect(a.code).toBe(2)
    expect(a.said.failed).toEqual([
      'input http-headers, header 2 of 2: expected "Name: value" (a header name such as Authorization, a colon, then the value, e.g. "Authorization: Bearer <token>"); the text given is not shown, as it may hold a credential',
    ])
    expectClean(a.everything())
  })
})
