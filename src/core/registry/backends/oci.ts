import { rmSync } from 'node:fs'
import path from 'node:path'
import semver from '../semver.js'
import { mapLimit } from '../../parallel.js'
import { UserError } from '../../errors.js'
import { sha256Bytes, sha256File } from '../digest.js'
import { checkModelName } from '../names.js'
import { checkShape, checkVersionRecord, eventLogSchema, safeSegment } from '../record.js'
import { noEvidence, refuseDeprecated, requireAssigned, requireVersion } from '../refusals.js'
import { stageState, type StageCheck, type StageEvent, type StageState } from '../stages.js'
import type { OciCredentials } from '../oci/auth.js'
import { OciClient } from '../oci/client.js'
import {
  ANNOTATION,
  CARD_FILE,
  EVENTS_TAG,
  MODELGATE,
  MODELPACK,
  RECORD_FILE,
  VERSION_TAG,
  artifactLayer,
  docLayer,
  emptyLog,
  eventsManifest,
  evidenceManifest,
  evidenceMediaType,
  modelConfig,
  unassignedManifest,
  versionManifest,
  type EventLog,
} from '../oci/layout.js'
import { LOCK_TAG, TagLock, type HeldTagLock } from '../oci/lock.js'
import { isValidTag, modelRepository, parseOciReference, type OciReference } from '../oci/reference.js'
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MEDIA, parseJson, type Descriptor, type ImageManifest } from '../oci/spec.js'
import type { RegistrationOutcome, RegistrationPlan, RegistryBackend, StoredVersion, VersionPayload, VersionRecord } from '../types.js'

/*
 * A registry in an OCI registry (GHCR, distribution, Harbor, ECR…): each model is a repository
 * `<reference>/<name>`, each version a ModelPack manifest tagged `v<version>` (layout.ts), evidence
 * its referrers, stages tags plus an event log. Writes are serialised by a Fischer lock on a tag
 * (lock.ts), since neither distribution 2.8 nor GHCR has conditional tag writes; the version tag is
 * the commit point, so a writer that dies earlier leaves only unreferenced blobs and manifests.
 */

export interface OciBackendOptions {
  /** `oci://host[:port]/repository/prefix` */
  reference: string
  credentials?: OciCredentials
  /** The lock's D: longer than any tag write takes on this registry (default 1000 ms). */
  lockDelayMs?: number
  /** How long a claim on the lock stays valid; a holder never writes past 3/4 of it (default 60 s). */
  lockTtlMs?: number
  /** Give up waiting for the lock after this long (default 5 min). */
  lockTimeoutMs?: number
  /** Upload chunk size (default 16 MiB). */
  chunkSize?: number
  retries?: number
  retryBaseMs?: number
}

interface StoredManifest {
  record: VersionRecord
  digest: string
  bytes: Buffer
}

export class OciBackend implements RegistryBackend {
  readonly kind = 'oci' as const
  readonly location: string
  readonly client: OciClient
  private readonly ref: OciReference
  /** Records by the digest of their blob: content-addressed, so never stale. */
  private readonly records = new Map<string, VersionRecord>()
  private readonly locks = new Map<string, TagLock>()

  constructor(private readonly opts: OciBackendOptions) {
    this.ref = parseOciReference(opts.reference)
    this.location = `oci://${this.ref.registry}${this.ref.repository ? `/${this.ref.repository}` : ''}`
    this.client = new OciClient(this.ref, {
      credentials: opts.credentials,
      chunkSize: opts.chunkSize,
      retries: opts.retries,
      retryBaseMs: opts.retryBaseMs,
    })
  }

  /** The repository holding `name`'s versions. */
  repository(name: string): string {
    return modelRepository(this.ref, checkModelName(name))
  }

  lock(name: string): TagLock {
    const repo = this.repository(name)
    let lock = this.locks.get(repo)
    if (!lock) {
      lock = new TagLock(this.client, repo, {
        delayMs: this.opts.lockDelayMs ?? 1000,
        ttlMs: this.opts.lockTtlMs ?? 60_000,
        timeoutMs: this.opts.lockTimeoutMs ?? 300_000,
        tag: LOCK_TAG,
      })
      this.locks.set(repo, lock)
    }
    return lock
  }

  private uri(repo: string, digest: string): string {
    return `oci://${this.ref.registry}/${repo}@${digest}`
  }

  async list(name: string): Promise<VersionRecord[]> {
    return (await this.versions(this.repository(name))).map((v) => v.record)
  }

  /** Every version manifest with its record, deprecation flags from the event log, in SemVer order. */
  private async versions(repo: string): Promise<StoredManifest[]> {
    const tags = (await this.client.listTags(repo)).filter((t) => VERSION_TAG.test(t) && semver.valid(t.slice(1)))
    const [found, log] = await Promise.all([mapLimit(tags, 6, (t) => this.readVersion(repo, t)), this.readLog(repo)])
    return found
      .filter((v): v is StoredManifest => v !== undefined)
      .map((v) => ({ ...v, record: flagged(v.record, log) }))
      .sort((a, b) => semver.compare(a.record.version, b.record.version))
  }

  /** The version behind a tag, or undefined when the tag is missing or holds something else. */
  private async readVersion(repo: string, tag: string): Promise<StoredManifest | undefined> {
    const found = await this.client.getManifest(repo, tag)
    if (!found) return undefined
    const m = parseJson(found.bytes, `${repo}:${tag}`) as ImageManifest
    if (m.artifactType !== MODELPACK.artifactType) return undefined
    const layer = m.layers?.find((l) => l.annotations?.[ANNOTATION.role] === 'record')
    if (!layer) return undefined
    let record = this.records.get(layer.digest)
    if (!record) {
      const where = `${repo}:${tag} ${RECORD_FILE}`
      record = checkVersionRecord(parseJson(await this.client.readBlob(repo, layer.digest, 64 * 1024 * 1024), where), where)
      this.records.set(layer.digest, record)
    }
    if (`v${record.version}` !== tag) return undefined
    return { record: structuredClone(record), digest: found.digest, bytes: found.bytes }
  }

  /** The version `version`, when it can be a tag and the tag holds it. */
  private async findVersion(repo: string, version: string): Promise<StoredManifest | undefined> {
    return VERSION_TAG.test(`v${version}`) ? this.readVersion(repo, `v${version}`) : undefined
  }

  async get(name: string, version: string): Promise<StoredVersion | undefined> {
    const repo = this.repository(name)
    const tag = `v${version}`
    if (!VERSION_TAG.test(tag)) return undefined
    const [found, log] = await Promise.all([this.readVersion(repo, tag), this.readLog(repo)])
    if (!found) return undefined
    return { record: flagged(found.record, log), uri: this.uri(repo, found.digest), tag }
  }

  async stages(name: string): Promise<StageState> {
    return stageState((await this.readLog(this.repository(name))).stages)
  }

  async register(name: string, plan: (existing: VersionRecord[]) => RegistrationPlan): Promise<RegistrationOutcome> {
    const repo = this.repository(name)
    const first = plan(await this.list(name))
    if (first.kind === 'existing') return this.outcome(repo, first.record, false)
    versionTagOf(first.record.version)
    // Content-addressed blobs go up before the lock: the lock then covers small writes only.
    await this.pushFiles(repo, first.record, first.payload)
    return this.lock(name).with(async (held) => {
      const existing = await this.versions(repo)
      const decided = plan(existing.map((v) => v.record))
      if (decided.kind === 'existing') return this.outcome(repo, decided.record, false, existing)
      const { record, payload } = decided
      const tag = versionTagOf(record.version)
      if (await this.client.headManifest(repo, tag)) {
        throw new UserError(`${this.location}: tag ${tag} already exists in ${repo} and is not a modelgate version of ${name}`, {
          field: 'version',
        })
      }
      const evidence = await this.pushFiles(repo, record, payload)
      const version = await this.pushVersion(repo, record, payload)
      await this.pushEvidence(repo, version, record, evidence, held)
      held.assertHeld(`tagging ${tag}`)
      await this.client.putManifest(repo, tag, version.bytes, MEDIA.manifest)
      return { record, uri: this.uri(repo, version.digest), tag, created: true }
    })
  }

  private async outcome(repo: string, record: VersionRecord, created: boolean, known?: StoredManifest[]): Promise<RegistrationOutcome> {
    const tag = `v${record.version}`
    const digest = known?.find((v) => v.record.version === record.version)?.digest ?? (await this.client.headManifest(repo, tag))?.digest
    if (!digest)
      throw new UserError(`${this.location}: version ${record.version} of ${repo} vanished while registering`, { field: 'version' })
    return { record, uri: this.uri(repo, digest), tag, created }
  }

  /** Pushes the artifact's files and the evidence files (HEAD first: a known blob is skipped). */
  private async pushFiles(repo: string, record: VersionRecord, payload: VersionPayload): Promise<{ file: string; layer: Descriptor }[]> {
    for (const f of record.artifact.files) {
      const file = record.artifact.kind === 'file' ? payload.artifactPath : path.join(payload.artifactPath, ...f.path.split('/'))
      await this.client.pushBlob(repo, { digest: f.digest, size: f.size, file })
    }
    const evidence: { file: string; layer: Descriptor }[] = []
    for (const e of payload.evidence) {
      const { digest, size } = await sha256File(e.path)
      await this.client.pushBlob(repo, { digest, size, file: e.path })
      evidence.push({
        file: e.file,
        layer: { mediaType: evidenceMediaType(e.file), digest, size, annotations: { [ANNOTATION.title]: e.file } },
      })
    }
    return evidence
  }

  /** The ModelPack manifest of a version, pushed by digest (untagged until the commit). */
  private async pushVersion(repo: string, record: VersionRecord, payload: VersionPayload): Promise<Descriptor & { bytes: Buffer }> {
    const taken = record.artifact.kind === 'directory' ? record.artifact.files.map((f) => f.path) : [record.artifact.name]
    const card = await this.client.pushBytes(repo, Buffer.from(payload.card), MODELPACK.doc)
    const rec = await this.client.pushBytes(repo, Buffer.from(`${JSON.stringify(record, null, 2)}\n`), MODELPACK.doc)
    const layers = [
      ...record.artifact.files.map(artifactLayer),
      docLayer(card, CARD_FILE, 'card', taken),
      docLayer(rec, RECORD_FILE, 'record', taken),
    ]
    const config = await this.client.pushBytes(repo, modelConfig(record, layers), MODELPACK.config)
    const bytes = versionManifest(record, config, layers)
    const { digest } = await this.client.putManifest(repo, sha256Bytes(bytes), bytes, MEDIA.manifest)
    return { mediaType: MEDIA.manifest, digest, size: bytes.length, artifactType: MODELPACK.artifactType, bytes }
  }

  /**
   * One referrer manifest per evidence file, `subject` = the version. A registry that indexed them
   * answers `OCI-Subject`; for the others the fallback tag index is kept here.
   */
  private async pushEvidence(
    repo: string,
    version: Descriptor,
    record: VersionRecord,
    files: { file: string; layer: Descriptor }[],
    held: HeldTagLock,
  ): Promise<void> {
    if (files.length === 0) return
    await this.client.pushBlob(repo, { digest: EMPTY_DESCRIPTOR.digest, size: EMPTY_DESCRIPTOR.size, bytes: EMPTY_JSON })
    const subject: Descriptor = { mediaType: version.mediaType, digest: version.digest, size: version.size }
    const unindexed: Descriptor[] = []
    for (const { file, layer } of files) {
      const summary = record.evidence.find((e) => e.file === file)
      const annotations: Record<string, string> = { [ANNOTATION.title]: file, [ANNOTATION.created]: record.createdAt }
      if (summary) {
        annotations[ANNOTATION.evidenceKind] = summary.kind
        annotations[ANNOTATION.evidenceStatus] = summary.status
      }
      const bytes = evidenceManifest(subject, layer, annotations)
      const put = await this.client.putManifest(repo, sha256Bytes(bytes), bytes, MEDIA.manifest)
      if (!put.subject)
        unindexed.push({ mediaType: MEDIA.manifest, digest: put.digest, size: bytes.length, artifactType: MODELGATE.evidence, annotations })
    }
    if (unindexed.length === 0) return
    held.assertHeld('the referrers index')
    await this.client.addToFallbackIndex(repo, version.digest, unindexed)
  }

  async assign(name: string, version: string, stage: string, check: StageCheck): Promise<StageEvent> {
    const repo = this.repository(name)
    checkStage(stage)
    return this.lock(name).with(async (held) => {
      const log = await this.readLog(repo)
      const found = requireVersion(await this.findVersion(repo, version), this.location, name, version)
      const record = flagged(found.record, log)
      refuseDeprecated(record, name, version)
      check(stageState(log.stages), record)
      const event: StageEvent = { stage, version, action: 'assign', at: new Date().toISOString(), ref: found.digest }
      // The log is the truth (written first); the stage tag mirrors it for `pull <repo>:<stage>`.
      await this.writeLog(repo, { ...log, stages: [...log.stages, event] }, held)
      held.assertHeld(`tagging ${stage}`)
      await this.client.putManifest(repo, stage, found.bytes, MEDIA.manifest)
      return event
    })
  }

  async unassign(name: string, stage: string): Promise<StageEvent> {
    const repo = this.repository(name)
    checkStage(stage)
    return this.lock(name).with(async (held) => {
      const log = await this.readLog(repo)
      requireAssigned(stageState(log.stages), name, stage)
      const event: StageEvent = { stage, action: 'unassign', at: new Date().toISOString(), ref: stage }
      await this.writeLog(repo, { ...log, stages: [...log.stages, event] }, held)
      await this.client.pushBlob(repo, { digest: EMPTY_DESCRIPTOR.digest, size: EMPTY_DESCRIPTOR.size, bytes: EMPTY_JSON })
      held.assertHeld(`untagging ${stage}`)
      await this.client.putManifest(repo, stage, unassignedManifest(stage), MEDIA.manifest)
      return event
    })
  }

  async deprecate(name: string, version: string): Promise<void> {
    const repo = this.repository(name)
    await this.lock(name).with(async (held) => {
      requireVersion(await this.findVersion(repo, version), this.location, name, version)
      const log = await this.readLog(repo)
      if (log.deprecated.some((d) => d.version === version)) return
      await this.writeLog(repo, { ...log, deprecated: [...log.deprecated, { version, at: new Date().toISOString() }] }, held)
    })
  }

  async fetch(name: string, version: string, destDir: string): Promise<string> {
    const repo = this.repository(name)
    const found = requireVersion(await this.get(name, version), this.location, name, version)
    const { artifact } = found.record
    const root = path.join(destDir, safeSegment(artifact.name))
    try {
      for (const f of artifact.files) {
        const dest = artifact.kind === 'file' ? root : path.join(root, ...f.path.split('/').map(safeSegment))
        await this.client.downloadBlob(repo, f.digest, dest, f.size)
      }
    } catch (e) {
      rmSync(root, { recursive: true, force: true })
      throw e
    }
    return root
  }

  async readEvidence(name: string, version: string, file: string): Promise<Buffer> {
    const repo = this.repository(name)
    const found = await this.get(name, version)
    const missing = () => noEvidence(this.location, name, version, file)
    if (!found?.record.evidence.some((e) => e.file === file)) throw missing()
    const digest = found.uri.slice(found.uri.lastIndexOf('@') + 1)
    const referrers = await this.client.referrers(repo, digest, MODELGATE.evidence)
    // Annotated descriptors are checked first; a registry may omit annotations, so the rest are opened.
    const ordered = [...referrers].sort(
      (a, b) => Number(b.annotations?.[ANNOTATION.title] === file) - Number(a.annotations?.[ANNOTATION.title] === file),
    )
    for (const d of ordered) {
      if (d.annotations?.[ANNOTATION.title] !== undefined && d.annotations[ANNOTATION.title] !== file) continue
      const m = await this.client.getManifest(repo, d.digest)
      if (!m) continue
      const manifest = parseJson(m.bytes, `evidence ${d.digest}`) as ImageManifest
      const layer = manifest.layers?.[0]
      if (manifest.annotations?.[ANNOTATION.title] !== file || !layer || manifest.subject?.digest !== digest) continue
      return this.client.readBlob(repo, layer.digest)
    }
    throw missing()
  }

  // ---- event log

  private async readLog(repo: string): Promise<EventLog> {
    const name = repo.slice(this.ref.repository ? this.ref.repository.length + 1 : 0)
    const found = await this.client.getManifest(repo, EVENTS_TAG)
    if (!found) return emptyLog(name)
    const layer = (parseJson(found.bytes, `${repo}:${EVENTS_TAG}`) as ImageManifest).layers?.[0]
    if (!layer) return emptyLog(name)
    const where = `${repo}:${EVENTS_TAG}`
    const log = checkShape(
      eventLogSchema,
      parseJson(await this.client.readBlob(repo, layer.digest, 64 * 1024 * 1024), where),
      where,
      'event log',
    )
    return { ...emptyLog(name), ...log, stages: log.stages ?? [], deprecated: log.deprecated ?? [] } as EventLog
  }

  private async writeLog(repo: string, log: EventLog, held: HeldTagLock): Promise<void> {
    const blob = await this.client.pushBytes(repo, Buffer.from(`${JSON.stringify(log, null, 2)}\n`), MODELGATE.events)
    await this.client.pushBlob(repo, { digest: EMPTY_DESCRIPTOR.digest, size: EMPTY_DESCRIPTOR.size, bytes: EMPTY_JSON })
    held.assertHeld('writing the event log')
    await this.client.putManifest(repo, EVENTS_TAG, eventsManifest(blob), MEDIA.manifest)
  }
}

function flagged(record: VersionRecord, log: EventLog): VersionRecord {
  const out = { ...record }
  if (log.deprecated.some((d) => d.version === record.version)) out.deprecated = true
  else delete out.deprecated
  return out
}

/** `v1.2.3`; build metadata cannot be a tag (`+` is outside the OCI tag grammar). */
function versionTagOf(version: string): string {
  if (version.includes('+')) {
    throw new UserError(`version ${version}: build metadata ('+…') is not allowed in OCI tags; drop it or use a pre-release (-rc.1)`, {
      field: 'version',
    })
  }
  const tag = `v${version}`
  if (!VERSION_TAG.test(tag) || !isValidTag(tag)) throw new UserError(`version ${version} cannot be an OCI tag`, { field: 'version' })
  return tag
}

/** A stage is a tag of its own: it must be a valid tag and not one of the tags this layout uses. */
function checkStage(stage: string): void {
  const reserved = VERSION_TAG.test(stage) || stage.startsWith('modelgate-') || /^sha256-/.test(stage)
  if (!isValidTag(stage) || reserved) {
    throw new UserError(
      `stage '${stage}' cannot be a tag in an OCI registry${reserved ? ' (v<version>, sha256-… and modelgate-… tags are taken)' : ''}`,
      { field: 'stage' },
    )
  }
}
