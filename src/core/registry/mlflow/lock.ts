import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { UserError } from '../../errors.js'
import { TOOK_OVER, acquireLoop, lockBusy, type GuardedLock, type Lock } from '../../locking.js'
import { isCode, type MlflowClient } from './client.js'
import { LOCK_SUFFIX, TAG, tagMap } from './layout.js'

/*
 * The write lock of a model in MLflow, a store of ../../locking.ts's Lock: the registered model
 * `<name>.modelgate-lock`. MLflow has no conditional writes, but creating a registered model that
 * exists fails (RESOURCE_ALREADY_EXISTS), which makes it a create-if-absent lock like the lock file,
 * and it waits in the same loop (acquireLoop). Its tags record the holder and an expiry the holder pushes forward;
 * a lock past its expiry is deleted by the next writer, if it is still the one that writer judged.
 */

export interface ModelLockOptions {
  /** A lock whose holder stopped renewing it is taken over after this long (default 10 min). */
  ttlMs?: number
  /** Give up waiting for the lock after this long (default 5 min). */
  timeoutMs?: number
  /** Pause between attempts to take a held lock (default 500 ms, jittered). */
  pollMs?: number
}

interface LockState {
  owner: string
  expires: number
}

export class ModelLock implements Lock<HeldModelLock> {
  readonly lockName: string
  readonly ttl: number

  constructor(
    readonly client: MlflowClient,
    private readonly name: string,
    private readonly opts: ModelLockOptions = {},
  ) {
    this.lockName = `${name}${LOCK_SUFFIX}`
    this.ttl = opts.ttlMs ?? 600_000
  }

  async acquire(): Promise<HeldModelLock> {
    const { client, name, lockName, ttl } = this
    const owner = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`
    return acquireLoop<HeldModelLock, LockState>({
      timeoutMs: this.opts.timeoutMs ?? 300_000,
      pauseMs: () => this.opts.pollMs ?? 500,
      attempt: async () => {
        const expires = Date.now() + ttl
        try {
          await client.call({
            method: 'POST',
            path: '/registered-models/create',
            body: {
              name: lockName,
              description: `modelgate's write lock on ${name}: held while registering or changing stages; deleted when released`,
              tags: [
                { key: TAG.lockOwner, value: owner },
                { key: TAG.lockExpires, value: new Date(expires).toISOString() },
              ],
            },
            need: 'EDIT',
            model: lockName,
          })
          return { taken: new HeldModelLock(this, owner, expires) }
        } catch (e) {
          if (!isCode(e, 'RESOURCE_ALREADY_EXISTS')) throw e
        }
        const current = await this.state()
        if (current && current.expires < Date.now()) {
          await this.takeOver(current)
          return TOOK_OVER
        }
        return { holder: current }
      },
      busy: (current) =>
        lockBusy(
          `${client.location}: registry ${name}`,
          `${current?.owner ?? 'another writer'} until ${current ? new Date(current.expires).toISOString() : 'now'}`,
          `registered model ${lockName}`,
          'retry later, or delete that registered model if its writer died',
        ),
    })
  }

  /** The lock's holder and expiry, or undefined when no lock exists. */
  async state(): Promise<LockState | undefined> {
    const model = await this.client.registeredModel(this.lockName)
    if (!model) return undefined
    const tags = tagMap(model.tags)
    const parsed = Date.parse(tags[TAG.lockExpires] ?? '')
    const expires = Number.isFinite(parsed) ? parsed : (model.creation_timestamp ?? 0) + this.ttl
    return { owner: tags[TAG.lockOwner] ?? 'unknown', expires }
  }

  /** Deletes the lock if it is still `owner`'s; a lock already gone is no error. */
  async delete(owner: string, expires?: number): Promise<void> {
    const again = await this.state()
    if (!again || again.owner !== owner || (expires !== undefined && again.expires !== expires)) return
    await this.client.call({
      method: 'DELETE',
      path: '/registered-models/delete',
      body: { name: this.lockName },
      need: 'MANAGE',
      model: this.lockName,
    })
  }

  /** Deletes a lock whose holder stopped renewing it, if it is still that holder's. */
  private async takeOver(stale: LockState): Promise<void> {
    try {
      await this.delete(stale.owner, stale.expires)
    } catch (e) {
      if (isCode(e, 'RESOURCE_DOES_NOT_EXIST')) return
      throw e
    }
  }
}

/**
 * The lock as held: renewed every third of its TTL, so a long upload or READY wait keeps it, and
 * checked before each write, so a writer that stalled past its TTL stops instead of writing.
 */
export class HeldModelLock implements GuardedLock {
  private lost = false
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly lock: ModelLock,
    readonly owner: string,
    private expires: number,
  ) {
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(lock.ttl / 3)))
    this.timer.unref()
  }

  private async renew(): Promise<void> {
    if (this.lost) return
    try {
      const state = await this.lock.state()
      if (state?.owner !== this.owner) {
        this.lost = true
        return
      }
      const expires = Date.now() + this.lock.ttl
      await this.lock.client.call({
        method: 'POST',
        path: '/registered-models/set-tag',
        body: { name: this.lock.lockName, key: TAG.lockExpires, value: new Date(expires).toISOString() },
        need: 'EDIT',
        model: this.lock.lockName,
      })
      this.expires = expires
    } catch {
      // The next assertHeld re-reads the lock and decides.
    }
  }

  async assertHeld(what: string): Promise<void> {
    const state = this.lost || Date.now() > this.expires ? undefined : await this.lock.state()
    if (state?.owner !== this.owner) {
      this.lost = true
      throw new UserError(
        `${this.lock.client.location}: lost the lock ${this.lock.lockName} before ${what} (held longer than its ${this.lock.ttl} ms TTL, and another writer took it over); nothing more was written: retry`,
      )
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer)
    try {
      await this.lock.delete(this.owner)
    } catch {
      // An unreleased lock expires after its TTL and is taken over; the work it guarded is done.
    }
  }
}
