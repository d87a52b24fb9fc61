import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import formatsModule from 'ajv-formats'
import { UserError } from '../../src/core/errors.js'
import { OciBackend, type OciBackendOptions } from '../../src/core/registry/backends/oci.js'
import { authHint } from '../../src/core/registry/oci/auth.js'
import { sha256File } from '../../src/core/registry/digest.js'
import { OciClient } from '../../src/core/registry/oci/client.js'
import type { ImageIndex, ImageManifest } from '../../src/core/registry/oci/spec.js'
import { claimManifest, LOCK_TAG, TagLock } from '../../src/core/registry/oci/lock.js'
import { parseOciReference } from '../../src/core/registry/oci/reference.js'
import type { RegistrationPlan, VersionRecord } from '../../src/core/registry/types.js'
import { freePort, skopeo, startRegistry, type TestRegistry } from '../helpers/oci-registry.js'
import { backendConformance, planFor, tmp, writeArtifact } from './conformance.js'

/*
 * The OCI backend against a real registry (CNCF distribution 2.8, as `docker-registry`), read back by
 * an independent client (skopeo), behind real loopback proxies for token auth and dropped uploads.
 */

let registry: TestRegistry
beforeAll(async () => {
  registry = await startRegistry()
}, 30_000)
afterAll(async () => {
  await registry?.stop()
})

const fast = { lockDelayMs: 150, lockTtlMs: 10_000, retryBaseMs: 50 } satisfies Partial<OciBackendOptions>

function backend(prefix: string, extra: Partial<OciBackendOptions> = {}, address = registry.address): OciBackend {
  return new OciBackend({ reference: `oci://${address}/${prefix}`, ...fast, ...extra })
}

backendConformance('oci', {
  make: async () => backend('conformance'),
  artifact: async (_writer, content, kind) => writeArtifact(tmp(), content, kind),
  tag: (_name, version) => `v${version}`,
})

function inspect(...args: string[]): string {
  return skopeo('inspect', '--tls-verify=false', ...args)
}

/** A plan that also records the git facts a CI run would give. */
async function planWithGit(artifact: string, name: string, evidence?: string) {
  const base = await planFor(artifact, name, { evidence })
  return (existing: VersionRecord[]): RegistrationPlan => {
    const p = base(existing)
    if (p.kind === 'new') {
      p.record.git = { commit: '0123456789abcdef0123456789abcdef01234567', repository: 'acme/churn-model' }
      p.record.run = { url: 'https://github.com/acme/churn-model/actions/runs/42' }
    }
    return p
  }
}

describe('OCI layout, read back by skopeo', () => {
  const name = 'layout'
  let reg: OciBackend
  let versionDigest: string
  let repo: string

  beforeAll(async () => {
    reg = backend('models')
    repo = `models/${name}`
    const ev = path.join(tmp(), 'report.json')
    writeFileSync(ev, JSON.stringify({ status: 'pass', metrics: { accuracy: 0.93 } }))
    const out = await reg.register(name, await planWithGit(writeArtifact(tmp(), 'layout model bytes'), name, ev))
    versionDigest = out.uri.split('@')[1]
    expect(out.uri).toBe(`oci://${registry.address}/${repo}@${versionDigest}`)
    expect(out.tag).toBe('v1.0.0')
  })

  it('pushes a ModelPack manifest with its annotations, under tag v1.0.0', () => {
    const raw = inspect('--raw', `docker://${registry.address}/${repo}:v1.0.0`)
    const m = JSON.parse(raw) as ImageManifest
    expect(`sha256:${createHashHex(raw)}`).toBe(versionDigest)
    expect(m.mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
    expect(m.artifactType).toBe('application/vnd.cncf.model.manifest.v1+json')
    expect(m.config.mediaType).toBe('application/vnd.cncf.model.config.v1+json')
    expect(m.layers.map((l) => [l.mediaType, l.annotations?.['org.cncf.model.filepath'], l.annotations?.['io.modelgate.role']])).toEqual([
      ['application/vnd.cncf.model.weight.v1.raw', 'model.onnx', 'artifact'],
      ['application/vnd.cncf.model.doc.v1.raw', 'MODEL_CARD.md', 'card'],
      ['application/vnd.cncf.model.doc.v1.raw', 'modelgate-version.json', 'record'],
    ])
    expect(m.layers[0].annotations?.['org.opencontainers.image.title']).toBe('model.onnx')
    expect(m.layers[0].digest).toBe(`sha256:${createHashHex('layout model bytes')}`)
    expect(m.annotations).toMatchObject({
      'org.opencontainers.image.version': '1.0.0',
      'org.opencontainers.image.revision': '0123456789abcdef0123456789abcdef01234567',
      'org.opencontainers.image.source': 'https://github.com/acme/churn-model',
      'org.opencontainers.image.created': '2026-11-26T00:00:00.000Z',
      'io.modelgate.model.digest': m.layers[0].digest,
    })
  })

  it('pushes a config that validates against the ModelPack config schema', () => {
    const config = JSON.parse(inspect('--raw', '--config', `docker://${registry.address}/${repo}:v1.0.0`)) as Record<string, unknown>
    const schema = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'modelpack', 'config-schema.json'), 'utf8'))
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    formatsModule.default(ajv)
    const validate = ajv.compile(schema)
    expect(validate(config) ? [] : validate.errors).toEqual([])
    const m = JSON.parse(inspect('--raw', `docker://${registry.address}/${repo}:v1.0.0`)) as ImageManifest
    expect(config).toEqual({
      descriptor: {
        name: 'layout',
        version: '1.0.0',
        createdAt: '2026-11-26T00:00:00.000Z',
        revision: '0123456789abcdef0123456789abcdef01234567',
        sourceURL: 'https://github.com/acme/churn-model',
      },
      config: { format: 'onnx' },
      modelfs: { type: 'layers', diffIds: m.layers.map((l) => l.digest) },
    })
  })

  it('lists the evidence in the referrers fallback tag sha256-<hex>, each a referrer of the version', async () => {
    const index = JSON.parse(inspect('--raw', `docker://${registry.address}/${repo}:sha256-${versionDigest.slice(7)}`)) as ImageIndex
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    expect(
      index.manifests.map((d) => [
        d.artifactType,
        d.annotations?.['org.opencontainers.image.title'],
        d.annotations?.['io.modelgate.evidence.kind'],
      ]),
    ).toEqual([['application/vnd.modelgate.evidence.v1+json', 'validate-model.json', 'validate-model']])
    const ev = JSON.parse(inspect('--raw', `docker://${registry.address}/${repo}@${index.manifests[0].digest}`)) as ImageManifest
    expect(ev.subject?.digest).toBe(versionDigest)
    expect(ev.artifactType).toBe('application/vnd.modelgate.evidence.v1+json')
    expect(ev.layers[0].annotations?.['org.opencontainers.image.title']).toBe('validate-model.json')
    expect(JSON.parse((await reg.readEvidence(name, '1.0.0', 'validate-model.json')).toString())).toEqual({
      status: 'pass',
      metrics: { accuracy: 0.93 },
    })
  })

  it('points a stage tag at the version manifest, and at a placeholder once unassigned', async () => {
    const event = await reg.assign(name, '1.0.0', 'prod', () => {})
    expect(event.ref).toBe(versionDigest)
    expect(`sha256:${createHashHex(inspect('--raw', `docker://${registry.address}/${repo}:prod`))}`).toBe(versionDigest)
    await reg.unassign(name, 'prod')
    const placeholder = JSON.parse(inspect('--raw', `docker://${registry.address}/${repo}:prod`)) as ImageManifest
    expect(placeholder.artifactType).toBe('application/vnd.modelgate.stage.v1+json')
    expect(placeholder.annotations?.['io.modelgate.stage']).toBe('prod')
    expect((await reg.stages(name)).current).toEqual({})
  })

  it('deletes its lock claims once released, so they do not pile up as untagged manifests', async () => {
    const revisions = path.join(registry.root, 'docker/registry/v2/repositories', repo, '_manifests/revisions/sha256')
    // A deleted manifest loses its revision link; its blob stays until the registry's garbage collection.
    const live = readdirSync(revisions).filter((hex) => existsSync(path.join(revisions, hex, 'link')))
    const held = live.filter((hex) => {
      const manifest = JSON.parse(readFileSync(registry.blobPath(`sha256:${hex}`), 'utf8')) as ImageManifest
      return manifest.annotations?.['io.modelgate.lock.state'] === 'held'
    })
    expect(live.length).toBeGreaterThan(3)
    expect(held).toEqual([])
  })

  it('leaves the lock tag free after each write, and keeps stage history in the event log tag', async () => {
    const tags = await reg.client.listTags(repo)
    expect(tags.sort()).toEqual(['modelgate-events', 'modelgate-lock', 'prod', `sha256-${versionDigest.slice(7)}`, 'v1.0.0'])
    const lock = JSON.parse(inspect('--raw', `docker://${registry.address}/${repo}:${LOCK_TAG}`)) as ImageManifest
    expect(lock.annotations).toEqual({ 'io.modelgate.lock.state': 'free' })
    const history = (await reg.stages(name)).history.map((e) => [e.action, e.stage, e.version])
    expect(history).toEqual([
      ['assign', 'prod', '1.0.0'],
      ['unassign', 'prod', undefined],
    ])
  })

  it('refuses build metadata in a version, and stage names that collide with its own tags', async () => {
    const plan = await planFor(writeArtifact(tmp(), 'build metadata model'), name, { version: '1.1.0+build.7' })
    await expect(reg.register(name, plan)).rejects.toThrow(/'\+…'\) is not allowed in OCI tags/)
    await expect(reg.assign(name, '1.0.0', 'v2.0.0', () => {})).rejects.toThrow(/cannot be a tag/)
    await expect(reg.assign(name, '1.0.0', 'modelgate-lock', () => {})).rejects.toThrow(/cannot be a tag/)
    expect((await reg.list(name)).map((r) => r.version)).toEqual(['1.0.0'])
  })

  it('refuses uppercase model names and references with a tag, naming the problem', () => {
    expect(() => reg.repository('Churn')).toThrow(/lowercase/)
    expect(() => parseOciReference('oci://ghcr.io/acme/models:latest')).toThrow(/names a tag or digest/)
    expect(parseOciReference('oci://ghcr.io/acme/models')).toEqual({
      registry: 'ghcr.io',
      base: 'https://ghcr.io',
      repository: 'acme/models',
    })
    expect(parseOciReference('oci://localhost:5000/m').base).toBe('http://localhost:5000')
    expect(parseOciReference('oci://127.0.0.2:5000/m').base).toBe('http://127.0.0.2:5000')
    expect(parseOciReference('oci://[::1]:5000/m').base).toBe('http://[::1]:5000')
    expect(parseOciReference('oci://10.0.0.1:5000/m').base).toBe('https://10.0.0.1:5000')
  })
})

function createHashHex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

// ---- loopback proxies in front of the registry

interface Proxy {
  port: number
  address: string
  close(): Promise<void>
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(handler)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** Forwards a request to the registry unchanged (Host included, so its Location URLs name the proxy). */
function forward(req: IncomingMessage, res: ServerResponse, body?: (up: http.ClientRequest) => void): void {
  const headers = { ...req.headers }
  delete headers.authorization
  const up = http.request({ host: '127.0.0.1', port: registry.port, method: req.method, path: req.url, headers }, (ur) => {
    res.writeHead(ur.statusCode ?? 502, ur.headers)
    ur.pipe(res)
  })
  up.on('error', () => res.destroy())
  if (body) body(up)
  else req.pipe(up)
}

interface TokenProxy extends Proxy {
  tokenRequests: { authorization?: string; scope: string | null; service: string | null }[]
  /** Authorization headers the storage server (another host:port) received on redirected blob GETs. */
  storageAuth: (string | undefined)[]
}

/**
 * A registry front that demands `Bearer <token>`, issued by its own `/token` for Basic alice:s3cret
 * (the distribution token flow GHCR uses), and redirects blob downloads to a storage server on
 * another port, as real registries redirect to object storage.
 */
async function tokenProxy(): Promise<TokenProxy> {
  const token = randomBytes(16).toString('hex')
  const tokenRequests: TokenProxy['tokenRequests'] = []
  const storageAuth: (string | undefined)[] = []
  const storage = await listen((req, res) => {
    storageAuth.push(req.headers.authorization)
    const digest = (req.url ?? '').split('/').pop() ?? ''
    http.get(
      {
        host: '127.0.0.1',
        port: registry.port,
        path: `/v2/${new URL(req.url ?? '/', 'http://x').searchParams.get('repo')}/blobs/${digest}`,
      },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, { 'content-length': ur.headers['content-length'] ?? '' })
        ur.pipe(res)
      },
    )
  })
  const front = await listen((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    if (url.pathname === '/token') {
      tokenRequests.push({
        authorization: req.headers.authorization,
        scope: url.searchParams.get('scope'),
        service: url.searchParams.get('service'),
      })
      if (req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`) {
        res.writeHead(401, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }))
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ access_token: token, expires_in: 300 }))
      return
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': `Bearer realm="http://127.0.0.1:${front.port}/token",service="test-registry",scope="repository:x:pull"`,
      })
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }))
      return
    }
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname)
    if (req.method === 'GET' && blob) {
      res.writeHead(307, { location: `http://127.0.0.1:${storage.port}/blob/${blob[2]}?repo=${encodeURIComponent(blob[1])}` })
      res.end()
      return
    }
    forward(req, res)
  })
  return {
    port: front.port,
    address: `127.0.0.1:${front.port}`,
    tokenRequests,
    storageAuth,
    close: async () => {
      await front.close()
      await storage.close()
    },
  }
}

describe('OCI authentication and reachability', () => {
  let proxy: TokenProxy
  beforeAll(async () => {
    proxy = await tokenProxy()
  })
  afterAll(async () => {
    await proxy?.close()
  })

  it('follows a Bearer challenge with Basic credentials, and never sends them to the storage host a blob redirects to', async () => {
    const reg = backend('authed', { credentials: { username: 'alice', token: 's3cret' } }, proxy.address)
    const artifact = writeArtifact(tmp(), `authed model ${randomBytes(4).toString('hex')}`)
    const out = await reg.register('churn', await planFor(artifact, 'churn'))
    expect(out.created).toBe(true)
    const file = await reg.fetch('churn', '1.0.0', tmp())
    expect(readFileSync(file)).toEqual(readFileSync(artifact))
    expect(proxy.tokenRequests.length).toBeGreaterThan(0)
    expect(proxy.tokenRequests[0]).toEqual({
      authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
      scope: 'repository:authed/churn:pull,push',
      service: 'test-registry',
    })
    expect(proxy.storageAuth).toEqual([undefined])
  })

  it('reports a refused token request as an authentication error naming the registry', async () => {
    const wrong = backend('authed', { credentials: { username: 'alice', token: 'wrong' } }, proxy.address)
    const err = await wrong.list('churn').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UserError)
    expect((err as Error).message).toBe(
      `registry ${proxy.address}: authentication refused (token service answered HTTP 401): check the username and token, and that they may push to this repository`,
    )
    const anonymous = await backend('authed', {}, proxy.address)
      .list('churn')
      .catch((e: unknown) => e)
    expect((anonymous as Error).message).toMatch(/authentication refused .*give a username and token/)
  })

  it('names the GitHub Actions permission in the hint for ghcr.io', () => {
    expect(authHint('ghcr.io', true)).toMatch(/GITHUB_TOKEN needs `permissions: packages: write`/)
    expect(authHint('ghcr.io', false)).toMatch(/give a token/)
  })

  it('answers a Basic challenge with the credentials, and refuses wrong ones', async () => {
    const basic = `Basic ${Buffer.from('bob:pw').toString('base64')}`
    const front = await listen((req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-type': 'application/json' })
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }))
        return
      }
      forward(req, res)
    })
    try {
      const ok = backend('basic', { credentials: { username: 'bob', token: 'pw' } }, `127.0.0.1:${front.port}`)
      await ok.register('churn', await planFor(writeArtifact(tmp(), 'basic model'), 'churn'))
      expect((await ok.list('churn')).map((r) => r.version)).toEqual(['1.0.0'])
      const bad = await backend('basic', { credentials: { username: 'bob', token: 'nope' } }, `127.0.0.1:${front.port}`)
        .list('churn')
        .catch((e: unknown) => e)
      expect((bad as Error).message).toMatch(new RegExp(`^registry 127\\.0\\.0\\.1:${front.port}: authentication refused \\(HTTP 401`))
      const none = await backend('basic', {}, `127.0.0.1:${front.port}`)
        .list('churn')
        .catch((e: unknown) => e)
      expect((none as Error).message).toBe(`registry 127.0.0.1:${front.port} requires authentication: give a username and token for it`)
    } finally {
      await front.close()
    }
  })

  it('waits out a 429 with Retry-After and a 503, then goes on', async () => {
    const seen: string[] = []
    let limited = 0
    let unavailable = 0
    const front = await listen((req, res) => {
      seen.push(`${req.method} ${req.url?.replace(/\?.*$/, '')}`)
      if (req.url?.includes('/tags/list') && limited++ === 0) {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' })
        res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }))
        return
      }
      if (req.method === 'PUT' && req.url?.includes('/manifests/v1.0.0') && unavailable++ === 0) {
        res.writeHead(503)
        res.end()
        return
      }
      forward(req, res)
    })
    try {
      const reg = backend('flaky', {}, `127.0.0.1:${front.port}`)
      const out = await reg.register('churn', await planFor(writeArtifact(tmp(), 'flaky model'), 'churn'))
      expect(out.created).toBe(true)
      expect((await backend('flaky').list('churn')).map((r) => r.version)).toEqual(['1.0.0'])
      expect(seen.filter((r) => r === 'GET /v2/flaky/churn/tags/list').length).toBeGreaterThanOrEqual(2)
      expect(seen.filter((r) => r === 'PUT /v2/flaky/churn/manifests/v1.0.0')).toEqual([
        'PUT /v2/flaky/churn/manifests/v1.0.0',
        'PUT /v2/flaky/churn/manifests/v1.0.0',
      ])
    } finally {
      await front.close()
    }
  })

  it('reports a registry nobody listens on as unreachable', async () => {
    const port = await freePort()
    const err = await backend('m', {}, `127.0.0.1:${port}`)
      .list('churn')
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UserError)
    expect((err as Error).message).toMatch(new RegExp(`^registry 127\\.0\\.0\\.1:${port} unreachable: .*ECONNREFUSED`))
  })
})

/**
 * Forwards everything, but cuts the client's connection once, half-way through the body of the second
 * PATCH. `partial`: the registry got the first half (distribution then drops the session: restart);
 * `nothing`: the registry never saw that PATCH (its session still answers: resume from its Range).
 */
async function cuttingProxy(mode: 'partial' | 'nothing'): Promise<Proxy & { patches: number; cuts: number }> {
  const state = { patches: 0, cuts: 0 }
  const server = await listen((req, res) => {
    if (req.method === 'PATCH') state.patches++
    if (req.method !== 'PATCH' || state.cuts > 0 || state.patches !== 2) {
      forward(req, res)
      return
    }
    const half = Number(req.headers['content-length']) / 2
    forward(req, res, (up) => {
      let seen = 0
      req.on('data', (chunk: Buffer) => {
        if (state.cuts > 0) return
        if (seen + chunk.length >= half) {
          state.cuts++
          if (mode === 'partial') up.write(chunk.subarray(0, Math.max(0, half - seen)))
          up.destroy()
          req.socket.destroy()
          return
        }
        seen += chunk.length
        if (mode === 'partial') up.write(chunk)
      })
    })
  })
  return {
    port: server.port,
    address: `127.0.0.1:${server.port}`,
    close: server.close,
    get patches() {
      return state.patches
    },
    get cuts() {
      return state.cuts
    },
  }
}

describe('OCI uploads', () => {
  it.each([
    ['nothing', 'resumes from the Range the upload session reports'],
    ['partial', 'starts a new session when the registry dropped the old one'],
  ] as const)(
    'a chunked upload whose connection drops mid-PATCH (%s of it stored) %s, and the blob has the file digest',
    async (mode, _what) => {
      const proxy = await cuttingProxy(mode)
      try {
        const file = path.join(tmp(), 'big.onnx')
        writeFileSync(file, randomBytes(3 * 1024 * 1024 + 123))
        const reg = backend(`resume-${mode}`, { chunkSize: 1024 * 1024 }, proxy.address)
        const out = await reg.register('churn', await planFor(file, 'churn'))
        expect(proxy.cuts).toBe(1)
        if (mode === 'nothing') {
          expect(reg.client.stats).toEqual({ resumes: 1, restarts: 0 })
          // 4 chunks, and the cut one again.
          expect(proxy.patches).toBe(5)
        } else {
          // Distribution cancels a session whose stored size differs from the offset in its Location.
          expect(reg.client.stats.restarts).toBe(1)
          expect(proxy.patches).toBeGreaterThanOrEqual(6)
        }
        // Read back straight from the registry, not through the proxy.
        const direct = new OciClient(parseOciReference(`oci://${registry.address}`))
        const back = path.join(tmp(), 'back.onnx')
        await direct.downloadBlob(`resume-${mode}/churn`, out.record.digest, back)
        expect((await sha256File(back)).digest).toBe((await sha256File(file)).digest)
        expect(out.record.digest).toBe((await sha256File(file)).digest)
      } finally {
        await proxy.close()
      }
    },
  )

  it('skips blobs the registry already has (HEAD before upload)', async () => {
    const client = new OciClient(parseOciReference(`oci://${registry.address}/skip`), { chunkSize: 1024 })
    const bytes = randomBytes(5000)
    const file = path.join(tmp(), 'blob.bin')
    writeFileSync(file, bytes)
    const { digest, size } = await sha256File(file)
    expect(await client.pushBlob('skip/blob', { digest, size, file })).toBe(true)
    expect(await client.pushBlob('skip/blob', { digest, size, file })).toBe(false)
    expect(await client.readBlob('skip/blob', digest)).toEqual(bytes)
  })

  it('refuses to fetch an artifact whose stored blob no longer matches its digest, leaving no file behind', async () => {
    const reg = backend('tamper')
    const artifact = writeArtifact(tmp(), `tamper target ${randomBytes(4).toString('hex')}`)
    const out = await reg.register('churn', await planFor(artifact, 'churn'))
    const stored = registry.blobPath(out.record.digest)
    const original = readFileSync(stored)
    writeFileSync(stored, Buffer.from(original.toString().replace('tamper', 'TAMPER')))
    const dest = tmp()
    await expect(reg.fetch('churn', '1.0.0', dest)).rejects.toThrow(/refused, the stored copy is corrupted or was tampered with/)
    expect(existsSync(path.join(dest, 'model.onnx'))).toBe(false)
    writeFileSync(stored, original)
    expect(readFileSync(await reg.fetch('churn', '1.0.0', dest))).toEqual(readFileSync(artifact))
  })
})

describe('OCI write lock (Fischer)', () => {
  it('lets one writer at a time into the critical section', async () => {
    const repo = 'lock/mutex'
    const locks = Array.from(
      { length: 5 },
      () =>
        new TagLock(new OciClient(parseOciReference(`oci://${registry.address}/lock`)), repo, {
          delayMs: 150,
          ttlMs: 10_000,
          timeoutMs: 60_000,
        }),
    )
    let inside = 0
    let most = 0
    const order: number[] = []
    await Promise.all(
      locks.map(async (lock, i) => {
        for (let round = 0; round < 2; round++) {
          await lock.with(async () => {
            inside++
            most = Math.max(most, inside)
            order.push(i)
            await new Promise((r) => setTimeout(r, 30))
            inside--
          })
        }
      }),
    )
    expect(most).toBe(1)
    expect(order.sort()).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
  }, 60_000)

  it('takes over a claim a crashed writer left once its ttl has passed', async () => {
    const reg = backend('crash')
    const client = reg.client
    await reg.register('churn', await planFor(writeArtifact(tmp(), 'before the crash'), 'churn'))
    await client.putManifest('crash/churn', LOCK_TAG, claimManifest('crashed-writer', 400), 'application/vnd.oci.image.manifest.v1+json')
    const out = await reg.register('churn', await planFor(writeArtifact(tmp(), 'after the crash'), 'churn'))
    expect(out.record.version).toBe('1.0.1')
    expect(reg.lock('churn').stats.takeovers).toBeGreaterThanOrEqual(1)
    const lock = await client.getManifest('crash/churn', LOCK_TAG)
    expect((JSON.parse(String(lock?.bytes)) as ImageManifest).annotations).toEqual({ 'io.modelgate.lock.state': 'free' })
  })

  it('never enters on a claim whose write took longer than the lock delay, and says to raise it', async () => {
    // Every lock-tag write through this proxy answers 400 ms late: longer than D = 150 ms.
    const slow = await listen((req, res) => {
      if (req.method === 'PUT' && req.url?.endsWith(`/manifests/${LOCK_TAG}`)) {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () =>
          setTimeout(
            () =>
              forward(req, res, (up) => {
                up.end(Buffer.concat(chunks))
              }),
            400,
          ),
        )
        return
      }
      forward(req, res)
    })
    try {
      const reg = backend('late', { lockTimeoutMs: 1500 }, `127.0.0.1:${slow.port}`)
      const err = await reg.register('churn', await planFor(writeArtifact(tmp(), 'late writer'), 'churn')).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UserError)
      expect((err as Error).message).toMatch(/could not take the write lock of late\/churn .*late writes\): raise lockDelayMs/)
      expect(reg.lock('churn').stats.acquired).toBe(0)
      expect(reg.lock('churn').stats.lateWrites).toBeGreaterThanOrEqual(1)
      expect(await reg.list('churn')).toEqual([])
    } finally {
      await slow.close()
    }
  })
})
