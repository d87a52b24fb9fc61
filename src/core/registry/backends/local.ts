import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, renameSync } from 'node:fs'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import semver from 'semver'
import { UserError, errorText } from '../../errors.js'
import { writeFileAtomic } from '../../files.js'
import { acquireFileLock } from '../../lock.js'
import { sha256File } from '../digest.js'
import { checkModelName, versionTag } from '../names.js'
import type {
  ArtifactDigest,
  RegistrationOutcome,
  RegistrationPlan,
  RegistryBackend,
  StageEvent,
  StageState,
  StoredVersion,
  VersionRecord,
} from '../types.js'

/*
 * A registry in a folder: the embedded default, for the demo, laptops and tests.
 *
 *   <root>/<name>/versions/<version>/record.json, MODEL_CARD.md, artifact/…, evidence/…
 *   <root>/<name>/stages.json      every stage assignment, oldest first
 *   <root>/<name>/.lock            held while writing (O_EXCL create)
 *
 * A version is written in a scratch folder and renamed into place, so a reader sees all of it or
 * none of it, and a writer killed mid-way leaves only scratch that the next writer removes.
 */

export interface LocalBackendOptions {
  /** Give up waiting for the lock after this long (default 60 s). */
  lockTimeoutMs?: number
  /** A lock whose owner cannot be checked (another host) is taken over after this long (default 10 min). */
  staleMs?: number
}

export class LocalBackend implements RegistryBackend {
  readonly kind = 'local' as const
  readonly location: string

  constructor(
    readonly root: string,
    private readonly opts: LocalBackendOptions = {},
  ) {
    this.location = root
  }

  private modelDir(name: string): string {
    return path.join(this.root, ...checkModelName(name).split('/'))
  }

  private versionDir(name: string, version: string): string {
    return path.join(this.modelDir(name), 'versions', version)
  }

  async list(name: string): Promise<VersionRecord[]> {
    const dir = path.join(this.modelDir(name), 'versions')
    if (!existsSync(dir)) return []
    const records = readdirSync(dir)
      .filter((v) => semver.valid(v))
      .map((v) => this.readRecord(name, v))
    return records.sort((a, b) => semver.compare(a.version, b.version))
  }

  private readRecord(name: string, version: string): VersionRecord {
    const file = path.join(this.versionDir(name, version), 'record.json')
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as VersionRecord
    } catch (e) {
      throw new UserError(`${file}: unreadable version record (${errorText(e)})`, { file })
    }
  }

  private stored(record: VersionRecord): StoredVersion {
    return { record, uri: pathToFileURL(this.versionDir(record.name, record.version)).href, tag: versionTag(record.name, record.version) }
  }

  async get(name: string, version: string): Promise<StoredVersion | undefined> {
    if (!existsSync(path.join(this.versionDir(name, version), 'record.json'))) return undefined
    return this.stored(this.readRecord(name, version))
  }

  async stages(name: string): Promise<StageState> {
    return stageState(this.readEvents(name))
  }

  private readEvents(name: string): StageEvent[] {
    const file = path.join(this.modelDir(name), 'stages.json')
    if (!existsSync(file)) return []
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as { events: StageEvent[] }).events
    } catch (e) {
      throw new UserError(`${file}: unreadable stage history (${errorText(e)})`, { file })
    }
  }

  async register(name: string, plan: (existing: VersionRecord[]) => RegistrationPlan): Promise<RegistrationOutcome> {
    return this.locked(name, async () => {
      const decided = plan(await this.list(name))
      if (decided.kind === 'existing') return { ...this.stored(decided.record), created: false }
      const { record, payload } = decided
      const target = this.versionDir(name, record.version)
      if (existsSync(target))
        throw new UserError(`${this.location}: version ${record.version} of ${name} already exists`, { field: 'version' })
      const scratch = path.join(this.modelDir(name), '.tmp', randomBytes(6).toString('hex'))
      try {
        await copyArtifact(payload.artifactPath, record.artifact, path.join(scratch, 'artifact'))
        await mkdir(path.join(scratch, 'evidence'), { recursive: true })
        for (const e of payload.evidence) await copyFile(e.path, path.join(scratch, 'evidence', e.file))
        await writeFile(path.join(scratch, 'MODEL_CARD.md'), payload.card)
        await writeFile(path.join(scratch, 'record.json'), `${JSON.stringify(record, null, 2)}\n`)
        mkdirSync(path.dirname(target), { recursive: true })
        renameSync(scratch, target)
      } catch (e) {
        rmSync(scratch, { recursive: true, force: true })
        throw e
      }
      return { ...this.stored(record), created: true }
    })
  }

  async assign(
    name: string,
    version: string,
    stage: string,
    check: (state: StageState, record: VersionRecord) => void,
  ): Promise<StageEvent> {
    return this.locked(name, async () => {
      const found = await this.get(name, version)
      if (!found) throw new UserError(`${this.location}: ${name} has no version ${version}`, { field: 'version' })
      if (found.record.deprecated)
        throw new UserError(`${name} ${version} is deprecated and cannot be assigned a stage`, { field: 'version' })
      const events = this.readEvents(name)
      check(stageState(events), found.record)
      const event: StageEvent = { stage, version, action: 'assign', at: new Date().toISOString(), ref: String(events.length + 1) }
      this.writeEvents(name, [...events, event])
      return event
    })
  }

  async unassign(name: string, stage: string): Promise<StageEvent> {
    return this.locked(name, async () => {
      const events = this.readEvents(name)
      if (!stageState(events).current[stage]) throw new UserError(`${name}: stage ${stage} is not assigned`, { field: 'stage' })
      const event: StageEvent = { stage, action: 'unassign', at: new Date().toISOString(), ref: String(events.length + 1) }
      this.writeEvents(name, [...events, event])
      return event
    })
  }

  private writeEvents(name: string, events: StageEvent[]): void {
    writeFileAtomic(path.join(this.modelDir(name), 'stages.json'), `${JSON.stringify({ events }, null, 2)}\n`)
  }

  async deprecate(name: string, version: string): Promise<void> {
    await this.locked(name, async () => {
      const found = await this.get(name, version)
      if (!found) throw new UserError(`${this.location}: ${name} has no version ${version}`, { field: 'version' })
      const file = path.join(this.versionDir(name, version), 'record.json')
      writeFileAtomic(file, `${JSON.stringify({ ...found.record, deprecated: true }, null, 2)}\n`)
    })
  }

  async fetch(name: string, version: string, destDir: string): Promise<string> {
    const found = await this.get(name, version)
    if (!found) throw new UserError(`${this.location}: ${name} has no version ${version}`, { field: 'version' })
    const source = path.join(this.versionDir(name, version), 'artifact', found.record.artifact.name)
    return copyArtifact(source, found.record.artifact, destDir)
  }

  async readEvidence(name: string, version: string, file: string): Promise<Buffer> {
    const found = await this.get(name, version)
    if (!found?.record.evidence.some((e) => e.file === file)) {
      throw new UserError(`${this.location}: ${name} ${version} has no evidence file ${file}`, { field: 'evidence' })
    }
    return readFile(path.join(this.versionDir(name, version), 'evidence', file))
  }

  /** Runs `fn` holding the model's lock; removes scratch a killed writer left behind. */
  private async locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const dir = this.modelDir(name)
    const release = await acquireFileLock(path.join(dir, '.lock'), {
      what: `${this.location}: registry ${name}`,
      timeoutMs: this.opts.lockTimeoutMs,
      staleMs: this.opts.staleMs,
    })
    try {
      rmSync(path.join(dir, '.tmp'), { recursive: true, force: true })
      for (const f of readdirSync(dir)) if (f.startsWith('.lock.stale-')) rmSync(path.join(dir, f), { force: true })
      return await fn()
    } finally {
      release()
    }
  }
}

/** The current stage pointers from the history: the latest assignment wins, an unassignment clears. */
export function stageState(history: StageEvent[]): StageState {
  const current: Record<string, string> = {}
  for (const e of history) {
    if (e.action === 'assign' && e.version) current[e.stage] = e.version
    else delete current[e.stage]
  }
  return { current, history }
}

/**
 * Copies an artifact (file or folder) to `destDir/<name>`, hashing what was written: a source that
 * changed since it was hashed, or a stored file that rotted, is refused and nothing is left behind.
 */
export async function copyArtifact(source: string, artifact: ArtifactDigest, destDir: string): Promise<string> {
  const dest = path.join(destDir, artifact.name)
  try {
    if (artifact.kind === 'file') {
      await mkdir(destDir, { recursive: true })
      await copyFile(source, dest)
      await expectDigest(dest, artifact.digest, source)
    } else {
      for (const f of artifact.files) {
        const to = path.join(dest, ...f.path.split('/'))
        await mkdir(path.dirname(to), { recursive: true })
        await copyFile(path.join(source, ...f.path.split('/')), to)
        await expectDigest(to, f.digest, path.join(source, f.path))
      }
    }
  } catch (e) {
    rmSync(dest, { recursive: true, force: true })
    if (e instanceof UserError) throw e
    throw new UserError(`${source}: cannot copy the model (${errorText(e)})`, { file: source })
  }
  return dest
}

async function expectDigest(file: string, expected: string, source: string): Promise<void> {
  const { digest } = await sha256File(file)
  if (digest !== expected) {
    throw new UserError(`${source}: digest ${digest} does not match the recorded ${expected}: the file changed or was tampered with`, {
      file: source,
      field: 'digest',
    })
  }
}
