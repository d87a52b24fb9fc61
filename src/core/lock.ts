import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { UserError, errorText } from './errors.js'

/*
 * A lock file created with O_EXCL: one holder at a time across processes. A holder that died is
 * detected (its pid is gone on this host, or its lock is older than `staleMs` elsewhere) and its lock
 * is moved aside, so a crash never wedges a registry or an environment.
 */

export interface LockOptions {
  /** Give up waiting after this long (default 60 s). */
  timeoutMs?: number
  /** A lock whose owner cannot be checked (another host) is taken over after this long (default 10 min). */
  staleMs?: number
  /** What is locked, for the message when it stays busy: "registry breast-cancer", "environment staging". */
  what: string
}

interface LockOwner {
  pid: number
  host: string
  at: string
}

/** Takes the lock, waiting with backoff; resolves to the function that releases it. */
export async function acquireFileLock(lock: string, opts: LockOptions): Promise<() => void> {
  mkdirSync(path.dirname(lock), { recursive: true })
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, 'wx')
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() } satisfies LockOwner))
      closeSync(fd)
      return () => rmSync(lock, { force: true })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new UserError(`${lock}: cannot take the lock (${errorText(e)})`, { file: lock })
    }
    const owner = readOwner(lock)
    if (owner && isStale(owner, lock, opts.staleMs ?? 600_000)) {
      // Moved aside, not deleted: if another process already replaced it, only one rename succeeds.
      try {
        renameSync(lock, `${lock}.stale-${randomBytes(4).toString('hex')}`)
      } catch {
        // Someone else took it over first.
      }
      continue
    }
    if (Date.now() > deadline) {
      throw new UserError(
        `${opts.what} is busy: locked${owner ? ` by process ${owner.pid} on ${owner.host} since ${owner.at}` : ''} (${lock})`,
        {
          file: lock,
        },
      )
    }
    await new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random())))
  }
}

function readOwner(lock: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(lock, 'utf8')) as LockOwner
  } catch {
    // Being written or already gone: look again on the next turn.
    return undefined
  }
}

function isStale(owner: LockOwner, lock: string, staleMs: number): boolean {
  if (owner.host === hostname()) {
    try {
      process.kill(owner.pid, 0)
      return false
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH'
    }
  }
  let age = Date.now() - Date.parse(owner.at)
  if (!Number.isFinite(age)) age = Date.now() - statSync(lock).mtimeMs
  return age > staleMs
}
