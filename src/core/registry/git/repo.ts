import { execFile, spawn } from 'node:child_process'
import { createWriteStream, existsSync, realpathSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { UserError } from '../../errors.js'
import { digestTap } from '../digest.js'

/*
 * The repository of a git registry, as the backend drives it: git processes run in its top folder
 * with options that keep them from touching the user's setup (no auto gc, no prompts, a fallback
 * identity), object writes that bypass the working tree, and publishing refs as a compare-and-swap:
 * created locally in one transaction, then pushed with `--atomic`. Every git failure becomes a
 * UserError naming the repository; push rejections that mean "another writer got there first" are
 * told apart from the others, since they are retried rather than reported.
 */

/** Written when the repository has no identity of its own, so tags can be made on a fresh CI runner. */
const FALLBACK_IDENTITY = { 'user.name': 'modelgate', 'user.email': 'modelgate@users.noreply.github.com' }

/** Push rejections that mean "another writer got there first": re-read and try again. */
const LOST_RACE =
  /already exists|fetch first|non-fast-forward|stale info|atomic push failed|failed to lock|cannot lock|incorrect old value/i

const MAX_BUFFER = 1 << 30

export interface GitRepoOptions {
  /** The working repository holding the committed models. */
  repoDir: string
  /** The remote the tags are pushed to: default `origin` when the repository has it; `false` keeps tags local. */
  remote?: string | false
}

export interface Repo {
  top: string
  remote?: string
  /** Where versions live for people and deploy: the remote URL without credentials, or the repository folder. */
  base: string
  /** Options before every git command: no auto gc, and `-c user.name=… -c user.email=…` when the repository has no identity. */
  pre: string[]
}

export interface NewRef {
  ref: string
  sha: string
}

export interface GitRun {
  code: number
  stdout: Buffer
  stderr: string
}

export class GitRepo {
  private repo?: Promise<Repo>
  private resolved?: Repo
  private tagger?: Promise<string>

  constructor(private readonly opts: GitRepoOptions) {}

  get location(): string {
    return this.resolved?.base ?? this.opts.repoDir
  }

  ready(): Promise<Repo> {
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

  /** Runs `fn` alone among this process's operations on the repository: fetches and ref transactions must not interleave. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const repo = await this.ready()
    return serial(repo.top, fn)
  }

  async git(args: string[], input?: string): Promise<GitRun> {
    const repo = await this.ready()
    return runGit(repo.top, [...repo.pre, ...args], input)
  }

  /** Runs git and throws a UserError naming `what` when it fails. */
  async ok(args: string[], what: string, input?: string): Promise<GitRun> {
    const r = await this.git(args, input)
    if (r.code !== 0) throw new UserError(`${this.location}: cannot ${what}: git ${args[0]} failed (${lastLine(r.stderr)})`)
    return r
  }

  /** Brings the model's tags and evidence refs level with the remote, dropping local ones it does not have. */
  async sync(name: string): Promise<void> {
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

  /** Streams a blob through SHA-256, into `dest` when given; undefined when git cannot read it. */
  async blob(spec: string, dest?: string): Promise<{ digest: string; size: number } | undefined> {
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
    const tap = digestTap()
    const sink = dest ? createWriteStream(dest) : new Writable({ write: (_c, _e, cb) => cb() })
    await pipeline(child.stdout, tap.stream, sink)
    if ((await exited) !== 0) return undefined
    return { digest: tap.digest(), size: tap.size() }
  }

  /** Stores files as blobs, byte for byte (no filters), in one git process. */
  async hashFiles(files: string[]): Promise<string[]> {
    const out = await this.ok(['hash-object', '-w', '--no-filters', '--', ...files], 'store the files')
    return out.stdout.toString('utf8').trim().split('\n')
  }

  /**
   * An annotated tag object (not yet referenced by any ref), so that all refs can then be created in
   * one transaction. The identity is looked up once; the time is now.
   */
  async makeTag(tag: string, commit: string, message: string): Promise<{ object: string; at: string }> {
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
  async publish(refs: NewRef[]): Promise<boolean> {
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

/** The remote for messages and version URIs: no credentials, and a local path made absolute. */
function displayUrl(url: string, top: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1')
  if (/^[^/]+:/.test(url)) return url
  return path.resolve(top, url)
}

export function lastLine(stderr: string): string {
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
