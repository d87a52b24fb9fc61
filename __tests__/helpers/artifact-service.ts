import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inflateRawSync } from 'node:zlib'

/**
 * A local stand-in for the two services `@actions/artifact` uploads to and downloads from: the Actions
 * results service (Twirp JSON, `POST /twirp/github.actions.results.api.v1.ArtifactService/<Method>`:
 * CreateArtifact, FinalizeArtifact, ListArtifacts, GetSignedArtifactURL) and Azure Blob Storage behind
 * the signed URLs it hands out (Put Block, Put Block List, Put Blob; Get Blob). It checks what the real
 * services check (bearer token, backend ids, SAS signature and permission, required fields, duplicate
 * names, staged block ids), so a client that passes here has spoken the real protocol, and it keeps
 * every call for assertions. Only the current-run path: the REST API `findBy` uses is not served.
 */

const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.ArtifactService/'
/** The path-style blob layout Azurite uses: the first path segment of an IP-host URL is the account. */
const BLOB_PREFIX = '/devstoreaccount1/actions-results/'

export type TwirpMethod = 'CreateArtifact' | 'FinalizeArtifact' | 'ListArtifacts' | 'GetSignedArtifactURL'

export interface TwirpCall {
  method: string
  authorization: string | undefined
  contentType: string | undefined
  /** The decoded JSON request; the client sends proto field names (`workflow_run_backend_id`). */
  body: Record<string, unknown>
}

export interface BlobRequest {
  method: string
  /** Path and query, as received. */
  url: string
  headers: IncomingMessage['headers']
  body: Buffer
}

export interface FakeArtifactService {
  /** The value for ACTIONS_RESULTS_URL. */
  url: string
  /** The value for ACTIONS_RUNTIME_TOKEN; requests bearing any other token are refused. */
  token: string
  /**
   * A runtime token for another job of the same workflow run (a merge job downloading what shard jobs
   * uploaded): accepted from now on, and its requests must then name that job's backend id.
   */
  jobToken(workflowJobRunBackendId: string): string
  twirpCalls: TwirpCall[]
  blobRequests: BlobRequest[]
  /** Committed blob contents by artifact name: the bytes a download would return. */
  blobs: Map<string, Buffer>
  /**
   * Stores `zip` as a finalized artifact of the run, as if `workflowJobRunBackendId` (by default the
   * service's own job) had uploaded it, digest included: for contents the real client would never
   * produce. Returns its id.
   */
  seedArtifact(name: string, zip: Buffer, workflowJobRunBackendId?: string): number
  /** Answers the next `times` calls of `method` with a Twirp error before any other handling. */
  failNext(method: TwirpMethod, status: number, code: string, msg: string, times?: number): void
  close(): Promise<void>
}

export interface FakeArtifactServiceOptions {
  workflowRunBackendId?: string
  workflowJobRunBackendId?: string
  /** The id FinalizeArtifact returns for the first artifact; later ones count up. */
  firstArtifactId?: number
}

/** An unsigned JWT carrying the claim `getBackendIdsFromToken` reads: `scp` with an `Actions.Results:<run>:<job>` scope. */
export function runtimeToken(workflowRunBackendId: string, workflowJobRunBackendId: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const scp = `Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.Results:${workflowRunBackendId}:${workflowJobRunBackendId}`
  return `${part({ typ: 'JWT', alg: 'none' })}.${part({ scp })}.`
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function twirpError(res: ServerResponse, status: number, code: string, msg: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code, msg }))
}

/** Azure answers storage errors with an XML body and the code repeated in a header. */
function storageError(res: ServerResponse, status: number, code: string, message: string): void {
  res
    .writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code })
    .end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`)
}

function storageHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'x-ms-request-id': randomBytes(16).toString('hex'),
    'x-ms-version': '2025-11-05',
    'x-ms-request-server-encrypted': 'true',
    date: new Date().toUTCString(),
    'content-length': '0',
    ...extra,
  }
}

/** The Content-Type a blob is served with: `x-ms-blob-content-type` on Put Block List, `Content-Type` on Put Blob. */
function blobContentType(req: IncomingMessage): string | undefined {
  const header = req.headers['x-ms-blob-content-type'] ?? req.headers['content-type']
  return typeof header === 'string' ? header : undefined
}

/** Block ids listed by a Put Block List body, in order; `Committed`/`Uncommitted`/`Latest` all name staged blocks here. */
function blockListIds(xml: string): string[] {
  return [...xml.matchAll(/<(Latest|Committed|Uncommitted)>([^<]*)<\/\1>/g)].map((m) => m[2])
}

export async function startArtifactService(options: FakeArtifactServiceOptions = {}): Promise<FakeArtifactService> {
  const runId = options.workflowRunBackendId ?? 'c0ffee00-0000-4000-8000-000000000001'
  const jobId = options.workflowJobRunBackendId ?? 'c0ffee00-0000-4000-8000-000000000002'
  const token = runtimeToken(runId, jobId)
  /** Accepted bearer tokens → the job backend id each speaks for. */
  const tokens = new Map([[token, jobId]])
  let nextArtifactId = options.firstArtifactId ?? 1
  const twirpCalls: TwirpCall[] = []
  const blobRequests: BlobRequest[] = []
  const blobs = new Map<string, Buffer>()
  const failures: { method: TwirpMethod; status: number; code: string; msg: string }[] = []
  /**
   * Artifact name (unique within the run) → the job that created it, the SAS signature issued for
   * uploading its blob, and once finalized its id, size, digest and creation time; plus the read
   * signatures GetSignedArtifactURL has issued for it.
   */
  const created = new Map<
    string,
    {
      jobId: string
      sig: string
      finalized: boolean
      id?: number
      size?: number
      digest?: string
      createdAt: string
      contentType?: string
      readSigs: Set<string>
    }
  >()
  const staged = new Map<string, Map<string, Buffer>>()
  let origin = ''

  function handleTwirp(method: string, body: Record<string, unknown>, callerJobId: string, res: ServerResponse): void {
    const failure = failures.findIndex((f) => f.method === method)
    if (failure >= 0) {
      const [f] = failures.splice(failure, 1)
      return twirpError(res, f.status, f.code, f.msg)
    }
    if (method === 'ListArtifacts') return listArtifacts(body, callerJobId, res)
    const name = body.name
    if (method === 'GetSignedArtifactURL') {
      // The client names the job that uploaded the artifact, as ListArtifacts reported it, not its own.
      const artifact = typeof name === 'string' ? created.get(name) : undefined
      if (body.workflow_run_backend_id !== runId || typeof body.workflow_job_run_backend_id !== 'string' || typeof name !== 'string') {
        return twirpError(res, 400, 'invalid_argument', 'workflow_run_backend_id, workflow_job_run_backend_id and name are required')
      }
      if (!artifact?.finalized || artifact.jobId !== body.workflow_job_run_backend_id) {
        return twirpError(res, 404, 'not_found', `no artifact ${name} from job ${body.workflow_job_run_backend_id}`)
      }
      const sig = randomBytes(12).toString('base64url')
      artifact.readSigs.add(sig)
      const expiry = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
      const signedUrl = `${origin}${BLOB_PREFIX}${encodeURIComponent(name)}.zip?sv=2025-11-05&se=${encodeURIComponent(expiry)}&sr=b&sp=r&sig=${sig}`
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ signed_url: signedUrl }))
    }
    if (body.workflow_run_backend_id !== runId || body.workflow_job_run_backend_id !== callerJobId || typeof name !== 'string') {
      return twirpError(res, 400, 'invalid_argument', 'workflow_run_backend_id, workflow_job_run_backend_id and name are required')
    }
    if (method === 'CreateArtifact') {
      if (body.version !== 7) return twirpError(res, 400, 'invalid_argument', 'unsupported artifact version')
      if (created.has(name)) {
        return twirpError(res, 409, 'already_exists', 'an artifact with this name already exists on the workflow run')
      }
      const sig = randomBytes(12).toString('base64url')
      created.set(name, { jobId: callerJobId, sig, finalized: false, createdAt: new Date().toISOString(), readSigs: new Set() })
      const signedUploadUrl = `${origin}${BLOB_PREFIX}${encodeURIComponent(name)}.zip?sv=2025-11-05&sr=b&sp=cw&sig=${sig}`
      // Twirp's JSON encoding keeps proto field names, as the real service does.
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok: true, signed_upload_url: signedUploadUrl }))
    }
    if (method === 'FinalizeArtifact') {
      const artifact = created.get(name)
      if (!artifact || artifact.jobId !== callerJobId || !blobs.has(name)) {
        return twirpError(res, 404, 'not_found', `no uploaded blob for artifact ${name}`)
      }
      artifact.finalized = true
      artifact.id = nextArtifactId++
      artifact.size = blobs.get(name)!.length
      if (typeof body.hash === 'string') artifact.digest = body.hash
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok: true, artifact_id: String(artifact.id) }))
    }
    twirpError(res, 404, 'bad_route', `no handler for ${method}`)
  }

  /** The run's finalized artifacts, whichever job uploaded them, filtered by name and/or id when asked. */
  function listArtifacts(body: Record<string, unknown>, callerJobId: string, res: ServerResponse): void {
    if (body.workflow_run_backend_id !== runId || body.workflow_job_run_backend_id !== callerJobId) {
      return twirpError(res, 400, 'invalid_argument', 'workflow_run_backend_id and workflow_job_run_backend_id are required')
    }
    // Wrapper types (StringValue, Int64Value) are plain JSON values; int64 travels as a string.
    const { name_filter: nameFilter, id_filter: idFilter } = body
    if (nameFilter !== undefined && typeof nameFilter !== 'string') return twirpError(res, 400, 'invalid_argument', 'name_filter')
    if (idFilter !== undefined && !/^\d+$/.test(String(idFilter))) return twirpError(res, 400, 'invalid_argument', 'id_filter')
    const artifacts = [...created.entries()]
      .filter(([name, a]) => a.finalized && (nameFilter === undefined || name === nameFilter))
      .filter(([, a]) => idFilter === undefined || String(a.id) === String(idFilter))
      .map(([name, a]) => ({
        workflow_run_backend_id: runId,
        workflow_job_run_backend_id: a.jobId,
        database_id: String(a.id),
        name,
        size: String(a.size),
        created_at: a.createdAt,
        ...(a.digest === undefined ? {} : { digest: a.digest }),
      }))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ artifacts }))
  }

  /** Get Blob through a read SAS (`sp=r`) that GetSignedArtifactURL issued. */
  function getBlob(req: IncomingMessage, name: string, sig: string | null, res: ServerResponse): void {
    const artifact = created.get(name)
    if (!artifact || sig === null || !artifact.readSigs.has(sig)) {
      // The upload SAS (`sp=cw`) is genuine but grants no read.
      const code = artifact && sig === artifact.sig ? 'AuthorizationPermissionMismatch' : 'AuthenticationFailed'
      return storageError(res, 403, code, 'This request is not authorized to perform this operation.')
    }
    const blob = blobs.get(name)
    if (!blob) return storageError(res, 404, 'BlobNotFound', 'The specified blob does not exist.')
    res.writeHead(
      200,
      storageHeaders({
        'content-length': String(blob.length),
        'content-type': artifact.contentType ?? 'application/octet-stream',
        'x-ms-blob-type': 'BlockBlob',
        'accept-ranges': 'bytes',
        'last-modified': new Date().toUTCString(),
      }),
    )
    res.end(req.method === 'HEAD' ? undefined : blob)
  }

  function handleBlob(req: IncomingMessage, url: URL, body: Buffer, res: ServerResponse): void {
    const name = decodeURIComponent(url.pathname.slice(BLOB_PREFIX.length).replace(/\.zip$/, ''))
    if (req.method === 'GET' || req.method === 'HEAD') return getBlob(req, name, url.searchParams.get('sig'), res)
    const artifact = created.get(name)
    if (!artifact || url.searchParams.get('sig') !== artifact.sig || artifact.finalized) {
      return storageError(res, 403, 'AuthenticationFailed', 'Signature did not match or the upload URL is no longer valid.')
    }
    if (req.method !== 'PUT') return storageError(res, 405, 'UnsupportedHttpVerb', `${req.method} is not supported here.`)
    if (Number(req.headers['content-length'] ?? -1) !== body.length) {
      return storageError(res, 400, 'InvalidHeaderValue', 'Content-Length does not match the body.')
    }
    const comp = url.searchParams.get('comp')
    const blocks = staged.get(name) ?? new Map<string, Buffer>()
    staged.set(name, blocks)
    if (comp === 'block') {
      const blockId = url.searchParams.get('blockid')
      if (!blockId) return storageError(res, 400, 'InvalidQueryParameterValue', 'blockid is required.')
      blocks.set(blockId, body)
      return void res.writeHead(201, storageHeaders()).end()
    }
    if (comp === 'blocklist') {
      const ids = blockListIds(body.toString('utf8'))
      const missing = ids.find((id) => !blocks.has(id))
      if (missing !== undefined) return storageError(res, 400, 'InvalidBlockList', `Block ${missing} was never staged.`)
      blobs.set(name, Buffer.concat(ids.map((id) => blocks.get(id)!)))
      artifact.contentType = blobContentType(req)
      blocks.clear()
    } else if (comp === null && req.headers['x-ms-blob-type'] === 'BlockBlob') {
      blobs.set(name, body)
      artifact.contentType = blobContentType(req)
    } else {
      return storageError(res, 400, 'InvalidQueryParameterValue', `Unsupported operation comp=${comp}.`)
    }
    res
      .writeHead(
        201,
        storageHeaders({ etag: `"0x${randomBytes(8).toString('hex').toUpperCase()}"`, 'last-modified': new Date().toUTCString() }),
      )
      .end()
  }

  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const url = new URL(req.url ?? '/', origin)
        if (req.method === 'POST' && url.pathname.startsWith(TWIRP_PREFIX)) {
          const method = url.pathname.slice(TWIRP_PREFIX.length)
          let json: Record<string, unknown>
          try {
            json = JSON.parse(body.toString('utf8')) as Record<string, unknown>
          } catch {
            return twirpError(res, 400, 'malformed', 'the request body is not JSON')
          }
          twirpCalls.push({ method, authorization: req.headers.authorization, contentType: req.headers['content-type'], body: json })
          const callerJobId = tokens.get(req.headers.authorization?.replace(/^Bearer /, '') ?? '')
          if (!req.headers.authorization?.startsWith('Bearer ') || callerJobId === undefined) {
            return twirpError(res, 401, 'unauthenticated', 'invalid runtime token')
          }
          return handleTwirp(method, json, callerJobId, res)
        }
        if (url.pathname.startsWith(BLOB_PREFIX)) {
          blobRequests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
          return handleBlob(req, url, body, res)
        }
        res.writeHead(404).end()
      },
      () => res.writeHead(400).end(),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url: origin,
    token,
    seedArtifact(name, zip, workflowJobRunBackendId = jobId) {
      if (created.has(name)) throw new Error(`artifact ${name} already exists`)
      const id = nextArtifactId++
      blobs.set(name, zip)
      created.set(name, {
        jobId: workflowJobRunBackendId,
        sig: randomBytes(12).toString('base64url'),
        finalized: true,
        id,
        size: zip.length,
        digest: `sha256:${createHash('sha256').update(zip).digest('hex')}`,
        createdAt: new Date().toISOString(),
        contentType: 'application/zip',
        readSigs: new Set(),
      })
      return id
    },
    jobToken(workflowJobRunBackendId) {
      const other = runtimeToken(runId, workflowJobRunBackendId)
      tokens.set(other, workflowJobRunBackendId)
      return other
    },
    twirpCalls,
    blobRequests,
    blobs,
    failNext(method, status, code, msg, times = 1) {
      for (let i = 0; i < times; i++) failures.push({ method, status, code, msg })
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((e) => (e ? reject(e) : resolve()))
      }),
  }
}

export interface ZipEntry {
  name: string
  /** 0 stored, 8 deflated. */
  method: number
  data: Buffer
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(data: Buffer): number {
  let crc = 0xffffffff
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** A zip of stored (uncompressed) entries, names as given: `../x` and `/x` included, as a hostile archive would have them. */
export function writeZip(entries: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8')
    const crc = crc32(data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(0x0800, 6) // UTF-8 names
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(data.length, 22)
    local.writeUInt16LE(nameBytes.length, 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(0x0800, 8)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(data.length, 20)
    central.writeUInt32LE(data.length, 24)
    central.writeUInt16LE(nameBytes.length, 28)
    central.writeUInt32LE(offset, 42)
    locals.push(local, nameBytes, data)
    centrals.push(central, nameBytes)
    offset += local.length + nameBytes.length + data.length
  }
  const directory = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, directory, end])
}

/**
 * Reads a zip through its central directory (streamed zips put sizes only there, after the data),
 * checking each entry's local header, size and CRC-32 so a corrupt archive throws instead of passing.
 */
export function readZip(zip: Buffer): ZipEntry[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  if (eocd < 0) throw new Error('not a zip: no end of central directory record')
  const count = zip.readUInt16LE(eocd + 10)
  let at = zip.readUInt32LE(eocd + 16)
  const entries: ZipEntry[] = []
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`zip central directory entry ${i} has a bad signature`)
    const method = zip.readUInt16LE(at + 10)
    const crc = zip.readUInt32LE(at + 16)
    const compressedSize = zip.readUInt32LE(at + 20)
    const size = zip.readUInt32LE(at + 24)
    const nameLength = zip.readUInt16LE(at + 28)
    const local = zip.readUInt32LE(at + 42)
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength)
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32)

    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`zip entry ${name} has no local file header`)
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
    const raw = zip.subarray(start, start + compressedSize)
    if (method !== 0 && method !== 8) throw new Error(`zip entry ${name} uses unsupported method ${method}`)
    const data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw)
    if (data.length !== size || crc32(data) !== crc) throw new Error(`zip entry ${name} fails its size or CRC-32 check`)
    entries.push({ name, method, data })
  }
  return entries
}
