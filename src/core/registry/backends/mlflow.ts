import { rmSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import semver from '../semver.js'
import { mapLimit } from '../../parallel.js'
import { UserError } from '../../errors.js'
import { withLock } from '../../locking.js'
import { directoryDigest, sha256Bytes } from '../digest.js'
import { checkModelName, versionTag } from '../names.js'
import { safeSegment } from '../record.js'
import { noEvidence, refuseDeprecated, requireAssigned, requireVersion } from '../refusals.js'
import { stageState, type StageCheck, type StageEvent, type StageState } from '../stages.js'
import type { RegistrationOutcome, RegistrationPlan, RegistryBackend, StoredVersion, VersionRecord } from '../types.js'
import { MlflowClient, isCode, type Call, type MlflowCredentials } from '../mlflow/client.js'
import {
  TAG,
  artifactPath,
  checkAlias,
  modelUri,
  parseJsonObject,
  stageEvents,
  stageTag,
  versionPrefix,
  type Entry,
  type ModelVersionJson,
  type TagJson,
} from '../mlflow/layout.js'
import { ModelLock, type HeldModelLock } from '../mlflow/lock.js'
import { VersionStore } from '../mlflow/versions.js'

export { MlflowApiError, type MlflowCredentials } from '../mlflow/client.js'
export { checkAlias } from '../mlflow/layout.js'

/*
 * A registry in an MLflow Model Registry, over MLflow's REST API (what is stored where: ../mlflow/layout.ts).
 *
 * The commit point is `model-versions/create`, which writes the version and its tags at once: a
 * writer that dies earlier leaves only unreferenced artifacts. Writes are serialised by a lock on a
 * registered model of its own (../mlflow/lock.ts), since MLflow has no conditional writes; the
 * model's files are content-addressed and go up before it, so the lock covers small writes only.
 */

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

export class MlflowBackend implements RegistryBackend {
  readonly kind = 'mlflow' as const
  readonly location: string
  private readonly client: MlflowClient
  private readonly store: VersionStore

  constructor(private readonly opts: MlflowBackendOptions) {
    this.client = new MlflowClient(opts)
    this.store = new VersionStore(this.client)
    this.location = this.client.location
  }

  /** `models:/<name>/<MLflow version>`: what `mlflow.pyfunc.load_model` and MLflow's deploy tools take. */
  modelUri(name: string, mlflowVersion: string): string {
    return modelUri(name, mlflowVersion)
  }

  /** One JSON call to the tracking API; every failure becomes a UserError (MlflowApiError for MLflow's own errors). */
  call<T = Record<string, unknown>>(c: Call): Promise<T> {
    return this.client.call<T>(c)
  }

  async list(name: string): Promise<VersionRecord[]> {
    return (await this.snapshot(checkModelName(name))).records
  }

  /** The modelgate versions of `name` and their records, in SemVer order, as the plan wants them. */
  private async snapshot(name: string): Promise<{ entries: Entry[]; records: VersionRecord[] }> {
    const entries = await this.store.entries(name)
    const records = await mapLimit(entries, 6, (e) => this.store.readRecord(name, e))
    return { entries, records: records.sort((a, b) => semver.compare(a.version, b.version)) }
  }

  async get(name: string, version: string): Promise<StoredVersion | undefined> {
    const entry = (await this.store.entries(checkModelName(name))).find((e) => e.version === version)
    if (!entry) return undefined
    return this.stored(name, entry, await this.store.readRecord(name, entry))
  }

  private stored(name: string, entry: Entry, record: VersionRecord): StoredVersion {
    return { record, uri: modelUri(name, entry.mlflowVersion), tag: versionTag(name, record.version) }
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
    await this.store.uploadArtifact(name, first.record, first.payload)
    return this.locked(name, async (held) => {
      const { entries, records } = await this.snapshot(name)
      const decided = plan(records)
      if (decided.kind === 'existing') return this.outcome(name, decided.record, entries)
      const { record, payload } = decided
      if (!semver.valid(record.version)) throw new UserError(`version ${record.version} is not a SemVer version`, { field: 'version' })
      if (entries.some((e) => e.version === record.version)) {
        throw new UserError(`${this.location}: version ${record.version} of ${name} already exists`, { field: 'version' })
      }
      if (record.digest !== first.record.digest) await this.store.uploadArtifact(name, record, payload)
      if (entries.length === 0) await this.ensureRegisteredModel(name)
      const tags = await this.store.uploadDocuments(name, record, payload)
      await held.assertHeld('creating the model version')
      const mlflowVersion = await this.createVersion(name, record, tags)
      return { record, uri: modelUri(name, mlflowVersion), tag: versionTag(name, record.version), created: true }
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
      await this.client.call({ method: 'POST', path: '/registered-models/create', body: { name }, need: 'EDIT', model: name })
    } catch (e) {
      if (!isCode(e, 'RESOURCE_ALREADY_EXISTS')) throw e
    }
  }

  /** Creates the version with all its tags in one call (the commit point) and waits until it is READY. */
  private async createVersion(name: string, record: VersionRecord, tags: TagJson[]): Promise<string> {
    const created = await this.client.call<{ model_version: ModelVersionJson }>({
      method: 'POST',
      path: '/model-versions/create',
      body: {
        name,
        source: `mlflow-artifacts:/${versionPrefix(name, record.digest)}`,
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
      await this.client
        .call({ method: 'DELETE', path: '/model-versions/delete', body: { name, version: mv.version }, need: 'MANAGE', model: name })
        .catch(() => undefined)
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
          `${this.location}: MLflow failed to register ${modelUri(name, mv.version)} (FAILED_REGISTRATION${mv.status_message ? `: ${mv.status_message}` : ''}); nothing was registered`,
        )
      }
      if (Date.now() > deadline) {
        throw new UserError(
          `${this.location}: ${modelUri(name, mv.version)} is still ${mv.status} after ${Math.round((this.opts.readyTimeoutMs ?? 600_000) / 1000)} s; nothing was registered`,
        )
      }
      await sleep(this.opts.readyPollMs ?? 1000)
      mv = (
        await this.client.call<{ model_version: ModelVersionJson }>({
          method: 'GET',
          path: '/model-versions/get',
          query: { name, version: mv.version },
          need: 'READ',
          model: name,
        })
      ).model_version
    }
  }

  async assign(name: string, version: string, stage: string, check: StageCheck): Promise<StageEvent> {
    checkModelName(name)
    checkAlias(stage)
    return this.locked(name, async (held) => {
      const { entry, record } = await this.require(name, version)
      refuseDeprecated(record, name, version)
      const events = await this.readEvents(name)
      check(stageState(events), record)
      const event: StageEvent = { stage, version, action: 'assign', at: new Date().toISOString(), ref: modelUri(name, entry.mlflowVersion) }
      await held.assertHeld(`assigning ${stage}`)
      await this.appendEvent(name, events, event, () =>
        this.client.call({
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
      requireAssigned(stageState(events), name, stage)
      const event: StageEvent = { stage, action: 'unassign', at: new Date().toISOString(), ref: `models:/${name}@${stage}` }
      await held.assertHeld(`unassigning ${stage}`)
      await this.appendEvent(name, events, event, async () => {
        try {
          await this.client.call({
            method: 'DELETE',
            path: '/registered-models/alias',
            body: { name, alias: stage },
            need: 'MANAGE',
            model: name,
          })
        } catch (e) {
          if (!isCode(e, 'RESOURCE_DOES_NOT_EXIST')) throw e
        }
      })
      return event
    })
  }

  /** Writes the history tag, then moves the alias; an alias that cannot move takes its history tag back. */
  private async appendEvent(name: string, events: StageEvent[], event: StageEvent, moveAlias: () => Promise<unknown>): Promise<void> {
    const key = stageTag(events.length + 1)
    await this.client.call({
      method: 'POST',
      path: '/registered-models/set-tag',
      body: { name, key, value: JSON.stringify(event) },
      need: 'EDIT',
      model: name,
    })
    try {
      await moveAlias()
    } catch (e) {
      await this.client
        .call({ method: 'DELETE', path: '/registered-models/delete-tag', body: { name, key }, need: 'EDIT', model: name })
        .catch(() => undefined)
      throw e
    }
  }

  async deprecate(name: string, version: string): Promise<void> {
    checkModelName(name)
    await this.locked(name, async (held) => {
      const { entry } = await this.require(name, version)
      if (entry.tags[TAG.deprecated] === 'true') return
      await held.assertHeld('deprecating')
      await this.client.call({
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
      throw new UserError(`${modelUri(name, entry.mlflowVersion)}: the version record's file list does not match its digest`, {
        field: 'digest',
      })
    }
    const root = path.join(destDir, safeSegment(artifact.name))
    try {
      for (const f of artifact.files) {
        const dest = artifact.kind === 'file' ? root : path.join(root, ...f.path.split('/').map(safeSegment))
        await this.client.download(`${entry.prefix}/${artifactPath(artifact.kind, artifact.name, f.path)}`, dest, f.digest, f.size)
      }
    } catch (e) {
      rmSync(root, { recursive: true, force: true })
      throw e
    }
    return root
  }

  async readEvidence(name: string, version: string, file: string): Promise<Buffer> {
    const entry = (await this.store.entries(checkModelName(name))).find((e) => e.version === version)
    const record = entry && (await this.store.readRecord(name, entry))
    if (!entry || !record?.evidence.some((e) => e.file === file)) throw noEvidence(this.location, name, version, file)
    const uri = modelUri(name, entry.mlflowVersion)
    const expected = parseJsonObject(entry.tags[TAG.evidence] ?? '{}')[file]
    if (typeof expected !== 'string') {
      throw new UserError(`${uri}: tag ${TAG.evidence} names no digest for ${file}: the version was changed outside modelgate`, {
        field: 'evidence',
      })
    }
    const bytes = await this.client.getBytes(`${entry.prefix}/evidence/${safeSegment(file)}`)
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

  private async require(name: string, version: string): Promise<{ entry: Entry; record: VersionRecord }> {
    const entry = requireVersion(
      (await this.store.entries(name)).find((e) => e.version === version),
      this.location,
      name,
      version,
    )
    return { entry, record: await this.store.readRecord(name, entry) }
  }

  private async readEvents(name: string): Promise<StageEvent[]> {
    const model = await this.client.registeredModel(name)
    return model ? stageEvents(name, model.tags) : []
  }

  private locked<T>(name: string, fn: (held: HeldModelLock) => Promise<T>): Promise<T> {
    const lock = new ModelLock(this.client, name, {
      ttlMs: this.opts.lockTtlMs,
      timeoutMs: this.opts.lockTimeoutMs,
      pollMs: this.opts.lockPollMs,
    })
    return withLock(lock, fn)
  }
}
