/*
 * A local stand-in for the GitHub REST API's Deployments endpoints, with in-memory state.
 * It speaks the documented paths, JSON bodies, status codes and Link-header pagination:
 *   https://docs.github.com/rest/deployments/deployments
 *   https://docs.github.com/rest/deployments/statuses
 * Timestamps come from a clock that advances one second per created record, so ordering is
 * deterministic and tests can assert exact values.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export type DeploymentStatusState = 'error' | 'failure' | 'inactive' | 'in_progress' | 'queued' | 'pending' | 'success'

const STATES: readonly DeploymentStatusState[] = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success']

export interface StoredStatus {
  id: number
  state: DeploymentStatusState
  description: string
  environment: string
  target_url: string
  log_url: string
  environment_url: string
  created_at: string
}

export interface StoredDeployment {
  id: number
  sha: string
  ref: string
  task: string
  payload: Record<string, unknown> | string
  original_environment: string
  environment: string
  description: string | null
  transient_environment: boolean
  production_environment: boolean
  created_at: string
  creator: string
  /** Oldest first, as created. */
  statuses: StoredStatus[]
}

export interface RecordedRequest {
  method: string
  /** Path and query string, as sent. */
  path: string
  /** The parsed JSON body; undefined when there was none. */
  body: unknown
  authorization?: string
}

/** What a token may do: `none` gets 403 everywhere, `read` gets 403 on writes. */
export type TokenAccess = 'write' | 'read' | 'none'

export interface FakeGitHubApiOptions {
  owner: string
  repo: string
  /** Tokens the server knows; any other (or none) gets 401. */
  tokens: Record<string, TokenAccess>
  /** Branch or tag names the server resolves to a commit; a 40-hex ref resolves to itself. */
  refs?: Record<string, string>
  /** First timestamp of the clock (default 2026-01-01T00:00:00Z). */
  clockStart?: string
}

/** A one-shot canned answer for the next request matching method and path. */
interface Injected {
  method: string
  path: RegExp
  status: number
  body: unknown
}

const DOCS = 'https://docs.github.com/rest/deployments'

export class FakeGitHubApi {
  readonly deployments: StoredDeployment[] = []
  readonly requests: RecordedRequest[] = []
  baseUrl = ''
  private nextDeploymentId = 1001
  private nextStatusId = 5001
  private clock: number
  private injected: Injected[] = []
  private readonly server = http.createServer((req, res) => this.handle(req, res))

  constructor(private readonly opts: FakeGitHubApiOptions) {
    this.clock = Date.parse(opts.clockStart ?? '2026-01-01T00:00:00Z')
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** Answers the next request matching `method` and `path` with `status` and `body` instead of handling it. */
  inject(method: string, path: RegExp, status: number, body: unknown): void {
    this.injected.push({ method, path, status, body })
  }

  /** Adds a deployment as if another actor (the Actions runner, a person) had created it, with its statuses. */
  seedDeployment(
    fields: Partial<Omit<StoredDeployment, 'id' | 'statuses' | 'created_at'>> & { environment: string; sha: string },
    statuses: (Partial<Omit<StoredStatus, 'id' | 'created_at'>> & { state: DeploymentStatusState })[] = [],
  ): StoredDeployment {
    const deployment = this.addDeployment({
      ref: fields.sha,
      task: 'deploy',
      payload: {},
      description: null,
      transient_environment: false,
      production_environment: fields.environment === 'production',
      creator: 'github-actions[bot]',
      ...fields,
      original_environment: fields.original_environment ?? fields.environment,
    })
    for (const s of statuses) this.addStatus(deployment, s, false)
    return deployment
  }

  /** Adds a status as another actor would (the runner's own at the end of the job); no auto_inactive. */
  seedStatus(id: number, fields: Partial<Omit<StoredStatus, 'id' | 'created_at'>> & { state: DeploymentStatusState }): StoredStatus {
    const deployment = this.deployments.find((d) => d.id === id)
    if (!deployment) throw new Error(`no deployment ${id}`)
    return this.addStatus(deployment, fields, false)
  }

  /** The latest status of a deployment, as GitHub shows it. */
  latestState(id: number): DeploymentStatusState | undefined {
    return this.deployments.find((d) => d.id === id)?.statuses.at(-1)?.state
  }

  private tick(): string {
    const at = new Date(this.clock).toISOString().replace('.000Z', 'Z')
    this.clock += 1000
    return at
  }

  private addDeployment(fields: Omit<StoredDeployment, 'id' | 'statuses' | 'created_at'>): StoredDeployment {
    const deployment: StoredDeployment = { ...fields, id: this.nextDeploymentId++, created_at: this.tick(), statuses: [] }
    this.deployments.push(deployment)
    return deployment
  }

  private addStatus(
    deployment: StoredDeployment,
    fields: Partial<Omit<StoredStatus, 'id' | 'created_at'>> & { state: DeploymentStatusState },
    autoInactive: boolean,
  ): StoredStatus {
    // "Setting log_url will automatically set target_url to the same value."
    const logUrl = fields.log_url ?? fields.target_url ?? ''
    if (fields.environment) deployment.environment = fields.environment
    const status: StoredStatus = {
      id: this.nextStatusId++,
      state: fields.state,
      description: fields.description ?? '',
      environment: deployment.environment,
      target_url: logUrl,
      log_url: logUrl,
      environment_url: fields.environment_url ?? '',
      created_at: this.tick(),
    }
    deployment.statuses.push(status)
    if (status.state === 'success' && autoInactive) this.inactivatePrior(deployment)
    return status
  }

  /**
   * auto_inactive: "Adds a new inactive status to all prior non-transient, non-production environment
   * deployments with the same repository and environment name as the created status's deployment. An
   * inactive status is only added to deployments that had a success state."
   */
  private inactivatePrior(current: StoredDeployment): void {
    for (const d of this.deployments) {
      if (d === current || d.environment !== current.environment || d.transient_environment || d.production_environment) continue
      if (d.created_at > current.created_at || (d.created_at === current.created_at && d.id > current.id)) continue
      if (d.statuses.at(-1)?.state !== 'success') continue
      this.addStatus(d, { state: 'inactive', description: '' }, false)
    }
  }

  private repoPath(): string {
    return `/repos/${this.opts.owner}/${this.opts.repo}`
  }

  private deploymentView(d: StoredDeployment): object {
    const api = `${this.baseUrl}${this.repoPath()}`
    return {
      url: `${api}/deployments/${d.id}`,
      id: d.id,
      node_id: Buffer.from(`Deployment${d.id}`).toString('base64'),
      sha: d.sha,
      ref: d.ref,
      task: d.task,
      payload: d.payload,
      original_environment: d.original_environment,
      environment: d.environment,
      description: d.description,
      creator: this.user(d.creator),
      created_at: d.created_at,
      updated_at: d.statuses.at(-1)?.created_at ?? d.created_at,
      statuses_url: `${api}/deployments/${d.id}/statuses`,
      repository_url: api,
      transient_environment: d.transient_environment,
      production_environment: d.production_environment,
    }
  }

  private statusView(d: StoredDeployment, s: StoredStatus): object {
    const api = `${this.baseUrl}${this.repoPath()}`
    return {
      url: `${api}/deployments/${d.id}/statuses/${s.id}`,
      id: s.id,
      node_id: Buffer.from(`DeploymentStatus${s.id}`).toString('base64'),
      state: s.state,
      creator: this.user('github-actions[bot]'),
      description: s.description,
      environment: s.environment,
      target_url: s.target_url,
      created_at: s.created_at,
      updated_at: s.created_at,
      deployment_url: `${api}/deployments/${d.id}`,
      repository_url: api,
      environment_url: s.environment_url,
      log_url: s.log_url,
    }
  }

  private user(login: string): object {
    return { login, id: login === 'github-actions[bot]' ? 41898282 : 1, type: login.endsWith('[bot]') ? 'Bot' : 'User' }
  }

  private send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
    res.end(JSON.stringify(body))
  }

  private error(res: http.ServerResponse, status: number, message: string): void {
    this.send(res, status, { message, documentation_url: DOCS, status: String(status) })
  }

  /** A page of `items` (newest first) with the documented Link header. */
  private sendPage(res: http.ServerResponse, url: URL, items: object[]): void {
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30)))
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1))
    const last = Math.max(1, Math.ceil(items.length / perPage))
    const pageUrl = (n: number): string => {
      const q = new URLSearchParams(url.searchParams)
      q.set('per_page', String(perPage))
      q.set('page', String(n))
      return `<${this.baseUrl}${url.pathname}?${q.toString()}>`
    }
    const links: string[] = []
    if (page < last) links.push(`${pageUrl(page + 1)}; rel="next"`, `${pageUrl(last)}; rel="last"`)
    if (page > 1) links.push(`${pageUrl(1)}; rel="first"`, `${pageUrl(page - 1)}; rel="prev"`)
    this.send(res, 200, items.slice((page - 1) * perPage, page * perPage), links.length ? { link: links.join(', ') } : {})
  }

  private newestFirst<T extends { created_at: string; id: number }>(items: T[]): T[] {
    return [...items].sort((a, b) => (a.created_at === b.created_at ? b.id - a.id : a.created_at < b.created_at ? 1 : -1))
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let raw = ''
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')))
    req.on('end', () => {
      const url = new URL(req.url!, this.baseUrl)
      let body: unknown
      try {
        body = raw ? JSON.parse(raw) : undefined
      } catch {
        this.error(res, 400, 'Problems parsing JSON')
        return
      }
      const method = req.method!
      this.requests.push({ method, path: url.pathname + url.search, body, authorization: req.headers.authorization })
      this.route(method, url, body, req.headers.authorization, res)
    })
  }

  private route(method: string, url: URL, body: unknown, authorization: string | undefined, res: http.ServerResponse): void {
    const token = /^(?:token|bearer) (.+)$/i.exec(authorization ?? '')?.[1]
    const access = token === undefined ? undefined : this.opts.tokens[token]
    if (!access) return this.error(res, 401, 'Bad credentials')
    if (access === 'none' || (access === 'read' && method !== 'GET')) return this.error(res, 403, 'Resource not accessible by integration')

    const injected = this.injected.findIndex((i) => i.method === method && i.path.test(url.pathname))
    if (injected >= 0) {
      const [hit] = this.injected.splice(injected, 1)
      return this.send(res, hit!.status, hit!.body)
    }

    const prefix = this.repoPath().toLowerCase()
    const path = url.pathname.toLowerCase().startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : undefined
    const one = path === undefined ? null : /^\/deployments\/(\d+)$/.exec(path)
    const statuses = path === undefined ? null : /^\/deployments\/(\d+)\/statuses$/.exec(path)
    if (path === '/deployments' && method === 'GET') return this.listDeployments(url, res)
    if (path === '/deployments' && method === 'POST') return this.createDeployment(body, res)
    const deployment = this.deployments.find((d) => d.id === Number((one ?? statuses)?.[1]))
    if ((one || statuses) && !deployment) return this.error(res, 404, 'Not Found')
    if (one && method === 'GET') return this.send(res, 200, this.deploymentView(deployment!))
    if (statuses && method === 'GET') {
      const views = this.newestFirst(deployment!.statuses).map((s) => this.statusView(deployment!, s))
      return this.sendPage(res, url, views)
    }
    if (statuses && method === 'POST') return this.createStatus(deployment!, body, res)
    this.error(res, 404, 'Not Found')
  }

  private listDeployments(url: URL, res: http.ServerResponse): void {
    const filters = ['sha', 'ref', 'task', 'environment'] as const
    const matching = this.deployments.filter((d) =>
      filters.every((f) => {
        const want = url.searchParams.get(f)
        return want === null || want === '' || d[f] === want
      }),
    )
    this.sendPage(
      res,
      url,
      this.newestFirst(matching).map((d) => this.deploymentView(d)),
    )
  }

  private createDeployment(body: unknown, res: http.ServerResponse): void {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
    if (typeof b.ref !== 'string' || !b.ref) return this.error(res, 422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
    const sha = /^[0-9a-f]{40}$/.test(b.ref) ? b.ref : this.opts.refs?.[b.ref]
    if (!sha) return this.error(res, 422, `No ref found for: ${b.ref}`)
    if (b.description !== undefined && typeof b.description === 'string' && b.description.length > 140) {
      return this.error(res, 422, 'Validation Failed: description is too long (maximum is 140 characters)')
    }
    const environment = typeof b.environment === 'string' ? b.environment : 'production'
    const deployment = this.addDeployment({
      sha,
      ref: b.ref,
      task: typeof b.task === 'string' ? b.task : 'deploy',
      payload: (b.payload as Record<string, unknown> | string | undefined) ?? {},
      original_environment: environment,
      environment,
      description: typeof b.description === 'string' ? b.description : null,
      transient_environment: b.transient_environment === true,
      production_environment: typeof b.production_environment === 'boolean' ? b.production_environment : environment === 'production',
      creator: 'github-actions[bot]',
    })
    this.send(res, 201, this.deploymentView(deployment))
  }

  private createStatus(deployment: StoredDeployment, body: unknown, res: http.ServerResponse): void {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
    if (!STATES.includes(b.state as DeploymentStatusState))
      return this.error(res, 422, 'Validation Failed: state is not included in the list')
    if (typeof b.description === 'string' && b.description.length > 140) {
      return this.error(res, 422, 'Validation Failed: description is too long (maximum is 140 characters)')
    }
    const text = (k: string): string | undefined => (typeof b[k] === 'string' ? (b[k] as string) : undefined)
    const status = this.addStatus(
      deployment,
      {
        state: b.state as DeploymentStatusState,
        description: text('description') ?? '',
        environment: text('environment'),
        log_url: text('log_url') ?? text('target_url'),
        environment_url: text('environment_url') ?? '',
      },
      b.auto_inactive !== false,
    )
    this.send(res, 201, this.statusView(deployment, status))
  }
}
