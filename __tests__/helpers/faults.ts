import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { createOnnxRunner } from '../../src/core/runners/onnx.js'
import { verifySignature, type WebhookPayload } from '../../src/core/deploy/targets/webhook.js'
import { writeFileAtomic } from '../../src/core/files.js'
import { ROOT } from './action-harness.js'

/*
 * The other side of deploy-model, for fault injection: a platform the command and webhook targets
 * deploy to (a real `modelgate serve` child per environment, driven by its state file as a deploy
 * script or a webhook receiver would drive it), each able to misbehave on cue for one version only,
 * and an independent look at what an endpoint serves (raw HTTP, answers compared with the ONNX file).
 */

export const CLI = path.join(ROOT, 'dist/cli/index.js')

/**
 * The command target's deploy script: `node deploy.mjs <cli> <dir> <port>`. It writes `<dir>/state.json`
 * for the plan in MODELGATE_* and starts `modelgate serve` on `<port>` when none answers there.
 * `<dir>/fault.json` ({ version, mode }) makes it misbehave when that version is being deployed:
 *   stale-artifact  ships the artifact it shipped last time under the new version's name, pinned to
 *                   the digest of what it ships (so the server takes it and serves the old model);
 *   claim-only      records the new version in `<dir>/claim.json` (the platform's catalogue, which
 *                   `startFront` reports) and leaves the servers as they are.
 */
export const DEPLOY_SCRIPT = `
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const [cli, dir, port] = process.argv.slice(2)
const e = process.env
const file = (n) => path.join(dir, n)
const read = (n) => { try { return JSON.parse(readFileSync(file(n), 'utf8')) } catch { return undefined } }
const write = (n, v) => { writeFileSync(file(n) + '.tmp', JSON.stringify(v)); renameSync(file(n) + '.tmp', file(n)) }
const live = () => fetch('http://127.0.0.1:' + port + '/v2/health/live', { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false)
const wanted = e.MODELGATE_CANARY_VERSION ?? e.MODELGATE_VERSION
const fault = read('fault.json')
const mode = fault?.version === wanted ? fault.mode : 'honest'
const previous = read('state.json')

if (mode === 'claim-only') {
  write('claim.json', { served: previous.stable.version, version: e.MODELGATE_VERSION, digest: e.MODELGATE_DIGEST })
  console.log('recorded ' + e.MODELGATE_VERSION)
  process.exit(0)
}
rmSync(file('claim.json'), { force: true })
let stable = { version: e.MODELGATE_VERSION, digest: e.MODELGATE_DIGEST, path: e.MODELGATE_ARTIFACT }
if (mode === 'stale-artifact') {
  const shipped = previous.stable.path
  stable = { ...stable, path: shipped, digest: 'sha256:' + createHash('sha256').update(readFileSync(shipped)).digest('hex') }
}
const state = { schemaVersion: '1.0', name: e.MODELGATE_NAME, environment: e.MODELGATE_ENVIRONMENT, generation: (previous?.generation ?? 0) + 1, stable }
if (e.MODELGATE_CANARY_VERSION) {
  state.canary = { version: e.MODELGATE_CANARY_VERSION, digest: e.MODELGATE_CANARY_DIGEST, path: e.MODELGATE_CANARY_ARTIFACT, percent: Number(e.MODELGATE_CANARY_PERCENT) }
}
write('state.json', state)
if (!(await live())) {
  const log = openSync(file('server.log'), 'a')
  spawn(process.execPath, [cli, 'serve', '--state', file('state.json'), '--port', port, '--info', file('server.json')], { detached: true, stdio: ['ignore', log, log] }).unref()
  while (!(await live())) await sleep(50)
  console.log('started modelgate serve on port ' + port)
}
console.log('applied generation ' + state.generation)
`

/** The command target's ready probe: `node ready.mjs <url> <name>`; exits 0 once the version deployed (the canary, if any) answers ready. */
export const READY_SCRIPT = `
const [url, name] = process.argv.slice(2)
const version = process.env.MODELGATE_CANARY_VERSION ?? process.env.MODELGATE_VERSION
const res = await fetch(url + '/v2/models/' + name + '/versions/' + version + '/ready').catch((e) => ({ status: e.cause?.code ?? e.message }))
if (res.status !== 200) {
  console.error(name + ' ' + version + ' is not ready: ' + res.status)
  process.exit(1)
}
`

/** The platform's catalogue entry a claim-only deploy writes: it says `version` serves where `served` does. */
interface Claim {
  served: string
  version: string
  digest: string
}

export interface Front {
  url: string
  /** Called with each request before it is passed on: where a test injects its fault. */
  onRequest?: (method: string, route: string) => void
  close(): Promise<void>
}

/**
 * The platform's front door on loopback: passes every request to `upstream`, but while `claimFile`
 * holds a claim, reports the claimed version and digest in the model's metadata, its ready route and
 * the modelgate extension, and forwards that version's routes to the version really served. A client
 * that trusts the metadata sees the new version; only its answers tell.
 */
export async function startFront(upstream: string, claimFile: string): Promise<Front> {
  const front: Front = { url: '', close: async () => {} }
  const server = http.createServer((req, res) => {
    front.onRequest?.(req.method ?? 'GET', req.url ?? '/')
    void forward(req, res, upstream, claimFile)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  front.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  front.close = () => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(() => resolve()))
  }
  return front
}

function readClaim(file: string): Claim | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Claim
  } catch {
    return undefined
  }
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function forward(req: IncomingMessage, res: ServerResponse, upstream: string, claimFile: string): Promise<void> {
  const claim = readClaim(claimFile)
  let route = req.url ?? '/'
  if (claim) route = route.replace(`/versions/${encodeURIComponent(claim.version)}/`, `/versions/${encodeURIComponent(claim.served)}/`)
  try {
    const sent = await body(req)
    const answer = await fetch(`${upstream}${route}`, {
      method: req.method,
      headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
      body: sent.length > 0 ? sent : undefined,
    })
    let text = await answer.text()
    if (claim && req.method === 'GET' && /^\/v2\/models\/[^/]+(\/modelgate)?$/.test(route) && answer.ok) text = relabel(text, claim)
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' })
    res.end(text)
  } catch (e) {
    res.writeHead(502, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: `upstream: ${(e as Error).message}` }))
  }
}

function relabel(text: string, claim: Claim): string {
  const meta = JSON.parse(text) as { versions?: (string | { version: string; digest: string })[] }
  meta.versions = meta.versions?.map((v) =>
    typeof v === 'string'
      ? v === claim.served
        ? claim.version
        : v
      : v.version === claim.served
        ? { ...v, version: claim.version, digest: claim.digest }
        : v,
  )
  return JSON.stringify(meta)
}

/** A `modelgate serve` child the test starts itself, for a webhook receiver to drive. */
export interface ServeProcess {
  url: string
  pid: number
  stop(): Promise<void>
}

export async function startServe(stateFile: string, infoFile: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--state', stateFile, '--port', '0', '--info', infoFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // The server says where it listens once it does: no polling for a port.
  const url = await new Promise<string>((resolve, reject) => {
    const seen = (d: Buffer) => {
      const m = /modelgate serve: (http:\/\/\S+)/.exec(stderr + d.toString())
      if (m) {
        child.stderr.off('data', seen)
        resolve(m[1]!)
      }
    }
    child.stderr.on('data', seen)
    void exited.then(() => reject(new Error(`modelgate serve exited: ${stderr}`)))
  })
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      await exited
    },
  }
}

export interface HookFault {
  version: string
  /**
   * ack-only: accepts the delivery and reports the version ready without applying it;
   * fail-echo: reports the deploy failed, quoting the request's signature header and the secret.
   */
  mode: 'ack-only' | 'fail-echo'
}

export interface Receiver {
  url: string
  /** Deliveries accepted, in order: the version each asked to serve. */
  deliveries: string[]
  /** Model files by digest: where the receiver finds what a delivery names. */
  files: Record<string, string>
  fault?: HookFault
  close(): Promise<void>
}

/**
 * A webhook receiver in front of a `modelgate serve`: checks the signature as the target's header
 * asks (401 otherwise), writes the server's state file for the plan (artifacts found by digest in
 * `files`), and answers GET /status/<id> from the server's own extension endpoint.
 */
export async function startReceiver(opts: { secret: string; stateFile: string; serveUrl: string; name: string }): Promise<Receiver> {
  const jobs = new Map<string, { version: string; generation: number; signature: string; fault?: HookFault['mode'] }>()
  let generation = 0
  const receiver: Receiver = { url: '', deliveries: [], files: {}, close: async () => {} }
  const send = (res: ServerResponse, status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(value))
  }
  const server = http.createServer((req, res) => {
    void (async () => {
      const raw = await body(req)
      if (req.method === 'POST' && req.url === '/deploy') {
        const signature = String(req.headers['x-modelgate-signature-256'] ?? '')
        if (!verifySignature(raw, signature, opts.secret)) return send(res, 401, { error: 'bad signature' })
        const plan = JSON.parse(raw.toString('utf8')) as WebhookPayload
        const version = (plan.canary ?? plan.stable).version
        receiver.deliveries.push(version)
        const fault = receiver.fault?.version === version ? receiver.fault.mode : undefined
        if (fault === undefined) {
          generation++
          const spec = (v: { version: string; digest: string }) => ({
            version: v.version,
            digest: v.digest,
            path: receiver.files[v.digest]!,
          })
          const state = {
            schemaVersion: '1.0',
            name: plan.stable.name,
            environment: plan.environment,
            generation,
            stable: spec(plan.stable),
            ...(plan.canary ? { canary: { ...spec(plan.canary), percent: plan.canary.percent } } : {}),
          }
          writeFileAtomic(opts.stateFile, JSON.stringify(state))
        }
        jobs.set(plan.id, { version, generation, signature, fault })
        return send(res, 202, { id: plan.id })
      }
      const job = /^\/status\/([^/]+)$/.exec(req.url ?? '')
      const known = job ? jobs.get(decodeURIComponent(job[1]!)) : undefined
      if (!known) return send(res, 404, { error: 'no such job' })
      if (known.fault === 'ack-only') return send(res, 200, { status: 'ready', version: known.version })
      if (known.fault === 'fail-echo') {
        return send(res, 200, {
          status: 'failed',
          message: `rollout rejected; request signed ${known.signature} with key ${opts.secret}`,
        })
      }
      const ext = (await (await fetch(`${opts.serveUrl}/v2/models/${opts.name}/modelgate`)).json()) as {
        generation?: number
        error?: string
      }
      if (ext.generation === known.generation) return send(res, 200, { status: 'ready', version: known.version })
      return send(res, 200, { status: 'pending', message: ext.error ?? `applying generation ${known.generation}` })
    })().catch((e: unknown) => send(res, 500, { error: (e as Error).message }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  receiver.close = () => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(() => resolve()))
  }
  return receiver
}

/** What an endpoint serves, asked over plain HTTP: its versions, their digests, and its answer to `rows`. */
export interface Served {
  versions: string[]
  digests: Record<string, string>
  /** P(class 1) per row, from an unversioned request (the traffic split). */
  answers: number[]
}

export async function probe(url: string, name: string, rows: number[][]): Promise<Served> {
  const meta = (await (await fetch(`${url}/v2/models/${name}`)).json()) as { versions: string[] }
  const ext = (await (await fetch(`${url}/v2/models/${name}/modelgate`)).json()) as { versions: { version: string; digest: string }[] }
  const res = await fetch(`${url}/v2/models/${name}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, rows[0]!.length], data: rows.flat() }] }),
  })
  const out = (await res.json()) as { outputs?: { name: string; data: number[] }[]; error?: string }
  const probabilities = out.outputs?.find((o) => o.name === 'probabilities')
  if (!probabilities) throw new Error(`${url} answered ${res.status}: ${JSON.stringify(out)}`)
  return {
    versions: meta.versions,
    digests: Object.fromEntries(ext.versions.map((v) => [v.version, v.digest])),
    answers: rows.map((_, i) => probabilities.data[2 * i + 1]!),
  }
}

/** The first `count` rows of a CSV of numbers (the label column dropped), and the feature names. */
export function csvRows(file: string, label: string, count: number): { features: string[]; rows: number[][] } {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n')
  const names = head!.split(',')
  const keep = names.map((n, i) => (n === label ? -1 : i)).filter((i) => i >= 0)
  return {
    features: keep.map((i) => names[i]!),
    rows: lines.slice(0, count).map((l) => {
      const cells = l.split(',').map(Number)
      return keep.map((i) => cells[i]!)
    }),
  }
}

/** P(class 1) per row as the ONNX file itself answers, in this process: what a server of that file must say. */
export async function answersOf(model: string, features: string[], rows: number[][]): Promise<number[]> {
  const runner = await createOnnxRunner({ path: model })
  try {
    const out = await runner.predict({
      offset: 0,
      length: rows.length,
      features,
      columns: features.map((_, j) => rows.map((r) => r[j]!)),
    })
    const k = out.classes!.length
    const positive = out.classes!.findIndex((c) => String(c) === '1')
    return rows.map((_, i) => out.probabilities![i * k + positive]!)
  } finally {
    await runner.close()
  }
}
