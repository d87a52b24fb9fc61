/**
 * The bad-input corpus's runner: one fresh case folder per row, the bundled CLI or action run in it as a
 * user or a runner would, and the checks every row must pass (expectRefused). See cases.ts for the rows.
 *
 * A case folder holds four siblings: `ws` (the workspace: the working directory, GITHUB_WORKSPACE),
 * `outside` (files the run must not reach), `tmp` (TMPDIR) and `runner` (RUNNER_TEMP and the runner's
 * command files). Only `ws` and `outside` are inputs; all four are searched for the canary secrets.
 */
import { expect } from '@jest/globals'
import { execFileSync, spawn } from 'node:child_process'
import {
  appendFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { snapshot } from '../helpers/snapshot.js'
import { ROOT, runAction } from '../helpers/action-harness.js'
import { stopEnvironmentServers } from '../helpers/servers.js'

export const CLI = path.join(ROOT, 'dist/cli/index.js')

/** In the environment of every case, as a runner's token and a registry token would be: never printed, never written. */
export const GITHUB_CANARY = 'ghs_corpusCANARY0123456789'
export const REGISTRY_CANARY = 'mgr_corpusCANARY9876543210'

export type Face = 'cli' | 'validate-model' | 'test-robustness' | 'register-version' | 'deploy-model' | '.'

export interface CaseContext {
  root: string
  ws: string
  outside: string
  tmp: string
  runner: string
  /** The loopback server that answers 401 quoting the credentials it was sent. */
  server: string
  /** A loopback URL where nothing listens. */
  refused: string
}

export type Content = string | Buffer

/** What to put at a path: text or bytes (built when the case runs, for the big ones), a link, a folder, a FIFO, an old file. */
export type Entry =
  Content | ((c: CaseContext) => Content) | { symlink: string } | { dir: true } | { fifo: true } | { content: Content; ageMs: number }

export interface Row {
  /** `<kind>/<case>`, unique. */
  id: string
  face: Face
  /** cli: argv after `modelgate`. */
  args?: string[]
  /** An action's inputs (the action.yml defaults fill the rest). */
  inputs?: Record<string, string>
  /** Created in the workspace, relative paths. Text, link targets, args, inputs, env and message may use {{WS}}, {{OUTSIDE}}, {{SERVER}}, {{REFUSED}}, {{NODE}}. */
  files: Record<string, Entry>
  /** Created in the sibling folder outside the workspace. */
  outside?: Record<string, Entry>
  env?: Record<string, string>
  /** 2 for bad input; 1 where a failing check is the right answer; 0 for the positive controls. */
  exit: 0 | 1 | 2
  /** A fragment of the error (exit 2), or of the output (exit 0 or 1). */
  message: string | RegExp
  /** Outputs that must not exist afterwards (workspace-relative); any other new file fails the row too. */
  mustNotExist?: string[]
  /** New files the row allows (a path, or a folder ending in `/`): the error JUnit, a positive control's outputs. */
  allowNew?: string[]
  /** Existing files a positive control may change (a path, or a folder ending in `/`). */
  allowChanged?: string[]
  /** Secrets of this row, beyond the canaries: in no stream and no file the run wrote. */
  secret?: string | string[]
  /** Runs in the workspace before the snapshot (e.g. registers a version): its own outputs are inputs of the row. */
  setup?: (c: CaseContext) => Promise<void>
  /** Checks of the row's own, after the common ones (e.g. that a process the run must not touch is alive). */
  after?: (c: CaseContext) => void
  /** Patterns no stream may match: a workflow command or a terminal escape smuggled in through the data. */
  forbid?: { test: (text: string) => boolean }[]
  /** What the bundle does (KNOWN_GAPS) or did (a fixed gap) wrong on this row, and where in src/ the fix belongs. */
  gap?: string
}

export interface Result {
  code: number | null
  stdout: string
  stderr: string
  /** The error: the CLI's `modelgate: …` line(s) to the end of stderr; the action's `::error` messages. */
  errors: string[]
  summary: string
  outputs: Record<string, string>
}

const PLACEHOLDERS = ['WS', 'OUTSIDE', 'SERVER', 'REFUSED', 'NODE'] as const

function values(c: CaseContext): Record<(typeof PLACEHOLDERS)[number], string> {
  return { WS: c.ws, OUTSIDE: c.outside, SERVER: c.server, REFUSED: c.refused, NODE: process.execPath }
}

export function fill(text: string, c: CaseContext): string {
  const v = values(c)
  return text.includes('{{') ? PLACEHOLDERS.reduce((t, k) => t.split(`{{${k}}}`).join(v[k]), text) : text
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

export function fillMessage(m: string | RegExp, c: CaseContext): string | RegExp {
  if (typeof m === 'string') return fill(m, c)
  const v = values(c)
  return new RegExp(
    PLACEHOLDERS.reduce((s, k) => s.split(`\\{\\{${k}\\}\\}`).join(escapeRegExp(v[k])), m.source),
    m.flags,
  )
}

/** A fresh case folder; `rmCase` removes it (some inputs are tens of MB). */
export function newCase(server = 'http://127.0.0.1:9', refused = 'http://127.0.0.1:9'): CaseContext {
  // Resolved: the bundle prints real paths, and messages are matched with {{WS}} (macOS's /tmp is a link).
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'mg-corpus-')))
  const c = {
    root,
    ws: path.join(root, 'ws'),
    outside: path.join(root, 'outside'),
    tmp: path.join(root, 'tmp'),
    runner: path.join(root, 'runner'),
    server,
    refused,
  }
  for (const d of [c.ws, c.outside, c.tmp, c.runner]) mkdirSync(d)
  return c
}

export function rmCase(c: CaseContext): void {
  rmSync(c.root, { recursive: true, force: true })
}

export function create(dir: string, files: Record<string, Entry>, c: CaseContext): void {
  for (const [name, given] of Object.entries(files)) {
    const p = path.join(dir, name)
    mkdirSync(path.dirname(p), { recursive: true })
    const entry = typeof given === 'function' ? given(c) : given
    if (typeof entry === 'string') writeFileSync(p, fill(entry, c))
    else if (Buffer.isBuffer(entry)) writeFileSync(p, entry)
    else if ('symlink' in entry) symlinkSync(fill(entry.symlink, c), p)
    else if ('dir' in entry) mkdirSync(p, { recursive: true })
    else if ('fifo' in entry) execFileSync('mkfifo', [p])
    else {
      writeFileSync(p, typeof entry.content === 'string' ? fill(entry.content, c) : entry.content)
      const t = new Date(Date.now() - entry.ageMs)
      utimesSync(p, t, t)
    }
  }
}

export { snapshot }

/** The inputs of a case: the workspace and the folder outside it. */
export function snapshotCase(c: CaseContext): Record<string, string> {
  const prefix = (p: string, s: Record<string, string>) => Object.fromEntries(Object.entries(s).map(([k, v]) => [path.join(p, k), v]))
  return { ...prefix('ws', snapshot(c.ws)), ...prefix('outside', snapshot(c.outside)) }
}

/** The environment of every run: enough to work, and the canaries. */
function baseEnv(c: CaseContext): Record<string, string> {
  const env: Record<string, string> = {}
  for (const k of ['PATH', 'HOME', 'LANG']) if (process.env[k]) env[k] = process.env[k]!
  return { ...env, TMPDIR: c.tmp, GITHUB_TOKEN: GITHUB_CANARY, MODELGATE_REGISTRY_TOKEN: REGISTRY_CANARY }
}

/** Output beyond this is cut (a message must be short anyway; see expectRefused). */
const MAX_STREAM = 4 * 1024 * 1024
const CASE_TIMEOUT_MS = 120_000

/** Runs the bundled CLI in the workspace as a child process. */
export function cli(c: CaseContext, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const child = spawn(process.execPath, [CLI, ...args.map((a) => fill(a, c))], {
    cwd: c.ws,
    env: { ...baseEnv(c), ...fillAll(env, c) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const take = (stream: NodeJS.ReadableStream) => {
    let text = ''
    stream.setEncoding('utf8')
    stream.on('data', (d: string) => {
      if (text.length < MAX_STREAM) text += d
    })
    return () => text
  }
  const stdout = take(child.stdout)
  const stderr = take(child.stderr)
  const timer = setTimeout(() => child.kill('SIGKILL'), CASE_TIMEOUT_MS)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      const err = stderr()
      const lines = err.split('\n')
      const at = lines.findIndex((l) => l.startsWith('modelgate: '))
      resolve({
        code,
        stdout: stdout(),
        stderr: err,
        // Progress lines come first; the error is everything from its first `modelgate: ` line on.
        errors: at < 0 ? [] : [lines.slice(at).join('\n').trimEnd()],
        summary: '',
        outputs: {},
      })
    }),
  )
}

function fillAll(record: Record<string, string>, c: CaseContext): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fill(v, c)]))
}

/** A workflow command's message as the runner shows it (%25, %0D, %0A decoded). */
const unescapeCommand = (m: string) => m.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')

/** Runs a bundled action as the runner does, with the case's workspace as GITHUB_WORKSPACE. */
export async function action(c: CaseContext, face: Exclude<Face, 'cli'>, inputs: Record<string, string>, env: Record<string, string> = {}) {
  // The harness reads GITHUB_OUTPUT and the summary from its own folder; the other command files, and
  // RUNNER_TEMP, are the case's, so that they are searched for secrets too.
  const files: Record<string, string> = {}
  for (const [k, f] of Object.entries({ GITHUB_STATE: 'state', GITHUB_ENV: 'env', GITHUB_PATH: 'path' })) {
    files[k] = path.join(c.runner, f)
    writeFileSync(files[k], '')
  }
  const r = await runAction(
    face,
    { 'github-token': GITHUB_CANARY, token: REGISTRY_CANARY, ...fillAll(inputs, c) },
    {
      ...baseEnv(c),
      GITHUB_WORKSPACE: c.ws,
      RUNNER_TEMP: c.runner,
      ...files,
      ...fillAll(env, c),
    },
  )
  return {
    code: r.code,
    stdout: r.stdout,
    stderr: r.stderr,
    errors: r.commands.filter((x) => x.command === 'error').map((x) => unescapeCommand(x.message)),
    summary: r.summary,
    outputs: r.outputs,
  } satisfies Result
}

export function runRow(row: Row, c: CaseContext): Promise<Result> {
  if (row.face === 'cli') return cli(c, row.args ?? [], row.env)
  return action(c, row.face, row.inputs ?? {}, row.env)
}

/** Files under `dir` (recursively) that are regular files. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return (readdirSync(dir, { recursive: true }) as string[]).map((n) => path.join(dir, n)).filter((p) => lstatSync(p).isFile())
}

const allowed = (p: string, list: string[] | undefined) => (list ?? []).some((a) => (a.endsWith('/') ? p.startsWith(a) : p === a))

/**
 * What every row asserts: its exit code; its message (the CLI's one `modelgate:` line, the action's one
 * `::error`), naming what the row names; no stack trace; inputs byte-identical; no output but the ones the
 * row allows; no secret in any stream or in any file the run wrote.
 */
export function expectRefused(row: Row, r: Result, before: Record<string, string>, after: Record<string, string>, c: CaseContext): void {
  const streams = [r.stdout, r.stderr, r.summary, JSON.stringify(r.outputs)].join('\n')
  const message = fillMessage(row.message, c)
  const matches = (text: string) => (typeof message === 'string' ? text.includes(message) : message.test(text))
  // The message first: it says most about a failing row.
  if (row.exit === 2) {
    expect(r.errors).toHaveLength(1)
    const error = r.errors[0]!
    expect({ error, matches: matches(error) }).toEqual({ error, matches: true })
    expect(error).not.toContain('\n')
    if (row.face === 'cli') {
      expect(error).toMatch(/^modelgate: /)
      expect(r.stderr.split('\n').filter((l) => l.startsWith('modelgate: '))).toHaveLength(1)
    }
    // No message quotes a cell or a file whole.
    expect(error.length).toBeLessThan(4000)
  } else {
    expect({ output: streams.slice(0, 4000), matches: matches(streams) }).toEqual({ output: streams.slice(0, 4000), matches: true })
  }
  expect(r.code).toBe(row.exit)
  expect(streams).not.toMatch(/^\s+at /m)
  expect(streams).not.toContain('internal error')
  for (const [i, f] of (row.forbid ?? []).entries())
    expect({ forbidden: i, found: f.test(streams) }).toEqual({ forbidden: i, found: false })

  const allowedNew = row.allowNew?.map((p) => path.join('ws', p))
  const allowedChange = row.allowChanged?.map((p) => path.join('ws', p))
  // An empty folder that went away is no input lost (a registry's scratch folder, tidied by the next command).
  const emptyFolder = (k: string) => before[k] === 'dir' && !Object.keys(before).some((o) => o.startsWith(`${k}${path.sep}`))
  const changed = Object.keys(before).filter(
    (k) => after[k] !== before[k] && !allowed(k, allowedChange) && !(after[k] === undefined && emptyFolder(k)),
  )
  expect(changed).toEqual([])
  // A folder made for an output is not an output; a file is.
  const added = Object.keys(after).filter((k) => !(k in before) && after[k] !== 'dir' && !allowed(k, allowedNew))
  expect(added).toEqual([])
  for (const p of row.mustNotExist ?? []) expect({ [p]: existsSync(path.join(c.ws, p)) }).toEqual({ [p]: false })

  const secrets = [GITHUB_CANARY, REGISTRY_CANARY, ...[row.secret ?? []].flat()]
  // `::add-mask::` is how an action hands the runner a secret to hide: the one line where it must appear.
  const shown = streams.replace(/^::add-mask::.*$/gm, '')
  for (const s of secrets) expect({ secret: s, inStreams: shown.includes(s) }).toEqual({ secret: s, inStreams: false })
  // Inputs may hold a secret (a manifest's header): only what the run wrote is searched.
  const written = [
    ...Object.keys(after)
      .filter((k) => after[k]!.startsWith('file ') && after[k] !== before[k])
      .map((k) => path.join(c.root, k)),
    ...filesUnder(c.tmp),
    ...filesUnder(c.runner),
  ]
  for (const f of written) {
    const bytes = readFileSync(f)
    for (const s of secrets) expect({ file: f, secret: s, found: bytes.includes(s) }).toEqual({ file: f, secret: s, found: false })
  }
}

/** Runs `fn`s at most `n` at a time: the cases spawn processes, and the machine has two cores. */
export function pool(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0
  const waiting: (() => void)[] = []
  return async (fn) => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve))
    active++
    try {
      return await fn()
    } finally {
      active--
      waiting.shift()?.()
    }
  }
}

/** One row from start to end: folder, files, setup, snapshot, run, snapshot, checks, clean-up. */
export async function check(row: Row, server: string, refused: string): Promise<void> {
  const c = newCase(server, refused)
  try {
    create(c.ws, row.files, c)
    create(c.outside, row.outside ?? {}, c)
    await row.setup?.(c)
    const before = snapshotCase(c)
    const r = await runRow(row, c)
    // To see what a new row does before writing its message: CORPUS_DUMP=<file> npm test -- __tests__/e2e/bad-input-corpus.test.ts
    if (process.env.CORPUS_DUMP) dump(process.env.CORPUS_DUMP, row, r)
    expectRefused(row, r, before, snapshotCase(c), c)
    row.after?.(c)
  } finally {
    // A row that the bundle stops refusing may deploy: its servers must not outlive the case.
    stopEnvironmentServers(c.ws)
    rmCase(c)
  }
}

function dump(file: string, row: Row, r: Result): void {
  const cut = (t: string) => (t.length > 2000 ? `${t.slice(0, 1000)}…${t.slice(-1000)}` : t)
  appendFileSync(
    file,
    `${JSON.stringify({ id: row.id, code: r.code, errors: r.errors.map(cut), stderr: cut(r.stderr), stdout: cut(r.stdout) })}\n`,
  )
}

/** What a server was sent, quoted back: every credential form a careless server might echo. */
function credentialsOf(req: IncomingMessage): string {
  const auth = req.headers.authorization ?? ''
  const [scheme, rest = ''] = auth.split(' ')
  const key = req.headers['x-api-key']
  const parts = [`authorization ${auth || '(none)'}`]
  if (scheme === 'Basic') {
    const decoded = Buffer.from(rest, 'base64').toString('utf8')
    parts.push(`user:password ${decoded}`, `password ${decoded.slice(decoded.indexOf(':') + 1)}`)
  } else if (rest) parts.push(`token ${rest}`)
  if (key) parts.push(`key ${String(key)}`, `bare ${String(key).replace(/^team-/, '')}`)
  return `rejected: ${parts.join('; ')}`
}

/**
 * A loopback V2 model server that answers 401 to everything, quoting the credentials it got; but its
 * liveness probe, so that `serve --stop` takes it for a running server.
 */
export async function startQuotingServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      if (req.url === '/v2/health/live') {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.end('live')
        return
      }
      res.writeHead(401, { 'content-type': 'text/plain' })
      res.end(credentialsOf(req))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** A loopback URL where nothing listens: a port that was just free. */
export async function refusedUrl(): Promise<string> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

/** A setup step: the CLI in the workspace, which must succeed (it prepares the row's inputs). */
export function setupCli(...args: string[]): (c: CaseContext) => Promise<void> {
  return async (c) => {
    const r = await cli(c, args)
    if (r.code !== 0) throw new Error(`setup \`modelgate ${args.join(' ')}\` exited ${r.code}: ${r.stderr}`)
  }
}
