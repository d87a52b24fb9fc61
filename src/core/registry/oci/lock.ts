import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { UserError } from '../../errors.js'
import { jittered, withLock, type GuardedLock, type Lock } from '../../locking.js'
import type { OciClient } from './client.js'
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MEDIA, manifestBytes, type ImageManifest } from './spec.js'

/*
 * A timed mutual-exclusion lock on one tag, for registries without conditional tag writes
 * (distribution 2.8, GHCR): a store of ../../locking.ts's Lock. It is Fischer's algorithm, as described
 * in L. Lamport, "A Fast Mutual Exclusion Algorithm", ACM Transactions on Computer Systems 5(1), 1987:
 *
 *   repeat  await lock = free;  lock := me  (within δ of the read);  delay D > δ  until lock = me
 *
 * The tag holds a "free" manifest or a claim (owner nonce, ttl, expiry in annotations). Safety rests
 * on every claim write landing within D of the read that saw the lock free; a writer measures its own
 * read→write interval (request start to answer) and, when it exceeded D, never enters on that claim.
 * Such a late claim, and a crashed holder's claim, are released by expiry alone: nobody ever writes
 * "free" over a claim that is not theirs.
 *
 * So its wait is not the create-if-absent loop of the file and MLflow locks: a claim is entered on
 * only after the delay D and a re-check, a claim written late never, a holder is stale once this
 * process has watched its claim for a whole ttl (a monotonic clock: no clock comparison across
 * machines), and the deadline comes before each try rather than after it. Put through that loop it
 * would give up at other moments; it shares the Lock interface, withLock and the jitter of its pauses.
 */

export const LOCK_TAG = 'modelgate-lock'
export const LOCK_ARTIFACT = 'application/vnd.modelgate.lock.v1+json'
const A = {
  state: 'io.modelgate.lock.state',
  owner: 'io.modelgate.lock.owner',
  ttl: 'io.modelgate.lock.ttl-ms',
  expires: 'io.modelgate.lock.expires',
  host: 'io.modelgate.lock.host',
}

export interface TagLockOptions {
  /** D: how long a claimant waits before checking it still holds the tag; must exceed a tag write's latency. */
  delayMs: number
  /** How long a claim stays valid: a holder stops writing before it, others take over after it. */
  ttlMs: number
  /** Give up waiting for the lock after this long. */
  timeoutMs: number
  tag?: string
}

interface LockView {
  state: 'free' | 'held'
  digest?: string
  owner?: string
  ttlMs: number
  expiresAt?: number
}

export interface HeldTagLock extends GuardedLock {
  /** Throws before a write when the claim is close to its expiry (another writer may take over at expiry). */
  assertHeld(what: string): void
  /** Never rejects: a claim that cannot be freed expires by itself. */
  release(): Promise<void>
}

const now = () => performance.now()

export class TagLock implements Lock<HeldTagLock> {
  private readonly tag: string
  private emptyPushed = false
  /** Claims written that were late or lost: for tests and diagnostics. */
  readonly stats = { acquired: 0, lateWrites: 0, lostChecks: 0, takeovers: 0, slowReads: 0 }

  constructor(
    private readonly client: OciClient,
    private readonly repo: string,
    private readonly opts: TagLockOptions,
  ) {
    this.tag = opts.tag ?? LOCK_TAG
  }

  async acquire(): Promise<HeldTagLock> {
    if (!this.emptyPushed) {
      await this.client.pushBlob(this.repo, { digest: EMPTY_DESCRIPTOR.digest, size: 2, bytes: EMPTY_JSON })
      this.emptyPushed = true
    }
    const { delayMs, ttlMs, timeoutMs } = this.opts
    const firstSeen = new Map<string, number>()
    const started = now()
    for (let attempt = 0; ; attempt++) {
      if (now() - started > timeoutMs) throw this.busy()
      const readAt = now()
      const seen = await this.read()
      if (seen.state === 'held') {
        if (!this.expired(seen, firstSeen, readAt)) {
          await sleep(this.pause(attempt))
          continue
        }
        this.stats.takeovers++
      }
      // A slow read leaves little of D for the write: look again rather than risk a late claim.
      if (now() - readAt > delayMs / 2) {
        this.stats.slowReads++
        await sleep(this.pause(attempt))
        continue
      }
      const owner = randomBytes(12).toString('hex')
      const claim = claimManifest(owner, ttlMs)
      const { digest } = await this.client.putManifest(this.repo, this.tag, claim, MEDIA.manifest)
      const wroteAt = now()
      if (wroteAt - readAt >= delayMs) {
        // Fischer's bound broken: another writer may already be inside. This claim is never entered on.
        this.stats.lateWrites++
        await sleep(this.pause(attempt))
        continue
      }
      await sleep(delayMs)
      const check = await this.read()
      if (check.digest === digest) {
        this.stats.acquired++
        return this.held(owner, digest, readAt)
      }
      this.stats.lostChecks++
      await sleep(this.pause(attempt))
    }
  }

  private busy(): UserError {
    const slow =
      this.stats.slowReads > 0 || this.stats.lateWrites > 0
        ? `; the registry answered slower than the lock delay allows (${this.stats.slowReads} slow reads, ${this.stats.lateWrites} late writes): raise lockDelayMs`
        : ': another modelgate writer holds it; try again'
    return new UserError(
      `registry ${this.client.registry}: could not take the write lock of ${this.repo} (tag ${this.tag}) in ${Math.round(this.opts.timeoutMs / 1000)} s${slow}`,
      { field: 'registry' },
    )
  }

  /** Runs `fn` holding the lock, and releases it whatever happens. */
  async with<T>(fn: (lock: HeldTagLock) => Promise<T>): Promise<T> {
    return withLock(this, fn)
  }

  private held(owner: string, digest: string, since: number): HeldTagLock {
    const { ttlMs } = this.opts
    // Stop writing with a quarter of the ttl left: room for the write in flight to land before expiry.
    const budget = ttlMs * 0.75
    return {
      owner,
      assertHeld: (what) => {
        if (now() - since > budget) {
          throw new UserError(
            `registry ${this.client.registry}: the write lock on ${this.repo} is about to expire (held ${Math.round((now() - since) / 1000)} s of ${Math.round(ttlMs / 1000)} s); stopped before ${what}, nothing was committed`,
            { field: 'registry' },
          )
        }
      },
      release: async () => {
        try {
          if (now() - since > ttlMs * 0.9) return
          const cur = await this.read()
          if (cur.digest !== digest) return
          await this.client.putManifest(this.repo, this.tag, FREE_MANIFEST, MEDIA.manifest)
          // The claim is untagged now; remove it where the registry lets us, so claims do not pile up as
          // untagged versions. GHCR refuses (its deletions go through the packages API): left in place.
          await this.client.deleteManifest(this.repo, digest).catch(() => false)
        } catch {
          // The claim expires by itself; the outcome of the work it guarded is what the caller needs.
        }
      },
    }
  }

  /**
   * A claim is stale when this process has watched the same claim for its whole ttl (no clock
   * comparison across machines), or when its wall-clock expiry is more than a ttl in the past
   * (a claim left long ago, seen for the first time).
   */
  private expired(seen: LockView, firstSeen: Map<string, number>, readAt: number): boolean {
    const key = seen.digest ?? ''
    if (!firstSeen.has(key)) firstSeen.set(key, readAt)
    if (now() - (firstSeen.get(key) ?? readAt) >= seen.ttlMs) return true
    return seen.expiresAt !== undefined && Date.now() > seen.expiresAt + seen.ttlMs
  }

  private pause(attempt: number): number {
    return jittered(this.opts.delayMs * Math.min(2, 0.5 + attempt / 8))
  }

  private async read(): Promise<LockView> {
    const found = await this.client.getManifest(this.repo, this.tag)
    if (!found) return { state: 'free', ttlMs: this.opts.ttlMs }
    let annotations: Record<string, string> = {}
    try {
      annotations = (JSON.parse(found.bytes.toString('utf8')) as ImageManifest).annotations ?? {}
    } catch {
      // Something else sits on the tag: held by an unknown writer until it expires.
    }
    if (annotations[A.state] === 'free') return { state: 'free', digest: found.digest, ttlMs: this.opts.ttlMs }
    const ttl = Number(annotations[A.ttl])
    const expires = Date.parse(annotations[A.expires] ?? '')
    return {
      state: 'held',
      digest: found.digest,
      owner: annotations[A.owner],
      ttlMs: Number.isFinite(ttl) && ttl > 0 ? ttl : this.opts.ttlMs,
      expiresAt: Number.isFinite(expires) ? expires : undefined,
    }
  }
}

function lockManifest(annotations: Record<string, string>): Buffer {
  return manifestBytes({ artifactType: LOCK_ARTIFACT, layers: [EMPTY_DESCRIPTOR], annotations })
}

/** Always the same bytes, so releasing never adds a manifest to the repository. */
const FREE_MANIFEST = lockManifest({ [A.state]: 'free' })

export function claimManifest(owner: string, ttlMs: number): Buffer {
  return lockManifest({
    [A.state]: 'held',
    [A.owner]: owner,
    [A.ttl]: String(Math.round(ttlMs)),
    [A.expires]: new Date(Date.now() + ttlMs).toISOString(),
    [A.host]: hostname(),
  })
}
