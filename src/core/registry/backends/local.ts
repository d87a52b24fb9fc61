import { randomBytes } from 'node:crypto'
import * as nodeFs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import semver from '../semver.js'
import { UserError } from '../../errors.js'
import { fileInTheWay, fsCause, makeFolder } from '../../fs-errors.js'
import { fileLock, type LockFs } from '../../lock.js'
import { withLock } from '../../locking.js'
import { whyNotJson } from '../../files.js'
import { sha256File } from '../digest.js'
import { checkModelName, versionTag } from '../names.js'
import { checkStageHistory, checkVersionRecord } from '../record.js'
import { noEvidence, refuseDeprecated, requireAssigned, requireVersion } from '../refusals.js'
import { stageState, type StageCheck, type StageEvent, type StageState } from '../stages.js'
import type { ArtifactDigest, RegistrationOutcome, RegistrationPlan, RegistryBackend, StoredVersion, VersionRecord } from '../types.js'

/*
 * A registry in a folder: the embedded default, for the demo, laptops and tests.
 *
 *   <root>/<name>/versions/<version>/record.json, MODEL_CARD.md, artifact/…, evidence/…
 *   <root>/<name>/stages.json      every stage assignment, oldest first
 *   <root>/<name>/.lock            held while writing (O_EXCL create)
 *
 * A version is written in a scratch folder and renamed into place, so a reader sees all of it or
 * none of it, and a writer killed mid-way leaves only scratch that the next writer removes. A lock
 * whose writer died is broken by the next writer (see ../../lock.ts for when a lock is stale).
 *
 * The folder is the user's (the manifest's `registry:` or --registry): every file-system error on
 * it — a file where the folder should be, a read-only file system, no permission, a full disk — is
 * a UserError naming the path and the cause, never a stack.
 */

/** The file-system calls the backend makes: node:fs, or a stand-in that injects errors in tests. */
export type LocalFs = LockFs &
  Pick<typeof nodeFs, 'accessSync' | 'readdirSync' | 'writeFileSync'> & {
    promises: Pick<typeof nodeFs.promises, 'copyFile' | 'readFile' | 'writeFile'>
  }

export interface LocalBackendOptions {
  /** Give up waiting for the lock after this long (default 60 s). */
  lockTimeoutMs?: number
  /** A lock not refreshed for this long is stale, whatever its owner (default 10 min; see lock.ts). */
  staleMs?: number
  /** Where "broke a stale lock" goes (default: a `warning:` line on stderr). */
  onWarning?: (message: string) => void
  /** The file system (default node:fs); tests inject the errors root cannot get (EROFS, EACCES). */
  fs?: LocalFs
}

export class LocalBackend implements RegistryBackend {
  readonly kind = 'local' as const
  readonly location: string
  private readonly fs: LocalFs

  constructor(
    readonly root: string,
    private readonly opts: LocalBackendOptions = {},
  ) {
    this.location = root
    this.fs = opts.fs ?? nodeFs
  }

  /**
   * Runs one operation: a registry folder that is a file (or under one) is refused up front, and a
   * file-system error becomes a UserError naming the registry, the path that failed and the cause.
   */
  private async guard<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      const blocker = fileInTheWay(this.root, this.fs)
      if (blocker) {
        throw new UserError(
          `local registry ${this.root}: cannot ${doing}: ${blocker === this.root ? 'it' : blocker} is a file, not a folder`,
          {
            file: blocker,
            field: 'registry',
          },
        )
      }
      return await fn()
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      // UserErrors say what they mean; an error without a system call is a bug, not the file system.
      if (e instanceof UserError || typeof err?.code !== 'string' || !err.syscall) throw e
      const failed = err.path ?? this.root
      throw new UserError(`local registry ${this.root}: cannot ${doing}: ${failed}: ${fsCause(e, failed, this.fs)}`, {
        file: failed,
        field: 'registry',
        cause: e,
      })
    }
  }

  private modelDir(name: string): string {
    return path.join(this.root, ...checkModelName(name).split('/'))
  }

  private versionDir(name: string, version: string): string {
    return path.join(this.modelDir(name), 'versions', version)
  }

  async list(name: string): Promise<VersionRecord[]> {
    return this.guard(`list ${name}`, async () => this.versions(name))
  }

  private versions(name: string): VersionRecord[] {
    const dir = path.join(this.modelDir(name), 'versions')
    if (!this.fs.existsSync(dir)) return []
    const records = this.fs
      .readdirSync(dir)
      .filter((v) => semver.valid(v))
      .map((v) => this.readRecord(name, v))
    return records.sort((a, b) => semver.compare(a.version, b.version))
  }

  /** A version's record, checked: one that is not JSON, or JSON but not a record of this version, is refused naming the file. */
  private readRecord(name: string, version: string): VersionRecord {
    const file = path.join(this.versionDir(name, version), 'record.json')
    return checkVersionRecord(this.readJson(file, 'version record'), file, { file, expected: { name, version } })
  }

  /** A registry file's JSON; the refusal never quotes the file (JSON.parse's message does). */
  private readJson(file: string, what: string): unknown {
    let text: string
    try {
      text = this.fs.readFileSync(file, 'utf8')
    } catch (e) {
      throw new UserError(`${file}: unreadable ${what} (${fsCause(e, file, this.fs)})`, { file, cause: e })
    }
    try {
      return JSON.parse(text)
    } catch (e) {
      throw new UserError(`${file}: unreadable ${what} (${whyNotJson(text, e)})`, { file })
    }
  }

  private stored(record: VersionRecord): StoredVersion {
    return { record, uri: pathToFileURL(this.versionDir(record.name, record.version)).href, tag: versionTag(record.name, record.version) }
  }

  async get(name: string, version: string): Promise<StoredVersion | undefined> {
    return this.guard(`read ${name} ${version}`, async () => this.found(name, version))
  }

  private found(name: string, version: string): StoredVersion | undefined {
    if (!this.fs.existsSync(path.join(this.versionDir(name, version), 'record.json'))) return undefined
    return this.stored(this.readRecord(name, version))
  }

  async stages(name: string): Promise<StageState> {
    return this.guard(`read the stages of ${name}`, async () => stageState(this.readEvents(name)))
  }

  private readEvents(name: string): StageEvent[] {
    const file = path.join(this.modelDir(name), 'stages.json')
    if (!this.fs.existsSync(file)) return []
    return checkStageHistory(this.readJson(file, 'stage history'), file, file)
  }

  async register(name: string, plan: (existing: VersionRecord[]) => RegistrationPlan): Promise<RegistrationOutcome> {
    return this.locked(`register ${name}`, name, async () => {
      const decided = plan(this.versions(name))
      if (decided.kind === 'existing') return { ...this.stored(decided.record), created: false }
      const { record, payload } = decided
      const target = this.versionDir(name, record.version)
      if (this.fs.existsSync(target))
        throw new UserError(`${this.location}: version ${record.version} of ${name} already exists`, { field: 'version' })
      const scratch = path.join(this.modelDir(name), '.tmp', randomBytes(6).toString('hex'))
      const fsp = this.fs.promises
      try {
        await copyArtifact(payload.artifactPath, record.artifact, path.join(scratch, 'artifact'), this.fs)
        makeFolder(path.join(scratch, 'evidence'), this.fs)
        for (const e of payload.evidence) {
          try {
            this.fs.accessSync(e.path, nodeFs.constants.R_OK)
          } catch (err) {
            throw new UserError(`${e.path}: cannot read the evidence file: ${fsCause(err, e.path, this.fs)}`, { file: e.path, cause: err })
          }
          await fsp.copyFile(e.path, path.join(scratch, 'evidence', e.file))
        }
        await fsp.writeFile(path.join(scratch, 'MODEL_CARD.md'), payload.card)
        await fsp.writeFile(path.join(scratch, 'record.json'), `${JSON.stringify(record, null, 2)}\n`)
        makeFolder(path.dirname(target), this.fs)
        this.fs.renameSync(scratch, target)
      } catch (e) {
        tidy(() => this.fs.rmSync(scratch, { recursive: true, force: true }))
        throw e
      }
      return { ...this.stored(record), created: true }
    })
  }

  async assign(name: string, version: string, stage: string, check: StageCheck): Promise<StageEvent> {
    return this.locked(`assign ${stage} to ${name} ${version}`, name, async () => {
      const found = requireVersion(this.found(name, version), this.location, name, version)
      refuseDeprecated(found.record, name, version)
      const events = this.readEvents(name)
      check(stageState(events), found.record)
      const event: StageEvent = { stage, version, action: 'assign', at: new Date().toISOString(), ref: String(events.length + 1) }
      this.writeEvents(name, [...events, event])
      return event
    })
  }

  async unassign(name: string, stage: string): Promise<StageEvent> {
    return this.locked(`unassign ${stage} of ${name}`, name, async () => {
      const events = this.readEvents(name)
      requireAssigned(stageState(events), name, stage)
      const event: StageEvent = { stage, action: 'unassign', at: new Date().toISOString(), ref: String(events.length + 1) }
      this.writeEvents(name, [...events, event])
      return event
    })
  }

  private writeEvents(name: string, events: StageEvent[]): void {
    this.writeAtomic(path.join(this.modelDir(name), 'stages.json'), `${JSON.stringify({ events }, null, 2)}\n`)
  }

  /** Via a temporary file and a rename, so a reader never sees half a file. */
  private writeAtomic(file: string, text: string): void {
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    try {
      this.fs.writeFileSync(tmp, text)
      this.fs.renameSync(tmp, file)
    } catch (e) {
      tidy(() => this.fs.rmSync(tmp, { force: true }))
      throw e
    }
  }

  async deprecate(name: string, version: string): Promise<void> {
    await this.locked(`deprecate ${name} ${version}`, name, async () => {
      const found = requireVersion(this.found(name, version), this.location, name, version)
      const file = path.join(this.versionDir(name, version), 'record.json')
      this.writeAtomic(file, `${JSON.stringify({ ...found.record, deprecated: true }, null, 2)}\n`)
    })
  }

  async fetch(name: string, version: string, destDir: string): Promise<string> {
    return this.guard(`fetch ${name} ${version}`, async () => {
      const found = requireVersion(this.found(name, version), this.location, name, version)
      const source = path.join(this.versionDir(name, version), 'artifact', found.record.artifact.name)
      return copyArtifact(source, found.record.artifact, destDir, this.fs)
    })
  }

  async readEvidence(name: string, version: string, file: string): Promise<Buffer> {
    return this.guard(`read the evidence ${file} of ${name} ${version}`, async () => {
      const found = this.found(name, version)
      if (!found?.record.evidence.some((e) => e.file === file)) throw noEvidence(this.location, name, version, file)
      return this.fs.promises.readFile(path.join(this.versionDir(name, version), 'evidence', file))
    })
  }

  /** Runs `fn` holding the model's lock; removes scratch a killed writer left behind. */
  private async locked<T>(doing: string, name: string, fn: () => Promise<T>): Promise<T> {
    return this.guard(doing, async () => {
      const dir = this.modelDir(name)
      makeFolder(dir, this.fs)
      const lock = fileLock(path.join(dir, '.lock'), {
        what: `local registry ${this.root}: registry ${name}`,
        timeoutMs: this.opts.lockTimeoutMs,
        staleMs: this.opts.staleMs,
        onWarning: this.opts.onWarning,
        fs: this.fs,
      })
      return withLock(lock, async () => {
        this.fs.rmSync(path.join(dir, '.tmp'), { recursive: true, force: true })
        // Left by a breaker that died mid-way, or by an older modelgate.
        for (const f of this.fs.readdirSync(dir))
          if (f.startsWith('.lock.stale-')) this.fs.rmSync(path.join(dir, f), { recursive: true, force: true })
        return fn()
      })
    })
  }
}

/** Best-effort clean-up on a failure path: its own error must not hide the first one. */
function tidy(fn: () => void): void {
  try {
    fn()
  } catch {
    // The first error is reported; this one would only hide it.
  }
}

/**
 * Copies an artifact (file or folder) to `destDir/<name>`, hashing what was written: a source that
 * changed since it was hashed, or a stored file that rotted, is refused and nothing is left behind.
 */
export async function copyArtifact(source: string, artifact: ArtifactDigest, destDir: string, fs: LocalFs = nodeFs): Promise<string> {
  const dest = path.join(destDir, artifact.name)
  const copy = async (from: string, to: string) => {
    try {
      makeFolder(path.dirname(to), fs)
    } catch (e) {
      throw new UserError(`${path.dirname(to)}: cannot create the folder for the model: ${fsCause(e, path.dirname(to), fs)}`, {
        file: path.dirname(to),
        cause: e,
      })
    }
    try {
      fs.accessSync(from, nodeFs.constants.R_OK)
    } catch (e) {
      throw new UserError(`${from}: cannot read the model: ${fsCause(e, from, fs)}`, { file: from, cause: e })
    }
    try {
      await fs.promises.copyFile(from, to)
    } catch (e) {
      // The source was readable a moment ago: the copy failed on the writing side (full disk, read-only, …).
      throw new UserError(`${to}: cannot write the copy of the model ${from}: ${fsCause(e, to, fs)}`, { file: to, cause: e })
    }
  }
  try {
    if (artifact.kind === 'file') {
      await copy(source, dest)
      await expectDigest(dest, artifact.digest, source)
    } else {
      for (const f of artifact.files) {
        const to = path.join(dest, ...f.path.split('/'))
        await copy(path.join(source, ...f.path.split('/')), to)
        await expectDigest(to, f.digest, path.join(source, f.path))
      }
    }
  } catch (e) {
    tidy(() => fs.rmSync(dest, { recursive: true, force: true }))
    if (e instanceof UserError) throw e
    throw new UserError(`${source}: cannot copy the model (${fsCause(e)})`, { file: source, cause: e })
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
