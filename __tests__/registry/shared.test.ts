import { describe, it, expect } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import { TOOK_OVER, acquireLoop, jittered, lockBusy, withLock, type HeldLock, type LockTry } from '../../src/core/locking.js'
import { noEvidence, refuseDeprecated, requireAssigned, requireVersion } from '../../src/core/registry/refusals.js'
import { stageState, type StageEvent } from '../../src/core/registry/stages.js'
import { EMPTY_DESCRIPTOR, MEDIA, manifestBytes, type Descriptor } from '../../src/core/registry/oci/spec.js'

/*
 * The pieces the registry backends and the three lock stores share: the lock abstraction
 * (src/core/locking.ts), the refusals every backend gives, the stage history, and the OCI manifest
 * bytes. Each backend's own tests run them end to end; these pin down their contracts alone.
 */

function recordingLock(log: string[], release: () => void | Promise<void> = () => undefined) {
  return {
    acquire: async (): Promise<HeldLock> => {
      log.push('acquire')
      return {
        owner: 'me',
        release: () => {
          log.push('release')
          return release()
        },
      }
    },
  }
}

describe('withLock', () => {
  it('runs the work holding the lock and releases it after', async () => {
    const log: string[] = []
    const out = await withLock(recordingLock(log), async (held) => {
      log.push(`work as ${held.owner}`)
      return 42
    })
    expect(out).toBe(42)
    expect(log).toEqual(['acquire', 'work as me', 'release'])
  })

  it("reports the work's error, not a release that fails after it", async () => {
    const log: string[] = []
    const lock = recordingLock(log, () => {
      throw new Error('release failed')
    })
    await expect(
      withLock(lock, async () => {
        throw new UserError('the work failed')
      }),
    ).rejects.toThrow('the work failed')
    expect(log).toEqual(['acquire', 'release'])
  })

  it('reports a release that fails after the work succeeded', async () => {
    const lock = recordingLock([], async () => {
      throw new UserError('cannot release')
    })
    await expect(withLock(lock, async () => 'done')).rejects.toThrow('cannot release')
  })
})

describe('acquireLoop', () => {
  const loop = <H>(tries: (() => LockTry<H, string>)[], timeoutMs = 10_000) => {
    let n = 0
    const pauses: number[] = []
    const taken = acquireLoop<H, string>({
      timeoutMs,
      pauseMs: (i) => {
        pauses.push(i)
        return 1
      },
      attempt: () => tries[Math.min(n++, tries.length - 1)](),
      busy: (holder) => new UserError(`busy: ${holder}`),
    })
    return { taken, pauses, tries: () => n }
  }

  it('takes a free lock on the first try', async () => {
    const l = loop([() => ({ taken: 'held' })])
    await expect(l.taken).resolves.toBe('held')
    expect(l.tries()).toBe(1)
    expect(l.pauses).toEqual([])
  })

  it('tries again at once after a take-over, and pauses after a try that found the lock held', async () => {
    const l = loop([() => TOOK_OVER, () => ({ holder: 'other' }), () => ({ taken: 'held' })])
    await expect(l.taken).resolves.toBe('held')
    expect(l.tries()).toBe(3)
    // The pause is asked with the number of the try that found the lock held.
    expect(l.pauses).toEqual([1])
  })

  it('refuses once the time is up, naming the last holder seen', async () => {
    const l = loop([() => ({ holder: 'other-host:7' })], 30)
    await expect(l.taken).rejects.toThrow('busy: other-host:7')
    expect(l.tries()).toBeGreaterThan(1)
  })

  it('keeps a synchronous store synchronous: no other work runs between its tries after a take-over', async () => {
    const order: string[] = []
    let n = 0
    const taken = acquireLoop<string, string>({
      timeoutMs: 1000,
      pauseMs: () => 1,
      attempt: () => {
        order.push(`try ${n}`)
        return n++ === 0 ? TOOK_OVER : { taken: 'held' }
      },
      busy: () => new UserError('busy'),
    })
    order.push('caller')
    await taken
    expect(order).toEqual(['try 0', 'try 1', 'caller'])
  })
})

describe('lockBusy and jittered', () => {
  it('say who holds the lock and where, with advice when there is some', () => {
    expect(lockBusy('registry m', 'process 7 on h since t', '/r/m/.lock', undefined, { file: '/r/m/.lock' })).toMatchObject({
      message: 'registry m is busy: locked by process 7 on h since t (/r/m/.lock)',
      file: '/r/m/.lock',
    })
    expect(lockBusy('environment e', undefined, '/d/deploy.lock').message).toBe('environment e is busy: locked (/d/deploy.lock)')
    expect(lockBusy('x: registry m', 'w until now', 'registered model m.modelgate-lock', 'retry later').message).toBe(
      'x: registry m is busy: locked by w until now (registered model m.modelgate-lock); retry later',
    )
  })

  it('spreads a pause over half to one and a half times its length', () => {
    for (let i = 0; i < 200; i++) {
      const ms = jittered(100)
      expect(ms).toBeGreaterThanOrEqual(50)
      expect(ms).toBeLessThan(150)
    }
  })
})

describe('the refusals every backend gives', () => {
  it('name the registry, the model and what is missing, with the field to blame', () => {
    expect(requireVersion({ v: 1 }, 'reg', 'm', '1.0.0')).toEqual({ v: 1 })
    expect(() => requireVersion(undefined, 'reg', 'm', '1.0.0')).toThrow(new UserError('reg: m has no version 1.0.0'))
    expect(noEvidence('reg', 'm', '1.0.0', 'report.json')).toMatchObject({
      message: 'reg: m 1.0.0 has no evidence file report.json',
      field: 'evidence',
    })
  })

  it('refuse a stage to a deprecated version, on the field the caller names', () => {
    expect(() => refuseDeprecated({}, 'm', '1.0.0')).not.toThrow()
    for (const field of ['version', 'stage']) {
      let caught: unknown
      try {
        refuseDeprecated({ deprecated: true }, 'm', '1.0.0', field)
      } catch (e) {
        caught = e
      }
      expect(caught).toMatchObject({ message: 'm 1.0.0 is deprecated and cannot be assigned a stage', field })
    }
  })

  it('refuse to unassign a stage that points nowhere, and give the version one points at', () => {
    const state = stageState([{ stage: 'prod', version: '1.0.0', action: 'assign', at: 't1' }])
    expect(requireAssigned(state, 'm', 'prod')).toBe('1.0.0')
    expect(() => requireAssigned(state, 'm', 'staging')).toThrow(new UserError('m: stage staging is not assigned'))
  })
})

describe('stageState', () => {
  it('follows the history: the latest assignment wins, an unassignment clears', () => {
    const history: StageEvent[] = [
      { stage: 'staging', version: '1.0.0', action: 'assign', at: 't1' },
      { stage: 'prod', version: '1.0.0', action: 'assign', at: 't2' },
      { stage: 'staging', version: '1.1.0', action: 'assign', at: 't3' },
      { stage: 'prod', action: 'unassign', at: 't4' },
    ]
    expect(stageState(history)).toEqual({ current: { staging: '1.1.0' }, history })
  })
})

describe('OCI manifest bytes', () => {
  const layer: Descriptor = { mediaType: 'application/json', digest: 'sha256:ab', size: 2 }

  it('are an artifact manifest with the empty config, its keys in the image-spec order', () => {
    const bytes = manifestBytes({ artifactType: 'application/x-test', layers: [layer], annotations: { a: 'b' } })
    expect(bytes.toString()).toBe(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        artifactType: 'application/x-test',
        config: EMPTY_DESCRIPTOR,
        layers: [layer],
        annotations: { a: 'b' },
      }),
    )
  })

  it('carry a subject before the annotations, and a config when given one', () => {
    const subject: Descriptor = { mediaType: MEDIA.manifest, digest: 'sha256:cd', size: 9 }
    const config: Descriptor = { mediaType: 'application/x-config', digest: 'sha256:ef', size: 3 }
    const parsed = JSON.parse(
      manifestBytes({ artifactType: 'application/x-test', layers: [layer], annotations: {}, subject, config }).toString(),
    ) as Record<string, unknown>
    expect(Object.keys(parsed)).toEqual(['schemaVersion', 'mediaType', 'artifactType', 'config', 'layers', 'subject', 'annotations'])
    expect(parsed.config).toEqual(config)
  })
})
