import { describe, it, expect, afterAll } from '@jest/globals'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { MlflowBackend, type MlflowBackendOptions } from '../../src/core/registry/backends/mlflow.js'
import { sha256File } from '../../src/core/registry/digest.js'
import { UserError } from '../../src/core/errors.js'
import type { RegistrationPlan, VersionRecord } from '../../src/core/registry/types.js'
import { startMlflowServer, type MlflowServer, type MlflowServerOptions } from '../helpers/mlflow-server.js'
import { freePort } from '../helpers/oci-registry.js'
import { backendConformance, planFor, tmp, writeArtifact } from './conformance.js'

/*
 * The MLflow registry against an HTTP server speaking MLflow's REST API (helpers/mlflow-server.ts;
 * MLflow itself is a Python package this machine cannot install).
 */

const FAST: Partial<MlflowBackendOptions> = { lockPollMs: 20, readyPollMs: 5 }
const servers: MlflowServer[] = []
afterAll(async () => {
  for (const s of servers) await s.stop()
})

async function server(opts: MlflowServerOptions = {}): Promise<MlflowServer> {
  const s = await startMlflowServer(opts)
  servers.push(s)
  return s
}

function backend(s: MlflowServer, opts: Partial<MlflowBackendOptions> = {}): MlflowBackend {
  return new MlflowBackend({ trackingUri: s.url, ...FAST, ...opts })
}

async function rejection(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(UserError)
  return e as UserError
}

let shared: MlflowServer | undefined
backendConformance('mlflow', {
  make: async () => {
    shared ??= await server()
    return backend(shared)
  },
  artifact: async (_writer, content, kind) => writeArtifact(tmp(), content, kind),
  tag: (n, v) => `${n}@v${v}`,
})

const API = '/api/2.0/mlflow'
const ART = '/api/2.0/mlflow-artifacts/artifacts'

describe('mlflow backend: the REST calls', () => {
  it('registers with these calls, in this order: list, artifact, lock, re-list, model, documents, version, READY polls, unlock', async () => {
    const s = await server()
    const reg = backend(s)
    const artifact = writeArtifact(tmp(), 'the model')
    const evidence = path.join(tmp(), 'report.json')
    writeFileSync(evidence, '{"status":"pass"}')
    const out = await reg.register('churn', await planFor(artifact, 'churn', { evidence }))
    const hex = out.record.digest.slice('sha256:'.length)
    const dir = `modelgate/churn/${hex}`

    expect(out).toMatchObject({ created: true, uri: 'models:/churn/1', tag: 'churn@v1.0.0' })
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${API}/model-versions/search`,
      `PUT ${ART}/${dir}/artifact/model.onnx`,
      `POST ${API}/registered-models/create`,
      `GET ${API}/model-versions/search`,
      `POST ${API}/registered-models/create`,
      `PUT ${ART}/${dir}/evidence/validate-model.json`,
      `PUT ${ART}/${dir}/MODEL_CARD.md`,
      `PUT ${ART}/${dir}/record.json`,
      `GET ${API}/registered-models/get`,
      `POST ${API}/model-versions/create`,
      `GET ${API}/model-versions/get`,
      `GET ${API}/model-versions/get`,
      `GET ${API}/registered-models/get`,
      `DELETE ${API}/registered-models/delete`,
    ])
    const [search, upload, lock, , model, , , , held, create, poll1, poll2, , unlock] = s.requests
    expect(search.query).toEqual({ filter: "name='churn'", max_results: '1000' })
    expect(upload.bytes).toBe('the model'.length)
    expect(lock.body).toEqual({
      name: 'churn.modelgate-lock',
      description: "modelgate's write lock on churn: held while registering or changing stages; deleted when released",
      tags: [
        { key: 'modelgate.lock.owner', value: expect.stringMatching(new RegExp(`:${process.pid}:[0-9a-f]{12}$`)) },
        { key: 'modelgate.lock.expires', value: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      ],
    })
    expect(model.body).toEqual({ name: 'churn' })
    expect(held.query).toEqual({ name: 'churn.modelgate-lock' })
    const recordBytes = s.artifacts.get(`${dir}/record.json`)
    expect(create.body).toEqual({
      name: 'churn',
      source: `mlflow-artifacts:/${dir}`,
      tags: [
        { key: 'modelgate.version', value: '1.0.0' },
        { key: 'modelgate.digest', value: out.record.digest },
        { key: 'modelgate.record', value: (await sha256OfBytes(recordBytes)).digest },
        { key: 'modelgate.evidence', value: JSON.stringify({ 'validate-model.json': (await sha256File(evidence)).digest }) },
      ],
      description: `churn 1.0.0 (${out.record.digest}), registered by modelgate`,
    })
    expect(poll1.query).toEqual({ name: 'churn', version: '1' })
    expect(poll2.query).toEqual({ name: 'churn', version: '1' })
    expect(unlock.body).toEqual({ name: 'churn.modelgate-lock' })

    expect([...s.artifacts.keys()].sort()).toEqual(
      [`${dir}/MODEL_CARD.md`, `${dir}/artifact/model.onnx`, `${dir}/evidence/validate-model.json`, `${dir}/record.json`].sort(),
    )
    expect(s.artifacts.get(`${dir}/MODEL_CARD.md`)?.toString()).toBe('# churn 1.0.0\n')
    expect(JSON.parse(recordBytes?.toString() ?? '')).toEqual(out.record)
    expect([...s.models.keys()]).toEqual(['churn'])
    expect(s.models.get('churn')?.versions.map((v) => [v.version, v.status])).toEqual([['1', 'READY']])
  })

  it('polls a PENDING_REGISTRATION version until READY', async () => {
    const s = await server({ pendingPolls: 3 })
    const out = await backend(s).register('m', await planFor(writeArtifact(tmp(), 'slow'), 'm'))
    expect(out.uri).toBe('models:/m/1')
    const polls = s.requests.filter((r) => r.path === `${API}/model-versions/get`)
    expect(polls).toHaveLength(4)
    expect(s.models.get('m')?.versions[0].status).toBe('READY')
  })

  it('maps stages to aliases, keeps their history as registered-model tags, and deprecates with a version tag', async () => {
    const s = await server()
    const reg = backend(s)
    await reg.register('churn', await planFor(writeArtifact(tmp(), 'a'), 'churn'))
    await reg.register('churn', await planFor(writeArtifact(tmp(), 'b'), 'churn'))
    s.requests.length = 0
    const event = await reg.assign('churn', '1.0.1', 'prod', () => {})
    expect(event).toMatchObject({ stage: 'prod', version: '1.0.1', action: 'assign', ref: 'models:/churn/2' })
    expect(s.requests.filter((r) => r.method !== 'GET').map((r) => [r.path.slice(API.length), r.body])).toEqual([
      ['/registered-models/create', expect.objectContaining({ name: 'churn.modelgate-lock' })],
      ['/registered-models/set-tag', { name: 'churn', key: 'modelgate.stage.000001', value: JSON.stringify(event) }],
      ['/registered-models/alias', { name: 'churn', alias: 'prod', version: '2' }],
      ['/registered-models/delete', { name: 'churn.modelgate-lock' }],
    ])
    expect(Object.fromEntries(s.models.get('churn')?.aliases ?? [])).toEqual({ prod: '2' })

    await reg.assign('churn', '1.0.0', 'prod', () => {})
    expect(Object.fromEntries(s.models.get('churn')?.aliases ?? [])).toEqual({ prod: '1' })
    await reg.unassign('churn', 'prod')
    expect(s.models.get('churn')?.aliases.size).toBe(0)
    const state = await backend(s).stages('churn')
    expect(state.current).toEqual({})
    expect(state.history.map((h) => [h.action, h.version, h.ref])).toEqual([
      ['assign', '1.0.1', 'models:/churn/2'],
      ['assign', '1.0.0', 'models:/churn/1'],
      ['unassign', undefined, 'models:/churn@prod'],
    ])

    await reg.deprecate('churn', '1.0.0')
    expect(s.models.get('churn')?.versions[0].tags.get('modelgate.deprecated')).toBe('true')
    expect((await backend(s).list('churn')).map((r) => [r.version, r.deprecated ?? false])).toEqual([
      ['1.0.0', true],
      ['1.0.1', false],
    ])
  })

  it('refuses stages that are not MLflow aliases before writing anything', async () => {
    const s = await server()
    const reg = backend(s)
    await reg.register('m', await planFor(writeArtifact(tmp(), 'x'), 'm'))
    const writes = s.requests.length
    for (const stage of ['prod!', 'latest', 'v2', 'a/b']) {
      expect((await rejection(reg.assign('m', '1.0.0', stage, () => {}))).message).toBe(
        `stage '${stage}' cannot be an MLflow alias (letters, digits, _ and -; not 'latest' and not v<number>)`,
      )
    }
    expect(s.requests.length).toBe(writes)
  })

  it('hands the plan the versions in SemVer order, not in the order MLflow numbered them', async () => {
    const s = await server()
    const reg = backend(s)
    await reg.register('m', await planFor(writeArtifact(tmp(), 'a'), 'm', { version: '1.10.0' }))
    await reg.register('m', await planFor(writeArtifact(tmp(), 'b'), 'm', { version: '1.9.0' }))
    const seen: string[][] = []
    const inner = await planFor(writeArtifact(tmp(), 'c'), 'm')
    const out = await reg.register('m', (existing) => {
      seen.push(existing.map((r) => r.version))
      return inner(existing)
    })
    expect(seen).toEqual([
      ['1.9.0', '1.10.0'],
      ['1.9.0', '1.10.0'],
    ])
    expect(out).toMatchObject({ uri: 'models:/m/3', tag: 'm@v1.10.1' })
  })

  it('ignores model versions that modelgate did not register, and numbers its own after them', async () => {
    const s = await server()
    const reg = backend(s)
    await reg.call({ method: 'POST', path: '/registered-models/create', body: { name: 'shared' }, need: 'EDIT' })
    await reg.call({ method: 'POST', path: '/model-versions/create', body: { name: 'shared', source: 's3://bucket/model' }, need: 'EDIT' })
    expect(await reg.list('shared')).toEqual([])
    const out = await reg.register('shared', await planFor(writeArtifact(tmp(), 'mine'), 'shared'))
    expect(out.uri).toBe('models:/shared/2')
    expect((await reg.list('shared')).map((r) => r.version)).toEqual(['1.0.0'])
  })
})

describe('mlflow backend: failures', () => {
  it('reports FAILED_REGISTRATION, removes the failed version and the lock, and registers on the next try', async () => {
    const s = await server()
    const reg = backend(s)
    const plan = await planFor(writeArtifact(tmp(), 'x'), 'm')
    s.failNextVersion('copying the artifacts failed')
    const e = await rejection(reg.register('m', plan))
    expect(e.message).toBe(
      `mlflow+${s.url}: MLflow failed to register models:/m/1 (FAILED_REGISTRATION: copying the artifacts failed); nothing was registered`,
    )
    expect(s.models.get('m')?.versions).toEqual([])
    expect(s.models.has('m.modelgate-lock')).toBe(false)
    expect(await reg.list('m')).toEqual([])
    const out = await reg.register('m', plan)
    expect(out).toMatchObject({ created: true, uri: 'models:/m/2', tag: 'm@v1.0.0' })
  })

  it('names the missing or refused credentials on 401, and the permission on 403', async () => {
    const s = await server({ tokens: { admin: 'MANAGE', 'alice:pw': 'EDIT', reader: 'READ' } })
    const plan = await planFor(writeArtifact(tmp(), 'x'), 'm')
    const where = `mlflow+${s.url}: GET ${API}/model-versions/search: 401 Unauthorized:`
    expect((await rejection(backend(s).list('m'))).message).toBe(
      `${where} no token was given: set the registry token (a bearer token, or user name and password for MLflow basic-auth)`,
    )
    expect((await rejection(backend(s, { credentials: { token: 'wrong' } }).list('m'))).message).toBe(
      `${where} the bearer token given was refused`,
    )
    expect((await rejection(backend(s, { credentials: { username: 'alice', token: 'nope' } }).list('m'))).message).toBe(
      `${where} the user name and password given were refused`,
    )

    const alice = await backend(s, { credentials: { username: 'alice', token: 'pw' } }).register('m', plan)
    expect(alice.created).toBe(true)
    const other = await planFor(writeArtifact(tmp(), 'y'), 'm')
    const e = await rejection(backend(s, { credentials: { token: 'reader' } }).register('m', other))
    expect(e.message).toBe(
      `mlflow+${s.url}: POST ${API}/model-versions/create: 403 Permission denied: the token's user needs EDIT permission on registered model 'm' (MLflow basic-auth: EDIT lets it create versions, tags and aliases)`,
    )
    expect(s.models.has('m.modelgate-lock')).toBe(false)
    expect(s.models.get('m')?.versions).toHaveLength(1)
    expect(s.requests.filter((r) => r.path.endsWith('/model-versions/create')).length).toBe(2)
  })

  it('says the server is unreachable', async () => {
    const port = await freePort()
    const e = await rejection(new MlflowBackend({ trackingUri: `http://127.0.0.1:${port}/` }).list('m'))
    expect(e.message).toBe(
      `mlflow+http://127.0.0.1:${port}: cannot reach the MLflow tracking server (ECONNREFUSED): check the tracking URI and that \`mlflow server\` is running`,
    )
  })

  it('says when the server does not proxy artifacts', async () => {
    const s = await server({ serveArtifacts: false })
    const e = await rejection(backend(s).register('m', await planFor(writeArtifact(tmp(), 'x'), 'm')))
    expect(e.message).toBe(
      `mlflow+${s.url}: the tracking server does not proxy artifacts; start it with \`mlflow server --serve-artifacts\` (the default since MLflow 2.0)`,
    )
  })

  it('refuses a tracking URI that is not http(s)', () => {
    expect(() => new MlflowBackend({ trackingUri: 'file:///tmp/mlruns' })).toThrow(
      'the MLflow tracking URI must be http:// or https://, not file:',
    )
  })
})

describe('mlflow backend: the lock', () => {
  async function plantLock(s: MlflowServer, owner: string, expires: Date): Promise<void> {
    await backend(s).call({
      method: 'POST',
      path: '/registered-models/create',
      body: {
        name: 'm.modelgate-lock',
        tags: [
          { key: 'modelgate.lock.owner', value: owner },
          { key: 'modelgate.lock.expires', value: expires.toISOString() },
        ],
      },
      need: 'EDIT',
    })
    s.requests.length = 0
  }

  it('takes over a lock whose holder stopped renewing it', async () => {
    const s = await server()
    await plantLock(s, 'dead-host:4242:abcdef', new Date(Date.now() - 1000))
    const out = await backend(s).register('m', await planFor(writeArtifact(tmp(), 'x'), 'm'))
    expect(out.created).toBe(true)
    const writes = s.requests.filter((r) => r.method !== 'GET' && r.method !== 'PUT').map((r) => `${r.method} ${r.path.slice(API.length)}`)
    expect(writes).toEqual([
      'POST /registered-models/create',
      'DELETE /registered-models/delete',
      'POST /registered-models/create',
      'POST /registered-models/create',
      'POST /model-versions/create',
      'DELETE /registered-models/delete',
    ])
    expect(s.requests.find((r) => r.method === 'DELETE')?.body).toEqual({ name: 'm.modelgate-lock' })
    expect(s.models.has('m.modelgate-lock')).toBe(false)
  })

  it('takes over a lock without an expiry tag once it is older than the TTL', async () => {
    const s = await server()
    await backend(s).call({ method: 'POST', path: '/registered-models/create', body: { name: 'm.modelgate-lock' }, need: 'EDIT' })
    const lock = s.models.get('m.modelgate-lock')
    if (lock) lock.creation_timestamp = Date.now() - 5000
    const out = await backend(s, { lockTtlMs: 2000 }).register('m', await planFor(writeArtifact(tmp(), 'x'), 'm'))
    expect(out.created).toBe(true)
  })

  it('waits for a live lock and then says the registry is busy, writing no version', async () => {
    const s = await server()
    const until = new Date(Date.now() + 60_000)
    await plantLock(s, 'other-host:7:123456', until)
    const e = await rejection(backend(s, { lockTimeoutMs: 200 }).register('m', await planFor(writeArtifact(tmp(), 'x'), 'm')))
    expect(e.message).toBe(
      `mlflow+${s.url}: registry m is busy: locked by other-host:7:123456 until ${until.toISOString()} (registered model m.modelgate-lock); retry later, or delete that registered model if its writer died`,
    )
    expect(s.models.get('m.modelgate-lock')?.tags.get('modelgate.lock.owner')).toBe('other-host:7:123456')
    expect(s.models.has('m')).toBe(false)
  })

  it('renews its lock while it waits for READY, so a slow registration keeps it', async () => {
    const s = await server({ pendingPolls: 8 })
    const out = await backend(s, { lockTtlMs: 300, readyPollMs: 50 }).register('m', await planFor(writeArtifact(tmp(), 'x'), 'm'))
    expect(out.created).toBe(true)
    const renewals = s.requests.filter((r) => r.path === `${API}/registered-models/set-tag`)
    expect(renewals.length).toBeGreaterThan(0)
    expect(renewals.every((r) => (r.body as { key: string }).key === 'modelgate.lock.expires')).toBe(true)
  })

  it('stops before creating the version when another writer took its lock over', async () => {
    const s = await server()
    const inner = await planFor(writeArtifact(tmp(), 'x'), 'm')
    let calls = 0
    const stalled = (existing: VersionRecord[]): RegistrationPlan => {
      // The second plan runs under the lock: as if this writer stalled past its TTL and was taken over.
      if (++calls === 2) {
        const lock = s.models.get('m.modelgate-lock')
        lock?.tags.set('modelgate.lock.owner', 'other-host:9:999999')
      }
      return inner(existing)
    }
    const e = await rejection(backend(s).register('m', stalled))
    expect(e.message).toMatch(/: lost the lock m\.modelgate-lock before creating the model version \(held longer than its 600000 ms TTL/)
    expect(s.requests.some((r) => r.path.endsWith('/model-versions/create'))).toBe(false)
    // The other writer's lock is left alone.
    expect(s.models.get('m.modelgate-lock')?.tags.get('modelgate.lock.owner')).toBe('other-host:9:999999')
  })
})

describe('mlflow backend: integrity', () => {
  it('refuses to fetch a model whose stored bytes changed, and leaves nothing behind', async () => {
    const s = await server()
    const reg = backend(s)
    const out = await reg.register('m', await planFor(writeArtifact(tmp(), 'good model', 'directory'), 'm'))
    const dir = `modelgate/m/${out.record.digest.slice('sha256:'.length)}`
    const good = await reg.fetch('m', '1.0.0', path.join(tmp(), 'ok'))
    expect(readFileSync(path.join(good, 'weights', 'w.bin'), 'utf8')).toBe('good model'.repeat(3))

    s.artifacts.set(`${dir}/artifact/model/weights/w.bin`, Buffer.from('evil model'.repeat(3)))
    const dest = path.join(tmp(), 'bad')
    const e = await rejection(reg.fetch('m', '1.0.0', dest))
    const expected = out.record.artifact.files.find((f) => f.path === 'weights/w.bin')?.digest
    expect(e.message).toMatch(
      new RegExp(
        `^mlflow\\+${s.url.replace(/\./g, '\\.')}: ${dir}/artifact/model/weights/w\\.bin has digest sha256:[0-9a-f]{64} \\(30 bytes\\), the version record says ${expected} \\(30 bytes\\): the stored file was changed or corrupted$`,
      ),
    )
    expect(existsSync(path.join(dest, 'model'))).toBe(false)
  })

  it('refuses a changed record.json and a changed evidence file', async () => {
    const s = await server()
    const evidence = path.join(tmp(), 'report.json')
    writeFileSync(evidence, '{"status":"pass"}')
    const out = await backend(s).register('m', await planFor(writeArtifact(tmp(), 'x'), 'm', { evidence }))
    const dir = `modelgate/m/${out.record.digest.slice('sha256:'.length)}`

    s.artifacts.set(`${dir}/evidence/validate-model.json`, Buffer.from('{"status":"fail"}'))
    expect((await rejection(backend(s).readEvidence('m', '1.0.0', 'validate-model.json'))).message).toMatch(
      /^models:\/m\/1: evidence\/validate-model\.json has digest sha256:[0-9a-f]{64}, the version's tag says sha256:[0-9a-f]{64}: the stored file was changed$/,
    )

    const forged = { ...out.record, metrics: { accuracy: 1 } }
    s.artifacts.set(`${dir}/record.json`, Buffer.from(JSON.stringify(forged)))
    expect((await rejection(backend(s).list('m'))).message).toMatch(
      /^models:\/m\/1: record\.json has digest sha256:[0-9a-f]{64}, the version's tag says sha256:[0-9a-f]{64}: the stored record was changed$/,
    )
  })
})

async function sha256OfBytes(bytes: Buffer | undefined): Promise<{ digest: string }> {
  const f = path.join(tmp(), 'bytes')
  writeFileSync(f, bytes ?? Buffer.alloc(0))
  return sha256File(f)
}
