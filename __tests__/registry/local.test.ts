import { describe, it, expect } from '@jest/globals'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, lutimesSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import ts from 'typescript'
import { acquireFileLock, DEFAULT_STALE_MS, EMPTY_GRACE_MS } from '../../src/core/lock.js'
import { LocalBackend } from '../../src/core/registry/backends/local.js'
import { backendConformance, planFor, tmp, writeArtifact } from './conformance.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

/** A lock file for model `m` of a fresh registry, with `content`, last written `ageMs` ago. */
function staleLock(content: string, ageMs = 60_000): { dir: string; lock: string } {
  const dir = tmp()
  mkdirSync(path.join(dir, 'm'), { recursive: true })
  const lock = path.join(dir, 'm', '.lock')
  writeFileSync(lock, content)
  const t = new Date(Date.now() - ageMs)
  utimesSync(lock, t, t)
  return { dir, lock }
}

/** The pid of a process that has exited: as dead as a pid gets (its number may be reused later, not within a test). */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout)
}

function owner(pid: number, host = hostname(), at = new Date()): string {
  return JSON.stringify({ pid: Number(pid), host, at: at.toISOString() })
}

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

describe('local backend: a stale lock is broken, a live one is waited for', () => {
  const register = async (dir: string, opts: ConstructorParameters<typeof LocalBackend>[1] = {}) => {
    const warnings: string[] = []
    const reg = new LocalBackend(dir, { onWarning: (w) => warnings.push(w), ...opts })
    const out = await reg.register('m', await planFor(writeArtifact(tmp(), `model ${Math.random()}`), 'm'))
    return { out, warnings }
  }

  it.each([
    ['an empty lock', '', /it records no owner \(empty file, last written 60 s ago\)/],
    ['a lock of garbage', '\u0000\u0000{"pi', /it records no owner \(not a modelgate lock, last written 60 s ago\)/],
    ['a lock with no usable pid', JSON.stringify({ pid: 0, host: hostname(), at: new Date().toISOString() }), /it records no owner/],
  ])('breaks %s left by a crash, and says so naming the lock file', async (_what, content, reason) => {
    const { dir, lock } = staleLock(content)
    const { out, warnings } = await register(dir, { lockTimeoutMs: 1000 })
    expect(out.record.version).toBe('1.0.0')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`local registry ${dir}: registry m: broke the stale lock ${lock}: `)
    expect(warnings[0]).toMatch(reason)
    expect(existsSync(lock)).toBe(false)
    expect(readdirSync(path.join(dir, 'm')).filter((f) => f.startsWith('.lock'))).toEqual([])
  })

  it('breaks a folder or a dangling symbolic link in place of the lock (an open would never succeed)', async () => {
    const { dir, lock } = staleLock('')
    rmSync(lock)
    mkdirSync(path.join(lock, 'inside'), { recursive: true })
    const t = new Date(Date.now() - 60_000)
    utimesSync(lock, t, t)
    expect((await register(dir, { lockTimeoutMs: 1000 })).warnings).toEqual([
      expect.stringContaining('it records no owner (a folder, last written 60 s ago)'),
    ])
    const { dir: other, lock: link } = staleLock('')
    rmSync(link)
    symlinkSync(path.join(other, 'nowhere'), link)
    lutimesSync(link, t, t)
    expect((await register(other, { lockTimeoutMs: 1000 })).warnings).toEqual([
      expect.stringContaining('it records no owner (a symbolic link, last written 60 s ago)'),
    ])
    expect(readdirSync(path.join(other, 'm')).filter((f) => f.startsWith('.lock'))).toEqual([])
  })

  it(`leaves an ownerless lock alone for ${EMPTY_GRACE_MS / 1000} s: its writer may be between the create and the write`, async () => {
    const { dir, lock } = staleLock('', 0)
    await expect(register(dir, { lockTimeoutMs: 300 })).rejects.toThrow(`local registry ${dir}: registry m is busy: locked (${lock})`)
    expect(readFileSync(lock, 'utf8')).toBe('')
  })

  it('breaks the lock of a dead process on this host at once, naming the process', async () => {
    const pid = deadPid()
    const { dir } = staleLock(owner(pid), 0)
    const { warnings } = await register(dir, { lockTimeoutMs: 1000 })
    expect(warnings).toEqual([expect.stringContaining(`its owner, process ${pid} on this host, is gone`)])
  })

  it('waits for a fresh lock from another host (its pid cannot be checked), then names the holder', async () => {
    const { dir } = staleLock(owner(1234, 'build-host-7'), 0)
    await expect(register(dir, { lockTimeoutMs: 300 })).rejects.toThrow(/registry m is busy: locked by process 1234 on build-host-7 since /)
  })

  it(`breaks a lock from another host not refreshed for longer than staleMs (default ${DEFAULT_STALE_MS / 60_000} min)`, async () => {
    const hour = 60 * 60_000
    const { dir } = staleLock(owner(1234, 'build-host-7', new Date(Date.now() - hour)), hour)
    const { warnings } = await register(dir, { lockTimeoutMs: 1000 })
    expect(warnings).toEqual([
      expect.stringContaining(
        'its owner, process 1234 on build-host-7, last refreshed it 60 min ago (a holder refreshes it at least every 10 min)',
      ),
    ])
    // With a longer staleMs the same lock is still live.
    const { dir: again } = staleLock(owner(1234, 'build-host-7', new Date(Date.now() - hour)), hour)
    await expect(register(again, { lockTimeoutMs: 300, staleMs: 2 * hour })).rejects.toThrow(/is busy: locked by process 1234/)
  })

  it('breaks a lock of a live pid on this host that was not refreshed: the pid was reused by another process', async () => {
    const old = new Date(Date.now() - 20 * 60_000)
    const { dir } = staleLock(owner(process.pid, hostname(), old), 20 * 60_000)
    const { warnings } = await register(dir, { lockTimeoutMs: 1000 })
    expect(warnings).toEqual([expect.stringContaining(`its owner, process ${process.pid} on ${hostname()}, last refreshed it 20 min ago`)])
  })

  it('treats a lock from another boot of this host name as another host: its pid means nothing here', async () => {
    const { dir } = staleLock(JSON.stringify({ pid: deadPid(), host: hostname(), boot: 'another-boot', at: new Date().toISOString() }), 0)
    const hasBootId = existsSync('/proc/sys/kernel/random/boot_id')
    if (hasBootId) await expect(register(dir, { lockTimeoutMs: 300 })).rejects.toThrow(/is busy: locked by process/)
    else expect((await register(dir, { lockTimeoutMs: 1000 })).warnings).toHaveLength(1)
  })

  it('refreshes a held lock, so a hold longer than staleMs is never taken for a dead one', async () => {
    const lock = path.join(tmp(), 'x.lock')
    const warnings: string[] = []
    const release = await acquireFileLock(lock, { what: 'thing', staleMs: 200, onWarning: (w) => warnings.push(w) })
    await expect(
      acquireFileLock(lock, { what: 'thing', staleMs: 200, timeoutMs: 1000, onWarning: (w) => warnings.push(w) }),
    ).rejects.toThrow(`thing is busy: locked by process ${process.pid} on ${hostname()}`)
    expect(warnings).toEqual([])
    release()
    expect(existsSync(lock)).toBe(false)
  })

  it('a holder whose lock was taken over says so, and its release leaves the new holder’s lock in place', async () => {
    const lock = path.join(tmp(), 'x.lock')
    const warnings: string[] = []
    const release = await acquireFileLock(lock, { what: 'thing', staleMs: 100, onWarning: (w) => warnings.push(w) })
    const other = owner(process.pid, 'elsewhere')
    writeFileSync(lock, other)
    await new Promise((r) => setTimeout(r, 100))
    expect(warnings).toEqual([`thing: the lock ${lock} was taken over by another process while this one held it`])
    release()
    expect(readFileSync(lock, 'utf8')).toBe(other)
  })

  it('5 writers starting at once on a stale empty lock: all register, none lost, the lock is broken once', async () => {
    const { dir, lock } = staleLock('')
    const warnings: string[] = []
    const writers = Array.from({ length: 5 }, () => new LocalBackend(dir, { onWarning: (w) => warnings.push(w) }))
    const plans = await Promise.all(writers.map((_, i) => planFor(writeArtifact(tmp(), `writer ${i}`), 'm')))
    const outs = await Promise.all(writers.map((w, i) => w.register('m', plans[i])))
    expect(outs.every((o) => o.created)).toBe(true)
    expect(new Set(outs.map((o) => o.record.version)).size).toBe(5)
    const listed = await new LocalBackend(dir).list('m')
    expect(listed.map((r) => r.version)).toEqual(['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4'])
    expect(new Set(listed.map((r) => r.digest)).size).toBe(5)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`broke the stale lock ${lock}: it records no owner (empty file`)
    expect(readdirSync(path.join(dir, 'm')).filter((f) => f.startsWith('.lock'))).toEqual([])
  })
})

describe('the lock across processes', () => {
  /*
   * Writers in one process never race inside the break (it is synchronous); real processes do. The
   * lock module is compiled to plain JS so that child processes can load it without jest.
   */
  const build = () => {
    const out = tmp('modelgate-lockjs-')
    writeFileSync(path.join(out, 'package.json'), '{"type":"module"}')
    for (const f of ['lock', 'locking', 'fs-errors', 'errors']) {
      const source = readFileSync(path.join(ROOT, 'src/core', `${f}.ts`), 'utf8')
      const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } })
      writeFileSync(path.join(out, `${f}.js`), js.outputText)
    }
    writeFileSync(
      path.join(out, 'child.js'),
      `import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { acquireFileLock } from './lock.js'
const [lock, marker, counter, startAt] = process.argv.slice(2)
await new Promise((r) => setTimeout(r, Number(startAt) - Date.now()))
let broke = 0
const release = await acquireFileLock(lock, { what: 'shared', timeoutMs: 30000, onWarning: (w) => { if (w.includes('broke the stale lock')) broke++ } })
let overlap = false
try { closeSync(openSync(marker, 'wx')) } catch { overlap = true }
const n = Number(readFileSync(counter, 'utf8'))
await new Promise((r) => setTimeout(r, 3))
writeFileSync(counter, String(n + 1))
if (!overlap) unlinkSync(marker)
release()
process.stdout.write(JSON.stringify({ broke, overlap }))
`,
    )
    return path.join(out, 'child.js')
  }

  const run = (child: string, args: string[]) =>
    new Promise<{ broke: number; overlap: boolean }>((resolve, reject) => {
      const p = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      p.stdout.on('data', (d: Buffer) => (out += d.toString()))
      p.on('error', reject)
      p.on('close', (code) =>
        code === 0 ? resolve(JSON.parse(out) as { broke: number; overlap: boolean }) : reject(new Error(`child exited ${code}`)),
      )
    })

  it('6 processes on one stale lock, 4 rounds: exactly one breaks it, and they never overlap', async () => {
    const child = build()
    const stale = [() => '', () => owner(deadPid()), () => '{"pid":', () => '']
    for (const content of stale) {
      const dir = tmp()
      const lock = path.join(dir, '.lock')
      writeFileSync(lock, content())
      const t = new Date(Date.now() - 60_000)
      utimesSync(lock, t, t)
      const counter = path.join(dir, 'counter')
      writeFileSync(counter, '0')
      const startAt = String(Date.now() + 1200)
      const results = await Promise.all(Array.from({ length: 6 }, () => run(child, [lock, path.join(dir, 'inside'), counter, startAt])))
      expect(results.filter((r) => r.overlap)).toEqual([])
      expect(results.reduce((n, r) => n + r.broke, 0)).toBe(1)
      expect(readFileSync(counter, 'utf8')).toBe('6')
      expect(readdirSync(dir).sort()).toEqual(['counter'])
    }
  }, 60_000)
})
