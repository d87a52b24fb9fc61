/**
 * `modelgate serve`: the local deployment target of deploy-model.
 *
 * Why a server of our own: deploy-model needs somewhere to deploy to that behaves like a real model
 * server (KServe, Triton, Seldon all speak the Open Inference Protocol V2) without a cluster, so the
 * same http runner, smoke tests and canary checks work locally and against production.
 *
 * Why a state file instead of an API: a deploy is a file write (atomic, see state.ts). The file is
 * the environment's desired state, survives restarts, is easy to inspect, and needs no credentials
 * or open admin port. The server converges on it; it never writes it.
 *
 * Why polling: fs.watch misses renames (atomic writes) on some platforms and fires twice on others.
 * Reading a small file every pollMs is cheap and the same everywhere.
 *
 * Why digests: the state pins each version to the sha256 the deploy approved. A file that does not
 * match (half-copied, replaced, corrupt) is refused and the previous deployment keeps serving; the
 * refusal is visible in `status()`, in readiness, and in the modelgate extension endpoint, so
 * deploy-model can tell a deploy that took from one that did not.
 *
 * Why in-flight counting: a swap replaces the routing table in one assignment; a request keeps the
 * version it was routed to when it arrived, and that version's runner is closed only once its last
 * request is answered. No request is dropped or answered by a closed session.
 *
 * Why a deterministic canary split: "exactly p of every 100" makes a canary's traffic countable by
 * tests and by deploy checks, where random sampling would only be approximately right.
 *
 * Extension: `GET /v2/models/{name}/modelgate` gives the applied generation and, per served version,
 * its digest and traffic percent. Responses to inference carry `model_version` and the header
 * `x-modelgate-version`.
 *
 * Why no paths in answers: the log and `status()` name the state and model files in full, for whoever
 * runs the server; what goes over HTTP names them by role (<state file>, <model file of version 2>),
 * so a client learns what went wrong without learning the server's disk layout (see redact.ts).
 *
 * Status codes of inference: 400 for a request that does not fit the model (oip.ts checks it against
 * the model's metadata), 404 for an unknown model or version, 503 before any model loaded, 500 when
 * the model fails on a valid request (the runtime errs, or it answers NaN or infinity).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFile } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { CellError, UserError, errorText, isUserError } from '../errors.js'
import { TOOL, VERSION } from '../../version.js'
import type { FeatureBatch, PredictionBatch } from '../runners/types.js'
import { NonFiniteOutputError, parseInferRequest, tensorMetadata, toFeatureBatch, toOutputs } from './oip.js'
import { PathRedactor } from './redact.js'
import {
  VersionPool,
  buildTable,
  chooseVersion,
  findVersion,
  loadVersion,
  tableVersions,
  versionKey,
  type LoadedVersion,
  type RoutingTable,
} from './routing.js'
import { parseEnvironmentState, type EnvironmentState } from './state.js'

export interface InferenceServerOptions {
  stateFile: string
  /** Default 127.0.0.1: a local target, not exposed unless asked. */
  host?: string
  /** 0 picks a free port. Default 8080. */
  port?: number
  /** Folder holding ort-wasm-simd-threaded.{mjs,wasm}; needed when running from a bundle. */
  wasmDir?: string
  /** How often the state file is read. Default 100 ms. */
  pollMs?: number
  log?: (line: string) => void
  /** Largest request body accepted. Default 64 MiB. */
  maxBodyBytes?: number
  /** How long close() lets requests in progress finish before cutting their connections. Default 10 s. */
  drainMs?: number
}

export interface VersionStatus {
  version: string
  digest: string
  /** Share of unversioned requests, 0..100. */
  percent: number
  inflight: number
}

export interface ServerStatus {
  /** The newest generation read from the state file; null before any valid file was read. */
  generation: number | null
  /** The generation being served; null until one loaded. Differs from `generation` while loading or after a failed load. */
  applied: number | null
  /** The newest generation is the one being served. */
  ready: boolean
  name?: string
  environment?: string
  stable: VersionStatus | null
  canary: VersionStatus | null
  /** Versions swapped out that still answer requests routed to them before the swap. */
  draining: VersionStatus[]
  /** Why the newest state file content is not being served (unreadable, invalid, digest mismatch, bad model). */
  error?: string
}

export interface InferenceServer {
  url: string
  port: number
  close(): Promise<void>
  status(): ServerStatus
}

const DEFAULT_PORT = 8080
const DEFAULT_POLL_MS = 100
const DEFAULT_MAX_BODY = 64 * 1024 * 1024
const DEFAULT_DRAIN_MS = 10_000

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

/** Reads the state file and converges on it: loads what is new, swaps, retires what is gone. */
class Deployment {
  table?: RoutingTable
  latest: number | null = null
  error?: string
  private lastText?: string
  readonly pool: VersionPool
  /** Takes the server's paths out of what clients read; learns each model file as a state names it. */
  readonly redactor: PathRedactor

  constructor(
    private readonly opts: InferenceServerOptions,
    private readonly log: (line: string) => void,
  ) {
    this.pool = new VersionPool(log)
    this.redactor = new PathRedactor([path.dirname(path.resolve(opts.stateFile)), opts.wasmDir])
    this.redactor.file(opts.stateFile, '<state file>')
  }

  /** `error` as a client may read it: without the server's paths. */
  publicError(): string | undefined {
    return this.error === undefined ? undefined : this.redactor.text(this.error)
  }

  private fail(message: string): void {
    if (message !== this.error) this.log(message)
    this.error = message
  }

  async poll(): Promise<void> {
    const file = this.opts.stateFile
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      this.lastText = undefined
      return this.fail(`${file}: cannot read the environment state (${code === 'ENOENT' ? 'file not found' : errorText(e)})`)
    }
    if (text === this.lastText) return
    this.lastText = text
    let state: EnvironmentState
    try {
      state = parseEnvironmentState(text, file)
    } catch (e) {
      return this.fail(errorText(e))
    }
    this.latest = state.generation
    for (const spec of state.canary ? [state.stable, state.canary] : [state.stable])
      this.redactor.file(spec.path, `<model file of version ${spec.version}>`)
    if (this.table?.generation === state.generation) {
      if (this.sameAsServed(state)) this.error = undefined
      else this.fail(`${file}: the content changed but the generation is still ${state.generation}; not applied (write a new generation)`)
      return
    }
    await this.apply(state)
  }

  private sameAsServed(state: EnvironmentState): boolean {
    const t = this.table!
    return (
      t.name === state.name &&
      t.stable.key === versionKey(state.stable) &&
      (t.canary === undefined
        ? state.canary === undefined
        : state.canary !== undefined && t.canary.model.key === versionKey(state.canary) && t.canary.percent === state.canary.percent)
    )
  }

  private async apply(state: EnvironmentState): Promise<void> {
    const file = this.opts.stateFile
    this.log(`${file}: applying generation ${state.generation}`)
    const wanted = state.canary ? [state.stable, state.canary] : [state.stable]
    const loaded = new Map<string, LoadedVersion>()
    const fresh: LoadedVersion[] = []
    const results = await Promise.allSettled(
      wanted.map(async (spec) => {
        const reused = this.pool.reusable(versionKey(spec))
        if (reused) return { spec, model: reused, isNew: false }
        return { spec, model: await loadVersion(spec, file, this.opts.wasmDir), isNew: true }
      }),
    )
    const failures: string[] = []
    for (const r of results) {
      if (r.status === 'rejected') failures.push(errorText(r.reason))
      else {
        loaded.set(versionKey(r.value.spec), r.value.model)
        if (r.value.isNew) fresh.push(r.value.model)
      }
    }
    if (failures.length > 0) {
      await Promise.all(fresh.map((m) => m.runner.close().catch(() => undefined)))
      const keeps = this.table ? `; still serving generation ${this.table.generation}` : ''
      return this.fail(`generation ${state.generation} not applied: ${failures.join('; ')}${keeps}`)
    }
    this.swap(buildTable(state, loaded))
  }

  private swap(next: RoutingTable): void {
    for (const m of tableVersions(next)) {
      m.retired = false
      this.pool.add(m)
    }
    const previous = this.table
    this.table = next
    this.error = undefined
    const kept = new Set(tableVersions(next))
    for (const m of tableVersions(previous)) if (!kept.has(m)) this.pool.retire(m)
    const canary = next.canary ? `, canary ${next.canary.model.version} at ${next.canary.percent}%` : ''
    this.log(`generation ${next.generation} serving: stable ${next.stable.version}${canary}`)
  }

  ready(): boolean {
    return this.table !== undefined && this.table.generation === this.latest
  }

  status(): ServerStatus {
    const t = this.table
    const canaryPercent = t?.canary?.percent ?? 0
    const of = (m: LoadedVersion, percent: number): VersionStatus => ({
      version: m.version,
      digest: m.digest,
      percent,
      inflight: m.inflight,
    })
    const status: ServerStatus = {
      generation: this.latest,
      applied: t?.generation ?? null,
      ready: this.ready(),
      name: t?.name,
      environment: t?.environment,
      stable: t ? of(t.stable, 100 - canaryPercent) : null,
      canary: t?.canary ? of(t.canary.model, canaryPercent) : null,
      draining: this.pool.draining().map((m) => of(m, 0)),
    }
    if (this.error !== undefined) status.error = this.error
    return status
  }
}

type Send = (status: number, body?: unknown, headers?: Record<string, string>) => void

/** `/v2/models/{name}[/versions/{v}][/{action}]`, segments URL-decoded. */
interface ModelRoute {
  name: string
  version?: string
  action: '' | 'ready' | 'infer' | 'modelgate'
}

function splitPath(pathname: string): string[] {
  try {
    return pathname
      .replace(/\/+$/, '')
      .split('/')
      .slice(1)
      .map((s) => decodeURIComponent(s))
  } catch {
    throw new HttpError(400, `the path ${pathname} is not validly URL-encoded`)
  }
}

function modelRoute(parts: string[]): ModelRoute | undefined {
  if (parts[0] !== 'v2' || parts[1] !== 'models' || parts[2] === undefined) return undefined
  const name = parts[2]
  let rest = parts.slice(3)
  let version: string | undefined
  if (rest[0] === 'versions') {
    if (rest[1] === undefined) return undefined
    version = rest[1]
    rest = rest.slice(2)
  }
  if (rest.length > 1) return undefined
  const action = rest[0] ?? ''
  if (action !== '' && action !== 'ready' && action !== 'infer' && action !== 'modelgate') return undefined
  if (action === 'modelgate' && version !== undefined) return undefined
  return { name, version, action }
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit && !done) {
        done = true
        reject(new HttpError(413, `the request body is larger than ${limit} bytes`, { connection: 'close' }))
      }
      if (!done) chunks.push(chunk)
    })
    req.on('end', () => {
      if (done) return
      done = true
      resolve(Buffer.concat(chunks).toString('utf8'))
    })
    req.on('error', (e) => {
      if (!done) reject(e)
      done = true
    })
    req.on('close', () => {
      if (!done) reject(new Error('the client closed the connection before sending the whole body'))
      done = true
    })
  })
}

/** Header values must be visible ASCII; a version name that is not travels percent-encoded. */
function headerValue(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text)
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new HttpError(400, `the request body is not valid JSON (${errorText(e)})`)
  }
}

export async function startInferenceServer(opts: InferenceServerOptions): Promise<InferenceServer> {
  const log = opts.log ?? (() => undefined)
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS
  if (!(pollMs > 0)) throw new UserError(`pollMs must be positive, got ${pollMs}`, { field: 'pollMs' })
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY
  const deployment = new Deployment(opts, log)
  let closing = false

  const handler = new RequestHandler(deployment, maxBody, log)
  const server: Server = createServer((req, res) => {
    if (closing) res.setHeader('connection', 'close')
    handler.handle(req, res).catch((e: unknown) => log(`request ${req.method} ${req.url}: ${errorText(e)}`))
  })

  // The first generation loads before the promise resolves, so a caller starting on a valid state gets a ready server.
  await deployment.poll()
  let polling: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  const schedule = (): void => {
    timer = setTimeout(() => {
      polling = deployment
        .poll()
        .catch((e: unknown) => log(`polling ${opts.stateFile}: ${errorText(e)}`))
        .then(() => {
          if (!closing) schedule()
        })
    }, pollMs)
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(opts.port ?? DEFAULT_PORT, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (e) {
    await deployment.pool.closeAll()
    throw new UserError(`cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? DEFAULT_PORT}: ${errorText(e)}`, { field: 'port' })
  }
  server.on('error', (e) => log(`server error: ${errorText(e)}`))
  schedule()

  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  log(`serving on ${url}`)

  return {
    url,
    port: address.port,
    status: () => deployment.status(),
    close: async () => {
      if (closing) return
      closing = true
      clearTimeout(timer)
      await polling
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      // A client that never finishes its request must not keep the server from stopping.
      const cut = setTimeout(() => server.closeAllConnections(), opts.drainMs ?? DEFAULT_DRAIN_MS)
      await closed
      clearTimeout(cut)
      await deployment.pool.closeAll()
    },
  }
}

/** Answers one HTTP request; every error becomes a JSON answer, never an exception out of the server. */
class RequestHandler {
  constructor(
    private readonly deployment: Deployment,
    private readonly maxBody: number,
    private readonly log: (line: string) => void,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send: Send = (status, body, headers = {}) => {
      if (res.headersSent || res.destroyed) return
      const text = body === undefined ? '' : JSON.stringify(body)
      res.writeHead(status, {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        'content-length': Buffer.byteLength(text),
        ...headers,
      })
      res.end(text)
    }
    const redactor = this.deployment.redactor
    try {
      await this.route(req, send)
    } catch (e) {
      try {
        // HttpErrors are written path-free (they echo the request or were redacted where they were made);
        // `known` is the last guard. Anything else is unexpected: logged in full, answered without paths.
        if (e instanceof HttpError) send(e.status, { error: redactor.known(e.message) }, e.headers)
        else {
          this.log(`request ${req.method} ${req.url}: ${errorText(e)}`)
          if (isUserError(e)) send(400, { error: redactor.text(e.message) })
          else send(500, { error: `internal error: ${redactor.text(errorText(e))}` })
        }
      } catch {
        // The answer itself could not be written: end the exchange rather than leave the client waiting.
        res.destroy()
      }
    }
  }

  private async route(req: IncomingMessage, send: Send): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname
    const parts = splitPath(pathname)
    const method = req.method ?? 'GET'
    const get = (answer: () => void): void => {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${pathname} takes GET`, { allow: 'GET' })
      answer()
    }
    const path = parts.join('/')
    if (path === 'v2') return get(() => send(200, { name: TOOL, version: VERSION, extensions: ['modelgate'] }))
    if (path === 'v2/health/live') return get(() => send(200))
    if (path === 'v2/health/ready') return get(() => send(this.deployment.ready() ? 200 : 400))
    const route = modelRoute(parts)
    if (route === undefined) throw new HttpError(404, `no such endpoint: ${method} ${pathname}`)
    if (route.action === 'infer') {
      if (method !== 'POST') throw new HttpError(405, `${pathname} takes POST`, { allow: 'POST' })
      return this.infer(req, route, send)
    }
    return get(() => this.describe(route, send))
  }

  private table(name: string): RoutingTable {
    const table = this.deployment.table
    const why = this.deployment.publicError()
    if (table === undefined) throw new HttpError(503, `no model is loaded yet${why ? `: ${why}` : ''}`)
    if (table.name !== name) throw new HttpError(404, `model ${name} is not served here; this server serves ${table.name}`)
    return table
  }

  private version(table: RoutingTable, version: string): LoadedVersion {
    const found = findVersion(table, version)
    if (found === undefined)
      throw new HttpError(
        404,
        `version ${version} of model ${table.name} is not loaded; loaded: ${tableVersions(table)
          .map((m) => m.version)
          .join(', ')}`,
      )
    return found
  }

  private describe(route: ModelRoute, send: Send): void {
    if (route.action === 'ready') {
      const table = this.deployment.table
      const ok = table?.name === route.name && (route.version === undefined || findVersion(table, route.version) !== undefined)
      return send(ok ? 200 : 404)
    }
    const table = this.table(route.name)
    if (route.action === 'modelgate') return send(200, this.extension(table))
    const model = route.version === undefined ? table.stable : this.version(table, route.version)
    send(200, {
      name: table.name,
      versions: tableVersions(table).map((m) => m.version),
      // The protocol's name for ONNX models run by ONNX Runtime (Platforms, "<project>_<format>").
      platform: 'onnx_onnxv1',
      inputs: model.info.inputs.map(tensorMetadata),
      outputs: model.info.outputs.map(tensorMetadata),
    })
  }

  /** What deploy-model checks after a deploy: which generation is applied, and what each version is and gets. */
  private extension(table: RoutingTable): unknown {
    const status = this.deployment.status()
    const error = this.deployment.publicError()
    const versions = [{ role: 'stable', ...status.stable! }, ...(status.canary ? [{ role: 'canary', ...status.canary }] : [])].map(
      ({ role, version, digest, percent }) => ({ version, role, digest, percent }),
    )
    return {
      name: table.name,
      environment: table.environment,
      generation: table.generation,
      latestGeneration: status.generation,
      ready: status.ready,
      versions,
      ...(error !== undefined ? { error } : {}),
    }
  }

  /** Routed when the request arrives, so the version it was sent to stays open until it is answered. */
  private async infer(req: IncomingMessage, route: ModelRoute, send: Send): Promise<void> {
    const table = this.table(route.name)
    const model = this.deployment.pool.acquire(route.version === undefined ? chooseVersion(table) : this.version(table, route.version))
    const versionHeader = { 'x-modelgate-version': headerValue(model.version) }
    try {
      const request = parseInferRequest(parseJson(await readBody(req, this.maxBody)))
      const prediction = await this.predict(table, model, toFeatureBatch(request, model.info))
      send(
        200,
        {
          model_name: table.name,
          model_version: model.version,
          id: request.id ?? randomUUID(),
          outputs: toOutputs(prediction, model.info, request.outputs),
        },
        versionHeader,
      )
    } catch (e) {
      if (e instanceof HttpError) throw new HttpError(e.status, e.message, { ...e.headers, ...versionHeader })
      // The protocol asks only for "an HTTP error status (typically 400)". 500, not 400: the request passed
      // every check against the model's metadata, so nothing in it is for the client to fix; the model
      // failed to give a number. Answering null (what JSON.stringify makes of NaN) would pass a wrong
      // answer off as an answer. Clients that retry 5xx (our http runner) get the same error again, at
      // the cost of a few retries, which is better than a 4xx that blames the request.
      if (e instanceof NonFiniteOutputError) {
        this.log(`model ${table.name} version ${model.version}: ${e.message}`)
        throw new HttpError(500, `version ${model.version} of model ${table.name} failed: ${e.message}`, versionHeader)
      }
      // oip.ts's problems with the request: they name only what the client sent and the model's metadata.
      if (isUserError(e)) throw new HttpError(400, this.deployment.redactor.text(e.message), versionHeader)
      this.log(`request ${req.method} ${req.url}: ${errorText(e)}`)
      throw new HttpError(500, `internal error: ${this.deployment.redactor.text(errorText(e))}`, versionHeader)
    } finally {
      this.deployment.pool.release(model)
    }
  }

  /**
   * Runs the model on a request that fits its metadata. A value the model's runtime cannot take
   * (e.g. 1.5 for an int64 input fed from an FP32 [rows, k] tensor) is still the request's: 400.
   * Any other failure is the model's: 500. Either way the client's message has no paths; the log has all.
   */
  private async predict(table: RoutingTable, model: LoadedVersion, batch: FeatureBatch): Promise<PredictionBatch> {
    try {
      return await model.runner.predict(batch)
    } catch (e) {
      this.log(`model ${table.name} version ${model.version}: ${errorText(e)}`)
      if (e instanceof CellError) throw new HttpError(400, `input ${e.column}, row ${e.row - 1 - batch.offset} (0-based): ${e.reason}`)
      throw new HttpError(
        500,
        `version ${model.version} of model ${table.name} failed on this request: ${this.deployment.redactor.text(errorText(e))}`,
      )
    }
  }
}
