import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import https from 'node:https'
import { pipeline, type Readable } from 'node:stream'

/*
 * One HTTP exchange with a registry, on Node's own http/https: redirects followed without carrying
 * credentials to another host, request bodies replayable (a factory, so a retry re-reads the file),
 * and socket failures surfaced as TransportError with their errno code.
 */

/** A request body: bytes, or a stream opened afresh for every attempt (a file range). */
export type Body = Buffer | { length: number; open: () => Readable }

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  /** The URL that answered, after redirects: relative `Location` headers resolve against it. */
  url: URL
  /** The unread body; callers must read or drain it. */
  stream: IncomingMessage
}

export interface SendOptions {
  headers?: Record<string, string>
  body?: Body
  /** Follow 3xx answers (default true). */
  redirects?: boolean
  timeoutMs?: number
}

/** Connection-level failure (refused, reset, DNS, timeout); `code` is the errno name. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
    this.name = 'TransportError'
  }
}

/** Errors where no connection was made: retrying the same address will not help soon. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_NONAME'])

export function isUnreachable(e: unknown): boolean {
  return e instanceof TransportError && UNREACHABLE.has(e.code)
}

const MAX_REDIRECTS = 5
const DEFAULT_TIMEOUT_MS = 120_000

export async function send(method: string, url: URL, opts: SendOptions = {}): Promise<RawResponse> {
  let current = url
  let currentMethod = method
  let body = opts.body
  const headers = { ...(opts.headers ?? {}) }
  for (let hop = 0; ; hop++) {
    const res = await sendOnce(currentMethod, current, headers, body, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    const location = res.headers.location
    if (opts.redirects === false || ![301, 302, 303, 307, 308].includes(res.status) || !location || hop >= MAX_REDIRECTS) return res
    res.stream.resume()
    const next = new URL(location, current)
    // Blob downloads redirect to object storage: the registry's credentials must not follow them there.
    if (next.host !== current.host || next.protocol !== current.protocol) {
      for (const k of Object.keys(headers)) if (k.toLowerCase() === 'authorization') delete headers[k]
    }
    if (res.status === 303) {
      currentMethod = currentMethod === 'HEAD' ? 'HEAD' : 'GET'
      body = undefined
      for (const k of Object.keys(headers)) if (/^content-(length|type|range)$/i.test(k)) delete headers[k]
    }
    current = next
  }
}

function sendOnce(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: Body | undefined,
  timeoutMs: number,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http
    const hdrs: Record<string, string> = { 'User-Agent': 'modelgate', ...headers }
    if (body !== undefined) hdrs['Content-Length'] = String(body.length)
    else if (['PUT', 'POST', 'PATCH'].includes(method)) hdrs['Content-Length'] = '0'
    let settled = false
    const fail = (e: Error) => {
      if (settled) return
      settled = true
      const code = (e as NodeJS.ErrnoException).code ?? (e instanceof TransportError ? e.code : 'EIO')
      reject(e instanceof TransportError ? e : new TransportError(`${method} ${url.host}${url.pathname}: ${e.message}`, code))
    }
    const req = lib.request(url, { method, headers: hdrs }, (stream) => {
      settled = true
      resolve({ status: stream.statusCode ?? 0, headers: stream.headers, url, stream })
    })
    req.setTimeout(timeoutMs, () =>
      req.destroy(new TransportError(`${method} ${url.host}${url.pathname}: no answer in ${timeoutMs} ms`, 'ETIMEDOUT')),
    )
    req.on('error', fail)
    if (body === undefined) req.end()
    else if (Buffer.isBuffer(body)) req.end(body)
    else {
      // pipeline closes the file when the connection dies mid-body; the request's own 'error' reports it.
      pipeline(body.open(), req, (e) => {
        if (e) req.destroy(e)
      })
    }
  })
}

/** Reads a whole (small) body; refuses more than `limit` bytes so a hostile answer cannot fill memory. */
export async function readBody(res: RawResponse, limit = 8 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res.stream) {
      size += (chunk as Buffer).length
      if (size > limit) {
        res.stream.destroy()
        throw new TransportError(`${res.url.host}${res.url.pathname}: answer larger than ${limit} bytes`, 'E2BIG')
      }
      chunks.push(chunk as Buffer)
    }
  } catch (e) {
    if (e instanceof TransportError) throw e
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO'
    throw new TransportError(`${res.url.host}${res.url.pathname}: ${(e as Error).message}`, code)
  }
  return Buffer.concat(chunks)
}

export function drain(res: RawResponse): void {
  res.stream.resume()
}

export function header(res: RawResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}

/** The longest `Retry-After` waited for: a registry asking for more is reported as rate limiting. */
export const MAX_RETRY_AFTER_MS = 60_000

/** `Retry-After` in ms: seconds, or an HTTP date. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined
}
