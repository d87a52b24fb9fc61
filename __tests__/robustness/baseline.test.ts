/**
 * Issue 13, robustness against production: the baseline model scores the very perturbed rows the
 * candidate scores, each invariance test carries both flip rates and the paired interval, and
 * `flip_rate <= baseline + 0.02` gates on them (skipped, with a note, without a baseline model).
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Cell } from '../../src/core/data/types.js'
import { createOnnxRunner } from '../../src/core/runners/onnx.js'
import type { FeatureBatch, ModelRunner } from '../../src/core/runners/types.js'
import { buildJudge, ModelSession, runEngine, scoreClean, type Columns, type EngineOutput } from '../../src/core/robustness/engine.js'
import { profileFeatures } from '../../src/core/robustness/profile.js'
import { readSample, runRobustness } from '../../src/core/robustness/run.js'
import { parseDegradationGate, robustnessDefaults, type RobustnessInput } from '../../src/core/robustness/schema.js'
import { pairedDifferenceInterval } from '../../src/core/robustness/paired.js'
import { runDegradation } from '../../src/core/robustness/tests/degradation.js'
import type { InvarianceOutcome } from '../../src/core/robustness/tests/invariance.js'
import type { BaselineFlips, RobustnessTest } from '../../src/core/robustness/types.js'
import type { GateSpec } from '../../src/core/gates/expression.js'
import { resolveSettings } from '../../src/core/settings/index.js'
import { resultSchema } from '../../src/core/result/schema.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { renderSummary } from '../../src/core/report/markdown.js'
import { renderJUnit } from '../../src/core/report/junit.js'
import { comparisonSentence, robustnessCommentLines, robustnessSummaryParts } from '../../src/core/report/robustness.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const MODEL = path.join(EXAMPLE, 'model.onnx')
const BASELINE = path.join(EXAMPLE, 'baseline.onnx')
const TEST_CSV = path.join(EXAMPLE, 'data/test.csv')
const FEATURES = readFileSync(TEST_CSV, 'utf8').split('\n')[0].split(',').slice(0, -1)
const CONTEXT = { tool: 'modelgate', version: '0.0.0-test' }

const QUIET: RobustnessInput = {
  seed: 7,
  rows: 100,
  sensitivity: false,
  stress: false,
  determinism: false,
  perturbations: [
    { kind: 'gaussian_noise', severity: [0.25, 1] },
    { kind: 'shift', severity: [-0.1, 0.1] },
  ],
}

/** A runner that keeps a copy of every batch it was asked to score. */
function recording(runner: ModelRunner): ModelRunner & { seen: Cell[][][] } {
  const seen: Cell[][][] = []
  return {
    kind: runner.kind,
    seen,
    describe: () => runner.describe(),
    predict: (batch: FeatureBatch) => {
      seen.push(batch.columns.map((c) => [...c]))
      return runner.predict(batch)
    },
    close: () => runner.close(),
  }
}

const opened: ModelRunner[] = []
afterAll(async () => {
  await Promise.allSettled(opened.map((r) => r.close()))
})

async function onnx(file: string) {
  const r = recording(await createOnnxRunner({ path: file }))
  opened.push(r)
  return r
}

/** The engine on the example's sample, with `baseline` (a file) scored on the same rows, or none. */
async function engine(input: RobustnessInput, model = MODEL, baseline?: string, batchSize = 1024) {
  const config = robustnessDefaults(input)
  const sample = await readSample(TEST_CSV, 'csv', FEATURES, 'target', config.rows, config.seed)
  const runner = await onnx(model)
  const session = new ModelSession(runner, FEATURES)
  const clean = await scoreClean(session, sample.columns, batchSize)
  const judge = buildJudge({ task: 'binary', labels: sample.labels, classes: clean.outputs.classes, threshold: 0.5, config })
  const baseRunner = baseline ? await onnx(baseline) : undefined
  const baseSession = baseRunner && new ModelSession(baseRunner, FEATURES)
  const baseClean = baseSession && (await scoreClean(baseSession, sample.columns, batchSize))
  const out = await runEngine({
    session,
    columns: sample.columns,
    labels: sample.labels,
    rowNumbers: sample.rows.map((r) => r + 1),
    rowsAvailable: sample.available,
    profiles: profileFeatures(sample.columns, FEATURES, {}),
    config,
    judge,
    batchSize,
    clean,
    cleanMetrics: judge.metrics(clean.outputs).metrics,
    ...(baseSession && baseClean
      ? { baseline: { session: baseSession, pick: (c: Columns) => c, clean: baseClean, against: 'production' } }
      : {}),
  })
  return { out, runner, baseRunner, baseSession }
}

const invariance = (out: EngineOutput) => out.robustness.tests.filter((t) => t.kind === 'invariance')
const untimed = (t: RobustnessTest) => ({ ...t, seconds: 0 })

describe('invariance tests against a baseline model', () => {
  it('feeds the baseline exactly the perturbed cells the candidate got, call for call', async () => {
    const { runner, baseRunner } = await engine(QUIET, MODEL, BASELINE, 40)
    // Chunks of 40 rows: 3 clean calls each, then 3 calls carrying the 4 perturbed copies.
    expect(runner.seen).toHaveLength(6)
    expect(baseRunner!.seen).toEqual(runner.seen)
  })

  it('changes nothing of the candidate’s own results, and costs the baseline one clean pass per copy', async () => {
    const alone = await engine(QUIET)
    const paired = await engine(QUIET, MODEL, BASELINE)
    const strip = (t: RobustnessTest) => {
      const { baseline, message, ...rest } = untimed(t)
      void baseline
      return { ...rest, message: message.replace(/; production: [^—]*?(?= —|$)/, '') }
    }
    expect(invariance(paired.out).map(strip)).toEqual(invariance(alone.out).map(strip))
    expect(paired.out.robustness.cost).toEqual({ ...alone.out.robustness.cost, seconds: paired.out.robustness.cost.seconds })
    expect([paired.baseSession!.modelCalls, paired.baseSession!.rowsScored]).toEqual([2, 100 * 5])
  })

  it('the model against itself: the same flips on every row, a zero difference with a symmetric interval', async () => {
    const { out } = await engine(QUIET, MODEL, MODEL)
    for (const t of invariance(out)) {
      const b = t.baseline!
      expect(b.flipRate).toBe(t.flipRate)
      expect(b.flipInterval).toEqual(t.flipInterval)
      expect(b.rows).toMatchObject({ candidateOnly: 0, baselineOnly: 0 })
      expect(b.difference).toBe(0)
      expect(b.differenceInterval.low).toBeCloseTo(-b.differenceInterval.high, 14)
      expect(b.robustness).toBe('similar')
    }
  })

  it('reports both flip rates, the paired counts and Newcombe’s interval, in the test and its message', async () => {
    const { out } = await engine(QUIET, BASELINE, MODEL)
    const tests = invariance(out)
    for (const t of tests) {
      const b = t.baseline!
      const n = t.rows
      expect(b.rows.both + b.rows.candidateOnly + b.rows.baselineOnly + b.rows.neither).toBe(n)
      expect(t.flipRate).toBe((b.rows.both + b.rows.candidateOnly) / n)
      expect(b.flipRate).toBe((b.rows.both + b.rows.baselineOnly) / n)
      expect(b.difference).toBeCloseTo(t.flipRate! - b.flipRate, 15)
      expect(b.differenceInterval).toEqual(pairedDifferenceInterval(b.rows))
      expect(t.message).toMatch(/; production: \d+(\.\d)?%, [+−±]\d+\.\d points, 95% CI \[[+−±]\d+\.\d, [+−±]\d+\.\d\]/)
    }
    // baseline.onnx is the less robust of the two example models: shifted down 10%, it flips far more rows.
    const shift = tests.find((t) => t.id === 'invariance/shift/-0.1')!
    expect(shift.baseline!.robustness).toBe('less')
    expect(comparisonSentence(shift, 'production')).toMatch(
      /^less robust than production under shift −10% on 30 features: \d+\.\d% vs \d+\.\d%, \+\d+\.\d points, 95% CI \[\+\d+\.\d, \+\d+\.\d\]$/,
    )
  })
})

describe('flip_rate gates', () => {
  it('parse: flip_rate against a number or the baseline; metrics against clean only', () => {
    expect(parseDegradationGate('flip_rate <= baseline + 0.02')).toMatchObject({
      metric: 'flip_rate',
      op: '<=',
      severity: 'fail',
      bound: { kind: 'change', delta: 0.02, relative: false },
      expression: 'flip_rate <= baseline + 0.02',
    })
    expect(parseDegradationGate('flip_rate <= baseline + 50% warn')).toMatchObject({
      bound: { kind: 'change', delta: 0.5, relative: true },
      severity: 'warn',
    })
    expect(parseDegradationGate('flip_rate < 0.05')).toMatchObject({ bound: { kind: 'absolute', value: 0.05 } })
    expect(parseDegradationGate('accuracy >= clean - 0.02')).toMatchObject({ expression: 'accuracy >= clean - 0.02' })
    expect(parseDegradationGate('flip_rate <= clean + 0.01')).toMatch(/a flip rate has no clean value/)
    expect(parseDegradationGate('accuracy >= baseline - 0.01')).toMatch(
      /which only flip_rate is compared with; compare accuracy with clean/,
    )
    expect(parseDegradationGate('flip_rate <= baseline + clean')).toMatch(/^cannot read degradation gate/)
    expect(robustnessDefaults({ degradation: ['flip_rate <= baseline + 0.02'] }).degradation).toEqual(['flip_rate <= baseline + 0.02'])
    expect(() => robustnessDefaults({ degradation: ['roc_auc >= baseline'] })).toThrow(/compare roc_auc with clean/)
  })

  const flips = (candidate: number, baseline: number | undefined, id: string): InvarianceOutcome => {
    const n = 100
    const b: BaselineFlips | undefined =
      baseline === undefined
        ? undefined
        : {
            flipRate: baseline,
            flipInterval: { low: 0, high: 1, confidence: 0.95, method: 'wilson' },
            difference: candidate - baseline,
            differenceInterval: { low: -1, high: 1, confidence: 0.95, method: 'newcombe-paired' },
            rows: { both: 0, candidateOnly: 0, baselineOnly: 0, neither: n },
            robustness: 'similar',
          }
    return {
      test: {
        id,
        kind: 'invariance',
        parameters: {},
        rows: n,
        flipRate: candidate,
        status: 'pass',
        message: '',
        ...(b ? { baseline: b } : {}),
      },
    }
  }
  const gate = (line: string) => parseDegradationGate(line) as GateSpec
  const ctx = { cleanMetrics: {}, against: 'production' }

  it('holds each test’s flip rate to the baseline’s on the same test, and names the worst', () => {
    const outcomes = [flips(0.05, 0.04, 'invariance/a/1'), flips(0.094, 0.031, 'invariance/b/1'), flips(0.01, 0.02, 'invariance/c/1')]
    const [t] = runDegradation(ctx, [gate('flip_rate <= baseline + 0.02')], outcomes)
    expect(t).toMatchObject({
      id: 'degradation/flip_rate<=baseline+0.02',
      kind: 'degradation',
      status: 'fail',
      violations: 1,
      parameters: { gate: 'flip_rate <= baseline + 0.02', severity: 'fail', broken: ['invariance/b/1'] },
      gate: { test: 'invariance/b/1', op: '<=', value: 0.094, bound: 0.031 + 0.02, baseline: 0.031 },
    })
    expect(t.message).toBe(
      'flip_rate <= baseline + 0.02 breaks under 1 of 3 perturbations; worst b/1: flip rate 0.094, needs <= 0.051 (production 0.031)',
    )
    const [ok] = runDegradation(ctx, [gate('flip_rate <= baseline + 0.1 warn')], outcomes)
    expect(ok).toMatchObject({ status: 'pass', violations: 0, gate: { test: 'invariance/b/1' } })
    expect(ok.message).toMatch(/^flip_rate <= baseline \+ 0\.1 holds under all 3 perturbations; closest b\/1/)
    const [warned] = runDegradation(ctx, [gate('flip_rate <= baseline warn')], outcomes)
    expect(warned).toMatchObject({ status: 'warn', parameters: { broken: ['invariance/a/1', 'invariance/b/1'] } })
    // Relative: 50% more flips than the baseline at most.
    const [relative] = runDegradation(ctx, [gate('flip_rate <= baseline + 50%')], outcomes)
    expect(relative.parameters.broken).toEqual(['invariance/b/1'])
  })

  it('absolute bounds need no baseline; relative ones are skipped without one, saying why', () => {
    const outcomes = [flips(0.05, undefined, 'invariance/a/1'), flips(0.2, undefined, 'invariance/b/1')]
    const noBase = { cleanMetrics: {} }
    const [absolute, relative] = runDegradation(
      noBase,
      [gate('flip_rate < 0.1'), gate('flip_rate <= baseline + 0.02')],
      outcomes,
      'no baseline model',
    )
    expect(absolute).toMatchObject({ status: 'fail', parameters: { broken: ['invariance/b/1'] }, gate: { value: 0.2, bound: 0.1 } })
    expect(absolute.gate!.baseline).toBeUndefined()
    expect(relative).toMatchObject({ status: 'skipped', rows: 0, message: 'skipped: no baseline model' })
    // With a baseline model whose calls failed on every test: nothing to judge.
    const [unjudged] = runDegradation(ctx, [gate('flip_rate <= baseline + 0.02')], outcomes)
    expect(unjudged).toMatchObject({
      status: 'skipped',
      message: expect.stringMatching(/no invariance test measured flip rates of both models/),
    })
    // Some tests without the baseline's flip rate: judged on the others, and said so.
    const [partial] = runDegradation(ctx, [gate('flip_rate <= baseline + 0.02')], [...outcomes, flips(0.03, 0.02, 'invariance/c/1')])
    expect(partial).toMatchObject({ status: 'pass', gate: { test: 'invariance/c/1' } })
    expect(partial.message).toMatch(/; 2 tests without the baseline's flip rate \(its model call failed\) not judged$/)
  })
})

/** A manifest for the example in a fresh folder; the workspace is the repository (paths are absolute). */
function manifest(extra: string, robustness: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-robustness-baseline-'))
  const file = path.join(dir, 'modelgate.yml')
  writeFileSync(
    file,
    `name: breast-cancer\nmodel: ${MODEL}\nfeatures: [${FEATURES.join(', ')}]\nlabel: target\nclasses: [0, 1]\ndata: ${TEST_CSV}\n${extra}robustness:\n${robustness}`,
  )
  return file
}

const ROBUSTNESS = `  seed: 7
  rows: 100
  flip-fail: 0.5
  flip-major: 0.6
  perturbations: [{ kind: shift, severity: [-0.1, 0.1] }]
  degradation: [flip_rate <= baseline + 0.02, flip_rate <= 0.3]
  sensitivity: false
  stress: false
  determinism: false
`

async function run(extra: string, overrides: Record<string, string> = {}): Promise<ValidationResult> {
  const settings = resolveSettings({ config: manifest(extra, ROBUSTNESS), ...overrides }, ROOT)
  const r = await runRobustness(settings, { context: CONTEXT })
  const parsed = resultSchema.safeParse(JSON.parse(JSON.stringify(r)))
  expect(parsed.success ? [] : parsed.error.issues).toEqual([])
  return r
}

describe('runRobustness with the manifest’s baseline', () => {
  it('compares with a baseline model: tests, checks, the result’s baseline, a note, the summary and JUnit', async () => {
    const r = await run(`baseline: ${MODEL}\n`, { model: BASELINE })
    const rob = r.robustness!
    expect(rob.baseline).toMatchObject({ against: 'the baseline', runner: 'onnx', modelCalls: 2, rowsScored: 300 })
    expect(rob.baseline!.source).toMatch(/examples\/breast-cancer\/model\.onnx$/)
    expect(rob.baseline!.clean.accuracy).toBeGreaterThan(0.9)
    expect(r.baseline).toMatchObject({ kind: 'model', metrics: rob.baseline!.clean })
    const shift = rob.tests.find((t) => t.id === 'invariance/shift/-0.1')!
    expect(rob.tests.filter((t) => t.baseline?.robustness === 'less').map((t) => t.id)).toEqual([
      'invariance/shift/-0.1',
      'invariance/shift/0.1',
    ])
    const check = r.checks.find((c) => c.id === shift.id)!
    expect(check.baseline).toBe(shift.baseline!.flipRate)
    const gate = rob.tests.find((t) => t.id === 'degradation/flip_rate<=baseline+0.02')!
    expect(gate).toMatchObject({
      status: 'fail',
      violations: 2,
      gate: { test: shift.id, value: shift.flipRate, baseline: shift.baseline!.flipRate },
    })
    expect(r.checks.find((c) => c.id === gate.id)).toMatchObject({
      status: 'fail',
      metric: 'flip_rate',
      value: shift.flipRate,
      baseline: shift.baseline!.flipRate,
      threshold: { op: '<=', value: shift.baseline!.flipRate + 0.02, expression: 'flip_rate <= baseline + 0.02' },
    })
    expect(r.status).toBe('fail')
    expect(r.notes.join('\n')).toMatch(
      /^Compared with the baseline \(.*model\.onnx\) on the same 100 rows and the same perturbed inputs: less robust under shift −10% on 30 features \(\d+\.\d% vs \d+\.\d%, \+\d+\.\d points, 95% CI \[\+\d+\.\d, \+\d+\.\d\]\)/m,
    )

    const summary = renderSummary(r)
    expect(summary).toContain('#### Against the baseline: ')
    // baseline.onnx flips more rows than model.onnx under both shifts.
    expect(summary).toContain('**vs the baseline:** less robust under 2 of 2 perturbations\n')
    expect(summary).toMatch(/\| degradation\/flip_rate&lt;=baseline\+0\.02 \| .* \| 2 perturbations \| {2}\|$/m)
    expect(summary).toContain(`- ❗ ${comparisonSentence(shift, 'the baseline')}`)
    expect(summary).toMatch(/\| invariance\/shift\/-0\.1 \| shift −10% on 30 features \| 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] \| 0\.\d{3} \[/)
    const junit = renderJUnit(r, { action: 'test-robustness' })
    expect(junit).toMatch(/flip_rate &lt;= baseline \+ 0\.02 breaks under 2 of 2 perturbations[\s\S]*baseline: 0\.\d+\nchange: \+0\.\d+/)
    expect(robustnessCommentLines(rob)[1]).toMatch(/^\*\*vs the baseline\*\* \(.*\): less robust under shift −10% on 30 features/)
  }, 60_000)

  it('a report cannot be perturbed: a note, no comparison, the gate against the baseline skipped, the absolute one judged', async () => {
    const r = await run(`baseline: ${path.join(ROOT, '__tests__/fixtures/robustness/newcombe-paired.json')}\n`)
    expect(r.robustness!.baseline).toBeUndefined()
    expect(r.baseline).toBeUndefined()
    expect(r.robustness!.tests.some((t) => t.baseline !== undefined)).toBe(false)
    expect(r.notes).toContainEqual(
      expect.stringMatching(
        /^The baseline \(.*newcombe-paired\.json\) is a report, which cannot score perturbed rows: the robustness tests ran without a comparison\./,
      ),
    )
    expect(r.notes).toContain('flip_rate <= baseline + 0.02 was skipped: the baseline is a report, which cannot score perturbed rows.')
    const [relative, absolute] = ['degradation/flip_rate<=baseline+0.02', 'degradation/flip_rate<=0.3'].map((id) =>
      r.robustness!.tests.find((t) => t.id === id)!,
    )
    expect(relative).toMatchObject({ status: 'skipped', message: 'skipped: the baseline is a report, which cannot score perturbed rows' })
    expect(absolute.status).toBe('pass')
    expect(
      robustnessSummaryParts(r.robustness!)
        .map((p) => p.text)
        .join('\n'),
    ).not.toContain('#### Against')
  }, 60_000)

  it('without any baseline: the first-run note, as validate gives for its change gates', async () => {
    const r = await run('')
    expect(r.notes).toContain(
      'No baseline yet (first run): flip_rate <= baseline + 0.02 was skipped. Set `baseline` to a model to compare flip rates with it.',
    )
    expect(r.robustness!.tests.find((t) => t.id === 'degradation/flip_rate<=baseline+0.02')!.status).toBe('skipped')
  }, 60_000)

  it('refuses a baseline taking a feature the model does not, before scoring anything', async () => {
    const features = [...FEATURES.slice(1), 'not_a_feature']
    await expect(run(`baseline:\n  model:\n    path: ${BASELINE}\n    features: [${features.join(', ')}]\n`)).rejects.toThrow(
      /^baseline \(.*baseline\.onnx\): takes "not_a_feature", which the model does not; test-robustness perturbs the model's features/,
    )
  }, 60_000)
})
