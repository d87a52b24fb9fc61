import { isIP } from 'node:net'
import { UserError } from '../../errors.js'

/*
 * `oci://host[:port]/repo/path`: which registry, over which scheme, and the repository names it
 * allows. Plain HTTP is used for loopback hosts only, so a token never crosses a network in clear.
 */

export interface OciReference {
  /** `host[:port]` as written (lowercased), the registry's identity in messages and auth. */
  registry: string
  /** `http://host:port` or `https://host[:port]`, without a trailing slash. */
  base: string
  /** The repository prefix under which each model gets its own repository; may be empty. */
  repository: string
}

/** The distribution spec's repository name grammar (lowercase path components). */
const REPOSITORY = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/
/** The distribution spec's tag grammar. */
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}

export function parseOciReference(ref: string, field = 'registry.uri'): OciReference {
  const m = /^oci:\/\/([^/]+)(?:\/(.*))?$/.exec(ref.trim())
  if (!m) throw new UserError(`${field}: '${ref}' is not an OCI reference (expected oci://<registry>/<repository>)`, { field })
  const registry = m[1].toLowerCase()
  const repository = (m[2] ?? '').replace(/\/+$/, '')
  let url: URL
  try {
    url = new URL(`http://${registry}`)
  } catch {
    throw new UserError(`${field}: '${registry}' is not a registry host`, { field })
  }
  if (url.username || url.password) throw new UserError(`${field}: put credentials in the token, not in the reference '${ref}'`, { field })
  if (/[@:]/.test(repository)) {
    throw new UserError(`${field}: '${ref}' names a tag or digest; give the repository only (versions become tags v1.2.3)`, { field })
  }
  if (repository && !REPOSITORY.test(repository)) {
    throw new UserError(`${field}: '${repository}' is not a valid OCI repository name (lowercase letters, digits, '.', '_', '-' and '/')`, {
      field,
    })
  }
  const scheme = isLoopbackHost(url.hostname) ? 'http' : 'https'
  return { registry, base: `${scheme}://${registry}`, repository }
}

/** The repository of one model under the reference's prefix: `<prefix>/<model name>`. */
export function modelRepository(ref: OciReference, name: string): string {
  const repo = ref.repository ? `${ref.repository}/${name}` : name
  if (!REPOSITORY.test(repo) || repo.length > 255) {
    throw new UserError(
      `model name '${name}': OCI repository names are lowercase (letters, digits, '.', '_', '-', '/'); '${repo}' is not valid on ${ref.registry}`,
      { field: 'name' },
    )
  }
  return repo
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag)
}
