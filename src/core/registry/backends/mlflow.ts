import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import semver from 'semver'
import { mapLimit } from '../../parallel.js'
import { UserError, errorText } from '../../errors.js'
import { whyNotJson } from '../../files.js'
import { digestTap, directoryDigest, sha256Bytes, sha256File } from '../digest.js'
import { checkModelName, versionTag } from '../names.js'
import { checkVersionRecord } from '../record.js'
import type {
  RegistrationOutcome,
  RegistrationPlan,
  RegistryBackend,
  StageEvent,
  StageState,
  StoredVersion,
  VersionPayload,
  VersionRecord,
} from '../types.js'
import { stageState } from './local.js'

/*
 * A registry in an MLflow Model Registry, over MLflow's REST API (2.x: https://mlflow.org/docs/latest/rest-api.html).
 *
 *   a modelgate version   = a model version of the registered model `<name>`; MLflow numbers it (1, 2, 3…),
 *                           the SemVer is its tag `modelgate.version`, the artifact digest `modelgate.digest`
 *   its files             = artifacts behind the tracking server's artifact proxy (`mlflow server
 *                           --serve-artifacts`, the default since 2.0), under `modelgate/<name>/<digest hex>/`:
 *                           artifact/<model file or folder>, record.json, MODEL_CARD.md, evidence/<file>;
 *                           the version's `source` is `mlflow-artifacts:/modelgate/<name>/<hex>`
 *   stages                = aliases (`models:/<name>@<stage>`), with their history in registered-model
 *                           tags `modelgate.stage.<n>` (one tag per event: a tag write is atomic, a file rewrite is not)
 *   deprecation           = the model-version tag `modelgate.deprecated=true`
 *   the lock              = a registered model `<name>.modelgate-lock`: MLflow has no conditional writes,
 *                           but creating a registered model that exists fails (RESOURCE_ALREADY_EXISTS)
 *
 * The commit point is `model-versions/create`, which writes the version and its tags at once: a
 * writer that dies earlier leaves only unreferenced artifacts. Trust is anchored in the tracking
 * database: the tags hold the digests of record.json and of each evidence file, and record.json
 * holds the digests of the model's files, so a file changed in the artifact store is refused.
 */

export interface MlflowCredentials {
  /** With `token`: HTTP Basic (MLflow's basic-auth app: user name and password). */
  username?: string
  /** Alone: `Authorization: Bearer <token>`; with `username`: the password. */
  token?: string
}

export interface MlflowBackendOptions {
  /** The tracking server: `http(s)://host[:port][/prefix]`, without `/api/…`. */
  trackingUri: string
  credentials?: MlflowCredentials
  /** A lock whose holder stopped renewing it is taken over after this long (default 10 min). */
  lockTtlMs?: number
  /** Give up waiting for the lock after this long (default 5 min). */
  lockTimeoutMs?: number
  /** Pause between attempts to take a held lock (default 500 ms, jittered). */
  lockPollMs?: number
  /** Give up on a version that is not READY after this long (default 10 min). */
  readyTimeoutMs?: number
  /** Pause between status polls of a new version (default 1 s). */
  readyPollMs?: number
  /** Per REST call, uploads and downloads excepted (default 120 s). */
  requestTimeoutMs?: number
}

const API = '/api/2.0/mlflow'
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts'
const TAG = {
  version: 'modelgate.version',
  digest: 'modelgate.digest',
  record: 'modelgate.record',
  evidence: 'modelgate.evidence',
  deprecated: 'modelgate.deprecated',
  commit: 'modelgate.git.commit',
  stagePrefix: 'modelgate.stage.',
  lockOwner: 'modelgate.lock.owner',
  lockExpires: 'modelgate.lock.expires',
} as const
/** MLflow's limit on a model-registry tag value (MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH). */
const TAG_VALUE_MAX = 5000
const LOCK_SUFFIX = '.modelgate-lock'
const SEARCH_PAGE = 1000

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
/** The permission of MLflow's basic-auth app a call needs (READ can_read, EDIT can_update, MANAGE can_delete). */
type Permission = 'READ' | 'EDIT' | 'MANAGE'

interface TagJson {
  key: string
  value: string
}

/** `ModelVersion` as the REST API answers it (empty fields are left out). */
interface ModelVersionJson {
  name: string
  version: string
  source?: string
  status?: string
  status_message?: string
  tags?: TagJson[]
}

/** `RegisteredModel` as the REST API answers it. */
interface RegisteredModelJson {
  name: string
  creation_timestamp?: number
  tags?: TagJson[]
}

/** A model version that carries a modelgate version. */
interface Entry {
  mlflowVersion: string
  version: string
  digest: string
  tags: Record<string, string>
  /** Artifact path of its folder behind the proxy: `modelgate/<name>/<hex>`. */
  prefix: string
}

/** An MLflow error answer (`{error_code, message}`); a UserError, so an unhandled one reaches the user as is. */
export class MlflowApiError extends UserError {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: string,
  ) {
    super(message)
    this.name = 'MlflowApiError'
  }
}

interface Call {
  method: Method
  path: string
  query?: Record<string, string>
  body?: unknown
  need: Permission
  /** The registered model the call is about, for permission messages. */
  model?: string
}

export class MlflowBackend implements RegistryBackend {
  readonly kind = 'mlflow' as const
  readonly location: string
  private readonly base: string
  private readonly auth: Record<string, string>
  private readonly authKind: 'none' | 'bearer' | 'basic'
  /** Records by model version and record digest: a model version's files never change. */
  private readonly records = new Map<string, VersionRecord>()

  constructor(private readonly opts: MlflowBackendOptions) {
    let url: URL
    try {
      url = new URL(opts.trackingUri)
    } catch {
      throw new UserError(`registry: '${opts.trackingUri}' is not an MLflow tracking URI (http(s)://host[:port])`, { field: 'registry' })
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UserError(`registry: the MLflow tracking URI must be http:// or https://, not ${url.protocol}`, { field: 'registry' })
    }
    const creds = { ...opts.credentials }
    if (url.username && !creds.token) {
      creds.username = decodeURIComponent(url.username)
      creds.token = decodeURIComponent(url.password)
    }
    url.username = ''
    url.password = ''
    url.search = ''
    url.hash = ''
    this.base = url.href.replace(/\/+$/, '')
    this.location = `mlflow+${this.base}`
    if (creds.token && creds.username) {
      this.auth = { Authorization: `Basic ${Buffer.from(`${creds.username}:${creds.token}`).toString('base64')}` }
      this.authKind = 'basic'
    } else if (creds.token) {
      this.auth = { Authorization: `Bearer ${creds.token}` }
      this.authKind = 'bearer'
    } else {
      this.auth = {}
      this.authKind = 'none'
    }
  }

  /** `models:/<name>/<MLflow version>`: what `mlflow.pyfunc.load_model` and MLflow's deploy tools take. */
  modelUri(name: string, mlflowVersion: string): string {
    return `models:/${name}/${mlflowVersion}`
  }

  async list(name: string): Promise<VersionRecord[]> {
    return (await this.snapshot(checkModelName(name))).records
  }

  /** The modelgate versions of `name` and their records, in SemVer order, as the plan wants them. */
  private async snapshot(name: string): Promise<{ entries: Entry[]; records: VersionRecord[] }> {
    const entries = await this.entries(name)
    const records = await mapLimit(entries, 6, (e) => this.readRecord(name, e))
    return { entries, records: records.sort((a, b) => semver.compare(a.version, b.version)) }
  }

  async get(name: string, version: string): Promise<StoredVersion | undefined> {
    const entry = (await this.entries(checkModelName(name))).find((e) => e.version === version)
    if (!entry) return undefined
    return this.stored(name, entry, await this.readRecord(name, entry))
  }

  private stored(name: string, entry: Entry, record: VersionRecord): StoredVersion {
    return { record, uri: this.modelUri(name, entry.mlflowVersion), tag: versionTag(name, record.version) }
  }

  async stages(name: string): Promise<StageState> {
    return stageState(await this.readEvents(checkModelName(name)))
  }

  async register(name: string, plan: (existing: VersionRecord[]) => RegistrationPlan): Promise<RegistrationOutcome> {
    checkModelName(name)
    const before = await this.snapshot(name)
    const first = plan(before.records)
    if (first.kind === 'existing') return this.outcome(name, first.record, before.entries)
    // The model's files are content-addressed: they go up before the lock, which then covers small writes only.
    await this.uploadArtifact(name, first.record, first.payload)
    return this.locked(name, async (held) => {
      const { entries, records } = await this.snapshot(name)
      const decided = plan(records)
      if (decided.kind === 'existing') return this.outcome(name, decided.record, entries)
      const { record, payload } = decided
      if (!semver.valid(record.version)) throw new UserError(`version ${record.version} is not a SemVer version`, { field: 'version' })
      if (entries.some((e) => e.version === record.version)) {
        throw new UserError(`${this.location}: version ${record.version} of ${name} already exists`, { field: 'version' })
      }
      if (record.digest !== first.record.digest) await this.uploadArtifact(name, record, payload)
      if (entries.length === 0) await this.ensureRegisteredModel(name)
      const tags = await this.uploadDocuments(name, record, payload)
      await held.assertHeld('creating the model version')
      const mlflowVersion = await this.createVersion(name, record, tags)
      return { record, uri: this.modelUri(name, mlflowVersion), tag: versionTag(name, record.version), created: true }
    })
  }

  private outcome(name: string, record: VersionRecord, entries: Entry[]): RegistrationOutcome {
    const entry = entries.find((e) => e.version === record.version)
    if (!entry)
      throw new UserError(`${this.location}: version ${record.version} of ${name} vanished while registering`, { field: 'version' })
    return { ...this.stored(name, entry, record), created: false }
  }

  private async ensureRegisteredModel(name: string): Promise<void> {
    try {
      await this.call({ method: 'POST', path: '/registered-models/create', body: { name }, need: 'EDIT', model: name })
    } catch (e) {
      if (!isCode(e, 'RESOURCE_ALREADY_EXISTS')) throw e
    }
  }

  /** Creates the version with all its tags in one call (the commit point) and waits until it is READY. */
  private async createVersion(name: string, record: VersionRecord, tags: TagJson[]): Promise<string> {
    const created = await this.call<{ model_version: ModelVersionJson }>({
      method: 'POST',
      path: '/model-versions/create',
      body: {
        name,
        source: `mlflow-artifacts:/${this.prefix(name, record.digest)}`,
        tags,
        description: record.description ?? `${name} ${record.version} (${record.digest}), registered by modelgate`,
      },
      need: 'EDIT',
      model: name,
    })
    const mv = created.model_version
    try {
      await this.waitReady(name, mv)
    } catch (e) {
      // A version that never became READY is no registration: remove it so it does not linger as FAILED.
      await this.call({
        method: 'DELETE',
        path: '/model-versions/delete',
        body: { name, version: mv.version },
        need: 'MANAGE',
        model: name,
      }).catch(() => undefined)
      throw e
    }
    return mv.version
  }

  private async waitReady(name: string, created: ModelVersionJson): Promise<void> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 600_000)
    let mv = created
    for (;;) {
      if (mv.status === 'READY' || mv.status === undefined) return
      if (mv.status === 'FAILED_REGISTRATION') {
        throw new UserError(
          `${this.location}: MLflow failed to register ${this.modelUri(name, mv.version)} (FAILED_REGISTRATION${mv.status_message ? `: ${mv.status_message}` : ''}); nothing was registered`,
        )
      }
      if (Date.now() > deadline) {
        throw new UserError(
          `${this.location}: ${this.modelUri(name, mv.version)} is still ${mv.status} after ${Math.round((this.opts.readyTimeoutMs ?? 600_000) / 1000)} s; nothing was registered`,
        )
      }
      await sleep(this.opts.readyPollMs ?? 1000)
      mv = (
        await this.call<{ model_version: ModelVersionJson }>({
          method: 'GET',
          path: '/model-versions/get',
          query: { name, version: mv.version },
          need: 'READ',
          model: name,
        })
      ).model_version
    }
  }

  async assign(
    name: string,
    version: string,
    stage: string,
    check: (state: StageState, record: VersionRecord) => void,
  ): Promise<StageEvent> {
    checkModelName(name)
    checkAlias(stage)
    return this.locked(name, async (held) => {
      const { entry, record } = await this.require(name, version)
      if (record.deprecated) throw new UserError(`${name} ${version} is deprecated and cannot be assigned a stage`, { field: 'version' })
      const events = await this.readEvents(name)
      check(stageState(events), record)
      const event: StageEvent = {
        stage,
        version,
        action: 'assign',
        at: new Date().toISOString(),
        ref: this.modelUri(name, entry.mlflowVersion),
      }
      await held.assertHeld(`assigning ${stage}`)
      await this.appendEvent(name, events, event, () =>
        this.call({
          method: 'POST',
          path: '/registered-models/alias',
          body: { name, alias: stage, version: entry.mlflowVersion },
          need: 'EDIT',
          model: name,
        }),
      )
      return event
    })
  }

  async unassign(name: string, stage: string): Promise<StageEvent> {
    checkModelName(name)
    checkAlias(stage)
    return this.locked(name, async (held) => {
      const events = await this.readEvents(name)
      if (!stageState(events).current[stage]) throw new UserError(`${name}: stage ${stage} is not assigned`, { field: 'stage' })
      const event: StageEvent = { stage, action: 'unassign', at: new Date().toISOString(), ref: `models:/${name}@${stage}` }
      await held.assertHeld(`unassigning ${stage}`)
      await this.appendEvent(name, events, event, async () => {
        try {
          await this.call({ method: 'DELETE', path: '/registered-models/alias', body: { name, alias: stage }, need: 'MANAGE', model: name })
        } catch (e) {
          if (!isCode(e, 'RESOURCE_DOES_NOT_EXIST')) throw e
        }
      })
      return event
    })
  }

  /** Writes the history tag, then moves the alias; an alias that cannot move takes its history tag back. */
  private async appendEvent(name: string, events: StageEvent[], event: StageEvent, moveAlias: () => Promise<unknown>): Promise<void> {
    const key = `${TAG.stagePrefix}${String(events.length + 1).padStart(6, '0')}`
    await this.call({
      method: 'POST',
      path: '/registered-models/set-tag',
      body: { name, key, value: JSON.stringify(event) },
      need: 'EDIT',
      model: name,
    })
    try {
      await moveAlias()
    } catch (e) {
      await this.call({ method: 'DELETE', path: '/registered-models/delete-tag', body: { name, key }, need: 'EDIT', model: name }).catch(
        () => undefined,
      )
      throw e
    }
  }

  async deprecate(name: string, version: string): Promise<void> {
    checkModelName(name)
    await this.locked(name, async (held) => {
      const { entry } = await this.require(name, version)
      if (entry.tags[TAG.deprecated] === 'true') return
      await held.assertHeld('deprecating')
      await this.call({
        method: 'POST',
        path: '/model-versions/set-tag',
        body: { name, version: entry.mlflowVersion, key: TAG.deprecated, value: 'true' },
        need: 'EDIT',
        model: name,
      })
    })
  }

  async fetch(name: string, version: string, destDir: string): Promise<string> {
    const { entry, record } = await this.require(checkModelName(name), version)
    const { artifact } = record
    const listed = artifact.kind === 'file' ? artifact.files[0]?.digest : directoryDigest(artifact.files)
    if (listed !== artifact.digest || record.digest !== artifact.digest) {
      throw new UserError(`${this.modelUri(name, entry.mlflowVersion)}: the version record's file list does not match its digest`, {
        field: 'digest',
      })
    }
    const root = path.join(destDir, safeSegment(artifact.name))
    try {
      for (const f of artifact.files) {
        const dest = artifact.kind === 'file' ? root : path.join(root, ...f.path.split('/').map(safeSegment))
        await this.download(`${entry.prefix}/${artifactPath(artifact.kind, artifact.name, f.path)}`, dest, f.digest, f.size)
      }
    } catch (e) {
      rmSync(root, { recursive: true, force: true })
      throw e
    }
    return root
  }

  async readEvidence(name: string, version: string, file: string): Promise<Buffer> {
    const entry = (await this.entries(checkModelName(name))).find((e) => e.version === version)
    const record = entry && (await this.readRecord(name, entry))
    if (!entry || !record?.evidence.some((e) => e.file === file)) {
      throw new UserError(`${this.location}: ${name} ${version} has no evidence file ${file}`, { field: 'evidence' })
    }
    const uri = this.modelUri(name, entry.mlflowVersion)
    const expected = parseJsonObject(entry.tags[TAG.evidence] ?? '{}')[file]
    if (typeof expected !== 'string') {
      throw new UserError(`${uri}: tag ${TAG.evidence} names no digest for ${file}: the version was changed outside modelgate`, {
        field: 'evidence',
      })
    }
    const bytes = await this.getBytes(`${entry.prefix}/evidence/${safeSegment(file)}`)
    const digest = sha256Bytes(bytes)
    if (digest !== expected) {
      throw new UserError(
        `${uri}: evidence/${file} has digest ${digest}, the version's tag says ${expected}: the stored file was changed`,
        {
          field: 'evidence',
        },
      )
    }
    return bytes
  }

  // ---- versions and records

  /** Every model version of `name` that carries a modelgate version, failed registrations left out. */
  private async entries(name: string): Promise<Entry[]> {
    const out = new Map<string, Entry>()
    const versions = await this.searchVersions(name)
    versions.sort((a, b) => Number(a.version) - Number(b.version))
    for (const mv of versions) {
      const tags = tagMap(mv.tags)
      const version = tags[TAG.version]
      const digest = tags[TAG.digest]
      if (!version || !digest || !semver.valid(version) || mv.status === 'FAILED_REGISTRATION' || out.has(version)) continue
      out.set(version, { mlflowVersion: mv.version, version, digest, tags, prefix: this.sourcePrefix(name, mv) })
    }
    return [...out.values()]
  }

  private async searchVersions(name: string): Promise<ModelVersionJson[]> {
    const all: ModelVersionJson[] = []
    let token: string | undefined
    do {
      const query: Record<string, string> = { filter: `name='${name}'`, max_results: String(SEARCH_PAGE) }
      if (token) query.page_token = token
      const page = await this.call<{ model_versions?: ModelVersionJson[]; next_page_token?: string }>({
        method: 'GET',
        path: '/model-versions/search',
        query,
        need: 'READ',
        model: name,
      })
      all.push(...(page.model_versions ?? []).filter((mv) => mv.name === name))
      token = page.next_page_token || undefined
    } while (token)
    return all
  }

  /** `mlflow-artifacts:/modelgate/…` (or `mlflow-artifacts://host/modelgate/…`) → `modelgate/…`. */
  private sourcePrefix(name: string, mv: ModelVersionJson): string {
    const source = mv.source ?? ''
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/+(.+?)\/*$/.exec(source)
    if (!m || m[1].split('/').some((s) => s === '..' || s === '.')) {
      throw new UserError(
        `${this.modelUri(name, mv.version)}: source '${source}' is not an mlflow-artifacts: URI; modelgate versions live behind the artifact proxy`,
        { field: 'source' },
      )
    }
    return m[1]
  }

  private async readRecord(name: string, entry: Entry): Promise<VersionRecord> {
    const uri = this.modelUri(name, entry.mlflowVersion)
    const key = `${name}\n${entry.mlflowVersion}\n${entry.tags[TAG.record] ?? ''}`
    let record = this.records.get(key)
    if (!record) {
      const bytes = await this.getBytes(`${entry.prefix}/record.json`)
      const expected = entry.tags[TAG.record]
      if (expected && sha256Bytes(bytes) !== expected) {
        throw new UserError(
          `${uri}: record.json has digest ${sha256Bytes(bytes)}, the version's tag says ${expected}: the stored record was changed`,
          {
            field: 'record',
          },
        )
      }
      const text = bytes.toString('utf8')
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (e) {
        throw new UserError(`${uri}: unreadable version record (${whyNotJson(text, e)})`, { field: 'record' })
      }
      record = checkVersionRecord(value, `${uri}: record.json`)
      if (record.name !== name || record.version !== entry.version || record.digest !== entry.digest) {
        throw new UserError(
          `${uri}: record.json (${record.name} ${record.version}) does not match the version's tags (${name} ${entry.version})`,
          {
            field: 'record',
          },
        )
      }
      this.records.set(key, record)
    }
    const out = structuredClone(record)
    if (entry.tags[TAG.deprecated] === 'true') out.deprecated = true
    else delete out.deprecated
    return out
  }

  private async require(name: string, version: string): Promise<{ entry: Entry; record: VersionRecord }> {
    const entry = (await this.entries(name)).find((e) => e.version === version)
    if (!entry) throw new UserError(`${this.location}: ${name} has no version ${version}`, { field: 'version' })
    return { entry, record: await this.readRecord(name, entry) }
  }

  private async readEvents(name: string): Promise<StageEvent[]> {
    const model = await this.registeredModel(name)
    if (!model) return []
    return (model.tags ?? [])
      .filter((t) => t.key.startsWith(TAG.stagePrefix) && /^\d+$/.test(t.key.slice(TAG.stagePrefix.length)))
      .map((t) => ({ n: Number(t.key.slice(TAG.stagePrefix.length)), event: parseEvent(t.value, `${name} tag ${t.key}`) }))
      .sort((a, b) => a.n - b.n)
      .map((e) => e.event)
  }

  private async registeredModel(name: string): Promise<RegisteredModelJson | undefined> {
    try {
      const out = await this.call<{ registered_model: RegisteredModelJson }>({
        method: 'GET',
        path: '/registered-models/get',
        query: { name },
        need: 'READ',
        model: name,
      })
      return out.registered_model
    } catch (e) {
      if (isCode(e, 'RESOURCE_DOES_NOT_EXIST')) return undefined
      throw e
    }
  }

  // ---- artifacts

  private prefix(name: string, digest: string): string {
    return `modelgate/${name}/${digest.replace(/^sha256:/, '')}`
  }

  /** The model's files, streamed from disk. */
  private async uploadArtifact(name: string, record: VersionRecord, payload: VersionPayload): Promise<void> {
    const prefix = this.prefix(name, record.digest)
    const { artifact } = record
    for (const f of artifact.files) {
      const file = artifact.kind === 'file' ? payload.artifactPath : path.join(payload.artifactPath, ...f.path.split('/'))
      await this.putFile(`${prefix}/${artifactPath(artifact.kind, artifact.name, f.path)}`, file)
    }
  }

  /** Evidence, card and record; returns the version's tags, which hold their digests. */
  private async uploadDocuments(name: string, record: VersionRecord, payload: VersionPayload): Promise<TagJson[]> {
    const prefix = this.prefix(name, record.digest)
    const evidence: Record<string, string> = {}
    for (const e of payload.evidence) {
      evidence[e.file] = (await sha256File(e.path)).digest
      await this.putFile(`${prefix}/evidence/${safeSegment(e.file)}`, e.path)
    }
    const recordBytes = Buffer.from(`${JSON.stringify(record, null, 2)}\n`)
    await this.putBytes(`${prefix}/MODEL_CARD.md`, Buffer.from(payload.card))
    await this.putBytes(`${prefix}/record.json`, recordBytes)
    const tags: TagJson[] = [
      { key: TAG.version, value: record.version },
      { key: TAG.digest, value: record.digest },
      { key: TAG.record, value: sha256Bytes(recordBytes) },
    ]
    if (payload.evidence.length > 0) {
      const value = JSON.stringify(evidence)
      if (value.length > TAG_VALUE_MAX) {
        throw new UserError(
          `${this.location}: too many evidence files for one MLflow tag (${value.length} > ${TAG_VALUE_MAX} characters)`,
          {
            field: 'evidence',
          },
        )
      }
      tags.push({ key: TAG.evidence, value })
    }
    if (record.git?.commit) tags.push({ key: TAG.commit, value: record.git.commit })
    return tags
  }

  private async putFile(where: string, file: string): Promise<void> {
    let size: number
    try {
      size = statSync(file).size
    } catch (e) {
      throw new UserError(`${file}: cannot read (${errorText(e)})`, { file })
    }
    const body = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>
    await this.artifactRequest('PUT', where, { body, length: size })
  }

  private async putBytes(where: string, bytes: Buffer): Promise<void> {
    await this.artifactRequest('PUT', where, { body: bytes, length: bytes.length })
  }

  private async getBytes(where: string): Promise<Buffer> {
    const res = await this.artifactRequest('GET', where)
    return Buffer.from(await res.arrayBuffer())
  }

  /** Streams an artifact to `dest`, hashing it on the way; a wrong digest or size leaves no file. */
  private async download(where: string, dest: string, digest: string, size: number): Promise<void> {
    const res = await this.artifactRequest('GET', where)
    await mkdir(path.dirname(dest), { recursive: true })
    const tap = digestTap()
    try {
      if (!res.body) throw new Error('empty answer')
      await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), tap.stream, createWriteStream(dest))
    } catch (e) {
      rmSync(dest, { force: true })
      throw new UserError(`${this.location}: cannot download ${where} (${errorText(e)})`)
    }
    const actual = tap.digest()
    const got = tap.size()
    if (actual !== digest || got !== size) {
      rmSync(dest, { force: true })
      throw new UserError(
        `${this.location}: ${where} has digest ${actual} (${got} bytes), the version record says ${digest} (${size} bytes): the stored file was changed or corrupted`,
        { field: 'digest' },
      )
    }
  }

  private async artifactRequest(
    method: 'GET' | 'PUT',
    where: string,
    upload?: { body: Buffer | ReadableStream<Uint8Array>; length: number },
  ): Promise<Response> {
    const url = `${this.base}${ARTIFACTS}/${where.split('/').map(encodeURIComponent).join('/')}`
    const headers: Record<string, string> = { ...this.auth }
    if (upload) {
      headers['Content-Type'] = 'application/octet-stream'
      headers['Content-Length'] = String(upload.length)
    }
    let res: Response
    try {
      res = await fetch(url, { method, headers, ...(upload ? { body: upload.body, duplex: 'half' } : {}) } as RequestInit)
    } catch (e) {
      throw this.unreachable(e)
    }
    if (res.ok) {
      if (method === 'PUT') await res.arrayBuffer()
      return res
    }
    const text = await res.text()
    if (res.status === 503 && text.includes('serve-artifacts')) {
      throw new UserError(
        `${this.location}: the tracking server does not proxy artifacts; start it with \`mlflow server --serve-artifacts\` (the default since MLflow 2.0)`,
      )
    }
    throw this.httpError({ need: method === 'PUT' ? 'EDIT' : 'READ' }, res.status, text, `${method} ${ARTIFACTS}/${where}`)
  }

  // ---- the lock

  private async locked<T>(name: string, fn: (held: HeldLock) => Promise<T>): Promise<T> {
    const held = await this.acquire(name)
    try {
      return await fn(held)
    } finally {
      await held.release()
    }
  }

  private async acquire(name: string): Promise<HeldLock> {
    const lockName = `${name}${LOCK_SUFFIX}`
    const ttl = this.opts.lockTtlMs ?? 600_000
    const deadline = Date.now() + (this.opts.lockTimeoutMs ?? 300_000)
    const owner = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`
    for (;;) {
      const expires = Date.now() + ttl
      try {
        await this.call({
          method: 'POST',
          path: '/registered-models/create',
          body: {
            name: lockName,
            description: `modelgate's write lock on ${name}: held while registering or changing stages; deleted when released`,
            tags: [
              { key: TAG.lockOwner, value: owner },
              { key: TAG.lockExpires, value: new Date(expires).toISOString() },
            ],
          },
          need: 'EDIT',
          model: lockName,
        })
        return new HeldLock(this, lockName, owner, ttl, expires)
      } catch (e) {
        if (!isCode(e, 'RESOURCE_ALREADY_EXISTS')) throw e
      }
      const current = await this.lockState(lockName)
      if (current && current.expires < Date.now()) {
        await this.takeOver(lockName, current)
        continue
      }
      if (Date.now() > deadline) {
        throw new UserError(
          `${this.location}: registry ${name} is busy: locked by ${current?.owner ?? 'another writer'} until ${current ? new Date(current.expires).toISOString() : 'now'} (registered model ${lockName}); retry later, or delete that registered model if its writer died`,
        )
      }
      await sleep((this.opts.lockPollMs ?? 500) * (0.5 + Math.random()))
    }
  }

  /** The lock's holder and expiry, or undefined when no lock exists. */
  async lockState(lockName: string): Promise<{ owner: string; expires: number } | undefined> {
    const model = await this.registeredModel(lockName)
    if (!model) return undefined
    const tags = tagMap(model.tags)
    const parsed = Date.parse(tags[TAG.lockExpires] ?? '')
    const expires = Number.isFinite(parsed) ? parsed : (model.creation_timestamp ?? 0) + (this.opts.lockTtlMs ?? 600_000)
    return { owner: tags[TAG.lockOwner] ?? 'unknown', expires }
  }

  /** Deletes a lock whose holder stopped renewing it, if it is still that holder's. */
  private async takeOver(lockName: string, stale: { owner: string; expires: number }): Promise<void> {
    const again = await this.lockState(lockName)
    if (!again || again.owner !== stale.owner || again.expires !== stale.expires) return
    try {
      await this.call({ method: 'DELETE', path: '/registered-models/delete', body: { name: lockName }, need: 'MANAGE', model: lockName })
    } catch (e) {
      if (isCode(e, 'RESOURCE_DOES_NOT_EXIST')) return
      throw e
    }
  }

  // ---- REST

  /** One JSON call to the tracking API; every failure becomes a UserError (MlflowApiError for MLflow's own errors). */
  async call<T = Record<string, unknown>>(c: Call): Promise<T> {
    const url = new URL(`${this.base}${API}${c.path}`)
    for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v)
    const headers: Record<string, string> = { ...this.auth, Accept: 'application/json' }
    if (c.body !== undefined) headers['Content-Type'] = 'application/json'
    let res: Response
    let text: string
    try {
      res = await fetch(url, {
        method: c.method,
        headers,
        body: c.body === undefined ? undefined : JSON.stringify(c.body),
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 120_000),
      })
      text = await res.text()
    } catch (e) {
      throw this.unreachable(e)
    }
    if (!res.ok) throw this.httpError(c, res.status, text, `${c.method} ${API}${c.path}`)
    try {
      return (text ? JSON.parse(text) : {}) as T
    } catch {
      throw new UserError(
        `${this.location}: ${c.method} ${API}${c.path} answered something that is not JSON: is this an MLflow tracking server?`,
      )
    }
  }

  private unreachable(e: unknown): UserError {
    const err = e as { name?: string; cause?: { code?: string; message?: string } }
    if (err.name === 'TimeoutError') {
      return new UserError(`${this.location}: the MLflow server did not answer in ${this.opts.requestTimeoutMs ?? 120_000} ms`)
    }
    const why = err.cause?.code ?? err.cause?.message ?? errorText(e)
    return new UserError(
      `${this.location}: cannot reach the MLflow tracking server (${why}): check the tracking URI and that \`mlflow server\` is running`,
      {
        cause: e,
      },
    )
  }

  private httpError(c: Pick<Call, 'need' | 'model'>, status: number, text: string, what: string): UserError {
    if (status === 401) {
      const given =
        this.authKind === 'none'
          ? 'no token was given: set the registry token (a bearer token, or user name and password for MLflow basic-auth)'
          : this.authKind === 'bearer'
            ? 'the bearer token given was refused'
            : 'the user name and password given were refused'
      return new UserError(`${this.location}: ${what}: 401 Unauthorized: ${given}`, { field: 'token' })
    }
    if (status === 403) {
      const on = c.model ? ` on registered model '${c.model}'` : ''
      return new UserError(
        `${this.location}: ${what}: 403 Permission denied: the token's user needs ${c.need} permission${on} (MLflow basic-auth: ${PERMISSION_MEANING[c.need]})`,
        { field: 'token' },
      )
    }
    const body = parseJsonObject(text)
    if (typeof body.error_code === 'string') {
      return new MlflowApiError(`${this.location}: ${what}: ${body.error_code}: ${String(body.message ?? '')}`, status, body.error_code)
    }
    if (status === 404) {
      return new UserError(`${this.location}: ${what}: 404 Not Found: is this an MLflow tracking server (2.3 or later, for aliases)?`)
    }
    return new UserError(`${this.location}: ${what}: HTTP ${status}${text ? `: ${text.slice(0, 300)}` : ''}`)
  }
}

const PERMISSION_MEANING: Record<Permission, string> = {
  READ: 'READ lets it read',
  EDIT: 'EDIT lets it create versions, tags and aliases',
  MANAGE: 'MANAGE lets it delete aliases and registered models',
}

/**
 * The lock as held: renewed every third of its TTL, so a long upload or READY wait keeps it, and
 * checked before each write, so a writer that stalled past its TTL stops instead of writing.
 */
class HeldLock {
  private lost = false
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly backend: MlflowBackend,
    readonly lockName: string,
    readonly owner: string,
    private readonly ttl: number,
    private expires: number,
  ) {
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(ttl / 3)))
    this.timer.unref()
  }

  private async renew(): Promise<void> {
    if (this.lost) return
    try {
      const state = await this.backend.lockState(this.lockName)
      if (state?.owner !== this.owner) {
        this.lost = true
        return
      }
      const expires = Date.now() + this.ttl
      await this.backend.call({
        method: 'POST',
        path: '/registered-models/set-tag',
        body: { name: this.lockName, key: TAG.lockExpires, value: new Date(expires).toISOString() },
        need: 'EDIT',
        model: this.lockName,
      })
      this.expires = expires
    } catch {
      // The next assertHeld re-reads the lock and decides.
    }
  }

  async assertHeld(what: string): Promise<void> {
    const state = this.lost || Date.now() > this.expires ? undefined : await this.backend.lockState(this.lockName)
    if (state?.owner !== this.owner) {
      this.lost = true
      throw new UserError(
        `${this.backend.location}: lost the lock ${this.lockName} before ${what} (held longer than its ${this.ttl} ms TTL, and another writer took it over); nothing more was written: retry`,
      )
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer)
    try {
      const state = await this.backend.lockState(this.lockName)
      if (state?.owner !== this.owner) return
      await this.backend.call({
        method: 'DELETE',
        path: '/registered-models/delete',
        body: { name: this.lockName },
        need: 'MANAGE',
        model: this.lockName,
      })
    } catch {
      // An unreleased lock expires after its TTL and is taken over; the work it guarded is done.
    }
  }
}

/** MLflow's alias grammar (mlflow/utils/validation.py `_validate_model_alias_name`), ASCII only. */
export function checkAlias(stage: string): string {
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(stage) || stage.toLowerCase() === 'latest' || /^[vV]\d+$/.test(stage)) {
    throw new UserError(`stage '${stage}' cannot be an MLflow alias (letters, digits, _ and -; not 'latest' and not v<number>)`, {
      field: 'stage',
    })
  }
  return stage
}

function artifactPath(kind: 'file' | 'directory', name: string, file: string): string {
  const root = `artifact/${safeSegment(name)}`
  return kind === 'file' ? root : `${root}/${file.split('/').map(safeSegment).join('/')}`
}

function safeSegment(segment: string): string {
  if (!segment || segment === '.' || segment === '..' || /[\\/]/.test(segment)) {
    throw new UserError(`the stored version names an unsafe path segment '${segment}': refused`, { field: 'artifact' })
  }
  return segment
}

function isCode(e: unknown, code: string): boolean {
  return e instanceof MlflowApiError && e.errorCode === code
}

function tagMap(tags: TagJson[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.key, t.value]))
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function parseEvent(text: string, where: string): StageEvent {
  const v = parseJsonObject(text)
  if (typeof v.stage !== 'string' || (v.action !== 'assign' && v.action !== 'unassign') || typeof v.at !== 'string') {
    throw new UserError(`${where}: not a stage event: ${text.slice(0, 200)}`, { field: 'stage' })
  }
  return v as unknown as StageEvent
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
