import { randomBytes } from 'node:crypto'
import * as nodeFs from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { UserError } from './errors.js'
import { errnoCode, fsCause, makeFolder } from './fs-errors.js'
import { TOOK_OVER, acquireLoop, lockBusy, type HeldLock, type Lock } from './locking.js'

/*
 * The file lock, a store of ./locking.ts's Lock: a file created with O_EXCL, one holder at a time
 * across processes and hosts. It imports nothing of modelgate but ./errors.js, ./fs-errors.js and
 * ./locking.js: a test compiles these alone and runs the lock in child processes.
 *
 * The file records its owner: {pid, host, boot, at, token}. While it holds the lock, the owner
 * refreshes the file's mtime every `staleMs / 10` (every minute by default), so a long copy or deploy
 * is never mistaken for a dead one. A lock is STALE, and is broken, when its owner is gone:
 *
 *   - it records no owner (empty or not our JSON: a crash between create and write, a truncated
 *     write after a power loss, a file a person made; or a folder or symbolic link in its place)
 *     and was last written more than EMPTY_GRACE_MS (2 s) ago; the grace covers a live writer
 *     between its create and its write;
 *   - its owner is a process on this host (same hostname and boot) that no longer exists;
 *   - it was not refreshed for longer than `staleMs` (default 10 min, the longest a holder may go
 *     without refreshing): the only rule for a lock from another host, whose pid cannot be checked;
 *     it also catches a pid reused by another process, and a lock that cannot be read at all.
 *
 * A live lock is waited for (backoff up to `timeoutMs`), then refused naming its holder.
 *
 * Breaking is atomic. The breaker hard-links the stale file to a name derived from its identity
 * (inode and mtime), re-checks that what it linked is the very file it judged, and only then unlinks
 * the lock. Of several processes breaking the same stale lock, exactly one creates that name; the
 * others get EEXIST and go back to waiting, so none of them can remove the fresh lock the winner (or
 * anyone else) takes next. A name linked more than BREAKER_GRACE_MS (30 s) ago was left by a
 * breaker that died in those few system calls: everyone skips it to the next name. Where the file
 * system has no hard links, the breaker renames the lock to a unique name and re-checks instead,
 * putting back a live lock it moved; that fallback leaves a window of a few system calls in which
 * two breakers racing on one stale lock could both win.
 * Every break is reported through `onWarning`, naming the lock file and why it was stale.
 */

/** The file-system calls the lock makes: node:fs, or a stand-in that injects errors in tests. */
export type LockFs = Pick<
  typeof nodeFs,
  | 'closeSync'
  | 'existsSync'
  | 'linkSync'
  | 'lstatSync'
  | 'mkdirSync'
  | 'openSync'
  | 'readFileSync'
  | 'renameSync'
  | 'rmSync'
  | 'statSync'
  | 'unlinkSync'
  | 'utimesSync'
  | 'writeSync'
>

export interface LockOptions {
  /** Give up waiting after this long (default 60 s). */
  timeoutMs?: number
  /** A lock not refreshed for this long is stale, whatever its owner (default 10 min). */
  staleMs?: number
  /** What is locked, for the message when it stays busy: "registry breast-cancer", "environment staging". */
  what: string
  /** Where "broke a stale lock" goes (default: a `warning:` line on stderr). */
  onWarning?: (message: string) => void
  /** The file system (default node:fs). */
  fs?: LockFs
}

/** Default for `staleMs`: how long a holder may go without refreshing its lock. */
export const DEFAULT_STALE_MS = 10 * 60_000
/** An ownerless lock younger than this may be a live writer between its create and its write. */
export const EMPTY_GRACE_MS = 2_000
/** A breaker's link older than this is from a breaker that died between its link and its unlink. */
export const BREAKER_GRACE_MS = 30_000

interface LockOwner {
  pid: number
  host: string
  /** Linux boot id: tells a reboot, or another machine of the same name, from this host. */
  boot?: string
  at: string
  /** Makes every lock file's content unique, so a re-check can tell two locks apart. */
  token?: string
}

/** What a look at the lock file saw: its identity, and its owner when it records one. */
interface Seen {
  dev: bigint
  ino: bigint
  size: bigint
  mtimeNs: bigint
  text?: string
  /** Set when the lock is not a regular file: "a folder", "a symbolic link". */
  notAFile?: string
  /** Set when the file exists but cannot be read. */
  readError?: unknown
  owner?: LockOwner
}

/** A held lock file; its release is synchronous, and may be called unbound. */
export interface HeldFileLock extends HeldLock {
  release(): void
}

/** The lock file `lock` as a Lock. */
export function fileLock(lock: string, opts: LockOptions): Lock<HeldFileLock> {
  return { acquire: () => takeFileLock(lock, opts) }
}

/** Takes the lock, waiting with backoff; resolves to the function that releases it. */
export async function acquireFileLock(lock: string, opts: LockOptions): Promise<() => void> {
  return (await takeFileLock(lock, opts)).release
}

async function takeFileLock(lock: string, opts: LockOptions): Promise<HeldFileLock> {
  const fs = opts.fs ?? nodeFs
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS
  const warn = opts.onWarning ?? ((m: string) => void process.stderr.write(`warning: ${m}\n`))
  const fail = (doing: string, p: string, e: unknown) =>
    new UserError(`${opts.what}: cannot ${doing} ${p}: ${fsCause(e, p, fs)}`, { file: p, cause: e })
  const dir = path.dirname(lock)
  try {
    makeFolder(dir, fs)
  } catch (e) {
    throw fail('create the folder of the lock', dir, e)
  }
  return acquireLoop<HeldFileLock, LockOwner>({
    timeoutMs: opts.timeoutMs ?? 60_000,
    // Never a tight loop: a lock another breaker is moving, or one that flickers, is waited for too.
    pauseMs: (attempt) => Math.min(200, 5 * 2 ** Math.min(attempt, 5)),
    attempt: () => {
      const content = JSON.stringify({
        pid: process.pid,
        host: hostname(),
        ...(bootId() ? { boot: bootId() } : {}),
        at: new Date().toISOString(),
        token: randomBytes(8).toString('hex'),
      } satisfies LockOwner)
      if (tryCreate(lock, content, fs, fail)) return { taken: holding(lock, content, staleMs, fs, opts.what, warn) }
      // Undefined when released between our create and our look.
      const seen = inspect(lock, fs, fail)
      const reason = seen && staleness(seen, staleMs)
      if (seen && reason && breakStale(lock, seen, fs, fail)) {
        warn(`${opts.what}: broke the stale lock ${lock}: ${reason}`)
        return TOOK_OVER
      }
      return { holder: seen?.owner }
    },
    busy: (owner) =>
      lockBusy(opts.what, owner && `process ${owner.pid} on ${owner.host} since ${owner.at}`, lock, undefined, { file: lock }),
  })
}

type Fail = (doing: string, p: string, e: unknown) => UserError

/** Creates the lock with O_EXCL; false when it exists. */
function tryCreate(lock: string, content: string, fs: LockFs, fail: Fail): boolean {
  let fd: number
  try {
    fd = fs.openSync(lock, 'wx')
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false
    throw fail('take the lock', lock, e)
  }
  try {
    fs.writeSync(fd, content)
    fs.closeSync(fd)
  } catch (e) {
    // Half a lock would block the next writer for the grace period: take it away.
    try {
      fs.rmSync(lock, { force: true })
    } catch {
      // The write error is the one to report.
    }
    throw fail('write the lock', lock, e)
  }
  return true
}

/** The held lock, with a timer refreshing the lock's mtime while it is held. */
function holding(lock: string, content: string, staleMs: number, fs: LockFs, what: string, warn: (m: string) => void): HeldFileLock {
  const ours = () => {
    try {
      return fs.readFileSync(lock, 'utf8') === content
    } catch {
      return false
    }
  }
  const timer = setInterval(
    () => {
      if (!ours()) {
        clearInterval(timer)
        warn(`${what}: the lock ${lock} was taken over by another process while this one held it`)
        return
      }
      try {
        const now = new Date()
        fs.utimesSync(lock, now, now)
      } catch {
        // A refresh that fails leaves the lock older; the next one tries again.
      }
    },
    Math.max(10, Math.min(60_000, Math.floor(staleMs / 10))),
  )
  timer.unref()
  const release = () => {
    clearInterval(timer)
    // Only our own lock: if it was broken and taken, the new holder's file stays.
    if (!ours()) return
    try {
      fs.unlinkSync(lock)
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT')
        throw new UserError(`${what}: cannot release the lock ${lock}: ${fsCause(e, lock, fs)}`, { file: lock, cause: e })
    }
  }
  return { owner: content, release }
}

/** The lock's identity and owner; undefined when it is gone. */
function inspect(lock: string, fs: LockFs, fail: Fail): Seen | undefined {
  let st: nodeFs.BigIntStats
  try {
    st = fs.lstatSync(lock, { bigint: true })
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined
    throw fail('read the lock', lock, e)
  }
  const seen: Seen = { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs }
  // A folder, a symbolic link or a FIFO (which a read would wait on forever) records no owner.
  if (!st.isFile()) {
    seen.notAFile = st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'
    return seen
  }
  try {
    seen.text = fs.readFileSync(lock, 'utf8')
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined
    seen.readError = e
    return seen
  }
  seen.owner = parseOwner(seen.text)
  return seen
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner> | null
    // A pid of 0 or below would make kill() signal a process group: not an owner.
    if (o && Number.isInteger(o.pid) && (o.pid as number) > 0 && typeof o.host === 'string' && typeof o.at === 'string')
      return o as LockOwner
  } catch {
    // Not JSON: no owner.
  }
  return undefined
}

/** Why the lock is stale, or undefined while its owner may be alive. */
function staleness(seen: Seen, staleMs: number): string | undefined {
  const written = Number(seen.mtimeNs / 1_000_000n)
  const since = (t: number) => `${duration(Date.now() - t)} ago`
  if (seen.readError !== undefined) {
    // Perhaps a live lock of another user: only the age can tell.
    if (Date.now() - written <= staleMs) return undefined
    return `it cannot be read: ${fsCause(seen.readError)}; it was last refreshed ${since(written)} (a holder refreshes it at least every ${duration(staleMs)})`
  }
  const { owner } = seen
  if (!owner) {
    if (Date.now() - written <= EMPTY_GRACE_MS) return undefined
    const what = seen.notAFile ?? (seen.text?.trim() ? 'not a modelgate lock' : 'empty file')
    return `it records no owner (${what}, last written ${since(written)})`
  }
  const alive = Math.max(written, Date.parse(owner.at) || 0)
  if (Date.now() - alive > staleMs) {
    return `its owner, process ${owner.pid} on ${owner.host}, last refreshed it ${since(alive)} (a holder refreshes it at least every ${duration(staleMs)})`
  }
  if (owner.host === hostname() && (owner.boot === undefined || bootId() === undefined || owner.boot === bootId())) {
    try {
      process.kill(owner.pid, 0)
    } catch (e) {
      // EPERM: alive, under another user.
      if (errnoCode(e) === 'ESRCH') return `its owner, process ${owner.pid} on this host, is gone`
    }
  }
  return undefined
}

/** Moves the stale lock away if it is still the file `seen` describes; true when this call broke it. */
function breakStale(lock: string, seen: Seen, fs: LockFs, fail: Fail): boolean {
  // One name per stale file: of all the processes breaking it, only one can create this link. A
  // name left by a breaker that died between its link and its clean-up (linked longer ago than
  // BREAKER_GRACE_MS) is skipped, the same way by everyone, to the next name.
  let aside = ''
  for (let n = 0; !aside; n++) {
    const name = `${lock}.stale-${seen.ino}-${seen.mtimeNs}${n ? `-${n}` : ''}`
    try {
      fs.linkSync(lock, name)
      aside = name
    } catch (e) {
      const c = errnoCode(e)
      if (c === 'ENOENT') return false // Gone already.
      if (c === 'EEXIST') {
        if (n < 8 && ageOfLink(name, fs) > BREAKER_GRACE_MS) continue
        return false // Being broken by another process right now.
      }
      if (c === 'EPERM' || c === 'ENOTSUP' || c === 'EOPNOTSUPP' || c === 'ENOSYS' || c === 'EMLINK' || c === 'EXDEV')
        return breakByRename(lock, seen, fs, fail)
      throw fail('break the stale lock', lock, e)
    }
  }
  try {
    // The lock may have been released and taken again since we looked: then we linked a live lock.
    if (!sameFile(aside, seen, fs)) return false
    // Still the stale file, and no other breaker can get past the link above while it stands.
    try {
      fs.unlinkSync(lock)
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false
      throw fail('break the stale lock', lock, e)
    }
    return true
  } finally {
    tidy(() => fs.rmSync(aside, { force: true }))
  }
}

/** How long ago a link to `file` was made or removed (its ctime); 0 when it cannot be told. */
function ageOfLink(file: string, fs: LockFs): number {
  try {
    return Date.now() - Number(fs.lstatSync(file, { bigint: true }).ctimeNs / 1_000_000n)
  } catch {
    return 0
  }
}

/** For file systems without hard links: rename to a unique name, re-check, put back a live lock. */
function breakByRename(lock: string, seen: Seen, fs: LockFs, fail: Fail): boolean {
  const aside = `${lock}.stale-${randomBytes(6).toString('hex')}`
  try {
    fs.renameSync(lock, aside)
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false
    throw fail('break the stale lock', lock, e)
  }
  if (sameFile(aside, seen, fs)) {
    // A folder where the lock should be is the one thing that needs `recursive`.
    tidy(() => fs.rmSync(aside, { recursive: true, force: true }))
    return true
  }
  // We moved a lock taken after we looked: give it back, unless another writer is already in.
  try {
    if (!fs.existsSync(lock)) fs.renameSync(aside, lock)
  } catch {
    // Left aside; its holder's release finds nothing to remove.
  }
  return false
}

function sameFile(file: string, seen: Seen, fs: LockFs): boolean {
  try {
    const st = fs.lstatSync(file, { bigint: true })
    if (st.dev !== seen.dev || st.ino !== seen.ino || st.mtimeNs !== seen.mtimeNs || st.size !== seen.size) return false
    return seen.text === undefined || fs.readFileSync(file, 'utf8') === seen.text
  } catch {
    return false
  }
}

let boot: string | null | undefined
/** Linux's id of this boot; undefined elsewhere. */
function bootId(): string | undefined {
  if (boot === undefined) {
    try {
      boot = nodeFs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null
    } catch {
      boot = null
    }
  }
  return boot ?? undefined
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s} s`
  const m = Math.round(s / 60)
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`
}

function tidy(fn: () => void): void {
  try {
    fn()
  } catch {
    // Clean-up only: a leftover `.lock.stale-*` is harmless, and removed by the registry's next writer.
  }
}
