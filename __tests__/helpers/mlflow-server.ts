import http, { type IncomingMessage, type ServerResponse } from 'node:http'

/*
 * An MLflow tracking server for tests: the subset of MLflow 2.x's REST API that a model registry
 * client uses, with in-memory state, on 127.0.0.1 and a free port. MLflow itself is a Python
 * package and cannot be installed here, so this follows its documentation and server code:
 *
 *   REST API (request/response fields, errors):   https://mlflow.org/docs/latest/rest-api.html
 *   artifact proxy (`--serve-artifacts`):          https://mlflow.org/docs/latest/tracking/artifacts-stores.html
 *   basic-auth app (401/403, permissions):        https://mlflow.org/docs/latest/auth/index.html
 *   handlers, validation, error→HTTP status:      mlflow/server/handlers.py, mlflow/utils/validation.py,
 *                                                  mlflow/exceptions.py (ERROR_CODE_TO_HTTP_STATUS)
 *
 * Differences from a real server, on purpose: a new version stays PENDING_REGISTRATION for
 * `pendingPolls` reads (a SQL-store server answers READY at once; Databricks copies first), search
 * filters understand `name='…'` only, and a token maps to one permission on every model.
 */

export type Permission = 'READ' | 'EDIT' | 'MANAGE'

export interface MlflowServerOptions {
  /** Accepted credentials: a bearer token, or `user:password` for Basic; none = no authentication. */
  tokens?: Record<string, Permission>
  /** model-versions/get answers a new version PENDING_REGISTRATION this many times (default 1). */
  pendingPolls?: number
  /** As `mlflow server --no-serve-artifacts` when false. */
  serveArtifacts?: boolean
}

export interface RecordedRequest {
  method: string
  /** Path without the query string, e.g. `/api/2.0/mlflow/model-versions/create`. */
  path: string
  query: Record<string, string>
  /** The JSON body of a tracking call. */
  body?: unknown
  /** Body length of an artifact upload. */
  bytes?: number
}

export interface FakeModelVersion {
  name: string
  version: string
  creation_timestamp: number
  last_updated_timestamp: number
  source: string
  description: string
  run_id: string
  status: 'PENDING_REGISTRATION' | 'READY' | 'FAILED_REGISTRATION'
  status_message: string
  tags: Map<string, string>
  pendingPolls: number
  failWith?: string
}

export interface FakeRegisteredModel {
  name: string
  creation_timestamp: number
  last_updated_timestamp: number
  description: string
  tags: Map<string, string>
  aliases: Map<string, string>
  versions: FakeModelVersion[]
  nextVersion: number
  /** Principals granted MANAGE by creating it (the basic-auth app does this). */
  managers: Set<string>
}

export interface MlflowServer {
  url: string
  requests: RecordedRequest[]
  models: Map<string, FakeRegisteredModel>
  /** Proxied artifacts by path (relative to the artifact root). */
  artifacts: Map<string, Buffer>
  /** The next version created fails registration with this status message. */
  failNextVersion(message: string): void
  stop(): Promise<void>
}

const API = '/api/2.0/mlflow/'
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts/'
const TAG_VALUE_MAX = 5000
const TAG_KEY_MAX = 250

/** An MLflow error: `{error_code, message}` with the status of mlflow/exceptions.py. */
class MlflowError extends Error {
  constructor(
    readonly code: 'RESOURCE_ALREADY_EXISTS' | 'RESOURCE_DOES_NOT_EXIST' | 'INVALID_PARAMETER_VALUE',
    message: string,
  ) {
    super(message)
  }

  get status(): number {
    return this.code === 'RESOURCE_DOES_NOT_EXIST' ? 404 : 400
  }
}

interface Req {
  method: string
  route: string
  query: URLSearchParams
  json: Record<string, unknown>
  principal: string
  permission: Permission | 'NONE'
}

type Handler = (this: State, r: Req) => unknown

export async function startMlflowServer(opts: MlflowServerOptions = {}): Promise<MlflowServer> {
  const state = new State(opts)
  const server = http.createServer((req, res) => {
    void handle(state, opts, req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', `internal error: ${String(e)}`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    requests: state.requests,
    models: state.models,
    artifacts: state.artifacts,
    failNextVersion: (message) => (state.failNext = message),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

class State {
  readonly requests: RecordedRequest[] = []
  readonly models = new Map<string, FakeRegisteredModel>()
  readonly artifacts = new Map<string, Buffer>()
  failNext: string | undefined

  constructor(private readonly opts: MlflowServerOptions) {}

  model(name: string): FakeRegisteredModel {
    const m = this.models.get(name)
    if (!m) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`)
    return m
  }

  version(name: string, version: string): FakeModelVersion {
    const mv = this.models.get(name)?.versions.find((v) => v.version === version)
    if (!mv) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Model Version (name=${name}, version=${version}) not found`)
    return mv
  }

  newVersion(name: string, source: string, description: string, tags: Map<string, string>): FakeModelVersion {
    const m = this.model(name)
    const now = Date.now()
    const mv: FakeModelVersion = {
      name,
      version: String(m.nextVersion++),
      creation_timestamp: now,
      last_updated_timestamp: now,
      source,
      description,
      run_id: '',
      status: 'PENDING_REGISTRATION',
      status_message: '',
      tags,
      pendingPolls: this.opts.pendingPolls ?? 1,
      failWith: this.failNext,
    }
    this.failNext = undefined
    m.versions.push(mv)
    m.last_updated_timestamp = now
    return mv
  }
}

async function handle(state: State, opts: MlflowServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1')
  const method = req.method ?? 'GET'
  const raw = await readAll(req)
  const record: RecordedRequest = { method, path: url.pathname, query: Object.fromEntries(url.searchParams) }
  state.requests.push(record)

  const who = authenticate(opts, req.headers.authorization)
  if (who === undefined) {
    // mlflow/server/auth/__init__.py make_basic_auth_response
    res.setHeader('WWW-Authenticate', 'Basic realm="mlflow"')
    return send(
      res,
      401,
      'text/plain',
      'You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.',
    )
  }

  if (url.pathname.startsWith(ARTIFACTS)) {
    record.bytes = raw.length
    return artifacts(state, opts, method, decodeURIComponent(url.pathname.slice(ARTIFACTS.length)), raw, res)
  }
  if (!url.pathname.startsWith(API)) return send(res, 404, 'text/plain', 'Not Found')

  try {
    let json: Record<string, unknown> = {}
    if (method === 'POST' || method === 'PUT') {
      // mlflow/server/validation.py _validate_content_type
      const type = req.headers['content-type']
      if (!type) throw new MlflowError('INVALID_PARAMETER_VALUE', 'Bad Request. Content-Type header is missing.')
      if (type.split(';')[0] !== 'application/json') {
        throw new MlflowError('INVALID_PARAMETER_VALUE', "Bad Request. Content-Type must be one of ['application/json'].")
      }
    }
    if (method !== 'GET' && raw.length > 0) {
      json = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
      record.body = json
    }
    const route = `${method} ${url.pathname.slice(API.length)}`
    const handler = ROUTES[route]
    // Flask answers an unknown route with its own 404 page, not an MLflow error.
    if (!handler) return send(res, 404, 'text/html', '<!doctype html><title>404 Not Found</title>')
    const r: Req = { method, route, query: url.searchParams, json, principal: who.principal, permission: who.permission }
    const denied = forbidden(state, r)
    if (denied) return send(res, 403, 'text/plain', 'Permission denied')
    const out = handler.call(state, r)
    return send(res, 200, 'application/json', JSON.stringify(out ?? {}))
  } catch (e) {
    if (e instanceof MlflowError) return send(res, e.status, 'application/json', JSON.stringify({ error_code: e.code, message: e.message }))
    if (e instanceof SyntaxError) {
      return send(res, 400, 'application/json', JSON.stringify({ error_code: 'INVALID_PARAMETER_VALUE', message: e.message }))
    }
    throw e
  }
}

function authenticate(
  opts: MlflowServerOptions,
  header: string | undefined,
): { principal: string; permission: Permission | 'NONE' } | undefined {
  if (!opts.tokens) return { principal: 'anonymous', permission: 'MANAGE' }
  const m = /^(Bearer|Basic) (.+)$/.exec(header ?? '')
  if (!m) return undefined
  const credential = m[1] === 'Basic' ? Buffer.from(m[2], 'base64').toString('utf8') : m[2]
  const permission = opts.tokens[credential]
  return permission ? { principal: credential, permission } : undefined
}

/**
 * The permission each endpoint needs in the basic-auth app (its docs' endpoint table):
 * registered-models/create and model-versions/search need none; a model's creator gets MANAGE.
 */
const NEEDS: Record<string, Permission | undefined> = {
  'POST registered-models/create': undefined,
  'GET registered-models/get': 'READ',
  'DELETE registered-models/delete': 'MANAGE',
  'POST registered-models/set-tag': 'EDIT',
  'DELETE registered-models/delete-tag': 'EDIT',
  'POST registered-models/alias': 'EDIT',
  'DELETE registered-models/alias': 'MANAGE',
  'GET registered-models/alias': 'READ',
  'POST model-versions/create': 'EDIT',
  'GET model-versions/get': 'READ',
  'GET model-versions/search': undefined,
  'POST model-versions/set-tag': 'EDIT',
  'DELETE model-versions/delete-tag': 'MANAGE',
  'DELETE model-versions/delete': 'MANAGE',
}
const RANK: Record<Permission | 'NONE', number> = { NONE: 0, READ: 1, EDIT: 2, MANAGE: 3 }

function forbidden(state: State, r: Req): boolean {
  const need = NEEDS[r.route]
  if (!need) return false
  const name = String((r.method === 'GET' ? r.query.get('name') : r.json.name) ?? '')
  if (state.models.get(name)?.managers.has(r.principal)) return false
  return RANK[r.permission] < RANK[need]
}

const ROUTES: Record<string, Handler> = {
  // https://mlflow.org/docs/latest/rest-api.html — Create RegisteredModel
  'POST registered-models/create'(this: State, r) {
    const name = required(r.json, 'name')
    if (this.models.has(name)) throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${name}) already exists.`)
    const now = Date.now()
    const m: FakeRegisteredModel = {
      name,
      creation_timestamp: now,
      last_updated_timestamp: now,
      description: optional(r.json, 'description'),
      tags: tagsOf(r.json.tags),
      aliases: new Map(),
      versions: [],
      nextVersion: 1,
      managers: new Set([r.principal]),
    }
    this.models.set(name, m)
    return { registered_model: registeredModelJson(m) }
  },
  // Get RegisteredModel
  'GET registered-models/get'(this: State, r) {
    return { registered_model: registeredModelJson(this.model(requiredQuery(r, 'name'))) }
  },
  // Delete RegisteredModel: its versions and aliases go with it.
  'DELETE registered-models/delete'(this: State, r) {
    const name = required(r.json, 'name')
    this.model(name)
    this.models.delete(name)
    return {}
  },
  // Set Registered Model Tag
  'POST registered-models/set-tag'(this: State, r) {
    const m = this.model(required(r.json, 'name'))
    const key = required(r.json, 'key')
    m.tags.set(checkTagKey(key), checkTagValue(optional(r.json, 'value')))
    m.last_updated_timestamp = Date.now()
    return {}
  },
  // Delete Registered Model Tag
  'DELETE registered-models/delete-tag'(this: State, r) {
    const m = this.model(required(r.json, 'name'))
    const key = required(r.json, 'key')
    if (!m.tags.delete(key)) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No tag with name: ${key} in registered model ${m.name}`)
    return {}
  },
  // Set Registered Model Alias: an existing alias moves.
  'POST registered-models/alias'(this: State, r) {
    const name = required(r.json, 'name')
    const alias = checkAlias(required(r.json, 'alias'))
    const version = required(r.json, 'version')
    this.version(name, version)
    this.model(name).aliases.set(alias, version)
    return {}
  },
  // Delete Registered Model Alias: deleting an unset alias is not an error (SqlAlchemyStore).
  'DELETE registered-models/alias'(this: State, r) {
    const m = this.model(required(r.json, 'name'))
    m.aliases.delete(required(r.json, 'alias'))
    return {}
  },
  // Get Model Version By Alias
  'GET registered-models/alias'(this: State, r) {
    const m = this.model(requiredQuery(r, 'name'))
    const alias = requiredQuery(r, 'alias')
    const version = m.aliases.get(alias)
    if (!version) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Registered model alias ${alias} not found.`)
    return { model_version: modelVersionJson(m, this.version(m.name, version)) }
  },
  // Create ModelVersion: tags are written with the version, in one transaction.
  'POST model-versions/create'(this: State, r) {
    const name = required(r.json, 'name')
    const source = checkSource(required(r.json, 'source'))
    const tags = tagsOf(r.json.tags)
    const mv = this.newVersion(name, source, optional(r.json, 'description'), tags)
    return { model_version: modelVersionJson(this.model(name), mv) }
  },
  // Get ModelVersion: where a pending version settles.
  'GET model-versions/get'(this: State, r) {
    const name = requiredQuery(r, 'name')
    const mv = this.version(name, checkVersionNumber(requiredQuery(r, 'version')))
    if (mv.status === 'PENDING_REGISTRATION') {
      if (mv.pendingPolls > 0) mv.pendingPolls--
      else if (mv.failWith !== undefined) {
        mv.status = 'FAILED_REGISTRATION'
        mv.status_message = mv.failWith
      } else mv.status = 'READY'
    }
    return { model_version: modelVersionJson(this.model(name), mv) }
  },
  // Search ModelVersions: max_results ≤ 200000 (handlers.py), default 10000; pages by page_token.
  'GET model-versions/search'(this: State, r) {
    const max = Number(r.query.get('max_results') ?? '10000')
    if (!Number.isInteger(max) || max < 1 || max > 200_000) {
      throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid value ${r.query.get('max_results')} for parameter 'max_results' supplied.`)
    }
    const filter = r.query.get('filter') ?? ''
    const m = /^\s*name\s*=\s*(?:'([^']*)'|"([^"]*)")\s*$/.exec(filter)
    if (filter && !m) throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid filter '${filter}' (this test server knows name='…' only)`)
    const wanted = m ? (m[1] ?? m[2]) : undefined
    const all = [...this.models.values()]
      .filter((model) => wanted === undefined || model.name === wanted)
      .flatMap((model) => model.versions.map((v) => ({ model, v })))
      .sort((a, b) => b.v.last_updated_timestamp - a.v.last_updated_timestamp || Number(b.v.version) - Number(a.v.version))
    const start = r.query.get('page_token') ? Number(Buffer.from(r.query.get('page_token') ?? '', 'base64').toString('utf8')) : 0
    const page = all.slice(start, start + max)
    const out: Record<string, unknown> = { model_versions: page.map(({ model, v }) => modelVersionJson(model, v)) }
    if (start + max < all.length) out.next_page_token = Buffer.from(String(start + max)).toString('base64')
    if (page.length === 0) delete out.model_versions
    return out
  },
  // Set Model Version Tag
  'POST model-versions/set-tag'(this: State, r) {
    const mv = this.version(required(r.json, 'name'), checkVersionNumber(required(r.json, 'version')))
    mv.tags.set(checkTagKey(required(r.json, 'key')), checkTagValue(optional(r.json, 'value')))
    mv.last_updated_timestamp = Date.now()
    return {}
  },
  // Delete ModelVersion: aliases pointing at it go too.
  'DELETE model-versions/delete'(this: State, r) {
    const name = required(r.json, 'name')
    const version = checkVersionNumber(required(r.json, 'version'))
    this.version(name, version)
    const m = this.model(name)
    m.versions = m.versions.filter((v) => v.version !== version)
    for (const [alias, v] of m.aliases) if (v === version) m.aliases.delete(alias)
    return {}
  },
}

/** `PUT`/`GET /api/2.0/mlflow-artifacts/artifacts/<path>` (handlers.py _upload_artifact, _download_artifact). */
function artifacts(state: State, opts: MlflowServerOptions, method: string, artifactPath: string, raw: Buffer, res: ServerResponse): void {
  if (opts.serveArtifacts === false) {
    return send(
      res,
      503,
      'text/plain',
      'Endpoint: /api/2.0/mlflow-artifacts/artifacts/<path:artifact_path> disabled due to the mlflow server running with `--no-serve-artifacts`. To enable artifacts server functionality, run `mlflow server` with `--serve-artifacts`',
    )
  }
  const parts = artifactPath.split('/')
  if (!artifactPath || artifactPath.startsWith('/') || parts.some((p) => p === '..' || p === '.' || p === '')) {
    return send(res, 400, 'application/json', JSON.stringify({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' }))
  }
  if (method === 'PUT') {
    state.artifacts.set(artifactPath, raw)
    return send(res, 200, 'application/json', '{}')
  }
  if (method === 'GET') {
    const bytes = state.artifacts.get(artifactPath)
    if (!bytes) {
      return send(
        res,
        404,
        'application/json',
        JSON.stringify({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `File ${artifactPath} not found` }),
      )
    }
    res.setHeader('Content-Disposition', `attachment; filename=${parts.at(-1)}`)
    return send(res, 200, 'application/octet-stream', bytes)
  }
  send(res, 405, 'text/plain', 'Method Not Allowed')
}

function registeredModelJson(m: FakeRegisteredModel): Record<string, unknown> {
  return omitEmpty({
    name: m.name,
    creation_timestamp: m.creation_timestamp,
    last_updated_timestamp: m.last_updated_timestamp,
    description: m.description,
    tags: tagsJson(m.tags),
    aliases: [...m.aliases].map(([alias, version]) => ({ alias, version })),
  })
}

function modelVersionJson(m: FakeRegisteredModel, v: FakeModelVersion): Record<string, unknown> {
  return omitEmpty({
    name: v.name,
    version: v.version,
    creation_timestamp: v.creation_timestamp,
    last_updated_timestamp: v.last_updated_timestamp,
    current_stage: 'None',
    description: v.description,
    source: v.source,
    run_id: v.run_id,
    status: v.status,
    status_message: v.status_message,
    tags: tagsJson(v.tags),
    aliases: [...m.aliases].filter(([, version]) => version === v.version).map(([alias]) => alias),
  })
}

/** Proto3 JSON leaves out empty strings and empty lists. */
function omitEmpty(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== '' && !(Array.isArray(v) && v.length === 0)))
}

function tagsJson(tags: Map<string, string>): { key: string; value: string }[] {
  return [...tags].map(([key, value]) => ({ key, value }))
}

function tagsOf(value: unknown): Map<string, string> {
  const out = new Map<string, string>()
  if (value === undefined) return out
  if (!Array.isArray(value)) throw new MlflowError('INVALID_PARAMETER_VALUE', "Invalid value for parameter 'tags' supplied.")
  for (const t of value as { key?: unknown; value?: unknown }[]) {
    if (typeof t.key !== 'string') throw new MlflowError('INVALID_PARAMETER_VALUE', "Missing value for required parameter 'key'.")
    out.set(checkTagKey(t.key), checkTagValue(typeof t.value === 'string' ? t.value : ''))
  }
  return out
}

/** validation.py _validate_tag_name and the registry key limit. */
function checkTagKey(key: string): string {
  if (!/^[/\w.\- :]*$/.test(key) || key.length > TAG_KEY_MAX) {
    throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid value "${key}" for parameter 'key' supplied.`)
  }
  return key
}

function checkTagValue(value: string): string {
  if (value.length > TAG_VALUE_MAX)
    throw new MlflowError('INVALID_PARAMETER_VALUE', `'value' exceeds the maximum length of ${TAG_VALUE_MAX} characters`)
  return value
}

/** validation.py _validate_model_alias_name */
function checkAlias(alias: string): string {
  if (!/^[\w-]*$/.test(alias)) {
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`,
    )
  }
  if (alias.toLowerCase() === 'latest')
    throw new MlflowError('INVALID_PARAMETER_VALUE', "'latest' alias name (case insensitive) is reserved.")
  if (/^[vV]\d+$/.test(alias)) throw new MlflowError('INVALID_PARAMETER_VALUE', `Version alias name '${alias}' is reserved.`)
  return alias
}

/** handlers.py _validate_source_run: a local path needs a run; relative parts are refused everywhere. */
function checkSource(source: string): string {
  const invalid = () =>
    new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.`,
    )
  if (!/^[a-z][a-z0-9+.-]*:/i.test(source) || source.startsWith('file:')) {
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `Invalid model version source: '${source}'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.`,
    )
  }
  if (decodeURIComponent(source).split('/').includes('..') || source.includes('\0')) throw invalid()
  return source
}

function checkVersionNumber(version: string): string {
  if (!/^\d+$/.test(version)) throw new MlflowError('INVALID_PARAMETER_VALUE', `Parameter 'version' must be an integer, got '${version}'.`)
  return version
}

function required(json: Record<string, unknown>, key: string): string {
  const v = json[key]
  if (v === undefined || v === null || v === '') {
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `Missing value for required parameter '${key}'. See the API docs for more information about request parameters.`,
    )
  }
  if (typeof v !== 'string')
    throw new MlflowError('INVALID_PARAMETER_VALUE', `Invalid value ${JSON.stringify(v)} for parameter '${key}' supplied.`)
  return v
}

function optional(json: Record<string, unknown>, key: string): string {
  return typeof json[key] === 'string' ? json[key] : ''
}

function requiredQuery(r: Req, key: string): string {
  return required(Object.fromEntries(r.query), key)
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}
