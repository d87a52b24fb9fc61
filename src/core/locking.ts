import { setTimeout as sleep } from 'node:timers/promises'
import { UserError } from './errors.js'

/*
 * modelgate's one lock abstraction. `Lock` has three stores: a lock file (lock.ts: the local
 * registry, deploy environments), a registered model in MLflow (registry/mlflow/lock.ts) and a tag in
 * an OCI registry (registry/oci/lock.ts). All three hand out a HeldLock that releases only its own
 * lock, run work through withLock, and jitter their pauses alike. The file and the MLflow model are
 * created-if-absent (O_EXCL, RESOURCE_ALREADY_EXISTS), so they also share the wait (acquireLoop: try,
 * take a stale holder over, wait, refuse naming the holder) and its refusal (lockBusy). The OCI tag
 * cannot be: it runs Fischer's algorithm, which enters on a claim only after a delay and a re-check
 * and checks its deadline before each try, in a loop of its own (why, in registry/oci/lock.ts).
 *
 * What a store records of its holder stays the store's own (a JSON file, registered-model tags,
 * manifest annotations): other modelgate processes, older ones too, read those records, and the
 * refusals quote them. HeldLock.owner is the common view of that record.
 *
 * Nothing of modelgate but ./errors.js is imported here: the file lock depends on this file, and a
 * test compiles the file lock with its few dependencies alone to run it in child processes.
 */

/** A lock as its holder has it. */
export interface HeldLock {
  /** The holder, as the store records it. */
  readonly owner: string
  /** Gives the lock back if it is still this holder's: never another holder's lock. */
  release(): void | Promise<void>
}

/** A lock on a remote store, which a stalled holder can lose: checked before each write it guards. */
export interface GuardedLock extends HeldLock {
  /** Throws (a UserError naming `what`) when the lock may have passed to another writer. */
  assertHeld(what: string): void | Promise<void>
}

export interface Lock<H extends HeldLock = HeldLock> {
  /** Waits for the lock; refuses (a UserError naming the holder) once the store's timeout is over. */
  acquire(): Promise<H>
}

/**
 * Runs `fn` holding the lock and releases it after. When `fn` failed, its error is the one reported,
 * not a failed release after it; when it succeeded, a failed release is reported.
 */
export async function withLock<H extends HeldLock, T>(lock: Lock<H>, fn: (held: H) => Promise<T>): Promise<T> {
  const held = await lock.acquire()
  let result: T
  try {
    result = await fn(held)
  } catch (e) {
    try {
      await held.release()
    } catch {
      // The error that stopped the work is the one to report.
    }
    throw e
  }
  await held.release()
  return result
}

/** A pause of `ms` on average, spread over ½–1½ × `ms`, so writers that collided do not collide again. */
export function jittered(ms: number): number {
  return ms * (0.5 + Math.random())
}

/** One try at a create-if-absent lock: taken, a stale holder removed (try again at once), or held by `holder`. */
export type LockTry<H, S> = { taken: H } | { tookOver: true } | { holder: S | undefined }

export const TOOK_OVER = { tookOver: true } as const

export interface LockLoop<H, S> {
  timeoutMs: number
  /** The pause after the `n`th try (0-based) that found the lock held, before jitter. */
  pauseMs: (n: number) => number
  /** One try; a synchronous store stays synchronous from its create to its take-over. */
  attempt: () => LockTry<H, S> | Promise<LockTry<H, S>>
  /** The refusal once the time is up, naming the last holder seen. */
  busy: (holder: S | undefined) => Error
}

/** The wait of a create-if-absent lock: try; after a take-over try again at once; else wait until the deadline. */
export async function acquireLoop<H, S>(loop: LockLoop<H, S>): Promise<H> {
  const deadline = Date.now() + loop.timeoutMs
  for (let n = 0; ; n++) {
    const tried = loop.attempt()
    const outcome = tried instanceof Promise ? await tried : tried
    if ('taken' in outcome) return outcome.taken
    if ('tookOver' in outcome) continue
    if (Date.now() > deadline) throw loop.busy(outcome.holder)
    await sleep(jittered(loop.pauseMs(n)))
  }
}

/** `<what> is busy: locked by <holder> (<where>)`: a lock still held when the wait is over. */
export function lockBusy(what: string, holder: string | undefined, where: string, advice?: string, opts?: { file?: string }): UserError {
  return new UserError(`${what} is busy: locked${holder ? ` by ${holder}` : ''} (${where})${advice ? `; ${advice}` : ''}`, opts)
}
