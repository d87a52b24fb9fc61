import { UserError, errorText } from '../../errors.js'
import { isLoopbackHost } from './reference.js'
import { header, isUnreachable, readBody, send } from './http.js'

/*
 * Registry authentication as the distribution token spec and GHCR do it: the registry answers 401
 * with `WWW-Authenticate: Bearer realm=…,service=…` (or Basic); the client trades Basic credentials
 * at the realm for a token scoped to one repository, and sends `Authorization: Bearer <token>`.
 */

export interface OciCredentials {
  /** Any non-empty name works for GHCR; defaults to `modelgate` when only a token is given. */
  username?: string
  /** A password, PAT or GITHUB_TOKEN. */
  token?: string
}

export interface Challenge {
  scheme: string
  params: Record<string, string>
}

/** Parses the first challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(value: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/.exec(value)
  if (!m) return undefined
  const params: Record<string, string> = {}
  const re = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?/g
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]
  return { scheme: m[1].toLowerCase(), params }
}

function basic(creds: OciCredentials): string | undefined {
  if (!creds.token) return undefined
  return `Basic ${Buffer.from(`${creds.username || 'modelgate'}:${creds.token}`).toString('base64')}`
}

/** What to check when a registry refuses us, with the GitHub Actions specifics for GHCR. */
export function authHint(registry: string, hasCredentials: boolean): string {
  const ghcr = registry === 'ghcr.io'
  if (!hasCredentials) {
    return ghcr
      ? 'give a token (in GitHub Actions: the GITHUB_TOKEN, with `permissions: packages: write` in the workflow)'
      : 'give a username and token for it'
  }
  return ghcr
    ? 'check the token: a GITHUB_TOKEN needs `permissions: packages: write` in the workflow (and the package must grant this repository access); a PAT needs write:packages'
    : 'check the username and token, and that they may push to this repository'
}

export function refused(registry: string, what: string, creds: OciCredentials): UserError {
  return new UserError(`registry ${registry}: authentication refused (${what}): ${authHint(registry, Boolean(creds.token))}`, {
    field: 'registry',
  })
}

/**
 * The `Authorization` header for `repository` after a 401 carrying `challenge`; asks the token realm
 * for pull and push at once, so one token serves every request of a write.
 */
export async function authorize(
  registry: string,
  challengeHeader: string | undefined,
  repository: string,
  creds: OciCredentials,
  timeoutMs?: number,
): Promise<string> {
  const challenge = challengeHeader ? parseChallenge(challengeHeader) : undefined
  if (!challenge) throw refused(registry, 'HTTP 401 without a WWW-Authenticate challenge', creds)
  if (challenge.scheme === 'basic') {
    const h = basic(creds)
    if (!h) throw new UserError(`registry ${registry} requires authentication: ${authHint(registry, false)}`, { field: 'registry' })
    return h
  }
  if (challenge.scheme !== 'bearer') throw refused(registry, `unsupported authentication scheme ${challenge.scheme}`, creds)
  const realm = challenge.params.realm
  if (!realm) throw refused(registry, 'Bearer challenge without a realm', creds)
  let url: URL
  try {
    url = new URL(realm)
  } catch {
    throw refused(registry, `token realm '${realm}' is not a URL`, creds)
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw refused(registry, `token realm ${realm} is not HTTPS: credentials would travel in clear`, creds)
  }
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service)
  url.searchParams.set('scope', `repository:${repository}:pull,push`)
  const auth = basic(creds)
  let res
  try {
    res = await send('GET', url, { headers: auth ? { Authorization: auth } : {}, timeoutMs })
  } catch (e) {
    if (isUnreachable(e))
      throw new UserError(`registry ${registry}: token service ${url.host} unreachable: ${errorText(e)}`, { field: 'registry' })
    throw e
  }
  const body = await readBody(res, 1024 * 1024)
  if (res.status === 401 || res.status === 403) throw refused(registry, `token service answered HTTP ${res.status}`, creds)
  if (res.status !== 200)
    throw refused(registry, `token service answered HTTP ${res.status} ${header(res, 'content-type') ?? ''}`.trim(), creds)
  let token: unknown
  try {
    const json = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown }
    token = json.token ?? json.access_token
  } catch {
    throw refused(registry, "the token service's answer is not JSON", creds)
  }
  if (typeof token !== 'string' || !token) throw refused(registry, 'the token service gave no token', creds)
  return `Bearer ${token}`
}
