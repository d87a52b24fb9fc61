import { execFile, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import semver from 'semver'
import { UserError, errorText } from '../../errors.js'
import { directoryDigest } from '../digest.js'
import { MODEL_NAME, checkModelName, versionTag } from '../names.js'
import { checkVersionRecord } from '../record.js'
import {
  VERSION_RECORD_SCHEMA,
  type RegistrationOutcome,
  type RegistrationPlan,
  type RegistryBackend,
  type StageEvent,
  type StageState,
  type StoredVersion,
  type VersionPayload,
  type VersionRecord,
} from '../types.js'

/*
 * A registry in git tags that GTO (iterative/gto) reads as its own:
 *
 *   name@v1.2.3      annotated tag on the commit holding the model; its message is the VersionRecord JSON
 *   name#stage#N     stage assignment on the version's commit; N = max counter over the model's tags + 1
 *   name#stage!#N    stage unassignment
 *   name@v1.2.3!     deregistration (our `deprecate`)
 *   refs/modelgate/name/v1.2.3   a parentless commit: record.json, MODEL_CARD.md, evidence/<file>
 *   refs/modelgate/name/counter.N  the claim on counter N, pushed with the counted tag
 *
 * Tags are never moved or deleted on the remote. A write is a compare-and-swap: the refs are created
 * locally (an update-ref transaction fails if one exists) and pushed with `--atomic`, which the remote
 * rejects when another writer created the same tag first; the loser deletes its local refs, re-reads
 * and asks the core again. Without a remote the local transaction is the compare-and-swap.
 */

/** GTO's tag grammar, from iterative/gto `gto/constants.py` (`tag_re`), in JavaScript syntax. */
const GTO_NAME = '[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?'
const GTO_SEMVER = String.raw`(?<major>0|[1-9]\d*)\.(?<minor>0|[1-9]\d*)\.(?<patch>0|[1-9]\d*)(?:-(?<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+(?<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?`
export const GTO_TAG = new RegExp(
  `^(?<artifact>(?<dirname>[a-zA-Z0-9-_./]+=)?(?<name>${GTO_NAME}))(((#(?<stage>${GTO_NAME})|@(?<version>v${GTO_SEMVER}))(?<cancel>!?))|@((?<deprecated>deprecated)|(?<created>created)))(#(?<counter>[0-9]+))?$`,
)

/** Written when the repository has no identity of its own, so tags can be made on a fresh CI runner. */
const FALLBACK_IDENTITY = { 'user.name': 'modelgate', 'user.email': 'modelgate@users.noreply.github.com' }

/** Push rejections that mean "another writer got there first": re-read and try again. */
const LOST_RACE =
  /already exists|fetch first|non-fast-forward|stale info|atomic push failed|failed to lock|cannot lock|incorrect old value/i

const MAX_BUFFER = 1 << 30

export interface GitBackendOptions {
  /** The working repository holding the committed models. */
  repoDir: string
  /** The remote the tags are pushed to: default `origin` when the repository has it; `false` keeps tags local. */
  remote?: string | false
  /** Compare-and-swap attempts before giving up with "registry busy" (default 20). */
  maxAttempts?: number
}

interface Repo {
  top: string
  remote?: string
  /** Where versions live for people and deploy: the remote URL without credentials, or the repository folder. */
  base: string
  /** Options before every git command: no auto gc, and `-c user.name=… -c user.email=…` when the repository has no identity. */
  pre: string[]
}

/** An annotated tag of the model, parsed with GTO's grammar. */
interface ModelTag {
  tag: string
  object: string
  commit: string
  at: string
  message: string
  version?: string
  stage?: string
  cancel: boolean
  counter?: number
}

interface ModelState {
  tags: ModelTag[]
  versions: Map<string, { ref: ModelTag; record: VersionRecord }>
  deregistered: Set<string>
  /** The highest GTO counter over all the model's tags (0 when none). */
  counter: number
  /** Every tag name of the model, lightweight ones included: a name GTO ignores is still taken in git. */
  taken: Set<string>
}

interface NewRef {
  ref: string
  sha: string
}

type Step<T> = { kind: 'done'; value: T } | { kind: 'write'; refs: NewRef[]; value: T }

interface GitRun {
  code: number
  stdout: Buffer
  stderr: string
}

export class GitBackend implements RegistryBackend {
  readonly kind = 'git' as const
  private repo?: Promise<Repo>
  private resolved?: Repo
  private tagger?: Promise<string>

  constructor(private readonly opts: GitBackendOptions) {}

  get location(): string {
    return this.resolved?.base ?? this.opts.repoDir
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
      if (!located.has(artifactPath)) located.set(artifactPath, this.locate(artifactPath, decided.record))
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
      if (!trees.has(key)) trees.set(key, this.evidenceTree(decided.payload.evidence))
      const evidence = await this.evidenceCommit(record, decided.payload.card, await trees.get(key))
      const { object } = await this.makeTag(tag, at.commit, `${JSON.stringify(record, null, 2)}\n`)
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

  async assign(
    name: string,
    version: string,
    stage: string,
    check: (state: StageState, record: VersionRecord) => void,
  ): Promise<StageEvent> {
    checkModelName(name)
    checkStage(stage)
    return this.cas(name, `assigning ${stage}`, async (state): Promise<Step<StageEvent>> => {
      const found = records(state).find((r) => r.version === version)
      if (!found) throw new UserError(`${this.location}: ${name} has no version ${version}`, { field: 'version' })
      if (found.deprecated) throw new UserError(`${name} ${version} is deprecated and cannot be assigned a stage`, { field: 'version' })
      check(stageState(state), found)
      const tag = `${name}#${stage}#${state.counter + 1}`
      const commit = state.versions.get(version)!.ref.commit
      const { object, at } = await this.makeTag(tag, commit, `${JSON.stringify({ action: 'assign', name, stage, version })}\n`)
      const event: StageEvent = { stage, version, action: 'assign', at, ref: tag }
      return { kind: 'write', refs: counted(name, tag, state.counter + 1, object), value: event }
    })
  }

  async unassign(name: string, stage: string): Promise<StageEvent> {
    checkModelName(name)
    checkStage(stage)
    return this.cas(name, `unassigning ${stage}`, async (state): Promise<Step<StageEvent>> => {
      const current = stageState(state).current[stage]
      if (!current) throw new UserError(`${name}: stage ${stage} is not assigned`, { field: 'stage' })
      // GTO puts the unassignment on the commit of the version that held the stage.
      const commit = state.versions.get(current)!.ref.commit
      const tag = `${name}#${stage}!#${state.counter + 1}`
      const { object, at } = await this.makeTag(tag, commit, `${JSON.stringify({ action: 'unassign', name, stage, version: current })}\n`)
      const event: StageEvent = { stage, action: 'unassign', at, ref: tag }
      return { kind: 'write', refs: counted(name, tag, state.counter + 1, object), value: event }
    })
  }

  async deprecate(name: string, version: string): Promise<void> {
    checkModelName(name)
    await this.cas(name, `deprecating ${version}`, async (state): Promise<Step<void>> => {
      const found = state.versions.get(version)
      if (!found) throw new UserError(`${this.location}: ${name} has no version ${version}`, { field: 'version' })
      if (state.deregistered.has(version)) return { kind: 'done', value: undefined }
      const tag = `${versionTag(name, version)}!`
      if (state.taken.has(tag)) {
        throw new UserError(`${this.location}: tag ${tag} exists but is not an annotated tag, so GTO ignores it; delete it and run again`, {
          field: 'version',
        })
      }
      const { object } = await this.makeTag(tag, found.ref.commit, `${JSON.stringify({ action: 'deprecate', name, version })}\n`)
      return { kind: 'write', refs: [{ ref: `refs/tags/${tag}`, sha: object }], value: undefined }
    })
  }

  async fetch(name: string, version: string, destDir: string): Promise<string> {
    const found = await this.read(name, (state) => state.versions.get(version))
    if (!found) throw new UserError(`${this.location}: ${name} has no version ${version}`, { field: 'version' })
    const { record, ref } = found
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
        const got = await this.blob(`${ref.commit}:${inRepo}`, part)
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
      if (!state.versions.has(version)) throw new UserError(`${this.location}: ${name} has no version ${version}`, { field: 'version' })
      const r = isPlainFileName(file) ? await this.git(['cat-file', 'blob', `${evidenceRef(name, version)}:evidence/${file}`]) : undefined
      if (!r || r.code !== 0)
        throw new UserError(`${this.location}: ${name} ${version} has no evidence file ${file}`, { field: 'evidence' })
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
    const repo = await this.ready()
    return serial(repo.top, async () => {
      await this.sync(name)
      return fn(await this.readState(name))
    })
  }

  /** The compare-and-swap loop: re-read, decide, create the refs, publish; lost races back off and retry. */
  private async cas<T>(name: string, what: string, step: (state: ModelState) => Promise<Step<T>>): Promise<T> {
    const repo = await this.ready()
    const attempts = Math.max(1, this.opts.maxAttempts ?? 20)
    return serial(repo.top, async () => {
      for (let i = 0; i < attempts; i++) {
        await this.sync(name)
        const next = await step(await this.readState(name))
        if (next.kind === 'done' || (await this.publish(next.refs))) return next.value
        if (i + 1 < attempts) await sleep(Math.random() * Math.min(2000, 50 * 2 ** i))
      }
      throw new UserError(
        `${this.location}: registry busy: ${what} of ${name} lost the race to other writers ${attempts} times; run it again`,
      )
    })
  }

  private ready(): Promise<Repo> {
    this.repo ??= this.setup().then((r) => (this.resolved = r))
    return this.repo
  }

  private async setup(): Promise<Repo> {
    const dir = path.resolve(this.opts.repoDir)
    if (!existsSync(dir)) throw new UserError(`${dir}: the git registry's repository folder does not exist`, { file: dir })
    const top = await runGit(dir, ['rev-parse', '--show-toplevel'])
    if (top.code !== 0) throw new UserError(`${dir}: not a git working tree (${lastLine(top.stderr)})`, { file: dir })
    const root = realpathSync(top.stdout.toString('utf8').trim())
    // Our fetches must not start a gc or maintenance run in the user's repository.
    const pre: string[] = ['-c', 'gc.auto=0', '-c', 'maintenance.auto=false']
    for (const [key, value] of Object.entries(FALLBACK_IDENTITY)) {
      const set = await runGit(root, ['config', '--get', key])
      if (set.code !== 0 || !set.stdout.toString('utf8').trim()) pre.push('-c', `${key}=${value}`)
    }
    if (this.opts.remote === false) return { top: root, base: root, pre }
    const remote = this.opts.remote || 'origin'
    const url = await runGit(root, ['remote', 'get-url', remote])
    if (url.code !== 0) {
      if (this.opts.remote) throw new UserError(`${root}: the repository has no remote '${remote}'`, { file: root, field: 'remote' })
      return { top: root, base: root, pre }
    }
    return { top: root, remote, base: displayUrl(url.stdout.toString('utf8').trim(), root), pre }
  }

  private async git(args: string[], input?: string): Promise<GitRun> {
    const repo = await this.ready()
    return runGit(repo.top, [...repo.pre, ...args], input)
  }

  /** Runs git and throws a UserError naming `what` when it fails. */
  private async ok(args: string[], what: string, input?: string): Promise<GitRun> {
    const r = await this.git(args, input)
    if (r.code !== 0) throw new UserError(`${this.location}: cannot ${what}: git ${args[0]} failed (${lastLine(r.stderr)})`)
    return r
  }

  /** Brings the model's tags and evidence refs level with the remote, dropping local ones it does not have. */
  private async sync(name: string): Promise<void> {
    const remote = this.resolved?.remote
    if (!remote) return
    const specs = [`refs/tags/${name}@*`, `refs/tags/${name}#*`, `refs/modelgate/${name}/*`].map((r) => `+${r}:${r}`)
    const r = await this.git(['fetch', '--quiet', '--no-tags', '--prune', '--no-recurse-submodules', remote, ...specs])
    if (r.code !== 0) {
      throw new UserError(`${this.location}: cannot fetch the registry tags from remote '${remote}' (${lastLine(r.stderr)})`, {
        field: 'remote',
      })
    }
  }

  private async readState(name: string): Promise<ModelState> {
    const format = [
      '%(refname:strip=2)',
      '%(objecttype)',
      '%(objectname)',
      '%(*objecttype)',
      '%(*objectname)',
      '%(taggerdate:unix)',
      '%(contents)',
    ]
    const out = await this.ok(['for-each-ref', `--format=${format.join('%00')}%00%00`, 'refs/tags/'], 'read the tags')
    const tags: ModelTag[] = []
    const taken = new Set<string>()
    let counter = 0
    for (const chunk of out.stdout.toString('utf8').split('\0\0\n')) {
      const [tag, type, object, peeledType, commit, unix, ...rest] = chunk.split('\0')
      const m = GTO_TAG.exec(tag)
      if (!m?.groups || m.groups.artifact !== name) continue
      const g = m.groups
      taken.add(tag)
      if (g.counter !== undefined) counter = Math.max(counter, Number(g.counter))
      // GTO ignores lightweight tags, and artifact-level events (`name@deprecated`) only count towards the counter.
      if (type !== 'tag' || peeledType !== 'commit' || g.deprecated || g.created) continue
      tags.push({
        tag,
        object,
        commit,
        at: new Date(Number(unix) * 1000).toISOString(),
        message: rest.join('\0'),
        version: g.version?.slice(1),
        stage: g.stage,
        cancel: g.cancel === '!',
        counter: g.counter === undefined ? undefined : Number(g.counter),
      })
    }
    const versions = new Map<string, { ref: ModelTag; record: VersionRecord }>()
    const deregistered = new Set<string>()
    for (const t of tags) {
      if (!t.version) continue
      if (t.cancel) deregistered.add(t.version)
      else if (!versions.has(t.version)) versions.set(t.version, { ref: t, record: recordFromTag(t, name, t.version, this.location) })
    }
    return { tags, versions, deregistered, counter, taken }
  }

  /**
   * Where the model is committed: its path from the repository root and HEAD. Refused when it is
   * outside the repository, not committed as it is on disk, or stored differently from what was hashed
   * (Git LFS or a clean filter), since `fetch` could then not give back the registered bytes.
   */
  private async locate(artifactPath: string, record: VersionRecord): Promise<{ commit: string; path: string }> {
    const { top } = await this.ready()
    let real: string
    try {
      real = realpathSync(artifactPath)
    } catch (e) {
      throw new UserError(`${artifactPath}: model not found (${errorText(e)})`, { file: artifactPath, field: 'model' })
    }
    const rel = path.relative(top, real)
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new UserError(`${artifactPath}: the model is outside the git repository ${top}; the git registry needs it committed there`, {
        file: artifactPath,
        field: 'model',
      })
    }
    const posix = rel.split(path.sep).join('/')
    const head = await this.git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])
    if (head.code !== 0) throw new UserError(`${artifactPath}: ${top} has no commit yet; commit the model first`, { file: artifactPath })
    const commit = head.stdout.toString('utf8').trim()
    const status = await this.ok(
      ['--literal-pathspecs', 'status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignored', '--', posix],
      'check the model is committed',
    )
    const first = status.stdout.toString('utf8').split('\0')[0]
    if (first) {
      const code = first.slice(0, 2)
      const file = path.join(top, first.slice(3))
      const why =
        code === '??' ? 'is not committed' : code === '!!' ? 'is ignored by git, so it is not committed' : 'has uncommitted changes'
      throw new UserError(`${file}: ${why}; commit the model before registering it in the git registry`, { file, field: 'model' })
    }
    await this.checkCommitted(commit, posix, record)
    return { commit, path: posix }
  }

  private async checkCommitted(commit: string, posix: string, record: VersionRecord): Promise<void> {
    const ls = await this.ok(['--literal-pathspecs', 'ls-tree', '-r', '-z', '--long', '--full-tree', commit, '--', posix], 'list the model')
    const committed = new Map<string, { type: string; mode: string; size: number }>()
    for (const entry of ls.stdout.toString('utf8').split('\0')) {
      const tab = entry.indexOf('\t')
      if (tab < 0) continue
      const [mode, type, , size] = entry.slice(0, tab).split(/\s+/)
      const p = entry.slice(tab + 1)
      const key = record.artifact.kind === 'file' ? (p === posix ? record.artifact.files[0]?.path : undefined) : p.slice(posix.length + 1)
      if (key !== undefined) committed.set(key, { type, mode, size: Number(size) })
    }
    const expected = new Set(record.artifact.files.map((f) => f.path))
    const extra = [...committed.keys()].find((k) => !expected.has(k))
    if (extra !== undefined)
      throw new UserError(`${posix}: ${extra} is committed but not part of the hashed model`, { file: posix, field: 'model' })
    for (const f of record.artifact.files) {
      const inRepo = record.artifact.kind === 'file' ? posix : `${posix}/${f.path}`
      const c = committed.get(f.path)
      const got = c?.type === 'blob' && c.mode !== '120000' && c.size === f.size ? await this.blob(`${commit}:${inRepo}`) : undefined
      if (got?.digest !== f.digest) {
        throw new UserError(
          `${inRepo}: the committed file is not the one that was hashed (${c ? 'Git LFS, a filter or a symbolic link?' : 'not in the commit'}); the git registry stores models committed as plain files`,
          { file: inRepo, field: 'model' },
        )
      }
    }
  }

  /** Streams a blob through SHA-256, into `dest` when given; undefined when git cannot read it. */
  private async blob(spec: string, dest?: string): Promise<{ digest: string; size: number } | undefined> {
    const repo = await this.ready()
    const child = spawn('git', [...repo.pre, 'cat-file', 'blob', spec], {
      cwd: repo.top,
      env: gitEnv(),
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    const exited = new Promise<number>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code) => resolve(code ?? -1))
    })
    const hash = createHash('sha256')
    let size = 0
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk)
        size += chunk.length
        cb(null, chunk)
      },
    })
    const sink = dest ? createWriteStream(dest) : new Writable({ write: (_c, _e, cb) => cb() })
    await pipeline(child.stdout, hasher, sink)
    if ((await exited) !== 0) return undefined
    return { digest: `sha256:${hash.digest('hex')}`, size }
  }

  /** The `evidence/` tree: the same on every attempt of a registration, so built once. */
  private async evidenceTree(evidence: VersionPayload['evidence']): Promise<string | undefined> {
    if (evidence.length === 0) return undefined
    const seen = new Set<string>()
    for (const e of evidence) {
      if (!isPlainFileName(e.file) || seen.has(e.file)) {
        throw new UserError(`${e.path}: '${e.file}' is not a unique plain file name for stored evidence`, {
          file: e.path,
          field: 'evidence',
        })
      }
      seen.add(e.file)
      if (!existsSync(e.path)) throw new UserError(`${e.path}: evidence file not found`, { file: e.path, field: 'evidence' })
    }
    const blobs = await this.hashFiles(evidence.map((e) => path.resolve(e.path)))
    const entries = evidence.map((e, i) => `100644 blob ${blobs[i]}\t${e.file}\0`)
    return (await this.ok(['mktree', '-z'], 'store the evidence', entries.join(''))).stdout.toString('utf8').trim()
  }

  /** The parentless commit holding the record, the model card and the evidence, built without touching the working tree. */
  private async evidenceCommit(record: VersionRecord, card: string, evidence: string | undefined): Promise<string> {
    const scratch = await mkdtemp(path.join(tmpdir(), 'modelgate-git-'))
    try {
      await writeFile(path.join(scratch, 'record.json'), `${JSON.stringify(record, null, 2)}\n`)
      await writeFile(path.join(scratch, 'MODEL_CARD.md'), card)
      const [recordBlob, cardBlob] = await this.hashFiles([path.join(scratch, 'record.json'), path.join(scratch, 'MODEL_CARD.md')])
      const root = [`100644 blob ${recordBlob}\trecord.json\0`, `100644 blob ${cardBlob}\tMODEL_CARD.md\0`]
      if (evidence) root.push(`040000 tree ${evidence}\tevidence\0`)
      const tree = (await this.ok(['mktree', '-z'], 'store the evidence', root.join(''))).stdout.toString('utf8').trim()
      const message = `modelgate: ${record.name} v${record.version}: record, model card and evidence\n`
      return (await this.ok(['commit-tree', tree, '-m', message], 'store the evidence')).stdout.toString('utf8').trim()
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }

  /** Stores files as blobs, byte for byte (no filters), in one git process. */
  private async hashFiles(files: string[]): Promise<string[]> {
    const out = await this.ok(['hash-object', '-w', '--no-filters', '--', ...files], 'store the files')
    return out.stdout.toString('utf8').trim().split('\n')
  }

  /**
   * An annotated tag object (not yet referenced by any ref), so that all refs can then be created in
   * one transaction. The identity is looked up once; the time is now.
   */
  private async makeTag(tag: string, commit: string, message: string): Promise<{ object: string; at: string }> {
    this.tagger ??= this.ok(['var', 'GIT_COMMITTER_IDENT'], 'find the identity to tag with').then((r) =>
      r.stdout
        .toString('utf8')
        .trim()
        .replace(/ \d+ [+-]\d{4}$/, ''),
    )
    const seconds = Math.floor(Date.now() / 1000)
    const text = `object ${commit}\ntype commit\ntag ${tag}\ntagger ${await this.tagger} ${seconds} +0000\n\n${message}`
    const object = (await this.ok(['mktag'], `create the tag ${tag}`, text)).stdout.toString('utf8').trim()
    return { object, at: new Date(seconds * 1000).toISOString() }
  }

  /** Creates the refs locally and pushes them atomically. False when another writer took one of them first. */
  private async publish(refs: NewRef[]): Promise<boolean> {
    const create = await this.git(['update-ref', '--stdin'], refs.map((r) => `create ${r.ref} ${r.sha}\n`).join(''))
    if (create.code !== 0) {
      if (LOST_RACE.test(create.stderr) && !/permission denied/i.test(create.stderr)) return false
      throw new UserError(`${this.location}: cannot create ${refs.map((r) => r.ref).join(', ')} (${lastLine(create.stderr)})`)
    }
    const remote = this.resolved?.remote
    if (!remote) return true
    let pushed = false
    try {
      pushed = await this.push(remote, refs)
    } finally {
      if (!pushed) await this.git(['update-ref', '--stdin'], refs.map((r) => `delete ${r.ref} ${r.sha}\n`).join(''))
    }
    return pushed
  }

  private async push(remote: string, refs: NewRef[]): Promise<boolean> {
    const r = await this.git([
      'push',
      '--atomic',
      '--porcelain',
      '--no-verify',
      '--no-follow-tags',
      '--recurse-submodules=no',
      remote,
      ...refs.map((x) => `${x.ref}:${x.ref}`),
    ])
    if (r.code === 0) return true
    const rejected = r.stdout
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.split('\t')[2] ?? '')
    // A server-side atomic transaction reports the ref that lost only on stderr.
    const lost = (reason: string) => LOST_RACE.test(reason) || (/atomic transaction failed/i.test(reason) && LOST_RACE.test(r.stderr))
    if (rejected.length > 0 && rejected.every(lost)) return false
    const remoteSays = r.stderr
      .split('\n')
      .filter((l) => /^remote:\s*\S/.test(l))
      .map((l) => l.replace(/^remote:\s*/, '').trim())
    const why = [rejected.find((reason) => !lost(reason)) ?? lastLine(r.stderr), ...remoteSays].join('; ')
    const hint = /403|denied|authenticat|permission/i.test(why + r.stderr)
      ? ' (the token needs permission to push tags: contents: write)'
      : ''
    throw new UserError(`${this.location}: remote '${remote}' refused the push of ${refs.map((x) => x.ref).join(', ')}: ${why}${hint}`, {
      field: 'remote',
    })
  }
}

function records(state: ModelState): VersionRecord[] {
  return [...state.versions.values()]
    .map(({ record }) => (state.deregistered.has(record.version) ? { ...record, deprecated: true } : record))
    .sort((a, b) => semver.compare(a.version, b.version))
}

/** GTO's default reading: stage events in counter order, the latest assignment wins, an unassignment clears. */
function stageState(state: ModelState): StageState {
  const history: StageEvent[] = []
  const ordered = state.tags.filter((t) => t.stage !== undefined).sort(byCounter)
  for (const t of ordered) {
    const stage = t.stage!
    if (t.cancel) history.push({ stage, action: 'unassign', at: t.at, ref: t.tag })
    else {
      const version = stageVersion(t, state)
      if (version) history.push({ stage, version, action: 'assign', at: t.at, ref: t.tag })
    }
  }
  const current: Record<string, string> = {}
  for (const e of history) {
    if (e.action === 'assign' && e.version) current[e.stage] = e.version
    else delete current[e.stage]
  }
  return { current, history }
}

function byCounter(a: ModelTag, b: ModelTag): number {
  return (a.counter ?? 0) - (b.counter ?? 0) || a.at.localeCompare(b.at) || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0)
}

/** The version a stage tag assigns: named in our message, else (a tag made by GTO) the live version on its commit. */
function stageVersion(t: ModelTag, state: ModelState): string | undefined {
  const named = parseJson(t.message) as { version?: unknown } | undefined
  if (typeof named?.version === 'string' && state.versions.get(named.version)?.ref.commit === t.commit) return named.version
  const onCommit = [...state.versions.values()]
    .filter((v) => v.ref.commit === t.commit)
    .sort(
      (a, b) =>
        Number(state.deregistered.has(b.record.version)) - Number(state.deregistered.has(a.record.version)) ||
        semver.compare(a.record.version, b.record.version),
    )
  return onCommit.at(-1)?.record.version
}

/**
 * The record in a version tag's message. A tag made by other tools (`gto register`) still takes its
 * version number, so it is listed with what git knows about it; it cannot be fetched.
 */
function recordFromTag(t: ModelTag, name: string, version: string, location: string): VersionRecord {
  const parsed = parseJson(t.message)
  // A message that is a JSON object with a schemaVersion claims to be our record: checked, and refused naming the tag if it is not one.
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && 'schemaVersion' in parsed) {
    const { deprecated: _deprecated, ...record } = checkVersionRecord(parsed, `${location}: tag ${t.tag}`, { expected: { name, version } })
    return record
  }
  return {
    schemaVersion: VERSION_RECORD_SCHEMA,
    name,
    version,
    digest: '',
    size: 0,
    artifact: { kind: 'file', name: '', digest: '', size: 0, files: [] },
    format: 'unknown',
    metrics: {},
    evidence: [],
    datasets: [],
    git: { commit: t.commit },
    bump: { kind: 'explicit', reasons: [`registered outside modelgate: the message of ${t.tag} holds no version record`] },
    labels: {},
    createdAt: t.at,
  }
}

function parseJson(message: string): unknown {
  // A signed tag's contents end with its signature block.
  const text = message.replace(/-----BEGIN [A-Z ]*(SIGNATURE|SIGNED MESSAGE)-----[\s\S]*$/, '')
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** A record read from a tag is not trusted to name safe paths or to be consistent before it is written to disk. */
function checkRecordFiles(record: VersionRecord, tag: string): void {
  const a = record.artifact
  const safe = (p: string) => p.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\\'))
  const consistent =
    isPlainFileName(a.name) &&
    a.files.length > 0 &&
    a.files.every((f) => safe(f.path)) &&
    record.digest === a.digest &&
    (a.kind === 'file' ? a.files.length === 1 && a.files[0].digest === a.digest : directoryDigest(a.files) === a.digest)
  if (!consistent)
    throw new UserError(`${tag}: the version record's file list does not match its digest or names unsafe paths`, { field: 'digest' })
}

function isPlainFileName(file: string): boolean {
  // eslint-disable-next-line no-control-regex
  return file !== '' && file !== '.' && file !== '..' && !/[/\\\x00-\x1f]/.test(file)
}

function checkStage(stage: string): void {
  if (!MODEL_NAME.test(stage) || stage.includes('//')) {
    throw new UserError(
      `stage: '${stage}' is not a valid stage name (letters, digits, -, _ and /; starting and ending with a letter or digit)`,
      {
        field: 'stage',
      },
    )
  }
}

/**
 * A counted tag with its claim on the counter. Two stage tags with the same counter but different
 * stages are different refs, so the tags alone would not collide; `counter.<N>` does. (Its last
 * component has a dot, which no model name has, so it cannot clash with the refs of a `name/sub` model.)
 */
function counted(name: string, tag: string, counter: number, object: string): NewRef[] {
  return [
    { ref: `refs/tags/${tag}`, sha: object },
    { ref: `refs/modelgate/${name}/counter.${counter}`, sha: object },
  ]
}

function evidenceRef(name: string, version: string): string {
  return `refs/modelgate/${name}/v${version}`
}

/** The remote for messages and version URIs: no credentials, and a local path made absolute. */
function displayUrl(url: string, top: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1')
  if (/^[^/]+:/.test(url)) return url
  return path.resolve(top, url)
}

function lastLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('hint:'))
  return lines.filter((l) => /^(fatal|error|remote):/.test(l)).at(-1) ?? lines.at(-1) ?? 'no message'
}

function gitEnv(): NodeJS.ProcessEnv {
  // Never wait for a password prompt; English messages, since push rejections are classified by text.
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C', LANGUAGE: 'C' }
}

function runGit(cwd: string, args: string[], input?: string): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = execFile('git', args, { cwd, env: gitEnv(), encoding: 'buffer', maxBuffer: MAX_BUFFER }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code
      if (err && typeof code !== 'number' && code !== null && code !== undefined) {
        reject(code === 'ENOENT' ? new UserError('git is not installed or not on PATH; the git registry needs it') : err)
        return
      }
      resolve({ code: err ? (typeof code === 'number' ? code : -1) : 0, stdout, stderr: stderr.toString('utf8') })
    })
    child.stdin?.on('error', () => {
      // git may exit before reading all its input; its exit code tells what happened.
    })
    child.stdin?.end(input)
  })
}

const queues = new Map<string, Promise<unknown>>()

/** One operation at a time per repository in this process: fetches and ref transactions of one clone must not interleave. */
function serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (queues.get(key) ?? Promise.resolve()).then(fn, fn)
  const tail = run.catch(() => undefined)
  queues.set(key, tail)
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key)
  })
  return run
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
