/**
 * Issue 13: a pull request compared with production, straight from the registry. On every backend
 * (local, git with a bare origin, OCI against Debian's docker-registry, MLflow against its local
 * stand-in) the example's baseline.onnx is registered as 1.0.0 and given `prod`; validating the
 * example with `baseline: stage:prod` must give exactly the comparisons, intervals and p-values of
 * the same file passed directly. Then: `production` through the promotion order, no stage yet
 * (skipped with a note), a tampered artifact refused, and `registry pull` byte-identical.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { startRegistry, type TestRegistry } from '../helpers/oci-registry.js'
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const NAME = 'breast-cancer-logreg'

async function cli(args: string[], cwd: string, env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const saved = { ...process.env }
  Object.assign(process.env, env)
  try {
    const code = await runCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
    return { code, stdout: out.join('\n'), stderr: err.join('\n') }
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k]
  }
}

/** The example copied into a fresh workspace, its manifest given `registry` and a promotion order. */
function workspace(registryUri: string, extra = ''): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-regbase-'))
  cpSync(EXAMPLE, dir, { recursive: true })
  const manifest = readFileSync(path.join(dir, 'modelgate.yml'), 'utf8')
  writeFileSync(
    path.join(dir, 'modelgate.yml'),
    `${manifest}registry:\n  uri: ${registryUri}\n  stages: [staging, prod]\n  promotion: [staging, prod]\n${extra}`,
  )
  return dir
}

async function json(args: string[], cwd: string, env?: Record<string, string>): Promise<ValidationResult> {
  const r = await cli([...args, '--json'], cwd, env)
  if (r.code > 1) throw new Error(`exit ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as ValidationResult
}

/** Timings are the machine's, not the model's. */
const scores = (m: Record<string, number> | undefined) =>
  m && Object.fromEntries(Object.entries(m).filter(([k]) => !/latency|per_second/.test(k)))

/** What must not depend on where the baseline came from. */
const compared = (r: ValidationResult) => ({
  metrics: scores(r.metrics),
  baseline: scores(r.baseline?.metrics),
  comparisons: r.comparisons,
  checks: r.checks.map((c) => ({ ...c, seconds: 0 })),
  slices: r.slices,
})

interface Backend {
  name: string
  uri: () => string
  env?: () => Record<string, string>
  setup?: () => Promise<void>
  teardown?: () => Promise<void>
  /** Git: the workspace must be a repository with a commit (the artifacts are committed files). */
  prepare?: (dir: string) => void
  /** Changes the stored bytes of baseline.onnx behind the registry's back; undefined where the store is content-addressed end to end (git). */
  tamper?: (dir: string, digest: string) => void
}

/** The same length, one bit different: a truncation would be caught by size alone. */
const flipped = (b: Buffer) => {
  const c = Buffer.from(b)
  c[c.length - 1] ^= 1
  return c
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' },
  })

let oci: TestRegistry | undefined
let mlflow: MlflowServer | undefined
const BACKENDS: Backend[] = [
  {
    name: 'local',
    uri: () => 'local:.modelgate/registry',
    tamper: (dir) => {
      const stored = path.join(dir, '.modelgate/registry', NAME, 'versions/1.0.0/artifact/baseline.onnx')
      writeFileSync(stored, flipped(readFileSync(stored)))
    },
  },
  {
    name: 'git',
    uri: () => 'git',
    prepare: (dir) => {
      const origin = mkdtempSync(path.join(tmpdir(), 'mg-regbase-origin-'))
      git(origin, 'init', '-q', '--bare')
      git(dir, 'init', '-q')
      git(dir, 'add', '-A')
      git(dir, 'commit', '-qm', 'example')
      git(dir, 'remote', 'add', 'origin', origin)
    },
  },
  {
    name: 'oci',
    uri: () => `oci://${oci!.address}/models`,
    setup: async () => void (oci = await startRegistry()),
    tamper: (_dir, digest) => writeFileSync(oci!.blobPath(digest), flipped(readFileSync(oci!.blobPath(digest)))),
    teardown: async () => oci?.stop(),
  },
  {
    name: 'mlflow',
    uri: () => `mlflow+${mlflow!.url}`,
    setup: async () => void (mlflow = await startMlflowServer()),
    tamper: () => {
      for (const [key, bytes] of mlflow!.artifacts) if (key.endsWith('baseline.onnx')) mlflow!.artifacts.set(key, flipped(bytes))
    },
    teardown: async () => mlflow?.stop(),
  },
]

describe.each(BACKENDS)('baseline: stage:prod on the $name registry', (backend) => {
  let dir = ''
  const env = () => backend.env?.() ?? {}
  beforeAll(async () => {
    await backend.setup?.()
    dir = workspace(backend.uri())
    backend.prepare?.(dir)
  }, 60_000)
  afterAll(async () => {
    await backend.teardown?.()
  })

  it('before any version holds prod: the comparison is skipped with a note, and the run passes', async () => {
    const r = await json(['validate', '--baseline', 'stage:prod'], dir, env())
    expect(r.status).not.toBe('error')
    expect(r.baseline).toBeUndefined()
    expect(r.comparisons).toBeUndefined()
    expect(r.registryBaseline).toMatchObject({ name: NAME, ref: 'stage prod', stage: 'prod' })
    expect(r.registryBaseline?.version).toBeUndefined()
    expect(r.notes.join('\n')).toMatch(/No production version yet: no version of breast-cancer-logreg holds stage prod/)
    const text = await cli(['validate', '--baseline', 'stage:prod'], dir, env())
    expect(text.stdout).toMatch(/^vs production: no production version yet \(.*\); change gates and comparisons were skipped$/m)
  }, 120_000)

  it('compares with the version holding prod exactly as with the file itself', async () => {
    const reg = await cli(['register', '--model', 'baseline.onnx', '--version', '1.0.0', '--stage', 'staging', '--json'], dir, env())
    expect([reg.code, reg.stderr]).toEqual([0, ''])
    const promote = await cli(['registry', 'promote', '1.0.0', 'prod'], dir, env())
    expect([promote.code, promote.stderr]).toEqual([0, ''])
    const byFile = await json(['validate'], dir, env())
    for (const ref of ['stage:prod', 'production', 'version:1.0.0']) {
      const byStage = await json(['validate', '--baseline', ref], dir, env())
      expect(compared(byStage)).toEqual(compared(byFile))
      expect(byStage.baseline).toMatchObject({ kind: 'model', source: `${NAME} 1.0.0`, digest: byFile.baseline?.digest })
      expect(byStage.registryBaseline).toMatchObject({ name: NAME, version: '1.0.0', digest: byFile.baseline?.digest })
    }
    const prod = await json(['validate', '--baseline', 'production'], dir, env())
    expect(prod.registryBaseline).toMatchObject({ ref: 'production (stage prod)', stage: 'prod' })
    // Words first, in the terminal and in the job summary.
    const text = await cli(['validate', '--baseline', 'production', '--summary', 'summary.md'], dir, env())
    expect(text.stdout).toMatch(/^vs production: breast-cancer-logreg 1\.0\.0 \(stage prod\) · sha256:[0-9a-f]{12}… · /m)
    expect(readFileSync(path.join(dir, 'summary.md'), 'utf8')).toMatch(
      /^\*\*vs production:\*\* breast-cancer-logreg 1\.0\.0 \(stage prod\)/m,
    )
  }, 240_000)

  it('registry pull writes the registered bytes', async () => {
    const r = await cli(['registry', 'pull', 'prod', '--out', 'pulled'], dir, env())
    expect([r.code, r.stderr]).toEqual([0, ''])
    const files = readdirSync(path.join(dir, 'pulled'))
    expect(files).toEqual(['baseline.onnx'])
    expect(readFileSync(path.join(dir, 'pulled', 'baseline.onnx')).equals(readFileSync(path.join(EXAMPLE, 'baseline.onnx')))).toBe(true)
  }, 60_000)

  it('refuses a tampered artifact, naming the version and both digests, and writes nothing', async () => {
    if (!backend.tamper) return
    const digest = (await json(['validate', '--baseline', 'stage:prod'], dir, env())).baseline!.digest!
    backend.tamper(dir, digest)
    rmSync(path.join(dir, '.modelgate/cache'), { recursive: true, force: true })
    const r = await cli(['validate', '--baseline', 'stage:prod', '--report', 'tampered.json'], dir, env())
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^modelgate: .*1\.0\.0/m)
    expect(r.stderr).toContain(digest)
    // The registered digest and the one the bytes have.
    expect(new Set(r.stderr.match(/sha256:[0-9a-f]{64}/g)).size).toBe(2)
    expect(r.stderr).not.toMatch(/^\s+at /m)
    expect(existsSync(path.join(dir, 'tampered.json'))).toBe(false)
  }, 120_000)
})

describe('a registered baseline that cannot be trusted or found', () => {
  it('a tampered artifact in a local registry is refused, naming the version and both digests', async () => {
    const dir = workspace('local:.modelgate/registry')
    expect((await cli(['register', '--model', 'baseline.onnx', '--version', '1.0.0', '--stage', 'staging'], dir)).code).toBe(0)
    const stored = path.join(dir, '.modelgate/registry', NAME, 'versions/1.0.0/artifact/baseline.onnx')
    const bytes = readFileSync(stored)
    bytes[bytes.length - 1] ^= 1
    writeFileSync(stored, bytes)
    rmSync(path.join(dir, '.modelgate/cache'), { recursive: true, force: true })
    const r = await cli(['validate', '--baseline', 'stage:staging', '--report', 'report.json'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^modelgate: .*1\.0\.0.*sha256:[0-9a-f]{64}.*sha256:[0-9a-f]{64}/m)
    expect(r.stderr).not.toMatch(/^\s+at /m)
    expect(existsSync(path.join(dir, 'report.json'))).toBe(false)
  }, 120_000)

  it('production without a promotion order, and a version that is not registered', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-regbase-'))
    cpSync(EXAMPLE, dir, { recursive: true })
    const noOrder = await cli(['validate', '--baseline', 'production'], dir)
    expect(noOrder.code).toBe(2)
    expect(noOrder.stderr).toMatch(
      /--baseline: production means the last stage of registry\.promotion, and the manifest declares no promotion order/,
    )
    const missing = await cli(['validate', '--baseline', 'version:9.9.9'], dir)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/breast-cancer-logreg has no version 9\.9\.9/)
  }, 120_000)
})

describe('the production version reproduces its registered report', () => {
  it('passes on the same data, and warns naming the metric and both values when the numbers moved', async () => {
    const dir = workspace('local:.modelgate/registry')
    // model.onnx as the version in production, with its own validate report (made on data/test.csv) as evidence.
    const first = await cli(['validate', '--report', 'v1.json', '--quiet'], dir)
    expect(first.code).toBe(0)
    const reg = await cli(
      ['register', '--model', 'model.onnx', '--version', '1.0.0', '--stage', 'staging', '--evidence', 'v1.json', '--quiet'],
      dir,
    )
    expect([reg.code, reg.stderr]).toEqual([0, ''])
    expect((await cli(['registry', 'promote', '1.0.0', 'prod'], dir)).code).toBe(0)

    const same = await json(['validate', '--baseline', 'stage:prod'], dir)
    const check = same.checks.find((c) => c.id === 'baseline-reproducible/test')
    expect(check).toMatchObject({ status: 'pass', kind: 'consistency', value: 0 })
    expect(check?.message).toMatch(/^breast-cancer-logreg 1\.0\.0 reproduces the \d+ metrics of its registered report exactly/)

    // As if the runtime that made the report had answered differently: the recorded accuracy moves.
    const stored = path.join(dir, '.modelgate/registry', NAME, 'versions/1.0.0/evidence')
    const file = path.join(
      stored,
      readdirSync(stored).find((f) => f.startsWith('validate'))!,
    )
    const report = JSON.parse(readFileSync(file, 'utf8')) as ValidationResult
    const accuracy = report.data[0].metrics.accuracy
    report.data[0].metrics.accuracy = accuracy - 1 / 171
    writeFileSync(file, JSON.stringify(report))
    rmSync(path.join(dir, '.modelgate/cache'), { recursive: true, force: true })
    const moved = await json(['validate', '--baseline', 'stage:prod'], dir)
    const warn = moved.checks.find((c) => c.id === 'baseline-reproducible/test')
    expect(warn).toMatchObject({ status: 'warn', value: 1 })
    expect(warn?.message).toContain(
      `accuracy ${(Math.round((accuracy - 1 / 171) * 1e4) / 1e4).toString()} then, ${(Math.round(accuracy * 1e4) / 1e4).toString()} now`,
    )
    expect(moved.status).toBe('warn')
  }, 240_000)
})

describe('a registered version modelgate cannot run itself', () => {
  it('is compared through its registered validate report, with a note that intervals need a runnable baseline', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-regbase-cmd-'))
    cpSync(path.join(ROOT, 'examples/command-runner'), dir, { recursive: true })
    const first = await cli(['validate', '--report', 'v1.json', '--quiet', '--fail-on', 'never'], dir)
    expect(first.stderr).toBe('')
    const reg = await cli(
      ['register', '--model', 'weights.json', '--version', '1.0.0', '--stage', 'prod', '--evidence', 'v1.json', '--quiet'],
      dir,
    )
    expect([reg.code, reg.stderr]).toEqual([0, ''])
    // The manifest form, {stage: prod}, as a user writes it.
    writeFileSync(path.join(dir, 'modelgate.yml'), `${readFileSync(path.join(dir, 'modelgate.yml'), 'utf8')}\nbaseline: {stage: prod}\n`)
    const r = await json(['validate', '--fail-on', 'never'], dir)
    expect(r.baseline).toMatchObject({ kind: 'report', source: 'breast-cancer-python 1.0.0' })
    expect(r.registryBaseline).toMatchObject({ version: '1.0.0', stage: 'prod' })
    expect(r.baseline?.metrics.accuracy).toBe(r.metrics.accuracy)
    expect(r.comparisons).toBeUndefined()
    expect(r.notes.join('\n')).toMatch(
      /not an ONNX file modelgate can run itself: compared through its registered validate report; intervals and tests need a runnable baseline/,
    )
  }, 120_000)
})
