import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { buildExample } from '../../examples/diabetes/pipeline.js'

/*
 * The three example repositories, run as their users run them: the bundled CLI in child processes with
 * the example folder (a temporary copy) as the working directory. Expected metrics are computed here,
 * independently of modelgate, from the trainers' own predictions or weights.
 */

const run = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '../..')
const CLI = path.join(ROOT, 'dist/cli/index.js')
const example = (name: string) => path.join(ROOT, 'examples', name)
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'modelgate',
  GIT_AUTHOR_EMAIL: 'ci@example.com',
  GIT_COMMITTER_NAME: 'modelgate',
  GIT_COMMITTER_EMAIL: 'ci@example.com',
}

const scratch = mkdtempSync(path.join(tmpdir(), 'modelgate-examples-'))
let copies = 0
/** A fresh copy of an example, so that reports, registries and environments stay out of the repository. */
function copy(name: string): string {
  const dir = path.join(scratch, `${copies++}`, name)
  cpSync(example(name), dir, { recursive: true })
  return dir
}

interface Run {
  code: number
  stdout: string
  stderr: string
}
async function cli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20 })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}
async function cliJson<T>(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; result: T; stderr: string }> {
  const r = await cli(cwd, [...args, '--json'], env)
  try {
    return { code: r.code, result: JSON.parse(r.stdout) as T, stderr: r.stderr }
  } catch {
    throw new Error(`${args[0]} printed no JSON (exit ${r.code}): ${r.stderr}`)
  }
}

// Only the fields these tests read; the result schema is tested elsewhere.
interface Check {
  id: string
  status: string
}
interface Report {
  status: string
  task: string
  metrics: Record<string, number>
  checks: Check[]
  model: { digest?: string; runner: string }
  data: { rows: number; parity?: { rows: number; maxAbsDiff: number; labelMismatches: number } }[]
  baseline?: { metrics: Record<string, number> }
  comparisons?: { metric: string; delta: number; interval: { low: number; high: number }; verdict?: string }[]
  robustness?: { tests: { id: string; status: string; rows: number; violations: number }[] }
  notes: string[]
}
interface Registered {
  version: string
  digest: string
  created: boolean
  record: { artifact: { files: { path: string }[] }; evidence: { kind: string; status: string; modelDigest?: string }[] }
}
interface Deployed {
  version: string
  status: string
  rolledBack: boolean
  url: string
  steps: { name: string; status: string }[]
  stage?: { stage: string; version: string }
}

const sha256 = (file: string) => `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`

/** A numeric CSV without quoting, as the examples' files are. */
function readCsv(file: string): { header: string[]; rows: number[][]; col: (name: string) => number[] } {
  const [head, ...lines] = readFileSync(file, 'utf8').trimEnd().split('\n')
  const header = head.split(',')
  const rows = lines.map((l) => l.split(',').map(Number))
  return { header, rows, col: (name) => rows.map((r) => r[header.indexOf(name)]) }
}

/** ROC AUC as the Mann–Whitney statistic (ties count one half). */
function rocAuc(y: number[], score: number[]): number {
  let wins = 0
  let pairs = 0
  y.forEach((yi, i) => {
    if (yi !== 1) return
    y.forEach((yj, j) => {
      if (yj !== 0) return
      pairs++
      wins += score[i] > score[j] ? 1 : score[i] === score[j] ? 0.5 : 0
    })
  })
  return wins / pairs
}

const ids = (checks: Check[], status: string) => checks.filter((c) => c.status === status).map((c) => c.id)
const test = (r: Report, id: string) => r.robustness!.tests.find((t) => t.id === id)

/** Servers the deploys started: read from each environment's server.json and stopped at the end. */
const environments: string[] = []
afterAll(() => {
  for (const env of environments) {
    const file = path.join(env, 'server.json')
    if (!existsSync(file)) continue
    try {
      process.kill((JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
  rmSync(scratch, { recursive: true, force: true, maxRetries: 3 })
})

describe('examples/diabetes: a regressor', () => {
  const EX = example('diabetes')
  const testCsv = readCsv(path.join(EX, 'data/test.csv'))
  const y = testCsv.col('target')
  const reference = readCsv(path.join(EX, 'reference-predictions.csv'))
  const readme = readFileSync(path.join(EX, 'README.md'), 'utf8')

  // r2, rmse and mae of the trainer's float64 predictions, by their textbook definitions.
  const pred = reference.col('prediction')
  const mean = y.reduce((s, v) => s + v, 0) / y.length
  const sse = y.reduce((s, v, i) => s + (v - pred[i]) ** 2, 0)
  const expected = {
    r2: 1 - sse / y.reduce((s, v) => s + (v - mean) ** 2, 0),
    rmse: Math.sqrt(sse / y.length),
    mae: y.reduce((s, v, i) => s + Math.abs(v - pred[i]), 0) / y.length,
  }

  let dir = ''
  let validate: Report
  beforeAll(async () => {
    dir = copy('diabetes')
    const r = await cliJson<Report>(dir, ['validate', '--report', 'validate.json'])
    expect(r.code).toBe(0)
    validate = r.result
  })

  it('training reproduces the committed split, models and reference predictions byte for byte', () => {
    const out = buildExample(readFileSync(path.join(EX, 'data/diabetes.csv'), 'utf8'))
    expect(Object.keys(out.files).sort()).toEqual([
      'baseline.onnx',
      'data/test.csv',
      'data/train.csv',
      'model.onnx',
      'reference-predictions.csv',
    ])
    for (const [name, content] of Object.entries(out.files)) {
      expect([name, readFileSync(path.join(EX, name)).equals(Buffer.from(content))]).toEqual([name, true])
    }
    expect(out.summary).toMatchObject({ train: 309, test: 133 })
    // The trainer's own float64 metrics are the ones computed here from its predictions.
    for (const k of ['r2', 'rmse', 'mae'] as const) expect(out.summary.model[k]).toBeCloseTo(expected[k], 10)
  })

  it('the split partitions the source rows 309/133, each row once', () => {
    const lines = (f: string) => readFileSync(path.join(EX, f), 'utf8').split(/\r?\n/).slice(1).filter(Boolean)
    const source = lines('data/diabetes.csv')
    const parts = [...lines('data/train.csv'), ...lines('data/test.csv')]
    expect([lines('data/train.csv').length, y.length]).toEqual([309, 133])
    expect(parts.sort()).toEqual(source.sort())
  })

  it('validate passes every check with the metrics of the reference predictions', () => {
    expect(validate.status).toBe('pass')
    expect(validate.task).toBe('regression')
    expect(ids(validate.checks, 'pass').sort()).toEqual(
      [
        'comparison/test/rmse/non-inferiority',
        'slice/test/bmi >= 30/max-regression:rmse',
        'slice/test/bmi >= 30/max-regression:mae',
        'slice/test/bmi < 30/max-regression:rmse',
        'slice/test/bmi < 30/max-regression:mae',
        'contract/test',
        'parity/test',
        'threshold/test/r2>=0.45',
        'threshold/test/rmse<=58',
        'threshold/test/mae<=48',
        'threshold/test/max_error<=160',
        'change/test/rmse<=baseline',
        'change/test/r2>=baseline-0.01',
      ].sort(),
    )
    expect(validate.checks).toHaveLength(13)
    const parity = validate.data[0].parity!
    expect(parity).toMatchObject({ rows: 133, labelMismatches: 0 })
    expect(parity.maxAbsDiff).toBeLessThan(1e-3)
    for (const k of ['r2', 'rmse', 'mae'] as const) {
      // onnxruntime computes in float32: 1e-6 relative to the metric (|Δrmse| is 1.5e-6 on a value of 55).
      expect([k, Math.abs(validate.metrics[k] - expected[k]) <= 1e-6 * Math.abs(expected[k])]).toEqual([k, true])
    }
    // Triangle inequality: neither error metric can move more than the largest prediction difference.
    expect(Math.abs(validate.metrics.rmse - expected.rmse)).toBeLessThanOrEqual(parity.maxAbsDiff)
    expect(Math.abs(validate.metrics.mae - expected.mae)).toBeLessThanOrEqual(parity.maxAbsDiff)
  })

  it("the README's numbers are the report's", () => {
    const row = (file: string) => new RegExp(`^\\| \`${file}\` \\| ([\\d.]+) \\| ([\\d.]+) \\| ([\\d.]+) \\|$`, 'm').exec(readme)!.slice(1)
    const shown = (m: Record<string, number>) => [m.r2.toFixed(5), m.rmse.toFixed(4), m.mae.toFixed(4)]
    expect(row('model.onnx')).toEqual(shown(validate.metrics))
    expect(row('baseline.onnx')).toEqual(shown(validate.baseline!.metrics))
    expect(row('model.onnx')).toEqual(['0.49908', '55.0773', '45.9372'])
    expect(readme).toContain(`to ${validate.data[0].parity!.maxAbsDiff.toExponential(1)} (tolerance 1e-3)`)
    const c = validate.comparisons!.find((x) => x.metric === 'rmse')!
    const signed = (v: number) => `${v < 0 ? '−' : '+'}${Math.abs(v).toFixed(2)}`
    expect(readme).toContain(`change in rmse at ${signed(c.delta)},\n95% CI [${signed(c.interval.low)}, ${signed(c.interval.high)}]`)
    expect(c.verdict).toBe('pass')
  })

  it('robustness --rows 100 --fail-on never runs and writes its report', async () => {
    const d = copy('diabetes')
    const r = await cli(d, ['robustness', '--rows', '100', '--fail-on', 'never', '--report', 'robustness.json', '--quiet'])
    expect(r.code).toBe(0)
    const report = JSON.parse(readFileSync(path.join(d, 'robustness.json'), 'utf8')) as Report
    expect(report.status).toBe('fail')
    expect(report.notes).toContain(
      'test: robustness tests on a seeded random sample of 100 of 133 labelled rows (row budget 100, seed 20261126).',
    )
    expect(test(report, 'directional/bmi/increasing')).toMatchObject({ status: 'pass', violations: 0 })
    expect(test(report, 'invariance/gaussian_noise/0.05')).toMatchObject({ status: 'pass', rows: 100, violations: 0 })
    expect(test(report, 'stress/nan')).toMatchObject({ status: 'fail', violations: 10 })
  })

  it("robustness on the manifest's settings finds what the README says", async () => {
    const { code, result } = await cliJson<Report>(copy('diabetes'), ['robustness', '--fail-on', 'never'])
    expect(code).toBe(0)
    const failed = result.robustness!.tests.filter((t) => t.status === 'fail').map((t) => t.id)
    expect(failed).toEqual([
      'invariance/gaussian_noise/0.1',
      'stress/nan',
      'stress/inf',
      'stress/-inf',
      'stress/max',
      'stress/-max',
      'stress/missing',
    ])
    expect(test(result, 'invariance/gaussian_noise/0.05')).toMatchObject({ rows: 133, violations: 0 })
    expect(test(result, 'invariance/gaussian_noise/0.1')).toMatchObject({ rows: 133, violations: 25 })
    expect(readme).toContain('but 0.1 sd moves 25 of 133 (18.8%)')
    for (const id of ['invariance/shift/-0.01', 'invariance/shift/0.01', 'degradation/rmse<=clean+2%', 'determinism']) {
      expect(test(result, id)).toMatchObject({ status: 'pass', violations: 0 })
    }
  })

  it('registers the baseline and the model, then deploys: staging with a canary step, then prod', async () => {
    const registry = `local:${path.join(dir, 'diabetes-registry')}`
    const reg = (args: string[]) => cliJson<Registered>(dir, ['register', '--registry', registry, ...args])
    const base = await reg(['--model', 'baseline.onnx'])
    expect([base.code, base.result.version, base.result.digest]).toEqual([0, '1.0.0', sha256(path.join(EX, 'baseline.onnx'))])
    const model = await reg(['--evidence', 'validate.json'])
    expect([model.code, model.result.version, model.result.created]).toEqual([0, '1.0.1', true])
    expect(model.result.digest).toBe(sha256(path.join(EX, 'model.onnx')))
    expect(model.result.digest).toBe(validate.model.digest)
    expect(model.result.record.evidence.map((e) => `${e.kind} ${e.status}`)).toEqual(['validate-model pass', 'golden-requests pass'])
    // The same bytes again: the existing version, nothing written.
    expect((await reg([])).result).toMatchObject({ version: '1.0.1', created: false })

    // The latency budget is the manifest's business; this machine's load is not the model's.
    const args = (env: string, version: string) => [
      'deploy',
      '--environment',
      env,
      '--version',
      version,
      '--registry',
      registry,
      '--p95-latency-ms',
      '60000',
    ]
    const deploy = (env: string, version: string) => {
      environments.push(path.join(dir, '.modelgate/environments/diabetes-ols', env))
      return cliJson<Deployed>(dir, args(env, version))
    }
    const first = await deploy('staging', '1.0.0')
    expect([first.code, first.result.status, first.result.steps.map((s) => s.name)]).toEqual([0, 'success', ['deploy 100%']])
    // prod requires a version that has held staging (and carries a passing validate-model report).
    const refused = await cli(dir, [...args('prod', '1.0.1'), '--quiet'])
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringMatching(/staging/)])
    const second = await deploy('staging', '1.0.1')
    expect(second.code).toBe(0)
    expect(second.result).toMatchObject({ status: 'success', rolledBack: false, stage: { stage: 'staging', version: '1.0.1' } })
    expect(second.result.steps.map((s) => `${s.name} ${s.status}`)).toEqual(['canary 50% pass', 'promote 100% pass'])
    const prod = await deploy('prod', '1.0.1')
    expect([prod.code, prod.result.status, prod.result.stage?.stage]).toEqual([0, 'success', 'prod'])

    // The served model answers a test row as the trainer did (float32 inference, within the parity tolerance).
    const features = testCsv.header.slice(0, -1)
    const res = await fetch(`${prod.result.url}/v2/models/diabetes-ols/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [
          { name: 'input', shape: [2, features.length], datatype: 'FP32', data: testCsv.rows.slice(0, 2).flatMap((r) => r.slice(0, -1)) },
        ],
      }),
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { outputs: { data: number[] }[] }
    const served = body.outputs[0].data
    expect(served).toHaveLength(2)
    served.forEach((v, i) => expect(Math.abs(v - pred[i])).toBeLessThan(1e-3))
  })

  it("the workflow's release job: register in the git registry (GTO tags pushed to origin), deploy from it", async () => {
    const repo = copy('diabetes')
    const remote = path.join(scratch, 'diabetes-origin.git')
    const git = (args: string[], cwd = repo) => run('git', args, { cwd, env: { ...process.env, ...GIT_ENV } })
    await git(['init', '-q', '--bare', remote], scratch)
    await git(['init', '-q', '-b', 'main'])
    await git(['add', '-A'])
    await git(['commit', '-qm', 'diabetes model'])
    await git(['remote', 'add', 'origin', remote])
    await git(['push', '-q', 'origin', 'main'])
    expect((await cli(repo, ['validate', '--report', 'validate.json', '--quiet'])).code).toBe(0)
    expect((await cli(repo, ['robustness', '--report', 'robustness.json', '--fail-on', 'never', '--quiet'])).code).toBe(0)

    const r = await cliJson<Registered>(
      repo,
      ['register', '--registry', 'git', '--evidence', 'validate.json', '--evidence', 'robustness.json'],
      GIT_ENV,
    )
    expect(r.code).toBe(0)
    expect(r.result.record.evidence.map((e) => `${e.kind} ${e.status}`)).toEqual([
      'validate-model pass',
      'test-robustness fail',
      'golden-requests pass',
    ])
    const tags = (await git(['ls-remote', '--tags', remote])).stdout
    expect(tags).toContain('refs/tags/diabetes-ols@v1.0.0')

    environments.push(path.join(repo, '.modelgate/environments/diabetes-ols/staging'))
    const d = await cliJson<Deployed>(
      repo,
      ['deploy', '--environment', 'staging', '--version', r.result.version, '--registry', 'git', '--p95-latency-ms', '60000'],
      GIT_ENV,
    )
    expect([d.code, d.result.status, d.result.version]).toEqual([0, 'success', '1.0.0'])
    expect((await git(['ls-remote', '--tags', remote])).stdout).toContain('refs/tags/diabetes-ols#staging#')
  })
})

describe('examples/command-runner: a Python model over the command protocol', () => {
  const EX = example('command-runner')
  interface Term {
    name: string
    mean: number
    scale: number
    coef: number
  }
  const weights = JSON.parse(readFileSync(path.join(EX, 'weights.json'), 'utf8')) as { intercept: number; features: Term[] }
  const data = readCsv(path.join(EX, 'data/test.csv'))
  const y = data.col('target')
  // model.py's arithmetic, in its order: z = b + Σ coef·(x − mean)/scale, then a two-branch sigmoid.
  const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)))
  const p1 = data.rows.map((row) =>
    sigmoid(weights.features.reduce((z, t) => z + (t.coef * (row[data.header.indexOf(t.name)] - t.mean)) / t.scale, weights.intercept)),
  )
  const label = p1.map((p) => (p >= 0.5 ? 1 : 0))
  const correct = label.filter((l, i) => l === y[i]).length
  const calledBenign = label.filter((l) => l === 1).length
  const trulyBenign = label.filter((l, i) => l === 1 && y[i] === 1).length

  let dir = ''
  let validate: Report
  beforeAll(async () => {
    dir = copy('command-runner')
    const r = await cliJson<Report>(dir, ['validate', '--report', 'validate.json'])
    expect(r.code).toBe(0)
    validate = r.result
  })

  it('its data is the breast-cancer split, byte for byte', () => {
    for (const f of ['data/train.csv', 'data/test.csv']) {
      expect(readFileSync(path.join(EX, f)).equals(readFileSync(path.join(example('breast-cancer'), f)))).toBe(true)
    }
  })

  it('validate runs model.py and passes every gate with the metrics its weights give', () => {
    expect(validate.status).toBe('pass')
    expect(validate.model.runner).toBe('command')
    expect(validate.data[0].rows).toBe(171)
    expect(ids(validate.checks, 'pass')).toEqual([
      'output-consistency/test',
      'threshold/test/accuracy>=0.95',
      'threshold/test/roc_auc>=0.98',
      'threshold/test/precision>=0.97',
      'threshold/test/log_loss<=0.15',
    ])
    expect(validate.checks).toHaveLength(5)
    const logLoss = -y.reduce((s, v, i) => s + Math.log(v === 1 ? p1[i] : 1 - p1[i]), 0) / y.length
    expect(validate.metrics.accuracy).toBeCloseTo(correct / 171, 12)
    expect(validate.metrics.precision).toBeCloseTo(trulyBenign / calledBenign, 12)
    expect(validate.metrics.roc_auc).toBeCloseTo(rocAuc(y, p1), 12)
    expect(validate.metrics.log_loss).toBeCloseTo(logLoss, 12)
  })

  it("the README's numbers are the report's", () => {
    const readme = readFileSync(path.join(EX, 'README.md'), 'utf8')
    const m = validate.metrics
    expect([correct, calledBenign, trulyBenign]).toEqual([169, 109, 107])
    expect(readme).toContain(`accuracy ${m.accuracy.toFixed(4)} (${correct}/171), ROC AUC ${m.roc_auc.toFixed(5)},`)
    expect(readme).toContain(
      `precision ${m.precision.toFixed(4)} (${calledBenign - trulyBenign} of the ${calledBenign} tumours called benign are malignant) and log loss ${m.log_loss.toFixed(4)}.`,
    )
  })

  it('robustness --rows 100 --fail-on never runs and writes its report', async () => {
    const d = copy('command-runner')
    const r = await cli(d, ['robustness', '--rows', '100', '--fail-on', 'never', '--report', 'robustness.json', '--quiet'])
    expect(r.code).toBe(0)
    const report = JSON.parse(readFileSync(path.join(d, 'robustness.json'), 'utf8')) as Report
    expect(report.model.runner).toBe('command')
    expect(test(report, 'directional/worst_radius/decreasing')).toMatchObject({ status: 'pass', violations: 0 })
    expect(test(report, 'determinism')).toMatchObject({ status: 'pass', rows: 100 })
    // null (missing, NaN, ±Infinity) is imputed; a string gets an error reply, which counts as a failure.
    expect(['stress/nan', 'stress/missing', 'stress/empty'].map((id) => test(report, id)?.status)).toEqual(['pass', 'pass', 'fail'])
  })

  it("robustness on the manifest's settings finds what the README says", async () => {
    const { code, result } = await cliJson<Report>(copy('command-runner'), ['robustness', '--fail-on', 'never'])
    expect(code).toBe(0)
    const failed = result.robustness!.tests.filter((t) => t.status === 'fail').map((t) => t.id)
    expect(failed).toEqual(['invariance/shift/-0.1', 'stress/empty', 'stress/wrong-type'])
    expect(test(result, 'invariance/shift/-0.1')).toMatchObject({ rows: 171, violations: 11 })
    expect(readFileSync(path.join(EX, 'README.md'), 'utf8')).toContain('flips 11 of 171 labels (6.4%)')
  })

  it('registers weights.json as the version, with the validate report as evidence', async () => {
    const registry = path.join(dir, 'command-registry')
    const r = await cliJson<Registered>(dir, [
      'register',
      '--model',
      'weights.json',
      '--registry',
      `local:${registry}`,
      '--evidence',
      'validate.json',
    ])
    expect(r.code).toBe(0)
    expect(r.result).toMatchObject({ version: '1.0.0', digest: sha256(path.join(EX, 'weights.json')), created: true })
    expect(r.result.record.artifact.files.map((f) => f.path)).toEqual(['weights.json'])
    expect(r.result.record.evidence.map((e) => `${e.kind} ${e.status}`)).toEqual(['validate-model pass'])
    expect(readdirSync(path.join(registry, 'breast-cancer-python/versions/1.0.0/artifact'))).toEqual(['weights.json'])
  })
})

describe('examples/breast-cancer: a binary classifier', () => {
  const EX = example('breast-cancer')
  const y = readCsv(path.join(EX, 'data/test.csv')).col('target')
  const reference = readCsv(path.join(EX, 'reference-predictions.csv'))

  let dir = ''
  let validate: Report
  beforeAll(async () => {
    dir = copy('breast-cancer')
    const r = await cliJson<Report>(dir, ['validate', '--report', 'validate.json'])
    expect(r.code).toBe(0)
    validate = r.result
  })

  it('validate passes with the README numbers, which the reference predictions give', () => {
    expect(validate.status).toBe('pass')
    expect(ids(validate.checks, 'fail')).toEqual([])
    const correct = reference.col('label').filter((l, i) => l === y[i]).length
    expect(correct).toBe(168)
    expect(validate.metrics.accuracy).toBe(correct / 171)
    expect(validate.metrics.roc_auc).toBeCloseTo(rocAuc(y, reference.col('probability_1')), 12)
    const readme = readFileSync(path.join(EX, 'README.md'), 'utf8')
    const shown = (m: Record<string, number>, n: number) => `| ${m.accuracy.toFixed(4)} (${n}/171) | ${m.roc_auc.toFixed(5)} |`
    expect(readme).toContain(`| \`model.onnx\` ${shown(validate.metrics, 168)}`)
    expect(readme).toContain(`| \`baseline.onnx\` ${shown(validate.baseline!.metrics, 163)}`)
  })

  it('robustness --rows 100 --fail-on never runs and writes its report', async () => {
    const d = copy('breast-cancer')
    const r = await cli(d, ['robustness', '--rows', '100', '--fail-on', 'never', '--report', 'robustness.json', '--quiet'])
    expect(r.code).toBe(0)
    const report = JSON.parse(readFileSync(path.join(d, 'robustness.json'), 'utf8')) as Report
    expect(report.model.digest).toBe(sha256(path.join(EX, 'model.onnx')))
    expect(test(report, 'determinism')).toMatchObject({ status: 'pass', rows: 100 })
    expect(test(report, 'stress/nan')?.status).toBe('fail')
  })

  it('registers model.onnx with the validate report as evidence', async () => {
    const r = await cliJson<Registered>(dir, [
      'register',
      '--registry',
      `local:${path.join(dir, 'bc-registry')}`,
      '--evidence',
      'validate.json',
    ])
    expect(r.code).toBe(0)
    expect(r.result).toMatchObject({ version: '1.0.0', digest: sha256(path.join(EX, 'model.onnx')), created: true })
    expect(r.result.record.evidence.map((e) => `${e.kind} ${e.status}`)).toEqual(['validate-model pass', 'golden-requests pass'])
  })
})

describe("each example's workflow", () => {
  const schema = JSON.parse(readFileSync(path.join(ROOT, '__tests__/fixtures/schemastore/github-workflow.schema.json'), 'utf8')) as object
  const validateWorkflow = new Ajv({ strict: false }).compile(schema)
  const inputsOf = (action: string) =>
    Object.keys((parse(readFileSync(path.join(ROOT, 'actions', action, 'action.yml'), 'utf8')) as { inputs: object }).inputs)

  interface Step {
    uses?: string
    id?: string
    if?: string
    with?: Record<string, string | boolean | number>
  }
  interface Workflow {
    on: { pull_request: unknown; push: { branches: string[] } }
    jobs: Record<string, { if?: string; needs?: string; permissions?: Record<string, string>; steps: Step[] }>
  }

  it.each(['breast-cancer', 'command-runner', 'diabetes'])(
    '%s: valid, on pull requests and pushes to main, with real inputs and paths',
    (name) => {
      const dir = example(name)
      const wf = parse(readFileSync(path.join(dir, '.github/workflows/model.yml'), 'utf8')) as Workflow
      expect(validateWorkflow(wf)).toBe(true)
      expect(Object.keys(wf.on).sort()).toEqual(['pull_request', 'push'])
      expect(wf.on.push.branches).toEqual(['main'])

      const steps = Object.values(wf.jobs).flatMap((j) => j.steps)
      const modelgate = steps.filter((s) => s.uses?.startsWith('modelgate/modelgate/'))
      for (const s of modelgate) {
        const action = /^modelgate\/modelgate\/actions\/([\w-]+)@v1$/.exec(s.uses!)![1]
        expect(existsSync(path.join(ROOT, 'actions', action, 'action.yml'))).toBe(true)
        const unknown = Object.keys(s.with ?? {}).filter((k) => !inputsOf(action).includes(k))
        expect([action, unknown]).toEqual([action, []])
        // No config input: modelgate.yml at the repository root, which the example has.
        expect(s.with?.config).toBeUndefined()
      }
      expect(existsSync(path.join(dir, 'modelgate.yml'))).toBe(true)
      const uses = (action: string) => modelgate.filter((s) => s.uses === `modelgate/modelgate/actions/${action}@v1`)
      expect(uses('validate-model')).toHaveLength(1)
      expect(uses('test-robustness')).toHaveLength(1)

      // The release job runs on pushes only, after the checks, and registers the check job's reports.
      const [check, release] = [wf.jobs.check, wf.jobs.release]
      expect(check.if).toBeUndefined()
      expect([release.if, release.needs, release.permissions]).toEqual(["github.event_name == 'push'", 'check', { contents: 'write' }])
      const register = uses('register-version')[0]
      expect(release.steps).toContain(register)
      const reports = [uses('validate-model')[0], uses('test-robustness')[0]].map((s) => s.with!['report-path'])
      expect(String(register.with!.evidence).trim().split('\n')).toEqual(reports)
      const model = register.with!.model
      if (model !== undefined) expect(existsSync(path.join(dir, String(model)))).toBe(true)
      expect(uses('deploy-model')).toHaveLength(name === 'diabetes' ? 1 : 0)
    },
  )
})
