import { describe, it, expect, beforeAll } from '@jest/globals'
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { digestArtifact } from '../../src/core/registry/digest.js'
import { UserError } from '../../src/core/errors.js'
import { VERSION_RECORD_SCHEMA, type RegistryBackend, type VersionRecord, type RegistrationPlan } from '../../src/core/registry/types.js'

/*
 * What every registry backend must do, run against each one (local, git, oci) by its own test file:
 * register, no-op on a known digest, list in SemVer order, stages with history, deprecation, fetch
 * with digest checks, stored evidence, and 10 concurrent registrations giving 10 distinct versions.
 */

export interface ConformanceTarget {
  /** A fresh, empty registry; `writer` distinguishes concurrent writers that need their own state (git clones). */
  make(writer?: number): Promise<RegistryBackend>
  /** Prepares a model artifact that `writer` can register (git: committed in the writer's clone). */
  artifact(writer: number, content: string, kind?: 'file' | 'directory'): Promise<string>
  /** Expected shape of the version tag, e.g. (n, v) => `${n}@v${v}`. */
  tag(name: string, version: string): string
}

export function tmp(prefix = 'modelgate-reg-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix))
}

/** A plain artifact file or folder with the given content, in a fresh temp folder. */
export function writeArtifact(dir: string, content: string, kind: 'file' | 'directory' = 'file'): string {
  if (kind === 'file') {
    const f = path.join(dir, 'model.onnx')
    writeFileSync(f, content)
    return f
  }
  const d = path.join(dir, 'model')
  mkdirSync(path.join(d, 'weights'), { recursive: true })
  writeFileSync(path.join(d, 'config.json'), JSON.stringify({ content }))
  writeFileSync(path.join(d, 'weights', 'w.bin'), content.repeat(3))
  return d
}

/** The next patch after the newest non-deprecated version, as the core's plan would choose. */
export async function planFor(artifactPath: string, name: string, opts: { version?: string; evidence?: string } = {}) {
  const artifact = await digestArtifact(artifactPath)
  const evidenceFile = opts.evidence
  return (existing: VersionRecord[]): RegistrationPlan => {
    const same = existing.find((r) => r.digest === artifact.digest)
    if (same) return { kind: 'existing', record: same }
    const live = existing.filter((r) => !r.deprecated)
    const last = live.at(-1)?.version
    const version = opts.version ?? (last ? bumpPatch(last) : '1.0.0')
    if (existing.some((r) => r.version === version)) throw new UserError(`version ${version} exists`)
    const record: VersionRecord = {
      schemaVersion: VERSION_RECORD_SCHEMA,
      name,
      version,
      digest: artifact.digest,
      size: artifact.size,
      artifact,
      format: artifact.kind === 'file' ? 'onnx' : 'directory',
      metrics: { accuracy: 0.9 },
      evidence: evidenceFile
        ? [{ kind: 'validate-model', file: 'validate-model.json', digest: 'sha256:00', size: 2, status: 'pass', passed: true, metrics: {} }]
        : [],
      datasets: [],
      parent: last,
      bump: { kind: last ? 'patch' : 'initial', reasons: [] },
      labels: { team: 'ml' },
      createdAt: '2026-11-26T00:00:00.000Z',
    }
    return {
      kind: 'new',
      record,
      payload: {
        artifactPath,
        evidence: evidenceFile ? [{ file: 'validate-model.json', path: evidenceFile }] : [],
        card: `# ${name} ${version}\n`,
      },
    }
  }
}

function bumpPatch(v: string): string {
  const [a, b, c] = v.split('.').map(Number)
  return `${a}.${b}.${c + 1}`
}

export function backendConformance(label: string, target: ConformanceTarget, opts: { concurrent?: number } = {}): void {
  describe(`${label} backend: the registry contract`, () => {
    let reg: RegistryBackend
    const name = 'churn'
    beforeAll(async () => {
      reg = await target.make(0)
    })

    it('registers versions, lists them in SemVer order, and returns the same version for a known digest', async () => {
      const a = await target.artifact(0, 'model A')
      const first = await reg.register(name, await planFor(a, name))
      expect(first.created).toBe(true)
      expect(first.record.version).toBe('1.0.0')
      expect(first.tag).toBe(target.tag(name, '1.0.0'))

      const again = await reg.register(name, await planFor(a, name))
      expect(again.created).toBe(false)
      expect(again.record.version).toBe('1.0.0')
      expect(again.record.digest).toBe(first.record.digest)

      const b = await target.artifact(0, 'model B', 'directory')
      const second = await reg.register(name, await planFor(b, name, { version: '1.10.0' }))
      expect(second.record.version).toBe('1.10.0')
      const c = await target.artifact(0, 'model C')
      const third = await reg.register(name, await planFor(c, name, { version: '1.9.0' }))
      expect(third.created).toBe(true)

      const listed = await reg.list(name)
      expect(listed.map((r) => r.version)).toEqual(['1.0.0', '1.9.0', '1.10.0'])
      expect(listed[0].labels).toEqual({ team: 'ml' })
      expect(listed[0].digest).toBe(first.record.digest)
      expect(listed[2].artifact.files.map((f) => f.path)).toEqual(['config.json', 'weights/w.bin'])
      const got = await reg.get(name, '1.10.0')
      expect(got?.record.digest).toBe(second.record.digest)
      expect(got?.tag).toBe(target.tag(name, '1.10.0'))
      expect(await reg.get(name, '9.9.9')).toBeUndefined()
      expect(await reg.list('unknown-model')).toEqual([])
    })

    it('fetches a file and a folder artifact with their exact bytes', async () => {
      const dest = tmp()
      const file = await reg.fetch(name, '1.0.0', path.join(dest, 'a'))
      expect(readFileSync(file, 'utf8')).toBe('model A')
      const dir = await reg.fetch(name, '1.10.0', path.join(dest, 'b'))
      expect(readFileSync(path.join(dir, 'weights', 'w.bin'), 'utf8')).toBe('model B'.repeat(3))
      expect((await digestArtifact(dir)).digest).toBe((await reg.get(name, '1.10.0'))?.record.digest)
    })

    it('stores evidence files whole', async () => {
      const ev = path.join(tmp(), 'report.json')
      writeFileSync(ev, JSON.stringify({ status: 'pass', big: 'x'.repeat(5000) }))
      const a = await target.artifact(0, 'model with evidence')
      const out = await reg.register(name, await planFor(a, name, { version: '2.0.0', evidence: ev }))
      expect((await reg.readEvidence(name, out.record.version, 'validate-model.json')).toString()).toBe(readFileSync(ev, 'utf8'))
      expect(out.record.evidence.map((e) => e.file)).toEqual(['validate-model.json'])
    })

    it('assigns stages, keeps their history, runs the check under the lock, and unassigns', async () => {
      const e1 = await reg.assign(name, '1.0.0', 'staging', () => {})
      expect(e1).toMatchObject({ stage: 'staging', version: '1.0.0', action: 'assign' })
      await reg.assign(name, '1.9.0', 'staging', () => {})
      let seen: string[] = []
      await reg.assign(name, '1.0.0', 'prod', (state, record) => {
        seen = state.history.map((h) => `${h.stage}:${h.version}`)
        expect(record.version).toBe('1.0.0')
      })
      expect(seen).toEqual(['staging:1.0.0', 'staging:1.9.0'])
      await expect(
        reg.assign(name, '1.9.0', 'prod', () => {
          throw new UserError('refused by policy')
        }),
      ).rejects.toThrow('refused by policy')
      await expect(reg.assign(name, '7.7.7', 'prod', () => {})).rejects.toThrow(/7\.7\.7/)
      let state = await reg.stages(name)
      expect(state.current).toEqual({ staging: '1.9.0', prod: '1.0.0' })
      expect(state.history.map((h) => [h.action, h.stage, h.version])).toEqual([
        ['assign', 'staging', '1.0.0'],
        ['assign', 'staging', '1.9.0'],
        ['assign', 'prod', '1.0.0'],
      ])
      await reg.unassign(name, 'staging')
      state = await reg.stages(name)
      expect(state.current).toEqual({ prod: '1.0.0' })
      expect(state.history.at(-1)).toMatchObject({ action: 'unassign', stage: 'staging' })
    })

    it('deprecates a version without deleting it, and does not hand out its number again', async () => {
      await reg.deprecate(name, '2.0.0')
      const listed = await reg.list(name)
      expect(listed.find((r) => r.version === '2.0.0')?.deprecated).toBe(true)
      await expect(reg.assign(name, '2.0.0', 'staging', () => {})).rejects.toThrow(/deprecated/)
      const a = await target.artifact(0, 'after deprecation')
      const out = await reg.register(name, await planFor(a, name, { version: '2.0.0' })).catch((e: Error) => e)
      expect(out).toBeInstanceOf(Error)
    })

    const n = opts.concurrent ?? 10
    it(`gives ${n} concurrent registrations ${n} distinct versions, none lost`, async () => {
      const model = 'concurrent'
      const writers = await Promise.all(Array.from({ length: n }, (_, i) => target.make(i + 1)))
      const artifacts: string[] = []
      for (let i = 0; i < n; i++) artifacts.push(await target.artifact(i + 1, `concurrent model ${i}`))
      const plans = await Promise.all(artifacts.map((a) => planFor(a, model)))
      const outs = await Promise.all(writers.map((w, i) => w.register(model, plans[i])))
      const versions = outs.map((o) => o.record.version)
      expect(new Set(versions).size).toBe(n)
      expect(outs.every((o) => o.created)).toBe(true)
      const listed = await (await target.make(0)).list(model)
      expect(listed.map((r) => r.version).sort()).toEqual([...versions].sort())
      expect(new Set(listed.map((r) => r.digest)).size).toBe(n)
      expect(listed.map((r) => r.version)).toEqual(Array.from({ length: n }, (_, i) => `1.0.${i}`))
    }, 120_000)
  })
}
