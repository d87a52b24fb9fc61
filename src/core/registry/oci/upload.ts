import { createReadStream } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { OciClient } from './client.js'
import { MAX_RETRY_AFTER_MS, TransportError, drain, header, parseRetryAfter, type Body } from './http.js'
import { RegistryError } from './spec.js'

/*
 * Blob uploads (distribution-spec "pushing blobs"): one PUT for small blobs, and for large ones
 * chunked PATCHes streamed from disk, one chunk at a time, that resume where the registry says it
 * stands after a dropped connection or a 5xx. Their requests go out with the client's retries off:
 * after a failure an upload must first ask its session where it stands, so it recovers per upload,
 * within the client's retry budget.
 */

export type BlobSource = { digest: string; size: number; file: string } | { digest: string; size: number; bytes: Buffer }

/** A status worth retrying (429, 5xx); internal to the retry loops. */
class RetryableStatus extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(`HTTP ${status}`)
  }
}

const OCTET = 'application/octet-stream'

export class BlobUploader {
  constructor(private readonly client: OciClient) {}

  /** Uploads the blob, whole or in chunks as its size asks. */
  async upload(repo: string, src: BlobSource): Promise<void> {
    if ('bytes' in src || src.size <= this.client.chunkSize) await this.uploadWhole(repo, src)
    else await this.uploadChunked(repo, src)
  }

  private async startUpload(repo: string): Promise<{ loc: URL; minChunk: number }> {
    const res = await this.client.call(repo, 'POST', this.client.url(repo, 'blobs/uploads/'))
    if (res.status !== 202) return this.client.fail(res, 'starting a blob upload')
    drain(res)
    const loc = header(res, 'location')
    if (!loc) throw new RegistryError(`registry ${this.client.registry}: upload started without a Location`, 202, [])
    return { loc: new URL(loc, res.url), minChunk: Number(header(res, 'oci-chunk-min-length')) || 0 }
  }

  /** POST, then one PUT with the whole body: for bytes and blobs of at most one chunk. */
  private async uploadWhole(repo: string, src: BlobSource): Promise<void> {
    const body: Body = 'bytes' in src ? src.bytes : fileRange(src.file, 0, src.size - 1)
    for (let failures = 0; ;) {
      try {
        const { loc } = await this.startUpload(repo)
        const res = await this.client.call(repo, 'PUT', withDigest(loc, src.digest), {
          headers: { 'Content-Type': OCTET },
          body,
          retry: false,
        })
        if (res.status === 201) return drain(res)
        if (res.status === 429 || res.status >= 500) throw new RetryableStatus(res.status, parseRetryAfter(header(res, 'retry-after')))
        return await this.client.fail(res, `upload of blob ${src.digest}`)
      } catch (e) {
        await this.recover(e, ++failures, src.digest)
        this.client.stats.restarts++
      }
    }
  }

  /**
   * POST, PATCH one chunk at a time from a fresh file range (memory stays at one socket buffer), then
   * PUT `?digest=`. After a dropped connection or a 5xx, asks the session where it stands
   * (`GET <Location>` → `Range`) and resumes there, or opens a new session if the old one is gone.
   */
  private async uploadChunked(repo: string, src: { digest: string; size: number; file: string }): Promise<void> {
    const started = await this.startUpload(repo)
    let loc = started.loc
    const chunk = Math.max(this.client.chunkSize, started.minChunk)
    let offset = 0
    let resumed = false
    for (let failures = 0; ;) {
      try {
        if (offset < src.size) {
          const end = Math.min(offset + chunk, src.size) - 1
          const res = await this.client.call(repo, 'PATCH', loc, {
            headers: { 'Content-Type': OCTET, 'Content-Range': `${offset}-${end}` },
            body: fileRange(src.file, offset, end),
            retry: false,
          })
          if (res.status === 202) {
            drain(res)
            loc = new URL(header(res, 'location') ?? loc.href, res.url)
            offset = rangeEnd(header(res, 'range')) ?? end + 1
            continue
          }
          // A session that lost track (416, unknown upload) is resynchronised like a dropped connection.
          if (res.status === 429 || res.status >= 500 || res.status === 416 || res.status === 404) {
            throw new RetryableStatus(res.status, parseRetryAfter(header(res, 'retry-after')))
          }
          return await this.client.fail(res, `upload of blob ${src.digest}`)
        }
        const res = await this.client.call(repo, 'PUT', withDigest(loc, src.digest), { retry: false })
        if (res.status === 201) return drain(res)
        if (res.status === 429 || res.status >= 500) throw new RetryableStatus(res.status, parseRetryAfter(header(res, 'retry-after')))
        if (res.status === 400 && resumed) {
          // Some registries append a resumed chunk where it lands rather than where Content-Range says: start over.
          drain(res)
          ;({ loc } = await this.startUpload(repo))
          offset = 0
          this.client.stats.restarts++
          throw new RetryableStatus(400)
        }
        return await this.client.fail(res, `upload of blob ${src.digest} (${src.file} may have changed since it was hashed)`)
      } catch (e) {
        await this.recover(e, ++failures, src.digest)
        resumed = true
        ;({ loc, offset } = await this.resync(repo, loc))
      }
    }
  }

  /** Waits before another try, or gives up with a readable error after the allowed retries. */
  private async recover(e: unknown, failures: number, digest: string): Promise<void> {
    if (!(e instanceof TransportError) && !(e instanceof RetryableStatus)) throw e
    if (failures > this.client.retries) {
      if (e instanceof TransportError) throw this.client.transportFailure(e)
      throw new RegistryError(
        `registry ${this.client.registry}: upload of blob ${digest} failed: HTTP ${e.status} (after ${this.client.retries} retries)`,
        e.status,
        [],
      )
    }
    const wait = e instanceof RetryableStatus && e.retryAfterMs !== undefined ? e.retryAfterMs : this.client.backoff(failures - 1)
    if (wait > MAX_RETRY_AFTER_MS) throw new RegistryError(`registry ${this.client.registry}: rate limited during an upload`, 429, [])
    await sleep(wait)
  }

  private async resync(repo: string, loc: URL): Promise<{ loc: URL; offset: number }> {
    const res = await this.client.call(repo, 'GET', loc)
    drain(res)
    if (res.status === 204 || res.status === 200) {
      this.client.stats.resumes++
      // `0-0` is ambiguous in distribution (nothing, or one byte): take nothing; a wrong guess ends in a restart.
      const range = header(res, 'range')
      const end = range === '0-0' ? undefined : rangeEnd(range)
      return { loc: new URL(header(res, 'location') ?? loc.href, res.url), offset: end ?? 0 }
    }
    this.client.stats.restarts++
    return { loc: (await this.startUpload(repo)).loc, offset: 0 }
  }
}

function fileRange(file: string, start: number, end: number): Body {
  return { length: end - start + 1, open: () => createReadStream(file, { start, end }) }
}

/** Appends `digest=` to an upload Location, keeping its own query (opaque state) byte for byte. */
function withDigest(loc: URL, digest: string): URL {
  return new URL(`${loc.href}${loc.search ? '&' : '?'}digest=${encodeURIComponent(digest)}`)
}

/** `0-1023` → 1024 (the next offset). */
function rangeEnd(range: string | undefined): number | undefined {
  const m = range ? /^(?:bytes=)?(\d+)-(\d+)$/.exec(range.trim()) : null
  return m ? Number(m[2]) + 1 : undefined
}
