/**
 * The local registry on a hostile folder (issue 12): a regular file where the folder should be, a
 * path under a regular file, a read-only file system, no permission, a full disk, no hard links, an
 * unreadable lock. Each is a UserError naming the path and the cause (the CLI: one line, exit 2),
 * and leaves nothing half-written behind.
 *
 * The tests run as root, here and in CI, and root ignores permission bits: chmod cannot make a folder
 * unwritable, nor a lock unreadable. So EACCES, and EROFS where no read-only bind mount can be made,
 * are injected through the backend's file-system port (LocalBackendOptions.fs), failing the same
 * calls with the same errors the kernel would. Where `mount --bind -o ro` works (root with
 * CAP_SYS_ADMIN), a real read-only mount is tested as well.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import fs, { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { outside } from '../helpers/workspace.js'
import { UserError } from '../../src/core/errors.js'
import { BREAKER_GRACE_MS } from '../../src/core/lock.js'
import { LocalBackend, type LocalFs } from '../../src/core/registry/backends/local.js'
import { planFor, tmp, writeArtifact } from './conformance.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const CONFIG = path.join(ROOT, 'examples/breast-cancer/modelgate.yml')
/** The example manifest's model name. */
const NAME = 'breast-cancer-logreg'

const MESSAGES: Record<string, string> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  ENOSPC: 'no space left on device',
  ENOENT: 'no such file or directory',
  EPERM: 'operation not permitted',
}

/** An error as node:fs throws it. */
function errno(code: string, op: string, file: string): NodeJS.ErrnoException {
  const syscall = op.replace(/Sync$/, '').toLowerCase()
  return Object.assign(new Error(`${code}: ${MESSAGES[code] ?? code}, ${syscall} '${file}'`), { code, errno: -1, syscall, path: file })
}

/** Which calls change the file system (the ones EROFS fails). */
const WRITES = new Set([
  'mkdirSync',
  'mkdir',
  'writeFileSync',
  'writeFile',
  'renameSync',
  'linkSync',
  'unlinkSync',
  'rmSync',
  'utimesSync',
  'copyFile',
])
function writes(op: string, args: unknown[]): boolean {
  if (op === 'openSync') return /[wa+]/.test(String(args[1] ?? 'r'))
  // A kernel checks that a folder exists before it checks that the file system is writable.
  if (op === 'mkdirSync' || op === 'mkdir') return !existsSync(String(args[0]))
  return WRITES.has(op)
}

/**
 * node:fs, with `fault` consulted before every call: a code it returns is thrown (or rejected) as
 * node:fs would, instead of making the call. `args[0]` is the path; copyFile's destination is args[1].
 */
function faultyFs(fault: (op: string, args: unknown[]) => string | undefined): LocalFs {
  const wrap = <T extends object>(target: T, async: boolean): T =>
    new Proxy(target, {
      get(t, key) {
        const value = Reflect.get(t, key) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          let code = fault(String(key), args)
          // As Node 20 does: its recursive mkdir reports EROFS or EACCES on a missing folder as ENOENT.
          if (code && /^mkdir/.test(String(key)) && (args[1] as { recursive?: boolean } | undefined)?.recursive) code = 'ENOENT'
          if (code) {
            const e = errno(code, String(key), String(key === 'copyFile' ? args[1] : args[0]))
            if (async) return Promise.reject(e)
            throw e
          }
          return (value as (...a: unknown[]) => unknown).apply(t, args)
        }
      },
    })
  const promises = wrap(fs.promises, true)
  return new Proxy(wrap(fs, false), { get: (t, key) => (key === 'promises' ? promises : Reflect.get(t, key)) }) as LocalFs
}

/** Fails with `code` every call of the kinds `when` picks on a path under `root`. */
function failUnder(root: string, code: string, when: (op: string, args: unknown[]) => boolean = writes): LocalFs {
  return faultyFs((op, args) => {
    // copyFile's source may be in the registry (fetch): only its destination is written.
    const paths = (op === 'copyFile' ? args.slice(1, 2) : args)
      .filter((a): a is string => typeof a === 'string')
      .map((a) => path.resolve(a))
    const under = paths.some((p) => p === root || p.startsWith(root + path.sep))
    return under && when(op, args) ? code : undefined
  })
}

async function planOf(content: string, name = 'm') {
  return planFor(writeArtifact(tmp(), content), name)
}

/** A registry folder with version 1.0.0 of `m`. */
async function populated(): Promise<string> {
  const dir = tmp()
  await new LocalBackend(dir).register('m', await planOf('first'))
  return dir
}

/** Runs the CLI; resolves to its exit code and stderr lines. */
async function cli(args: string[]): Promise<{ code: number; stderr: string[] }> {
  const stderr: string[] = []
  const code = await runCli(outside(args), { stdout: () => {}, stderr: (t) => stderr.push(...t.split('\n')), cwd: ROOT })
  return { code, stderr }
}

/** The CLI's promise for a UserError: one line, exit 2, no stack. */
function expectOneLine(out: { code: number; stderr: string[] }, fragment: string): void {
  expect(out.stderr).toEqual([expect.stringContaining(fragment)])
  expect(out.stderr[0]).toMatch(/^modelgate: /)
  expect(out.code).toBe(2)
}

describe('local registry: a file where the folder should be', () => {
  it('refuses a registry path that is a regular file, for writes and reads, and leaves the file alone', async () => {
    const file = path.join(tmp(), 'registry')
    writeFileSync(file, 'not a folder')
    const reg = new LocalBackend(file)
    const err = await reg.register('m', await planOf('x')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).message).toBe(`local registry ${file}: cannot register m: it is a file, not a folder`)
    expect((err as UserError).file).toBe(file)
    await expect(reg.list('m')).rejects.toThrow(`local registry ${file}: cannot list m: it is a file, not a folder`)
    await expect(reg.assign('m', '1.0.0', 'prod', () => {})).rejects.toThrow(/it is a file, not a folder/)
    expect(readFileSync(file, 'utf8')).toBe('not a folder')
  })

  it('refuses a registry path under a regular file, naming that file', async () => {
    const file = path.join(tmp(), 'plain.txt')
    writeFileSync(file, 'x')
    const reg = new LocalBackend(path.join(file, 'sub', 'registry'))
    await expect(reg.register('m', await planOf('x'))).rejects.toThrow(
      `local registry ${file}/sub/registry: cannot register m: ${file} is a file, not a folder`,
    )
    await expect(reg.get('m', '1.0.0')).rejects.toThrow(`${file} is a file, not a folder`)
  })

  it('names the file inside the registry that stands where a folder should be', async () => {
    const dir = tmp()
    writeFileSync(path.join(dir, 'm'), 'x')
    await expect(new LocalBackend(dir).register('m', await planOf('x'))).rejects.toThrow(
      `local registry ${dir}: cannot register m: ${dir}/m: it is a file, not a folder (EEXIST)`,
    )
    const other = await populated()
    fs.rmSync(path.join(other, 'm', 'versions'), { recursive: true })
    writeFileSync(path.join(other, 'm', 'versions'), 'x')
    await expect(new LocalBackend(other).list('m')).rejects.toThrow(
      `local registry ${other}: cannot list m: ${other}/m/versions: it is a file, not a folder (ENOTDIR)`,
    )
  })

  it('the CLI prints one line and exits 2, for register and registry list', async () => {
    const file = path.join(tmp(), 'registry')
    writeFileSync(file, 'x')
    const args = ['--config', CONFIG, '--registry', `local:${file}`]
    expectOneLine(
      await cli(['register', ...args, '--quiet']),
      `local registry ${file}: cannot register ${NAME}: it is a file, not a folder`,
    )
    expectOneLine(await cli(['registry', 'list', ...args]), `local registry ${file}: cannot list ${NAME}: it is a file, not a folder`)
    expectOneLine(
      await cli(['register', '--config', CONFIG, '--registry', `local:${file}/below`, '--quiet']),
      `local registry ${file}/below: cannot register ${NAME}: ${file} is a file, not a folder`,
    )
  }, 60_000)
})

describe('local registry: read-only, no permission, full (injected: root ignores permission bits)', () => {
  it.each([
    ['EROFS', 'read-only file system (EROFS)'],
    ['EACCES', 'permission denied (EACCES)'],
  ])('%s on a new registry folder: a UserError naming the folder and the cause', async (code, cause) => {
    const dir = path.join(tmp(), 'registry')
    const reg = new LocalBackend(dir, { fs: failUnder(path.dirname(dir), code) })
    await expect(reg.register('m', await planOf('x'))).rejects.toThrow(`local registry ${dir}: cannot register m: ${dir}: ${cause}`)
    expect(await reg.list('m')).toEqual([])
    expect(existsSync(dir)).toBe(false)
  })

  it.each([
    ['EROFS', 'read-only file system (EROFS)'],
    ['EACCES', 'permission denied (EACCES)'],
  ])('%s on an existing registry: reads work, a write is refused at the lock, nothing changes', async (code, cause) => {
    const dir = await populated()
    const before = readdirSync(path.join(dir, 'm'), { recursive: true }).sort()
    const reg = new LocalBackend(dir, { fs: failUnder(dir, code) })
    expect((await reg.list('m')).map((r) => r.version)).toEqual(['1.0.0'])
    const fetched = await reg.fetch('m', '1.0.0', tmp())
    expect(readFileSync(fetched, 'utf8')).toBe('first')
    const lock = path.join(dir, 'm', '.lock')
    await expect(reg.register('m', await planOf('second'))).rejects.toThrow(
      `local registry ${dir}: registry m: cannot take the lock ${lock}: ${cause}`,
    )
    await expect(reg.assign('m', '1.0.0', 'prod', () => {})).rejects.toThrow(`cannot take the lock ${lock}: ${cause}`)
    expect(readdirSync(path.join(dir, 'm'), { recursive: true }).sort()).toEqual(before)
  })

  it('EACCES reading the versions: a UserError naming the folder', async () => {
    const dir = await populated()
    const versions = path.join(dir, 'm', 'versions')
    const reg = new LocalBackend(dir, { fs: failUnder(versions, 'EACCES', (op) => op === 'readdirSync') })
    await expect(reg.list('m')).rejects.toThrow(`local registry ${dir}: cannot list m: ${versions}: permission denied (EACCES)`)
  })

  it('a full disk while copying: names the file and the cause, registers nothing, leaves no scratch and no lock', async () => {
    const dir = await populated()
    const reg = new LocalBackend(dir, { fs: failUnder(dir, 'ENOSPC', (op) => op === 'copyFile' || op === 'writeFile') })
    await expect(reg.register('m', await planOf('second'))).rejects.toThrow(
      /\/m\/\.tmp\/[0-9a-f]+\/artifact\/model\.onnx: cannot write the copy of the model .*model\.onnx: no space left on the device \(ENOSPC\)$/,
    )
    expect((await new LocalBackend(dir).list('m')).map((r) => r.version)).toEqual(['1.0.0'])
    expect(readdirSync(path.join(dir, 'm', '.tmp'))).toEqual([])
    expect(existsSync(path.join(dir, 'm', '.lock'))).toBe(false)
  })

  it('a stage history that cannot be written: a UserError naming it, the history unchanged', async () => {
    const dir = await populated()
    const reg = new LocalBackend(dir, { fs: failUnder(dir, 'ENOSPC', (op) => op === 'writeFileSync') })
    await expect(reg.assign('m', '1.0.0', 'prod', () => {})).rejects.toThrow(
      new RegExp(
        `local registry ${dir}: cannot assign prod to m 1\\.0\\.0: ${dir}/m/stages\\.json\\.\\d+\\.[0-9a-f]+\\.tmp: no space left on the device \\(ENOSPC\\)`,
      ),
    )
    expect((await new LocalBackend(dir).stages('m')).history).toEqual([])
    expect(readdirSync(path.join(dir, 'm')).filter((f) => f.endsWith('.tmp') || f.startsWith('.lock'))).toEqual([])
  })
})

describe('local registry: hostile locks (injected)', () => {
  const staleEmptyLock = () => {
    const dir = tmp()
    mkdirSync(path.join(dir, 'm'))
    const lock = path.join(dir, 'm', '.lock')
    writeFileSync(lock, '')
    const t = new Date(Date.now() - 60_000)
    utimesSync(lock, t, t)
    return { dir, lock }
  }

  it('without hard links (link fails EPERM), 5 writers on a stale empty lock: all register, it is broken once', async () => {
    const { dir, lock } = staleEmptyLock()
    const noLinks = faultyFs((op) => (op === 'linkSync' ? 'EPERM' : undefined))
    const warnings: string[] = []
    const writers = Array.from({ length: 5 }, () => new LocalBackend(dir, { fs: noLinks, onWarning: (w) => warnings.push(w) }))
    const plans = await Promise.all(writers.map((_, i) => planOf(`writer ${i}`)))
    const outs = await Promise.all(writers.map((w, i) => w.register('m', plans[i])))
    expect(new Set(outs.map((o) => o.record.version)).size).toBe(5)
    expect((await new LocalBackend(dir).list('m')).map((r) => r.version)).toEqual(['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4'])
    expect(warnings).toEqual([expect.stringContaining(`broke the stale lock ${lock}: it records no owner (empty file`)])
    expect(readdirSync(path.join(dir, 'm')).filter((f) => f.startsWith('.lock'))).toEqual([])
  })

  it('a breaker that died between its link and its clean-up does not wedge the lock', async () => {
    const { dir, lock } = staleEmptyLock()
    const st = fs.lstatSync(lock, { bigint: true })
    // What a breaker of this very file leaves when it dies mid-way...
    fs.linkSync(lock, `${lock}.stale-${st.ino}-${st.mtimeNs}`)
    // ...seen BREAKER_GRACE_MS later (a link's age is its ctime, which only the kernel sets).
    const later: LocalFs = {
      ...fs,
      lstatSync: ((p: string, o: fs.StatOptions) => {
        const s = fs.lstatSync(p, o) as fs.BigIntStats
        if (p.includes('.stale-')) s.ctimeNs -= BigInt(BREAKER_GRACE_MS + 1000) * 1_000_000n
        return s
      }) as LocalFs['lstatSync'],
    }
    const warnings: string[] = []
    const reg = new LocalBackend(dir, { fs: later, lockTimeoutMs: 1000, onWarning: (w) => warnings.push(w) })
    await expect(reg.register('m', await planOf('x'))).resolves.toMatchObject({ created: true })
    expect(warnings).toEqual([expect.stringContaining(`broke the stale lock ${lock}: it records no owner (empty file`)])
    expect(readdirSync(path.join(dir, 'm')).filter((f) => f.startsWith('.lock'))).toEqual([])
    // A fresh one is a breaker at work: waited for, not skipped.
    const again = staleEmptyLock()
    const st2 = fs.lstatSync(again.lock, { bigint: true })
    fs.linkSync(again.lock, `${again.lock}.stale-${st2.ino}-${st2.mtimeNs}`)
    await expect(new LocalBackend(again.dir, { lockTimeoutMs: 300 }).register('m', await planOf('x'))).rejects.toThrow(/registry m is busy/)
  })

  it('a lock that cannot be read may be another user’s live lock: waited for while fresh, broken once old', async () => {
    const dir = tmp()
    mkdirSync(path.join(dir, 'm'))
    const lock = path.join(dir, 'm', '.lock')
    const foreign = JSON.stringify({ pid: 1, host: 'elsewhere', at: new Date().toISOString() })
    writeFileSync(lock, foreign)
    // Only that file is unreadable (as another user's 0600 file would be); our own lock, later, reads fine.
    const fsPort = faultyFs((op, args) =>
      op === 'readFileSync' && args[0] === lock && fs.readFileSync(lock, 'utf8') === foreign ? 'EACCES' : undefined,
    )
    const warnings: string[] = []
    const reg = new LocalBackend(dir, { fs: fsPort, lockTimeoutMs: 300, onWarning: (w) => warnings.push(w) })
    await expect(reg.register('m', await planOf('x'))).rejects.toThrow(`local registry ${dir}: registry m is busy: locked (${lock})`)
    const t = new Date(Date.now() - 20 * 60_000)
    utimesSync(lock, t, t)
    await expect(reg.register('m', await planOf('x'))).resolves.toMatchObject({ created: true })
    expect(warnings).toEqual([
      expect.stringContaining(
        `broke the stale lock ${lock}: it cannot be read: permission denied (EACCES); it was last refreshed 20 min ago (a holder refreshes it at least every 10 min)`,
      ),
    ])
  })

  it('a lock that cannot be created for lack of permission names the lock file and the cause', async () => {
    const dir = tmp()
    const lock = path.join(dir, 'm', '.lock')
    const reg = new LocalBackend(dir, { fs: faultyFs((op, args) => (op === 'openSync' && args[0] === lock ? 'EACCES' : undefined)) })
    await expect(reg.deprecate('m', '1.0.0')).rejects.toThrow(
      `local registry ${dir}: registry m: cannot take the lock ${lock}: permission denied (EACCES)`,
    )
  })
})

/*
 * A real read-only file system, where one can be made: a read-only bind mount of a populated
 * registry. Needs root with CAP_SYS_ADMIN (a container without it, or a runner without root, skips).
 * Probed at load on a throw-away folder, unmounted at once; the real mount lives from beforeAll to
 * afterAll, so a filtered run never leaves one behind.
 */
function mountReadOnly(source: string, target: string): boolean {
  if (spawnSync('mount', ['--bind', '-o', 'ro', source, target], { stdio: 'ignore' }).status !== 0) return false
  try {
    writeFileSync(path.join(target, 'probe'), 'x')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EROFS') return true
  }
  // Mounted, but not read-only (an old mount(8) ignores ro on a bind): give up.
  unmount(target)
  return false
}
function unmount(target: string): void {
  spawnSync('umount', [target], { stdio: 'ignore' })
}
const canMountReadOnly = (() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false
  const probe = tmp()
  if (!mountReadOnly(probe, probe)) return false
  unmount(probe)
  return true
})()

;(canMountReadOnly ? describe : describe.skip)('local registry on a real read-only bind mount', () => {
  const source = tmp()
  const mount = tmp()
  beforeAll(async () => {
    await new LocalBackend(source).register('m', await planOf('first'))
    if (!mountReadOnly(source, mount)) throw new Error(`could not mount ${source} read-only on ${mount}`)
  })
  afterAll(() => unmount(mount))

  it('reads work; register, promote and the CLI are refused with the cause, exit 2, one line', async () => {
    const reg = new LocalBackend(mount)
    expect((await reg.list('m')).map((r) => r.version)).toEqual(['1.0.0'])
    const lock = path.join(mount, 'm', '.lock')
    await expect(reg.register('m', await planOf('second'))).rejects.toThrow(
      `local registry ${mount}: registry m: cannot take the lock ${lock}: read-only file system (EROFS)`,
    )
    await expect(reg.assign('m', '1.0.0', 'prod', () => {})).rejects.toThrow(`cannot take the lock ${lock}: read-only file system (EROFS)`)
    await expect(reg.register('other', await planOf('second', 'other'))).rejects.toThrow(
      `local registry ${mount}: cannot register other: ${mount}/other: read-only file system (EROFS)`,
    )
    expectOneLine(
      await cli(['register', '--config', CONFIG, '--registry', `local:${mount}`, '--quiet']),
      `local registry ${mount}: cannot register ${NAME}: ${mount}/${NAME}: read-only file system (EROFS)`,
    )
    expect((await cli(['registry', 'list', '--config', CONFIG, '--registry', `local:${mount}`])).code).toBe(0)
    expect(readdirSync(source).sort()).toEqual(['m'])
  }, 60_000)
})
