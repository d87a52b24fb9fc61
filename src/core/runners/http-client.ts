/*
 * The one place the http runner talks to the network: fetch with a per-attempt timeout and retries, and
 * errors that say what the server answered without ever quoting a secret.
 */
import { UserError } from '../errors.js'
import { scrub } from '../secrets.js'
import { describeValue } from './output.js'

const BACKOFF_BASE_MS = 250
const BACKOFF_CAP_MS = 8000
const RETRY_AFTER_CAP_MS = 30_000
/** How much of an error body goes into a message. */
const ERROR_BODY_CHARS = 500

/**
 * fetch with a per-attempt timeout and retries on 429, 5xx and network errors. Servers echo request headers
 * in error bodies: every quoted answer is scrubbed of the registered secrets (core/secrets.ts) before it is cut.
 */
export class HttpClient {
  constructor(
    private readonly headers: Record<string, string>,
    private readonly timeoutSeconds: number,
    private readonly retries: number,
  ) {}

  async send(method: 'GET' | 'POST', url: string, body?: unknown, retries = this.retries): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const attempts = attempt === 0 ? '' : ` (after ${attempt + 1} attempts)`
      let response: Response
      let text: string
      try {
        response = await fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...this.headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutSeconds * 1000),
        })
        text = await response.text()
      } catch (e) {
        if (isTimeout(e)) throw new UserError(`${method} ${url}: no answer within ${this.timeoutSeconds} s (timeoutSeconds)${attempts}`)
        if (attempt < retries) {
          await sleep(backoffMs(attempt))
          continue
        }
        throw new UserError(`${method} ${url}: request failed: ${scrub(networkReason(e))}${attempts}`)
      }
      if (response.ok) return parseJson(method, url, text)
      const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`
      if ((response.status === 429 || response.status >= 500) && attempt < retries) {
        await sleep(retryAfterMs(response.headers.get('retry-after')) ?? backoffMs(attempt))
        continue
      }
      // Scrubbed before trimming, so that a secret cut at the limit cannot show its first characters.
      const detail = text.trim() === '' ? '' : `: ${trim(scrub(text.trim()))}`
      throw new UserError(`${method} ${url}: the server answered ${status}${attempts}${detail}`)
    }
  }
}

function parseJson(method: string, url: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new UserError(`${method} ${url}: the answer is not JSON: ${describeValue(trim(scrub(text)))}`)
  }
}

// Duck-typed: fetch's errors come from another realm under some test runners, so `instanceof Error` fails.
type ErrorLike = { name?: unknown; message?: unknown; code?: unknown; cause?: unknown }
const asErrorLike = (e: unknown): ErrorLike => (typeof e === 'object' && e !== null ? (e as ErrorLike) : {})

function isTimeout(e: unknown): boolean {
  return asErrorLike(e).name === 'TimeoutError' || asErrorLike(asErrorLike(e).cause).name === 'TimeoutError'
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is in its cause. */
function networkReason(e: unknown): string {
  const cause = asErrorLike(asErrorLike(e).cause)
  const message = typeof cause.message === 'string' ? cause.message : String(asErrorLike(e).message ?? e)
  return typeof cause.code === 'string' && !message.includes(cause.code) ? `${cause.code}: ${message}` : message
}

function backoffMs(attempt: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** attempt, BACKOFF_CAP_MS)
}

/** `Retry-After` in seconds or as an HTTP date, capped so a server cannot stall the run. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined
  const seconds = Number(header)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now()
  if (Number.isNaN(ms)) return undefined
  return Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS)
}

function trim(text: string): string {
  return text.length > ERROR_BODY_CHARS ? `${text.slice(0, ERROR_BODY_CHARS)}… (${text.length} characters)` : text
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
