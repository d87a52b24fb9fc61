/**
 * The one home for credentials: every string that must never be shown (a header value, the token after
 * its auth scheme, a Basic `user:password` and its password, URL userinfo and credential query parameters
 * (`?token=…`, `&sig=…`), an environment value that
 * expandHeaders put into a header) is registered here, and `scrub` replaces each with `***` in any text
 * before it is printed, put into an error or written into a report.
 *
 * Values shorter than MIN_SECRET_LENGTH are not registered: masking `a` or `pw` everywhere would garble
 * every message while protecting nothing worth the name. Adapters that mask in a runner's logs
 * (`core.setSecret`) subscribe with `onAdd`.
 *
 * The registry is process-wide, like the runner's own mask list: a CLI or action run is one process.
 */

/** Shorter values are ignored: too common to mask without garbling messages, too short to be a real secret. */
export const MIN_SECRET_LENGTH = 4

const MASK = '***'

/** `<scheme> <credentials>` (RFC 9110 auth-scheme is a token): `Bearer x`, `Basic x`, `token x`, `Bot x`, `ApiKey x`… */
const AUTH_SCHEME = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+(\S[\s\S]*)$/
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/
/** `scheme://userinfo@` anywhere in a text (a flag, a manifest value, a message). */
const URL_USERINFO = /\b[a-z][a-z0-9+.-]*:\/\/([^\s/?#@]+)@/gi

/**
 * Every credential string a header value carries: the whole value; for `<scheme> <credentials>`, the
 * credentials; for Basic, the decoded `user:password` and the password alone. Short parts are left out.
 */
export function headerSecretParts(value: string): string[] {
  const parts = [value.trim()]
  const m = AUTH_SCHEME.exec(value.trim())
  if (m) {
    const credentials = m[2]!.trim()
    parts.push(credentials)
    if (m[1]!.toLowerCase() === 'basic') parts.push(...basicParts(credentials))
  }
  return unique(parts)
}

/** Basic credentials: base64 of `user:password` → `user:password` and `password`. */
function basicParts(credentials: string): string[] {
  if (!BASE64.test(credentials)) return []
  const decoded = Buffer.from(credentials, credentials.includes('-') || credentials.includes('_') ? 'base64url' : 'base64').toString('utf8')
  // Not text (a token that merely looks like base64): nothing more to derive.
  if (decoded.includes('\uFFFD') || [...decoded].some((c) => c < ' ')) return []
  const colon = decoded.indexOf(':')
  return colon < 0 ? [decoded] : [decoded, decoded.slice(colon + 1)]
}

/**
 * The credentials in URL userinfo anywhere in `text` (`https://user:pass@host/…`): `user:pass` and
 * `pass`, raw and percent-decoded; a userinfo without a password (`https://TOKEN@host`) is a token itself.
 */
export function urlSecretParts(text: string): string[] {
  const parts: string[] = []
  for (const m of text.matchAll(URL_USERINFO)) {
    const userinfo = m[1]!
    const colon = userinfo.indexOf(':')
    const found = colon < 0 ? [userinfo] : [userinfo, userinfo.slice(colon + 1)]
    for (const p of found) parts.push(p, decode(p))
  }
  return unique(parts)
}

/** Any URL in a text, up to what cannot be part of one. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi
/**
 * Query parameters that carry credentials by convention: `token`, `access_token`, `api_key`, `apikey`,
 * `key`, `secret`, `password`, `sig`/`signature` (Azure SAS, presigned URLs), `X-Amz-Credential`, `auth`, `session`.
 */
const SECRET_PARAM = /(^|[_.-])(token|key|apikey|secret|password|passwd|pwd|sig|signature|credential|auth|session)$/i

/** The values of credential query parameters (SECRET_PARAM) of every URL in `text`, raw and decoded. */
export function querySecretParts(text: string): string[] {
  const parts: string[] = []
  for (const [url] of text.matchAll(URL_IN_TEXT)) {
    const q = url.indexOf('?')
    if (q < 0) continue
    for (const pair of url
      .slice(q + 1)
      .split('#')[0]!
      .split('&')) {
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = decode(pair.slice(0, eq).replace(/\+/g, ' '))
      const value = pair.slice(eq + 1)
      if (SECRET_PARAM.test(name)) parts.push(value, decode(value.replace(/\+/g, ' ')))
    }
  }
  return unique(parts)
}

/** A URL as reports show it: no userinfo, and `***` for the value of each credential query parameter. */
export function redactUrl(url: string): string {
  const noUser = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1')
  return noUser.replace(/([?&])([^=&#]+)=([^&#]*)/g, (all, sep: string, name: string) =>
    SECRET_PARAM.test(decode(name)) ? `${sep}${name}=${MASK}` : all,
  )
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function unique(parts: string[]): string[] {
  return [...new Set(parts.filter((p) => p.length >= MIN_SECRET_LENGTH))]
}

/** A set of credential strings and what hides them. */
export class SecretRegistry {
  private readonly values = new Set<string>()
  private readonly listeners = new Set<(secret: string) => void>()
  /** Longest first, so that a secret containing another is masked whole. */
  private sorted: string[] = []

  /** Registers one secret as is; false when it is too short or already known. Listeners hear only new ones. */
  add(value: string): boolean {
    if (value.length < MIN_SECRET_LENGTH || this.values.has(value)) return false
    this.values.add(value)
    this.sorted = [...this.values].sort((a, b) => b.length - a.length)
    for (const listener of this.listeners) listener(value)
    return true
  }

  /**
   * Registers every part of a header value (headerSecretParts) and returns them, with any secret
   * already registered that occurs in the value (an environment value expandHeaders substituted).
   */
  addHeader(value: string): string[] {
    const parts = headerSecretParts(value)
    for (const p of parts) this.add(p)
    return unique([...parts, ...this.sorted.filter((s) => value.includes(s))])
  }

  /** Registers the credentials of URLs in `text` (userinfo, credential query parameters) and returns them. */
  addUrl(text: string): string[] {
    const parts = unique([...urlSecretParts(text), ...querySecretParts(text)])
    for (const p of parts) this.add(p)
    return parts
  }

  has(value: string): boolean {
    return this.values.has(value)
  }

  /** Every registered secret, longest first. */
  list(): string[] {
    return [...this.sorted]
  }

  /** `text` with every registered secret replaced by `***`, longest first. */
  scrub(text: string): string {
    let out = text
    for (const s of this.sorted) if (out.includes(s)) out = out.replaceAll(s, MASK)
    return out
  }

  /** Calls `listener` with every secret registered so far and each one registered later; returns the unsubscribe. */
  onAdd(listener: (secret: string) => void): () => void {
    for (const s of this.sorted) listener(s)
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Forgets everything (tests only: a run never un-learns a secret). */
  clear(): void {
    this.values.clear()
    this.sorted = []
  }
}

/** The process's registry. */
export const secrets = new SecretRegistry()

/** `text` with every registered secret replaced by `***`. */
export function scrub(text: string): string {
  return secrets.scrub(text)
}

/**
 * The same error with registered secrets scrubbed from its message and stack (its class and fields are
 * kept, so a UserError still exits 2). Anything else is returned as is.
 */
export function scrubError<E>(e: E): E {
  if (typeof e !== 'object' || e === null) return e
  const err = e as { message?: unknown; stack?: unknown }
  try {
    if (typeof err.message === 'string') err.message = secrets.scrub(err.message)
    if (typeof err.stack === 'string') err.stack = secrets.scrub(err.stack)
  } catch {
    // A frozen or exotic error: leave it; the adapters scrub what they print.
  }
  return e
}
