import { describe, it, expect, beforeAll } from '@jest/globals'
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { outside } from '../helpers/workspace.js'
import { LocalBackend } from '../../src/core/registry/backends/local.js'
import { registerModel, promoteVersion, type RegisterRequest } from '../../src/core/registry/register.js'
import { EMPTY_POLICY, type StagePolicy } from '../../src/core/registry/policy.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { goldenForRegistration, type GoldenRequests } from '../../src/core/registry/golden.js'
import { resolveSettings } from '../../src/core/settings/index.js'
import { tmp } from './conformance.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const MODEL = path.join(EXAMPLE, 'model.onnx')
const BASELINE = path.join(EXAMPLE, 'baseline.onnx')

async function cli(args: string[]) {
  const err: string[] = []
  const code = await runCli(outside(args), { stdout: () => {}, stderr: (t) => err.push(t), cwd: ROOT })
  if (code !== 0) throw new Error(`modelgate ${args[0]} exited ${code}: ${err.join('\n')}`)
}

const reports = { validate: '', robustness: '', failingRobustness: '', baselineValidate: '' }
beforeAll(async () => {
  const dir = tmp()
  reports.validate = path.join(dir, 'validate.json')
  reports.robustness = path.join(dir, 'robustness.json')
  reports.baselineValidate = path.join(dir, 'baseline-validate.json')
  reports.failingRobustness = path.join(dir, 'failing-robustness.json')
  const config = path.join(EXAMPLE, 'modelgate.yml')
  // The example's own robustness run finds real weaknesses (a +10% shift flips 7 of 100 rows): a failing report.
  await cli(['robustness', '--config', config, '--rows', '100', '--report', reports.failingRobustness, '--quiet', '--fail-on', 'never'])
  // A narrower run that passes: small noise only.
  const narrow = path.join(dir, 'robust.yml')
  const example = readFileSync(config, 'utf8').replace(
    /^(model|baseline): (\S+)/gm,
    (_m, k: string, v: string) => `${k}: ${path.join(EXAMPLE, v)}`,
  )
  writeFileSync(
    narrow,
    `${example.replace(/path: (\S+)/g, (_m, v: string) => `path: ${path.join(EXAMPLE, v)}`).replace(/contract: (\S+)/, (_m, v: string) => `contract: ${path.join(EXAMPLE, v)}`)}\nrobustness:\n  perturbations: [{kind: gaussian_noise, severity: 0.05}]\n  stress: false\n  sensitivity: false\n`,
  )
  await cli(['validate', '--config', config, '--report', reports.validate, '--quiet'])
  await cli(['robustness', '--config', narrow, '--rows', '100', '--report', reports.robustness, '--quiet'])
  await cli(['validate', '--config', config, '--model', BASELINE, '--report', reports.baselineValidate, '--quiet', '--fail-on', 'never'])
}, 120_000)

const policy: StagePolicy = {
  stages: ['dev', 'staging', 'prod'],
  order: ['dev', 'staging', 'prod'],
  require: { prod: ['validate-model', 'test-robustness'] },
}

function request(over: Partial<RegisterRequest> = {}): RegisterRequest {
  return {
    name: 'breast-cancer',
    modelPath: MODEL,
    bump: 'auto',
    evidence: [],
    labels: { team: 'ml' },
    policy: EMPTY_POLICY,
    context: { commit: 'a'.repeat(40), repository: 'octo/models', runId: '42', runUrl: 'https://github.com/octo/models/actions/runs/42' },
    ...over,
  }
}

describe('registerModel on a local registry', () => {
  it('records the digest, signature, task, metrics, data sets, lineage and the evidence itself', async () => {
    const reg = new LocalBackend(tmp())
    const r = await registerModel(request({ evidence: [reports.validate, reports.robustness] }), reg)
    const validate = JSON.parse(readFileSync(reports.validate, 'utf8')) as ValidationResult
    expect(r).toMatchObject({ version: '1.0.0', created: true, digest: validate.model.digest, tag: 'breast-cancer@v1.0.0' })
    expect(r.record.task).toBe('binary')
    expect(r.record.metrics).toEqual(validate.metrics)
    expect(r.record.metrics.accuracy).toBeCloseTo(168 / 171, 12)
    expect(r.record.datasets).toEqual([
      { name: 'test', path: 'examples/breast-cancer/data/test.csv', digest: validate.data[0]!.digest, rows: 171 },
    ])
    expect(r.record.evidence.map((e) => [e.kind, e.file, e.status])).toEqual([
      ['validate-model', 'validate-model.json', 'pass'],
      ['test-robustness', 'test-robustness.json', expect.stringMatching(/^(pass|warn)$/)],
    ])
    expect(r.record.git).toEqual({ commit: 'a'.repeat(40), repository: 'octo/models' })
    expect(r.record.run).toEqual({ id: '42', url: 'https://github.com/octo/models/actions/runs/42' })
    expect(r.record.signature?.inputs).toEqual([{ name: 'input', dtype: 'float', shape: ['N', 30] }])
    expect((await reg.readEvidence('breast-cancer', '1.0.0', 'validate-model.json')).toString()).toBe(
      readFileSync(reports.validate, 'utf8'),
    )
    const card = readFileSync(path.join(reg.root, 'breast-cancer/versions/1.0.0/MODEL_CARD.md'), 'utf8')
    expect(card).toContain('# breast-cancer 1.0.0')
    expect(card).toContain(`| accuracy | ${(168 / 171).toPrecision(4)}`)
    expect(card).toContain('| ✅ | validate-model | pass | `validate-model.json` |')
  })

  it('is a no-op for a known digest, and says so when another version was asked for', async () => {
    const reg = new LocalBackend(tmp())
    await registerModel(request(), reg)
    const again = await registerModel(request({ version: '3.0.0' }), reg)
    expect(again).toMatchObject({ version: '1.0.0', created: false })
    expect(again.warnings).toEqual(['version 3.0.0 was asked for, but this model is already registered as 1.0.0'])
    expect((await reg.list('breast-cancer')).length).toBe(1)
  })

  it('refuses evidence about another model, and leaves the registry unchanged', async () => {
    const root = tmp()
    const reg = new LocalBackend(root)
    await expect(registerModel(request({ evidence: [reports.baselineValidate] }), reg)).rejects.toThrow(
      /this report is about model sha256:80c1f6d3\w+, not the one being registered \(sha256:7d4d2948\w+\)/,
    )
    expect(readdirSync(root)).toEqual([])
  })

  it('refuses unreadable or foreign evidence, naming the file', async () => {
    const reg = new LocalBackend(tmp())
    const dir = tmp()
    const notJson = path.join(dir, 'x.json')
    writeFileSync(notJson, '{oops')
    const foreign = path.join(dir, 'y.json')
    writeFileSync(foreign, '{"hello": 1}')
    await expect(registerModel(request({ evidence: [path.join(dir, 'missing.json')] }), reg)).rejects.toThrow(
      /missing\.json: evidence file cannot be read/,
    )
    await expect(registerModel(request({ evidence: [notJson] }), reg)).rejects.toThrow(/x\.json: evidence is not valid JSON/)
    await expect(registerModel(request({ evidence: [foreign] }), reg)).rejects.toThrow(/y\.json: evidence is not a modelgate report/)
  })

  it('enforces the stage policy before writing anything: unknown stage, order, required evidence', async () => {
    const root = tmp()
    const reg = new LocalBackend(root)
    await expect(registerModel(request({ policy, stage: 'qa' }), reg)).rejects.toThrow(
      "stage: unknown stage 'qa'; the manifest declares dev, staging, prod",
    )
    await expect(registerModel(request({ policy, stage: 'staging' }), reg)).rejects.toThrow(
      'breast-cancer 1.0.0 cannot reach staging: the promotion order dev → staging → prod requires it to have held dev first',
    )
    expect(readdirSync(root)).toEqual([])

    const r = await registerModel(request({ policy, stage: 'dev', evidence: [reports.validate] }), reg)
    expect(r.stage).toMatchObject({ stage: 'dev', version: '1.0.0' })
    await promoteVersion(reg, 'breast-cancer', '1.0.0', 'staging', policy)
    await expect(promoteVersion(reg, 'breast-cancer', '1.0.0', 'prod', policy)).rejects.toThrow(
      'breast-cancer 1.0.0 cannot reach prod: it needs a test-robustness report as evidence, and has none',
    )
    const failing = await registerModel(
      request({ modelPath: BASELINE, policy, stage: 'dev', evidence: [reports.failingRobustness] }),
      reg,
    ).catch((e: Error) => e)
    // The failing report is about model.onnx, not baseline.onnx: refused for that first.
    expect(String(failing)).toContain('this report is about model')
    expect((await reg.stages('breast-cancer')).current).toEqual({ dev: '1.0.0', staging: '1.0.0' })
    expect(existsSync(path.join(root, 'breast-cancer', 'versions', '1.0.0'))).toBe(true)
  })

  it('refuses prod to a version whose robustness report failed', async () => {
    const reg = new LocalBackend(tmp())
    await registerModel(request({ policy, stage: 'dev', evidence: [reports.validate, reports.failingRobustness] }), reg)
    await promoteVersion(reg, 'breast-cancer', '1.0.0', 'staging', policy)
    await expect(promoteVersion(reg, 'breast-cancer', '1.0.0', 'prod', policy)).rejects.toThrow(
      'breast-cancer 1.0.0 cannot reach prod: its test-robustness report (test-robustness.json) has status fail',
    )
  })

  it('lets a version with passing evidence climb to prod', async () => {
    const reg = new LocalBackend(tmp())
    await registerModel(request({ policy, stage: 'dev', evidence: [reports.validate, reports.robustness] }), reg)
    await promoteVersion(reg, 'breast-cancer', '1.0.0', 'staging', policy)
    await promoteVersion(reg, 'breast-cancer', '1.0.0', 'prod', policy)
    expect((await reg.stages('breast-cancer')).current).toEqual({ dev: '1.0.0', staging: '1.0.0', prod: '1.0.0' })
  })

  it('bumps a patch for a retrained model with the same signature, and records the reason', async () => {
    const reg = new LocalBackend(tmp())
    await registerModel(request({ modelPath: BASELINE }), reg)
    const r = await registerModel(request(), reg)
    expect(r.record).toMatchObject({ version: '1.0.1', parent: '1.0.0', bump: { kind: 'patch', reasons: ['signature unchanged'] } })
  })

  it('stores golden requests: the first 20 rows with the answers of this very model', async () => {
    const reg = new LocalBackend(tmp())
    const golden = (digest: string) =>
      goldenForRegistration(
        { manifest: 'examples/breast-cancer/modelgate.yml', modelPath: MODEL, workspace: ROOT, digest },
        resolveSettings,
      )
    const r = await registerModel(request({ golden }), reg)
    expect(r.record.evidence.map((e) => e.kind)).toEqual(['golden-requests'])
    const stored = JSON.parse((await reg.readEvidence('breast-cancer', '1.0.0', 'golden-requests.json')).toString()) as GoldenRequests
    expect(stored.modelDigest).toBe(r.digest)
    expect(stored.rows).toHaveLength(20)
    expect(stored.features).toHaveLength(30)
    expect(stored.source.data).toBe('examples/breast-cancer/data/test.csv')
    // The trainer's float64 predictions of the same rows: the ONNX model's float32 answers agree to 1e-6.
    const reference = readFileSync(path.join(EXAMPLE, 'reference-predictions.csv'), 'utf8').trim().split('\n').slice(1, 21)
    reference.forEach((line, i) => {
      const [label, p0, p1] = line.split(',').map(Number)
      expect(stored.expected.labels![i]).toBe(label)
      expect(Math.abs(stored.expected.probabilities![i]![0]! - p0!)).toBeLessThan(1e-6)
      expect(Math.abs(stored.expected.probabilities![i]![1]! - p1!)).toBeLessThan(1e-6)
    })
    // Without a manifest there is nothing to make them from: registered all the same, with a note.
    const bare = await registerModel(
      request({
        modelPath: BASELINE,
        golden: (d) => goldenForRegistration({ modelPath: BASELINE, workspace: ROOT, digest: d }, resolveSettings),
      }),
      reg,
    )
    expect(bare.warnings).toEqual(['no golden requests: no manifest names the data to make them from'])
  })
})
