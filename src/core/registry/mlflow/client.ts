import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { UserError, errorText } from '../../errors.js'
import { digestTap } from '../digest.js'
import { parseJsonObject, type RegisteredModelJson } from './layout.js'

/*
 * The MLflow tracking server as modelgate talks to it: JSON calls to the tracking API and file
 * transfers through the artifact proxy, with the credentials of MLflow's basic-auth app. Every
 * failure becomes a UserError that says what to check (the URI, the server's flags, the token and
 * the permission the call needed), so the backend never has to interpret an HTTP status.
 */

export interface MlflowCredentials {
  /** With `token`: HTTP Basic (MLflow's basic-auth app: user name and password). */
  username?: string
  /** Alone: `Authorization: Bearer <token>`; with `username`: the password. */
  token?: string
}

export interface MlflowClientOptions {
  /** The tracking server: `http(s)://host[:port][/prefix]`, without `/api/…`. */
  trackingUri: string
  credentials?: MlflowCredentials
  /** Per REST call, uploads and downloads excepted (default 120 s). */
  requestTimeoutMs?: number
}

const API = '/api/2.0/mlflow'
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts'

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
/** The permission of MLflow's basic-auth app a call needs (READ can_read, EDIT can_update, MANAGE can_delete). */
export type Permission = 'READ' | 'EDIT' | 'MANAGE'

export interface Call {
  method: Method
  path: string
  query?: Record<string, string>
  body?: unknown
  need: Permission
  /** The registered model the call is about, for permission messages. */
  model?: string
}

/** An MLflow error answer (`{error_code, message}`); a UserError, so an unhandled one reaches the user as is. */
export class MlflowApiError extends UserError {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: string,
  ) {
    super(message)
    this.name = 'MlflowApiError'
  }
}

export function isCode(e: unknown, code: string): boolean {
  return e instanceof MlflowApiError && e.errorCode === code
}

const PERMISSION_MEANING: Record<Permission, string> = {
  READ: 'READ lets it read',
  EDIT: 'EDIT lets it create versions, tags and aliases',
  MANAGE: 'MANAGE lets it delete aliases and registered models',
}

export class MlflowClient {
  /** `mlflow+<tracking URI>`, without credentials: the registry's name in every message. */
  readonly location: string
  private readonly base: string
  private readonly auth: Record<string, string>
  private readonly authKind: 'none' | 'bearer' | 'basic'

  constructor(private readonly opts: MlflowClientOptions) {
    let url: URL
    try {
      url = new URL(opts.trackingUri)
    } catch {
      throw new UserError(`registry: '${opts.trackingUri}' is not an MLflow tracking URI (http(s)://host[:port])`, { field: 'registry' })
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UserError(`registry: the MLflow tracking URI must be http:// or https://, not ${url.protocol}`, { field: 'registry' })
    }
    const creds = { ...opts.credentials }
    if (url.username && !creds.token) {
      creds.username = decodeURIComponent(url.username)
      creds.token = decodeURIComponent(url.password)
    }
    url.username = ''
    url.password = ''
    url.search = ''
    url.hash = ''
    this.base = url.href.replace(/\/+$/, '')
    this.location = `mlflow+${this.base}`
    if (creds.token && creds.username) {
      this.auth = { Authorization: `Basic ${Buffer.from(`${creds.username}:${creds.token}`).toString('base64')}` }
      this.authKind = 'basic'
    } else if (creds.token) {
      this.auth = { Authorization: `Bearer ${creds.token}` }
      this.authKind = 'bearer'
    } else {
      this.auth = {}
      this.authKind = 'none'
    }
  }

  /** One JSON call to the tracking API; every failure becomes a UserError (MlflowApiError for MLflow's own errors). */
  async call<T = Record<string, unknown>>(c: Call): Promise<T> {
    const url = new URL(`${this.base}${API}${c.path}`)
    for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v)
    const headers: Record<string, string> = { ...this.auth, Accept: 'application/json' }
    if (c.body !== undefined) headers['Content-Type'] = 'application/json'
    let res: Response
    let text: string
    try {
      res = await fetch(url, {
        method: c.method,
        headers,
        body: c.body === undefined ? undefined : JSON.stringify(c.body),
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 120_000),
      })
      text = await res.text()
    } catch (e) {
      throw this.unreachable(e)
    }
    if (!res.ok) throw this.httpError(c, res.status, text, `${c.method} ${API}${c.path}`)
    try {
      return (text ? JSON.parse(text) : {}) as T
    } catch {
      throw new UserError(
        `${this.location}: ${c.method} ${API}${c.path} answered something that is not JSON: is this an MLflow tracking server?`,
      )
    }
  }

  /** A registered model, or undefined when there is none of that name. */
  async registeredModel(name: string): Promise<RegisteredModelJson | undefined> {
    try {
      const out = await this.call<{ registered_model: RegisteredModelJson }>({
        method: 'GET',
        path: '/registered-models/get',
        query: { name },
        need: 'READ',
        model: name,
      })
      return out.registered_model
    } catch (e) {
      if (isCode(e, 'RESOURCE_DOES_NOT_EXIST')) return undefined
      throw e
    }
  }

  // ---- artifacts

  async putFile(where: string, file: string): Promise<void> {
    let size: number
    try {
      size = statSync(file).size
    } catch (e) {
      throw new UserError(`${file}: cannot read (${errorText(e)})`, { file })
    }
    const body = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>
    await this.artifactRequest('PUT', where, { body, length: size })
  }

  async putBytes(where: string, bytes: Buffer): Promise<void> {
    await this.artifactRequest('PUT', where, { body: bytes, length: bytes.length })
  }

  async getBytes(where: string): Promise<Buffer> {
    const res = await this.artifactRequest('GET', where)
    return Buffer.from(await res.arrayBuffer())
  }

  /** Streams an artifact to `dest`, hashing it on the way; a wrong digest or size leaves no file. */
  async download(where: string, dest: string, digest: string, size: number): Promise<void> {
    const res = await this.artifactRequest('GET', where)
    await mkdir(path.dirname(dest), { recursive: true })
    const tap = digestTap()
    try {
      if (!res.body) throw new Error('empty answer')
      await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), tap.stream, createWriteStream(dest))
    } catch (e) {
      rmSync(dest, { force: true })
      throw new UserError(`${this.location}: cannot download ${where} (${errorText(e)})`)
    }
    const actual = tap.digest()
    const got = tap.size()
    if (actual !== digest || got !== size) {
      rmSync(dest, { force: true })
      throw new UserError(
        `${this.location}: ${where} has digest ${actual} (${got} bytes), the version record says ${digest} (${size} bytes): the stored file was changed or corrupted`,
        { field: 'digest' },
      )
    }
  }

  private async artifactRequest(
    method: 'GET' | 'PUT',
    where: string,
    upload?: { body: Buffer | ReadableStream<Uint8Array>; length: number },
  ): Promise<Response> {
    const url = `${this.base}${ARTIFACTS}/${where.split('/').map(encodeURIComponent).join('/')}`
    const headers: Record<string, string> = { ...this.auth }
    if (upload) {
      headers['Content-Type'] = 'application/octet-stream'
      headers['Content-Length'] = String(upload.length)
    }
    let res: Response
    try {
      res = await fetch(url, { method, headers, ...(upload ? { body: upload.body, duplex: 'half' } : {}) } as RequestInit)
    } catch (e) {
      throw this.unreachable(e)
    }
    if (res.ok) {
      if (method === 'PUT') await res.arrayBuffer()
      return res
    }
    const text = await res.text()
    if (res.status === 503 && text.includes('serve-artifacts')) {
      throw new UserError(
        `${this.location}: the tracking server does not proxy artifacts; start it with \`mlflow server --serve-artifacts\` (the default since MLflow 2.0)`,
      )
    }
    throw this.httpError({ need: method === 'PUT' ? 'EDIT' : 'READ' }, res.status, text, `${method} ${ARTIFACTS}/${where}`)
  }

  // ---- errors

  private unreachable(e: unknown): UserError {
    const err = e as { name?: string; cause?: { code?: string; message?: string } }
    if (err.name === 'TimeoutError') {
      return new UserError(`${this.location}: the MLflow server did not answer in ${this.opts.requestTimeoutMs ?? 120_000} ms`)
    }
    const why = err.cause?.code ?? err.cause?.message ?? errorText(e)
    return new UserError(
      `${this.location}: cannot reach the MLflow tracking server (${why}): check the tracking URI and that \`mlflow server\` is running`,
      {
        cause: e,
      },
    )
  }

  private httpError(c: Pick<Call, 'need' | 'model'>, status: number, text: string, what: string): UserError {
    if (status === 401) {
      const given =
        this.authKind === 'none'
          ? 'no token was given: set the registry token (a bearer token, or user name and password for MLflow basic-auth)'
          : this.authKind === 'bearer'
            ? 'the bearer token given was refused'
            : 'the user name and password given were refused'
      return new UserError(`${this.location}: ${what}: 401 Unauthorized: ${given}`, { field: 'token' })
    }
    if (status === 403) {
      const on = c.model ? ` on registered model '${c.model}'` : ''
      return new UserError(
        `${this.location}: ${what}: 403 Permission denied: the token's user needs ${c.need} permission${on} (MLflow basic-auth: ${PERMISSION_MEANING[c.need]})`,
        { field: 'token' },
      )
    }
    const body = parseJsonObject(text)
    if (typeof body.error_code === 'string') {
      return new MlflowApiError(`${this.location}: ${what}: ${body.error_code}: ${String(body.message ?? '')}`, status, body.error_code)
    }
    if (status === 404) {
      return new UserError(`${this.location}: ${what}: 404 Not Found: is this an MLflow tracking server (2.3 or later, for aliases)?`)
    }
    return new UserError(`${this.location}: ${what}: HTTP ${status}${text ? `: ${text.slice(0, 300)}` : ''}`)
  }
}
