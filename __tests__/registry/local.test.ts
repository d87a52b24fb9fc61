import { describe, it, expect } from '@jest/globals'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { LocalBackend } from '../../src/core/registry/backends/local.js'
import { backendConformance, planFor, tmp, writeArtifact } from './conformance.js'

let root = ''
backendConformance('local', {
  make: async (writer) => {
    if (writer === 0 && !root) root = tmp()
    return new LocalBackend(root)
  },
  artifact: async (_writer, content, kind) => writeArtifact(tmp(), content, kind),
  tag: (n, v) => `${n}@v${v}`,
})

describe('local backend: crash safety', () => {
  it('leaves no version behind when the copy fails, and the next writer cleans the scratch', async () => {
    const dir = tmp()
    const reg = new LocalBackend(dir)
    const a = writeArtifact(tmp(), 'model')
    const plan = await planFor(a, 'm')
    // The artifact changes after it was hashed: the copy is refused and nothing is registered.
    writeFileSync(a, 'changed after hashing')
    await expect(reg.register('m', plan)).rejects.toThrow(/does not match the recorded/)
    expect(await reg.list('m')).toEqual([])
    expect(existsSync(path.join(dir, 'm', '.lock'))).toBe(false)
    expect(readdirSync(path.join(dir, 'm', '.tmp'))).toEqual([])
  })

  it('takes over the lock of a writer that died', async () => {
    const dir = tmp()
    const reg = new LocalBackend(dir, { lockTimeoutMs: 2000 })
    await reg.list('m')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(path.join(dir, 'm'), { recursive: true })
    const { hostname } = await import('node:os')
    // A pid that cannot be alive (above Linux's pid_max).
    writeFileSync(path.join(dir, 'm', '.lock'), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), at: new Date().toISOString() }))
    const out = await reg.register('m', await planFor(writeArtifact(tmp(), 'x'), 'm'))
    expect(out.record.version).toBe('1.0.0')
  })

  it('waits for a live lock and then says the registry is busy', async () => {
    const dir = tmp()
    const reg = new LocalBackend(dir, { lockTimeoutMs: 300 })
    const { mkdirSync } = await import('node:fs')
    mkdirSync(path.join(dir, 'm'), { recursive: true })
    const { hostname } = await import('node:os')
    writeFileSync(path.join(dir, 'm', '.lock'), JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() }))
    await expect(reg.register('m', await planFor(writeArtifact(tmp(), 'x'), 'm'))).rejects.toThrow(/registry m is busy: locked by process/)
  })
})
