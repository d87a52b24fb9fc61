import { createWriteStream, rmSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { UserError, errorText } from '../../errors.js'
import { digestTap, sha256Bytes } from '../digest.js'
import { authorize, authHint, refused, type OciCredentials } from './auth.js'
import {
  MAX_RETRY_AFTER_MS,
  TransportError,
  drain,
  header,
  isUnreachable,
  parseRetryAfter,
  readBody,
  send,
  type Body,
  type RawResponse,
} from './http.js'
import type { OciReference } from './reference.js'
import { MEDIA, RegistryError, describeErrors, parseJson, referrersTag, type Descriptor, type ImageIndex } from './spec.js'
import { BlobUploader, type BlobSource } from './upload.js'

/*
 * A small OCI distribution client (opencontainers/distribution-spec): blobs (HEAD before upload,
 * uploads in upload.ts, verified downloads), manifests (exact bytes), tags with pagination, and
 * referrers with the tag-schema fallback for registries without the API (distribution 2.8, GHCR).
 * Every request goes through `call`, which authenticates and retries, so that no caller handles a
 * 401 or a 503 of its own.
 */

/** Distribution 2.8 answers 404 for an OCI manifest unless Accept names the OCI types. */
const MANIFEST_ACCEPT = [MEDIA.manifest, MEDIA.index, MEDIA.dockerManifest, MEDIA.dockerList].join(', ')

export interface ManifestResult {
  bytes: Buffer
  digest: string
  mediaType: string
  etag?: string
}

export interface OciClientOptions {
  credentials?: OciCredentials
  /** PATCH chunk size for uploads larger than one chunk (default 16 MiB). */
  chunkSize?: number
  /** Retries after a network error, 5xx or 429, per request or per upload (default 4). */
  retries?: number
  /** First backoff delay; doubles per retry (default 250 ms). */
  retryBaseMs?: number
  timeoutMs?: number
}

export class OciClient {
  readonly registry: string
  private readonly base: string
  private readonly creds: OciCredentials
  readonly chunkSize: number
  /** Retries after a network error, 5xx or 429, per request or per upload. */
  readonly retries: number
  private readonly retryBaseMs: number
  private readonly timeoutMs?: number
  /** `Authorization` per repository: bearer tokens are scoped to one. */
  private readonly auth = new Map<string, string>()
  /** Once the registry has answered, a refused connection is a blip to retry rather than a wrong address. */
  private contacted = false
  /** Upload recoveries, for logs and tests: resumed from the registry's offset, or restarted. */
  readonly stats = { resumes: 0, restarts: 0 }
  private readonly uploader = new BlobUploader(this)

  constructor(ref: Pick<OciReference, 'registry' | 'base'>, opts: OciClientOptions = {}) {
    this.registry = ref.registry
    this.base = ref.base
    this.creds = opts.credentials ?? {}
    this.chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? 16 * 1024 * 1024))
    this.retries = opts.retries ?? 4
    this.retryBaseMs = opts.retryBaseMs ?? 250
    this.timeoutMs = opts.timeoutMs
  }

  url(repo: string, rest: string): URL {
    return new URL(`${this.base}/v2/${repo}/${rest}`)
  }

  /**
   * One request with authentication (anonymous first, then the challenge's scheme, re-authenticating
   * once on a 401 with a cached token) and, unless `retry` is false, retries of network errors, 5xx
   * and 429 (honouring Retry-After). A 403 becomes a UserError saying what to check.
   */
  async call(
    repo: string,
    method: string,
    target: URL,
    opts: { headers?: Record<string, string>; body?: Body; retry?: boolean; redirects?: boolean } = {},
  ): Promise<RawResponse> {
    let fresh = false
    for (let attempt = 0; ;) {
      const headers = { ...(opts.headers ?? {}) }
      const auth = this.auth.get(repo)
      if (auth) headers.Authorization = auth
      let res: RawResponse
      try {
        res = await send(method, target, { headers, body: opts.body, redirects: opts.redirects, timeoutMs: this.timeoutMs })
      } catch (e) {
        if (!(e instanceof TransportError)) throw e
        if (isUnreachable(e) && !this.contacted)
          throw new UserError(`registry ${this.registry} unreachable: ${e.message}`, { field: 'registry' })
        if (opts.retry === false) throw e
        if (attempt >= this.retries) throw this.transportFailure(e)
        await sleep(this.backoff(attempt++))
        continue
      }
      this.contacted = true
      if (res.status === 401) {
        drain(res)
        if (fresh) throw refused(this.registry, `HTTP 401 to ${method} ${target.pathname} with the token it issued`, this.creds)
        this.auth.set(repo, await authorize(this.registry, header(res, 'www-authenticate'), repo, this.creds, this.timeoutMs))
        fresh = true
        continue
      }
      if (res.status === 403) {
        const detail = (await this.errors(res)).text
        throw new RegistryError(
          `registry ${this.registry}: access to ${repo} denied (${method}${detail ? `: ${detail}` : ''}): ${authHint(this.registry, Boolean(this.creds.token))}`,
          403,
          [],
        )
      }
      if ((res.status === 429 || res.status >= 500) && opts.retry !== false && attempt < this.retries) {
        const wait = this.retryWait(res, attempt++)
        drain(res)
        await sleep(wait)
        continue
      }
      return res
    }
  }

  /** The pause before retry `attempt` (0-based): doubling from retryBaseMs up to 10 s, jittered by ±25 %. */
  backoff(attempt: number): number {
    return Math.min(this.retryBaseMs * 2 ** attempt, 10_000) * (0.75 + Math.random() / 2)
  }

  private retryWait(res: RawResponse, attempt: number): number {
    const after = parseRetryAfter(header(res, 'retry-after'))
    if (after !== undefined && after > MAX_RETRY_AFTER_MS) {
      drain(res)
      throw new RegistryError(
        `registry ${this.registry}: rate limited; it asks to retry after ${Math.round(after / 1000)} s`,
        res.status,
        [],
      )
    }
    return after ?? this.backoff(attempt)
  }

  transportFailure(e: TransportError): UserError {
    if (isUnreachable(e)) return new UserError(`registry ${this.registry} unreachable: ${e.message}`, { field: 'registry' })
    return new UserError(`registry ${this.registry}: ${e.message} (after ${this.retries} retries)`, { field: 'registry' })
  }

  /** The spec's error body of an answer, read (at most 64 KiB) and made readable. */
  private async errors(res: RawResponse): Promise<{ text: string; codes: string[] }> {
    try {
      return describeErrors((await readBody(res, 64 * 1024)).toString('utf8'))
    } catch {
      return { text: '', codes: [] }
    }
  }

  /** Throws the registry's answer as a readable error: `registry host: what: HTTP 400 MANIFEST_INVALID: …`. */
  async fail(res: RawResponse, what: string): Promise<never> {
    const { text, codes } = await this.errors(res)
    throw new RegistryError(`registry ${this.registry}: ${what}: HTTP ${res.status}${text ? ` ${text}` : ''}`, res.status, codes)
  }

  // ---- blobs

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const res = await this.call(repo, 'HEAD', this.url(repo, `blobs/${digest}`))
    drain(res)
    if (res.status === 200) return true
    if (res.status === 404) return false
    return this.fail(res, `HEAD blob ${digest}`)
  }

  /** Uploads a blob unless the registry has it; returns whether it was sent. */
  async pushBlob(repo: string, src: BlobSource): Promise<boolean> {
    if (await this.hasBlob(repo, src.digest)) return false
    await this.uploader.upload(repo, src)
    return true
  }

  /** Pushes small bytes (configs, records, cards) and returns their descriptor. */
  async pushBytes(repo: string, bytes: Buffer, mediaType: string, annotations?: Record<string, string>): Promise<Descriptor> {
    const digest = sha256Bytes(bytes)
    await this.pushBlob(repo, { digest, size: bytes.length, bytes })
    return { mediaType, digest, size: bytes.length, ...(annotations ? { annotations } : {}) }
  }

  /** Downloads a blob to `dest`, hashing while writing; a wrong digest or size removes the file and throws. */
  async downloadBlob(repo: string, digest: string, dest: string, expectedSize?: number): Promise<void> {
    await mkdir(path.dirname(dest), { recursive: true })
    for (let failures = 0; ;) {
      const res = await this.call(repo, 'GET', this.url(repo, `blobs/${digest}`))
      if (res.status !== 200) return this.fail(res, `download of blob ${digest}`)
      const tap = digestTap()
      try {
        await pipeline(res.stream, tap.stream, createWriteStream(dest))
      } catch (e) {
        rmSync(dest, { force: true })
        if (++failures > this.retries) throw this.transportFailure(new TransportError(errorText(e), 'EIO'))
        await sleep(this.backoff(failures - 1))
        continue
      }
      const got = tap.digest()
      const size = tap.size()
      if (got !== digest || (expectedSize !== undefined && size !== expectedSize)) {
        rmSync(dest, { force: true })
        throw new UserError(
          `registry ${this.registry}: blob ${digest} of ${repo} arrived as ${got} (${size} bytes): refused, the stored copy is corrupted or was tampered with`,
          { field: 'digest' },
        )
      }
      return
    }
  }

  /** A small blob (a record, an event log, an evidence file) read whole and verified. */
  async readBlob(repo: string, digest: string, limit = 256 * 1024 * 1024): Promise<Buffer> {
    const res = await this.call(repo, 'GET', this.url(repo, `blobs/${digest}`))
    if (res.status !== 200) return this.fail(res, `download of blob ${digest}`)
    const bytes = await readBody(res, limit)
    if (sha256Bytes(bytes) !== digest) {
      throw new UserError(`registry ${this.registry}: blob ${digest} of ${repo} does not match its digest: refused`, { field: 'digest' })
    }
    return bytes
  }

  // ---- manifests and tags

  /** PUTs the exact bytes given (their sha256 is the manifest's identity); `subject` tells whether the registry indexed a referrer. */
  async putManifest(
    repo: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    headers: Record<string, string> = {},
  ): Promise<{ digest: string; subject: boolean }> {
    let res: RawResponse
    for (let attempt = 0; ; attempt++) {
      res = await this.call(repo, 'PUT', this.url(repo, `manifests/${reference}`), {
        headers: { 'Content-Type': mediaType, ...headers },
        body: bytes,
      })
      if (res.status === 201) break
      if (res.status !== 400 || attempt >= this.retries) return this.fail(res, `PUT manifest ${reference}`)
      // Distribution 2.8 rewrites a repository's blob link in place when two writers upload the same
      // blob at once (the empty `{}` of every new repository): for a moment the blob reads as unknown.
      const { text, codes } = await this.errors(res)
      if (!codes.includes('MANIFEST_BLOB_UNKNOWN'))
        throw new RegistryError(`registry ${this.registry}: PUT manifest ${reference}: HTTP 400 ${text}`, 400, codes)
      await sleep(this.backoff(attempt))
    }
    drain(res)
    const digest = sha256Bytes(bytes)
    const stated = header(res, 'docker-content-digest')
    if (stated && stated.startsWith('sha256:') && stated !== digest) {
      throw new RegistryError(`registry ${this.registry}: stored manifest ${reference} as ${stated}, expected ${digest}`, 201, [])
    }
    return { digest, subject: Boolean(header(res, 'oci-subject')) }
  }

  async getManifest(repo: string, reference: string): Promise<ManifestResult | undefined> {
    const res = await this.call(repo, 'GET', this.url(repo, `manifests/${reference}`), { headers: { Accept: MANIFEST_ACCEPT } })
    if (res.status === 404) {
      drain(res)
      return undefined
    }
    if (res.status !== 200) return this.fail(res, `GET manifest ${reference}`)
    const bytes = await readBody(res)
    const digest = sha256Bytes(bytes)
    const expected = reference.startsWith('sha256:') ? reference : header(res, 'docker-content-digest')
    if (expected?.startsWith('sha256:') && expected !== digest) {
      throw new UserError(`registry ${this.registry}: manifest ${repo}:${reference} does not match its digest ${expected}: refused`, {
        field: 'digest',
      })
    }
    const mediaType = header(res, 'content-type')?.split(';')[0].trim() || parseMediaType(bytes)
    return { bytes, digest, mediaType, etag: header(res, 'etag') }
  }

  async headManifest(repo: string, reference: string): Promise<{ digest?: string; mediaType?: string } | undefined> {
    const res = await this.call(repo, 'HEAD', this.url(repo, `manifests/${reference}`), { headers: { Accept: MANIFEST_ACCEPT } })
    drain(res)
    if (res.status === 404) return undefined
    if (res.status !== 200) return this.fail(res, `HEAD manifest ${reference}`)
    return { digest: header(res, 'docker-content-digest'), mediaType: header(res, 'content-type') }
  }

  /**
   * Deletes an untagged manifest by digest, where the registry allows it (distribution with deletes
   * enabled). True when it is gone; false when the registry refuses (405, 403: GHCR, most hosted ones).
   */
  async deleteManifest(repo: string, digest: string): Promise<boolean> {
    const res = await this.call(repo, 'DELETE', this.url(repo, `manifests/${digest}`), {})
    drain(res)
    return res.status === 202 || res.status === 200 || res.status === 404
  }

  /** Every tag of `repo`, following `Link: <…>; rel="next"`; none for a repository that does not exist yet. */
  async listTags(repo: string): Promise<string[]> {
    const tags: string[] = []
    let next: URL | undefined = this.url(repo, 'tags/list?n=1000')
    for (let page = 0; next && page < 10_000; page++) {
      const res: RawResponse = await this.call(repo, 'GET', next)
      if (res.status === 404) {
        drain(res)
        return tags
      }
      if (res.status !== 200) return this.fail(res, 'tags list')
      const json = parseJson(await readBody(res), `${repo} tags list`) as { tags?: string[] | null }
      tags.push(...(json.tags ?? []))
      next = nextLink(header(res, 'link'), res.url)
    }
    return tags
  }

  // ---- referrers

  /**
   * The manifests whose `subject` is `digest`: the referrers API when the registry has it, else the
   * `sha256-<hex>` tag index of the OCI referrers tag schema.
   */
  async referrers(repo: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    const out: Descriptor[] = []
    let next: URL | undefined = this.url(
      repo,
      `referrers/${digest}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`,
    )
    for (let page = 0; next && page < 1000; page++) {
      // GHCR redirects this URL to a rate-limited endpoint; only a direct 200 index counts as support.
      const res: RawResponse = await this.call(repo, 'GET', next, { headers: { Accept: MEDIA.index }, redirects: false })
      if (res.status !== 200 || !header(res, 'content-type')?.includes(MEDIA.index)) {
        drain(res)
        if (page > 0) break
        return (await this.fallbackIndex(repo, digest)).manifests.filter((d) => !artifactType || d.artifactType === artifactType)
      }
      const index = parseJson(await readBody(res), `referrers of ${digest}`) as ImageIndex
      out.push(...(index.manifests ?? []))
      next = nextLink(header(res, 'link'), res.url)
    }
    return out.filter((d) => !artifactType || d.artifactType === artifactType)
  }

  async fallbackIndex(repo: string, digest: string): Promise<{ manifests: Descriptor[]; etag?: string }> {
    const found = await this.getManifest(repo, referrersTag(digest))
    if (!found) return { manifests: [] }
    const index = parseJson(found.bytes, `referrers index ${referrersTag(digest)}`) as Partial<ImageIndex>
    return { manifests: Array.isArray(index.manifests) ? index.manifests : [], etag: found.etag }
  }

  /**
   * Adds referrers to the fallback tag index of `subject` (GET it or start empty, append, PUT with
   * `If-Match` when the registry gave an ETag; re-read and try again when it answers 412).
   */
  async addToFallbackIndex(repo: string, subject: string, descriptors: Descriptor[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const { manifests, etag } = await this.fallbackIndex(repo, subject)
      const fresh = descriptors.filter((d) => !manifests.some((m) => m.digest === d.digest))
      if (fresh.length === 0) return
      const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA.index, manifests: [...manifests, ...fresh] }
      try {
        await this.putManifest(
          repo,
          referrersTag(subject),
          Buffer.from(JSON.stringify(index)),
          MEDIA.index,
          etag ? { 'If-Match': etag } : {},
        )
        return
      } catch (e) {
        if (!(e instanceof RegistryError && e.status === 412) || attempt >= this.retries) throw e
      }
    }
  }
}

function nextLink(link: string | undefined, base: URL): URL | undefined {
  const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null
  return m ? new URL(m[1], base) : undefined
}

function parseMediaType(bytes: Buffer): string {
  try {
    return String((JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? '')
  } catch {
    return ''
  }
}
