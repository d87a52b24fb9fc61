import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { UserError, errorText } from '../../errors.js'
import { DeployFailure, type ApplyOutcome, type DeployTarget, type Endpoint, type ServedVersion, type TrafficPlan } from '../types.js'

/*
 * The webhook target: deploy-model hands the plan to a system it cannot see into (a platform's
 * deploy API, a chat-ops bot, an internal service) as a signed POST, then polls a status URL.
 *
 * Signature: GitHub webhooks' scheme. `X-Modelgate-Signature-256: sha256=<hex>` where `<hex>` is the
 * HMAC-SHA256 of the raw request body bytes keyed with the shared secret. A receiver must:
 *   1. read the body as raw bytes, before any JSON parsing (re-serialising changes the bytes);
 *   2. compute HMAC-SHA256(secret, body) and compare it with the header's hex in constant time
 *      (`crypto.timingSafeEqual` in Node, `hmac.compare_digest` in Python), never with `==`;
 *   3. reject the request (401) when the header is missing or differs; then drop a delivery whose
 *      `id` it has seen or whose `generation` is lower than the last one it applied (replays).
 * `verifySignature` below does steps 1–2 for Node receivers.
 */

export const EVENT_HEADER = 'X-Modelgate-Event'
export const DELIVERY_HEADER = 'X-Modelgate-Delivery'
export const SIGNATURE_HEADER = 'X-Modelgate-Signature-256'

export interface WebhookTargetOptions {
  /** Where the deploy event is POSTed. */
  url: string
  /** The HMAC key shared with the receiver. */
  secret: string
  /** Polled until the receiver reports ready; `{id}` is replaced by the delivery's id. */
  statusUrl?: string
  /** Where the deployed model answers, for verification. */
  endpoint: Endpoint
  /** Sent with every request to the webhook's own origins (e.g. Authorization). */
  headers?: Record<string, string>
  environment: string
  /** Interval between status polls; default 1000. */
  pollMs?: number
  /** Limit for each single HTTP request. */
  timeoutMs: number
}

/** A version as the receiver gets it: no local artifact path, which means nothing on another machine. */
export interface WebhookVersion {
  name: string
  version: string
  digest: string
  uri: string
}

export interface WebhookPayload {
  schemaVersion: '1.0'
  event: 'deploy'
  environment: string
  /** Unique per delivery; also sent as `X-Modelgate-Delivery`. */
  id: string
  /** Strictly increasing (milliseconds since the epoch, bumped on a tie): a receiver drops older ones. */
  generation: number
  stable: WebhookVersion
  canary?: WebhookVersion & { percent: number }
  sentAt: string
}

/** What the status URL answers. */
export interface WebhookStatus {
  status: 'ready' | 'pending' | 'failed'
  message?: string
  /** The version the receiver now serves (the canary while there is one). */
  version?: string
}

/** The signature header's value for `body`. */
export function signBody(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/** True when `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`; compared in constant time. */
export function verifySignature(body: Buffer, header: string, secret: string): boolean {
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim())
  if (match === null || secret === '') return false
  const expected = createHmac('sha256', secret).update(body).digest()
  return timingSafeEqual(expected, Buffer.from(match[1], 'hex'))
}

let lastGeneration = 0

function nextGeneration(): number {
  lastGeneration = Math.max(Date.now(), lastGeneration + 1)
  return lastGeneration
}

type HttpResult =
  { kind: 'response'; status: number; statusText: string; text: string } | { kind: 'timeout' } | { kind: 'error'; reason: string }

interface Delivery {
  /** The X-Modelgate-Delivery of the accepted POST; empty when none was accepted. */
  id: string
  statusUrl?: string
  /** Whether the configured headers (credentials) may go to `statusUrl`. */
  trusted: boolean
}

const RETRYABLE_STATUS = new Set([404, 408, 425, 429])

export class WebhookTarget implements DeployTarget {
  readonly kind = 'webhook' as const
  readonly description: string
  private readonly pollMs: number
  private delivery?: Delivery

  constructor(private readonly opts: WebhookTargetOptions) {
    httpUrl(opts.url, 'url')
    if (opts.statusUrl !== undefined) httpUrl(opts.statusUrl.replaceAll('{id}', 'id'), 'statusUrl')
    if (typeof opts.secret !== 'string' || opts.secret === '')
      throw new UserError('webhook target: secret must be a non-empty string (the HMAC key shared with the receiver)', { field: 'secret' })
    if (!(opts.timeoutMs > 0))
      throw new UserError(`webhook target: timeoutMs must be positive, got ${opts.timeoutMs}`, { field: 'timeoutMs' })
    try {
      new Headers(opts.headers)
    } catch (e) {
      throw new UserError(`webhook target: headers: ${errorText(e)}`, { field: 'headers' })
    }
    this.pollMs = opts.pollMs ?? 1000
    if (!(this.pollMs > 0)) throw new UserError(`webhook target: pollMs must be positive, got ${this.pollMs}`, { field: 'pollMs' })
    this.description = `webhook ${displayUrl(opts.url)}`
  }

  async lock(): Promise<() => Promise<void>> {
    // Serialising deploys of an environment is the workflow's job (`concurrency:`): a webhook has no lock to take.
    return async () => {}
  }

  /** Read from a status URL without `{id}` when it answers `{ stable, canary? }`; otherwise unknown. */
  async current(): Promise<TrafficPlan | undefined> {
    const url = this.opts.statusUrl
    if (url === undefined || url.includes('{id}')) return undefined
    const result = await this.http('GET', url, { headers: this.headers(true), timeoutMs: this.opts.timeoutMs })
    if (result.kind !== 'response' || !ok(result.status)) return undefined
    return planOf(parseJson(result.text))
  }

  async apply(plan: TrafficPlan, opts: { dryRun: boolean; log: (line: string) => void }): Promise<ApplyOutcome> {
    const id = randomUUID()
    const body = Buffer.from(JSON.stringify(this.payload(plan, id)))
    const signature = signBody(body, this.opts.secret)
    const headers = this.headers(true)
    headers.set('Content-Type', 'application/json')
    headers.set(EVENT_HEADER, 'deploy')
    headers.set(DELIVERY_HEADER, id)
    headers.set(SIGNATURE_HEADER, signature)
    const where = displayUrl(this.opts.url)
    if (opts.dryRun) {
      return { files: [], notes: [`dry run: would POST ${where} with ${SIGNATURE_HEADER}: ${signature} and body ${body.toString('utf8')}`] }
    }
    this.delivery = undefined
    const result = await this.http('POST', this.opts.url, { headers, body, timeoutMs: this.opts.timeoutMs })
    if (result.kind === 'timeout') throw new DeployFailure(`webhook POST ${where} did not answer within ${this.opts.timeoutMs} ms`, 'apply')
    if (result.kind === 'error') throw new DeployFailure(`webhook POST ${where} failed: ${this.scrub(result.reason)}`, 'apply')
    if (!ok(result.status))
      throw new DeployFailure(`webhook POST ${where} answered ${statusLine(result)}${this.excerpt(result.text)}`, 'apply')
    this.delivery = this.accepted(id, parseJson(result.text))
    opts.log(`webhook ${where} accepted delivery ${id} (HTTP ${result.status})`)
    const polling = this.delivery.statusUrl === undefined ? '' : `; status at ${displayUrl(this.delivery.statusUrl)}`
    return { files: [], notes: [`webhook ${where} accepted delivery ${id}${polling}`] }
  }

  async waitReady(plan: TrafficPlan, timeoutMs: number): Promise<void> {
    const delivery = this.delivery ?? this.undelivered()
    if (delivery.statusUrl === undefined) return
    const url = delivery.statusUrl
    const want = (plan.canary ?? plan.stable).version
    const deadline = Date.now() + timeoutMs
    let last = 'no answer yet'
    let polls = 0
    for (;;) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) break
      const headers = this.headers(delivery.trusted)
      if (delivery.id !== '') headers.set(DELIVERY_HEADER, delivery.id)
      const limit = Math.min(this.opts.timeoutMs, remaining)
      const result = await this.http('GET', url, { headers, timeoutMs: limit })
      // A poll cut short by the deadline says less than the answer before it.
      const cutShort = result.kind === 'timeout' && limit < this.opts.timeoutMs && polls > 0
      polls++
      const report = this.readStatus(url, result)
      if (typeof report === 'string') last = cutShort ? last : report
      else if (report.status === 'failed')
        throw new DeployFailure(
          `webhook receiver reports the deploy of ${plan.stable.name} ${want} to ${this.opts.environment} failed: ${this.scrub(report.message ?? 'no message')}`,
          'ready',
        )
      else if (report.status === 'pending') last = report.message === undefined ? 'pending' : `pending: ${this.scrub(report.message)}`
      else if (report.version !== undefined && report.version !== want) last = `ready, but serving version ${report.version}`
      else return
      const left = deadline - Date.now()
      if (left <= 0) break
      await sleep(Math.min(this.pollMs, left))
    }
    throw new DeployFailure(
      `webhook status ${displayUrl(url)} did not report ${plan.stable.name} ${want} ready within ${timeoutMs} ms (last: ${last})`,
      'ready',
    )
  }

  endpoint(version?: string): Endpoint | undefined {
    return version === undefined ? this.opts.endpoint : undefined
  }

  private payload(plan: TrafficPlan, id: string): WebhookPayload {
    return {
      schemaVersion: '1.0',
      event: 'deploy',
      environment: this.opts.environment,
      id,
      generation: nextGeneration(),
      stable: wireVersion(plan.stable),
      ...(plan.canary === undefined ? {} : { canary: { ...wireVersion(plan.canary), percent: plan.canary.percent } }),
      sentAt: new Date().toISOString(),
    }
  }

  /** The receiver's answer may name its own id for the job and its own status URL. */
  private accepted(deliveryId: string, answer: unknown): Delivery {
    const fields = isRecord(answer) ? answer : {}
    const jobId = typeof fields.id === 'string' || typeof fields.id === 'number' ? String(fields.id) : deliveryId
    if (typeof fields.statusUrl === 'string' && fields.statusUrl !== '') {
      let url: URL
      try {
        url = new URL(fields.statusUrl, this.opts.url)
      } catch {
        throw new DeployFailure(`webhook POST ${displayUrl(this.opts.url)} answered a statusUrl that is not a URL`, 'apply')
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new DeployFailure(
          `webhook POST ${displayUrl(this.opts.url)} answered a statusUrl that is not http(s): ${url.protocol}`,
          'apply',
        )
      return { id: deliveryId, statusUrl: url.href, trusted: this.trustedOrigins().has(url.origin) }
    }
    const template = this.opts.statusUrl
    return { id: deliveryId, statusUrl: template?.replaceAll('{id}', encodeURIComponent(jobId)), trusted: true }
  }

  /** waitReady without an accepted apply (none yet, or a dry run): a fixed status URL can still be polled. */
  private undelivered(): Delivery {
    const url = this.opts.statusUrl
    if (url !== undefined && url.includes('{id}'))
      throw new DeployFailure(`webhook status ${displayUrl(url)} needs a delivery id, and no deploy event has been accepted`, 'ready')
    return { id: '', statusUrl: url, trusted: true }
  }

  /** The configured headers carry credentials: they go only to the origins the user configured. */
  private trustedOrigins(): Set<string> {
    const origins = new Set([new URL(this.opts.url).origin])
    if (this.opts.statusUrl !== undefined) origins.add(new URL(this.opts.statusUrl.replaceAll('{id}', 'id')).origin)
    return origins
  }

  private headers(withConfigured: boolean): Headers {
    const headers = new Headers(withConfigured ? this.opts.headers : undefined)
    headers.set('Accept', 'application/json')
    return headers
  }

  /** A status report, or why this poll told nothing (worth another poll); throws when polling cannot help. */
  private readStatus(url: string, result: HttpResult): WebhookStatus | string {
    if (result.kind === 'timeout') return 'no answer to the last poll in time'
    if (result.kind === 'error') return this.scrub(result.reason)
    if (!ok(result.status)) {
      if (RETRYABLE_STATUS.has(result.status) || result.status >= 500) return `HTTP ${statusLine(result)}`
      throw new DeployFailure(`webhook status ${displayUrl(url)} answered ${statusLine(result)}${this.excerpt(result.text)}`, 'ready')
    }
    const report = statusOf(parseJson(result.text))
    if (report === undefined)
      throw new DeployFailure(
        `webhook status ${displayUrl(url)} answered no {"status": "ready" | "pending" | "failed"}${this.excerpt(result.text)}`,
        'ready',
      )
    return report
  }

  private async http(
    method: 'GET' | 'POST',
    url: string,
    init: { headers: Headers; body?: Buffer; timeoutMs: number },
  ): Promise<HttpResult> {
    try {
      const response = await fetch(url, {
        method,
        headers: init.headers,
        body: init.body,
        // A redirected POST would be re-sent somewhere the user did not name: a 3xx is an answer, not a hop.
        redirect: 'manual',
        signal: AbortSignal.timeout(init.timeoutMs),
      })
      const text = await response.text()
      return { kind: 'response', status: response.status, statusText: response.statusText, text }
    } catch (e) {
      if (errorName(e) === 'TimeoutError' || errorName(causeOf(e)) === 'TimeoutError') return { kind: 'timeout' }
      return { kind: 'error', reason: networkReason(e) }
    }
  }

  private excerpt(text: string): string {
    const flat = text.replace(/\s+/g, ' ').trim()
    if (flat === '') return ''
    return `: ${this.scrub(flat.length > 200 ? `${flat.slice(0, 200)}…` : flat)}`
  }

  /** A receiver that knows the secret may echo it (or a configured credential) in an error page. */
  private scrub(text: string): string {
    let out = text.replaceAll(this.opts.secret, '***')
    for (const value of Object.values(this.opts.headers ?? {})) if (value.length >= 4) out = out.replaceAll(value, '***')
    return out
  }
}

function wireVersion(v: ServedVersion): WebhookVersion {
  return { name: v.name, version: v.version, digest: v.digest, uri: v.uri }
}

function httpUrl(value: unknown, field: string): URL {
  let url: URL
  try {
    url = new URL(String(value))
  } catch {
    throw new UserError(`webhook target: ${field} is not a URL: ${JSON.stringify(value)}`, { field })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UserError(`webhook target: ${field} must be an http(s) URL, got ${url.protocol}`, { field })
  return url
}

/** The URL for messages: no user info, no query (either may hold a token). */
export function displayUrl(value: string): string {
  try {
    const url = new URL(value)
    const query = url.search === '' ? '' : '?…'
    return `${url.protocol}//${url.host}${url.pathname.replaceAll('%7Bid%7D', '{id}')}${query}`
  } catch {
    return '(invalid URL)'
  }
}

function ok(status: number): boolean {
  return status >= 200 && status < 300
}

function statusLine(r: { status: number; statusText: string }): string {
  return r.statusText === '' ? String(r.status) : `${r.status} ${r.statusText}`
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function statusOf(v: unknown): WebhookStatus | undefined {
  if (!isRecord(v) || (v.status !== 'ready' && v.status !== 'pending' && v.status !== 'failed')) return undefined
  return {
    status: v.status,
    ...(typeof v.message === 'string' ? { message: v.message } : {}),
    ...(typeof v.version === 'string' || typeof v.version === 'number' ? { version: String(v.version) } : {}),
  }
}

function servedOf(v: unknown): ServedVersion | undefined {
  if (!isRecord(v)) return undefined
  const { name, version, digest, uri } = v
  if (typeof name !== 'string' || typeof version !== 'string' || typeof digest !== 'string' || typeof uri !== 'string') return undefined
  return { name, version, digest, uri }
}

function planOf(v: unknown): TrafficPlan | undefined {
  if (!isRecord(v)) return undefined
  const stable = servedOf(v.stable)
  if (stable === undefined) return undefined
  if (v.canary === undefined || v.canary === null) return { stable }
  const canary = servedOf(v.canary)
  const percent = isRecord(v.canary) ? v.canary.percent : undefined
  if (canary === undefined || typeof percent !== 'number' || !(percent >= 0 && percent <= 100)) return undefined
  return { stable, canary: { ...canary, percent } }
}

function errorName(e: unknown): unknown {
  return typeof e === 'object' && e !== null ? (e as { name?: unknown }).name : undefined
}

function causeOf(e: unknown): unknown {
  return typeof e === 'object' && e !== null ? (e as { cause?: unknown }).cause : undefined
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is in its cause. */
function networkReason(e: unknown): string {
  const cause = causeOf(e) as { code?: unknown; message?: unknown } | undefined
  const message = typeof cause?.message === 'string' ? cause.message : String((e as { message?: unknown })?.message ?? e)
  return typeof cause?.code === 'string' && !message.includes(cause.code) ? `${cause.code}: ${message}` : message
}
