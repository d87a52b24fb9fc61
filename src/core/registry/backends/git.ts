import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import semver from '../semver.js'
import { UserError, errorText } from '../../errors.js'
import { checkModelName, versionTag } from '../names.js'
import { noEvidence, refuseDeprecated, requireAssigned, requireVersion } from '../refusals.js'
import type { StageCheck, StageEvent, StageState } from '../stages.js'
import type { RegistrationOutcome, RegistrationPlan, RegistryBackend, StoredVersion, VersionRecord } from '../types.js'
import {
  TAG_FORMAT,
  checkRecordFiles,
  checkStage,
  counted,
  evidenceRef,
  isPlainFileName,
  parseState,
  records,
  stageState,
  type ModelState,
} from '../git/layout.js'
import { VersionObjects } from '../git/objects.js'
import { GitRepo, type NewRef } from '../git/repo.js'

export { GTO_TAG } from '../git/layout.js'

/*
 * A registry in git tags that GTO (iterative/gto) reads as its own (the tags: ../git/layout.ts).
 *
 * Tags are never moved or deleted on the remote. A write is a compare-and-swap: the refs are created
 * locally (an update-ref transaction fails if one exists) and pushed with `--atomic`, which the remote
 * rejects when another writer created the same tag first; the loser deletes its local refs, re-reads
 * and asks the core again. Without a remote the local transaction is the compare-and-swap.
 */

export interface GitBackendOptions {
  /** The working repository holding the committed models. */
  repoDir: string
  /** The remote the tags are pushed to: default `origin` when the repository has it; `false` keeps tags local. */
  remote?: string | false
  /** Compare-and-swap attempts before giving up with "registry busy" (default 20). */
  maxAttempts?: number
}

type Step<T> = { kind: 'done'; value: T } | { kind: 'write'; refs: NewRef[]; value: T }

export class GitBackend implements RegistryBackend {
  readonly kind = 'git' as const
  private readonly repo: GitRepo
  private readonly objects: VersionObjects

  constructor(private readonly opts: GitBackendOptions) {
    this.repo = new GitRepo(opts)
    this.objects = new VersionObjects(this.repo)
  }

  get location(): string {
    return this.repo.location
  }

  async list(name: string): Promise<VersionRecord[]> {
    return this.read(name, (state) => records(state))
  }

  async get(name: string, version: string): Promise<StoredVersion | undefined> {
    return this.read(name, (state) => {
      const found = records(state).find((r) => r.version === version)
      return found && this.stored(found)
    })
  }

  async stages(name: string): Promise<StageState> {
    return this.read(name, (state) => stageState(state))
  }

  async register(name: string, plan: (existing: VersionRecord[]) => RegistrationPlan): Promise<RegistrationOutcome> {
    checkModelName(name)
    const located = new Map<string, Promise<{ commit: string; path: string }>>()
    const trees = new Map<string, Promise<string | undefined>>()
    return this.cas(name, 'registering a version', async (state): Promise<Step<RegistrationOutcome>> => {
      const decided = plan(records(state))
      if (decided.kind === 'existing') return { kind: 'done', value: { ...this.stored(decided.record), created: false } }
      const { version } = decided.record
      const tag = versionTag(name, version)
      if (semver.valid(version) !== version) throw new UserError(`${name}: '${version}' is not a SemVer version`, { field: 'version' })
      if (state.versions.has(version) || state.taken.has(tag)) {
        const what = state.versions.has(version) ? 'already exists' : 'is taken by a tag that is not an annotated tag on a commit'
        throw new UserError(`${this.location}: version ${version} of ${name} ${what} (tag ${tag})`, { field: 'version' })
      }
      const artifactPath = decided.payload.artifactPath
      if (!located.has(artifactPath)) located.set(artifactPath, this.objects.locate(artifactPath, decided.record))
      const at = await located.get(artifactPath)!
      const clash = [...state.versions.values()].find((v) => v.ref.commit === at.commit && !state.deregistered.has(v.record.version))
      if (clash) {
        // GTO finds a stage's version by its commit, so it allows one live version of a model per commit.
        throw new UserError(
          `${at.path}: commit ${at.commit.slice(0, 12)} already holds ${clash.ref.tag}; commit the new model before registering it`,
          { file: artifactPath, field: 'version' },
        )
      }
      const record = JSON.parse(
        JSON.stringify({ ...decided.record, deprecated: undefined, git: { ...decided.record.git, commit: at.commit, path: at.path } }),
      ) as VersionRecord
      const key = JSON.stringify(decided.payload.evidence)
      if (!trees.has(key)) trees.set(key, this.objects.evidenceTree(decided.payload.evidence))
      const evidence = await this.objects.evidenceCommit(record, decided.payload.card, await trees.get(key))
      const { object } = await this.repo.makeTag(tag, at.commit, `${JSON.stringify(record, null, 2)}\n`)
      return {
        kind: 'write',
        refs: [
          { ref: `refs/tags/${tag}`, sha: object },
          { ref: evidenceRef(name, version), sha: evidence },
        ],
        value: { ...this.stored(record), created: true },
      }
    })
  }

  async assign(name: string, version: string, stage: string, check: StageCheck): Promise<StageEvent> {
    checkModelName(name)
    checkStage(stage)
    return this.cas(name, `assigning ${stage}`, async (state): Promise<Step<StageEvent>> => {
      const found = requireVersion(
        records(state).find((r) => r.version === version),
        this.location,
        name,
        version,
      )
      refuseDeprecated(found, name, version)
      check(stageState(state), found)
      const tag = `${name}#${stage}#${state.counter + 1}`
      const commit = state.versions.get(version)!.ref.commit
      const { object, at } = await this.repo.makeTag(tag, commit, `${JSON.stringify({ action: 'assign', name, stage, version })}\n`)
      const event: StageEvent = { stage, version, action: 'assign', at, ref: tag }
      return { kind: 'write', refs: counted(name, tag, state.counter + 1, object), value: event }
    })
  }

  async unassign(name: string, stage: string): Promise<StageEvent> {
    checkModelName(name)
    checkStage(stage)
    return this.cas(name, `unassigning ${stage}`, async (state): Promise<Step<StageEvent>> => {
      const current = requireAssigned(stageState(state), name, stage)
      // GTO puts the unassignment on the commit of the version that held the stage.
      const commit = state.versions.get(current)!.ref.commit
      const tag = `${name}#${stage}!#${state.counter + 1}`
      const { object, at } = await this.repo.makeTag(
        tag,
        commit,
        `${JSON.stringify({ action: 'unassign', name, stage, version: current })}\n`,
      )
      const event: StageEvent = { stage, action: 'unassign', at, ref: tag }
      return { kind: 'write', refs: counted(name, tag, state.counter + 1, object), value: event }
    })
  }

  async deprecate(name: string, version: string): Promise<void> {
    checkModelName(name)
    await this.cas(name, `deprecating ${version}`, async (state): Promise<Step<void>> => {
      const found = requireVersion(state.versions.get(version), this.location, name, version)
      if (state.deregistered.has(version)) return { kind: 'done', value: undefined }
      const tag = `${versionTag(name, version)}!`
      if (state.taken.has(tag)) {
        throw new UserError(`${this.location}: tag ${tag} exists but is not an annotated tag, so GTO ignores it; delete it and run again`, {
          field: 'version',
        })
      }
      const { object } = await this.repo.makeTag(tag, found.ref.commit, `${JSON.stringify({ action: 'deprecate', name, version })}\n`)
      return { kind: 'write', refs: [{ ref: `refs/tags/${tag}`, sha: object }], value: undefined }
    })
  }

  async fetch(name: string, version: string, destDir: string): Promise<string> {
    const found = await this.read(name, (state) => state.versions.get(version))
    const { record, ref } = requireVersion(found, this.location, name, version)
    const gitPath = record.git?.path
    if (gitPath === undefined) {
      throw new UserError(`${ref.tag}: the tag holds no modelgate record naming the model's path, so the model cannot be fetched`, {
        field: 'version',
      })
    }
    checkRecordFiles(record, ref.tag)
    const target = path.join(destDir, record.artifact.name)
    try {
      for (const f of record.artifact.files) {
        const inRepo = record.artifact.kind === 'file' ? gitPath : `${gitPath}/${f.path}`
        const to = record.artifact.kind === 'file' ? target : path.join(target, ...f.path.split('/'))
        await mkdir(path.dirname(to), { recursive: true })
        const part = `${to}.${randomBytes(4).toString('hex')}.part`
        const got = await this.repo.blob(`${ref.commit}:${inRepo}`, part)
        if (!got || got.digest !== f.digest || got.size !== f.size) {
          await rm(part, { force: true })
          throw new UserError(
            got
              ? `${ref.tag}: ${inRepo} at commit ${ref.commit.slice(0, 12)} has digest ${got.digest}, the version record says ${f.digest}: the tag was moved or the model was tampered with`
              : `${ref.tag}: ${inRepo} is missing from commit ${ref.commit.slice(0, 12)}`,
            { file: inRepo, field: 'digest' },
          )
        }
        await rename(part, to)
      }
    } catch (e) {
      await rm(target, { recursive: true, force: true })
      if (e instanceof UserError) throw e
      throw new UserError(`${ref.tag}: cannot write the model under ${destDir} (${errorText(e)})`, { file: destDir })
    }
    return target
  }

  async readEvidence(name: string, version: string, file: string): Promise<Buffer> {
    return this.read(name, async (state) => {
      requireVersion(state.versions.get(version), this.location, name, version)
      const r = isPlainFileName(file)
        ? await this.repo.git(['cat-file', 'blob', `${evidenceRef(name, version)}:evidence/${file}`])
        : undefined
      if (!r || r.code !== 0) throw noEvidence(this.location, name, version, file)
      return r.stdout
    })
  }

  private stored(record: VersionRecord): StoredVersion {
    const tag = versionTag(record.name, record.version)
    return { record, uri: `${this.location}#refs/tags/${tag}`, tag }
  }

  /** Runs a read on fresh state: fetched from the remote first, serialised with this repository's writes. */
  private async read<T>(name: string, fn: (state: ModelState) => T | Promise<T>): Promise<T> {
    checkModelName(name)
    return this.repo.exclusive(async () => {
      await this.repo.sync(name)
      return fn(await this.readState(name))
    })
  }

  /** The compare-and-swap loop: re-read, decide, create the refs, publish; lost races back off and retry. */
  private async cas<T>(name: string, what: string, step: (state: ModelState) => Promise<Step<T>>): Promise<T> {
    const attempts = Math.max(1, this.opts.maxAttempts ?? 20)
    return this.repo.exclusive(async () => {
      for (let i = 0; i < attempts; i++) {
        await this.repo.sync(name)
        const next = await step(await this.readState(name))
        if (next.kind === 'done' || (await this.repo.publish(next.refs))) return next.value
        if (i + 1 < attempts) await sleep(Math.random() * Math.min(2000, 50 * 2 ** i))
      }
      throw new UserError(
        `${this.location}: registry busy: ${what} of ${name} lost the race to other writers ${attempts} times; run it again`,
      )
    })
  }

  private async readState(name: string): Promise<ModelState> {
    const out = await this.repo.ok(['for-each-ref', `--format=${TAG_FORMAT}`, 'refs/tags/'], 'read the tags')
    return parseState(out.stdout.toString('utf8'), name, this.location)
  }
}
