import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Cell } from '../../src/core/data/types.js'
import { decodeModel, findAttribute } from '../../src/core/onnx/proto.js'
import { createOnnxRunner } from '../../src/core/runners/onnx.js'
import type { ModelRunner } from '../../src/core/runners/types.js'
import { buildJudge, ModelSession, runEngine, scoreClean, type Columns, type EngineOutput } from '../../src/core/robustness/engine.js'
import { profileFeatures } from '../../src/core/robustness/profile.js'
import { readSample, type Sample } from '../../src/core/robustness/run.js'
import { robustnessDefaults, type RobustnessInput } from '../../src/core/robustness/schema.js'
import { wilson } from '../../src/core/robustness/tests/common.js'
import type { Task } from '../../src/core/result/types.js'
import type { RobustnessTest } from '../../src/core/robustness/types.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MODEL = `${ROOT}examples/breast-cancer/model.onnx`
const TEST_CSV = `${ROOT}examples/breast-cancer/data/test.csv`
const FIXTURE_MODELS = `${ROOT}__tests__/fixtures/models/`
const FEATURES = readFileSync(TEST_CSV, 'utf8').split('\n')[0].split(',').slice(0, -1)

/** Only what a test asks for: every optional test is off unless the test turns it on. */
const QUIET: RobustnessInput = {
  sensitivity: false,
  stress: false,
  determinism: false,
  perturbations: [{ kind: 'gaussian_noise', severity: 0 }],
}

/** The example model's parameters, read from the ONNX file: Scaler offset/scale, then w of class 1 and b. */
function logisticParameters(): { mean: number[]; scale: number[]; w: number[]; b: number } {
  const graph = decodeModel(readFileSync(MODEL)).graph!
  const scaler = graph.node.find((n) => n.op_type === 'Scaler')!
  const classifier = graph.node.find((n) => n.op_type === 'LinearClassifier')!
  const coefficients = findAttribute(classifier, 'coefficients')!.floats
  const f = FEATURES.length
  return {
    mean: findAttribute(scaler, 'offset')!.floats,
    scale: findAttribute(scaler, 'scale')!.floats.map((s) => 1 / s),
    w: coefficients.slice(f),
    b: findAttribute(classifier, 'intercepts')!.floats[1],
  }
}

interface Run {
  out: EngineOutput
  sample: Sample
  runner: ModelRunner
}

const opened: ModelRunner[] = []
afterAll(async () => {
  await Promise.allSettled(opened.map((r) => r.close()))
})

/** The breast-cancer test set through the example model and the engine, with the given configuration. */
async function breastCancer(input: RobustnessInput, batchSize = 1024, now?: () => number): Promise<Run> {
  const config = robustnessDefaults(input)
  const sample = await readSample(TEST_CSV, 'csv', FEATURES, 'target', config.rows, config.seed)
  const runner = await createOnnxRunner({ path: MODEL })
  opened.push(runner)
  const out = await engine(runner, FEATURES, sample.columns, sample.labels, 'binary', input, batchSize, now, sample.rows)
  return { out, sample, runner }
}

async function engine(
  runner: ModelRunner,
  features: string[],
  columns: Columns,
  labels: Cell[],
  task: Task,
  input: RobustnessInput,
  batchSize = 1024,
  now?: () => number,
  rows?: number[],
): Promise<EngineOutput> {
  const config = robustnessDefaults(input)
  const session = new ModelSession(runner, features)
  const clean = await scoreClean(session, columns, batchSize)
  const judge = buildJudge({ task, labels, classes: clean.outputs.classes, threshold: 0.5, config })
  return runEngine({
    session,
    columns,
    labels,
    rowNumbers: (rows ?? labels.map((_, i) => i)).map((r) => r + 1),
    rowsAvailable: labels.length,
    profiles: profileFeatures(columns, features, {}),
    config,
    judge,
    batchSize,
    clean,
    cleanMetrics: judge.metrics(clean.outputs).metrics,
    now,
    startedAt: now?.(),
  })
}

const byId = (out: EngineOutput, id: string): RobustnessTest => {
  const t = out.robustness.tests.find((x) => x.id === id)
  if (t === undefined) throw new Error(`no test ${id} in ${out.robustness.tests.map((x) => x.id).join(', ')}`)
  return t
}

describe('invariance', () => {
  it('zero noise flips nothing; severity-5 noise flips many rows and costs accuracy', async () => {
    const { out } = await breastCancer({ ...QUIET, perturbations: [{ kind: 'gaussian_noise', severity: [0, 5] }] })
    const zero = byId(out, 'invariance/gaussian_noise/0')
    expect(zero).toMatchObject({ rows: 171, flipRate: 0, violations: 0, status: 'pass', examples: [] })
    expect(zero.metric).toEqual({ name: 'accuracy', clean: 168 / 171, perturbed: 168 / 171, absolute: 0, relative: 0 })
    expect(zero.flipInterval).toEqual(wilson(0, 171))

    const loud = byId(out, 'invariance/gaussian_noise/5')
    expect(loud.flipRate).toBeGreaterThan(0.2)
    expect(loud.flipRate).toBe(loud.violations! / 171)
    expect(loud.flipInterval).toEqual(wilson(loud.violations!, 171))
    expect(loud).toMatchObject({ status: 'fail', level: 'major' })
    expect(loud.metric!.perturbed).toBeLessThan(0.85)
    expect(loud.metric!.absolute).toBeCloseTo(loud.metric!.perturbed - 168 / 171, 12)
    expect(loud.metric!.relative).toBeCloseTo(loud.metric!.absolute / (168 / 171), 12)
    expect(loud.examples).toHaveLength(5)
    for (const e of loud.examples!) expect(e.message).toMatch(new RegExp(`^row ${e.row}: [01] → [01]$`))
    expect(loud.message).toMatch(
      /^gaussian noise σ = 5·sd on 30 features: \d+ of 171 rows changed label \(\d+(\.\d)?%, 95% CI .*; accuracy 0\.9825 → .* — major \(fails at 5%, major at 10%\)$/,
    )
  })

  it('K perturbations cost K clean passes in rows and one pass of chunks in model calls', async () => {
    const severities = [0.05, 0.1, 0.25, 0.5, 1]
    const { out } = await breastCancer({ ...QUIET, perturbations: [{ kind: 'gaussian_noise', severity: severities }] }, 50)
    // 171 rows in chunks of 50: 4 calls for the clean pass, 4 more carrying all five perturbed copies.
    expect(out.robustness.cost).toMatchObject({ modelCalls: 8, rowsScored: 171 * 6, cleanPassRows: 171, budgetExhausted: false })
  })

  it("each perturbation's result is the same whether it runs alone or batched with others, in any chunking", async () => {
    const together = await breastCancer({ ...QUIET, perturbations: [{ kind: 'gaussian_noise', severity: [0.5, 1, 2] }] }, 40)
    const alone = await breastCancer({ ...QUIET, perturbations: [{ kind: 'gaussian_noise', severity: 1 }] }, 40)
    const untimed = (t: RobustnessTest) => ({ ...t, seconds: 0 })
    expect(untimed(byId(alone.out, 'invariance/gaussian_noise/1'))).toEqual(untimed(byId(together.out, 'invariance/gaussian_noise/1')))
  })

  it('warns below flip-fail when some rows flipped and the interval reaches it; fails at it, major at flip-major', async () => {
    const { out } = await breastCancer({ ...QUIET, perturbations: [{ kind: 'shift', severity: [-0.1, 0.01] }] })
    const shift = byId(out, 'invariance/shift/-0.1')
    // 7 of 171 rows (4.1%): below 5%, but the Wilson upper bound is 8.2%.
    expect(shift).toMatchObject({ violations: 7, status: 'warn' })
    expect(shift.level).toBeUndefined()
    const strict = await breastCancer({
      ...QUIET,
      perturbations: [{ kind: 'shift', severity: -0.1 }],
      'flip-fail': 0.04,
      'flip-major': 0.2,
    })
    expect(byId(strict.out, 'invariance/shift/-0.1')).toMatchObject({ violations: 7, status: 'fail', level: 'minor' })
    expect(byId(out, 'invariance/shift/0.01')).toMatchObject({ violations: 0, status: 'pass' })
  })

  it('degradation gates judge every perturbation against the clean metric', async () => {
    const { out } = await breastCancer({
      ...QUIET,
      perturbations: [{ kind: 'shift', severity: [-0.1, 0.01] }],
      degradation: ['accuracy >= clean - 0.02', 'accuracy >= clean - 0.05 warn', 'roc_auc >= 0.5'],
    })
    const tight = byId(out, 'degradation/accuracy>=clean-0.02')
    // shift −10% loses 5 correct rows of 171 (0.9825 → 0.9532): past the 0.02 allowance.
    expect(tight).toMatchObject({ status: 'fail', violations: 1, parameters: { broken: ['invariance/shift/-0.1'] } })
    expect(tight.metric).toMatchObject({ name: 'accuracy', clean: 168 / 171, perturbed: 163 / 171 })
    expect(tight.message).toBe(
      'accuracy >= clean - 0.02 breaks under 1 of 2 perturbations; worst shift/-0.1: accuracy 0.9532, needs >= 0.9625 (clean 0.9825)',
    )
    expect(byId(out, 'degradation/accuracy>=clean-0.05')).toMatchObject({ status: 'pass', violations: 0, parameters: { severity: 'warn' } })
    expect(byId(out, 'degradation/roc_auc>=0.5')).toMatchObject({ status: 'pass', violations: 0 })
  })
})

describe('directional expectations on the logistic regression, whose signs are its coefficients', () => {
  const params = logisticParameters()
  const right = (j: number) => (params.w[j] > 0 ? 'increasing' : 'decreasing')
  const wrong = (j: number) => (params.w[j] > 0 ? 'decreasing' : 'increasing')
  let runRight: Run
  let runWrong: Run
  const strongest = FEATURES.map((_, j) => j)
    .sort((a, b) => Math.abs(params.w[b]) - Math.abs(params.w[a]))
    .slice(0, 5)

  beforeAll(async () => {
    runRight = await breastCancer({ ...QUIET, directional: FEATURES.map((feature, j) => ({ feature, direction: right(j) })) })
    runWrong = await breastCancer({ ...QUIET, directional: strongest.map((j) => ({ feature: FEATURES[j], direction: wrong(j) })) })
  })

  it('holds on every movable row for every feature in the direction of its coefficient', () => {
    FEATURES.forEach((feature, j) => {
      const t = byId(runRight.out, `directional/${feature}/${right(j)}`)
      const values = runRight.sample.columns[j] as number[]
      const movable = values.filter((x) => x < Math.max(...values)).length
      expect(t).toMatchObject({ rows: movable, violations: 0, status: 'pass', examples: [] })
    })
  })

  it('is broken, with rows shown, in the opposite direction', () => {
    for (const j of strongest) {
      const t = byId(runWrong.out, `directional/${FEATURES[j]}/${wrong(j)}`)
      expect(t.status).toBe('fail')
      expect(t.violations).toBeGreaterThan(t.rows / 2)
      expect(t.examples).toHaveLength(5)
      const arrow = wrong(j) === 'increasing' ? 'lower' : 'raise'
      expect(t.message).toContain(`raising ${FEATURES[j]} by 0.5 sd must not ${arrow} p(1): broken on ${t.violations} of ${t.rows} rows`)
      for (const e of t.examples!) {
        const m = new RegExp(`^row ${e.row}: p ([0-9.e-]+) → ([0-9.e-]+) when ${FEATURES[j]} ([0-9.e-]+) → ([0-9.e-]+)$`).exec(e.message)
        expect(m).not.toBeNull()
        const [before, after, x, y] = m!.slice(1).map(Number)
        expect(y).toBeGreaterThan(x)
        // The wrong expectation is broken exactly because p moves the way the coefficient says.
        expect(Math.sign(after - before)).toBe(Math.sign(params.w[j]))
      }
    }
  })
})

describe('sensitivity: the minimal flipping change of a logistic regression is known in closed form', () => {
  it('finds the rows that can flip within the bounds and ±4 sd, and the smallest change to within a few percent', async () => {
    const { out, sample } = await breastCancer({ ...QUIET, sensitivity: { rows: 40 } })
    const { mean, scale, w, b } = logisticParameters()
    const table = out.robustness.sensitivity!
    expect(table.map((r) => r.feature).sort()).toEqual([...FEATURES].sort())
    for (const row of table) {
      const j = FEATURES.indexOf(row.feature)
      const p = out.robustness.profiles[j]
      const needed: number[] = []
      for (let i = 0; i < 40; i++) {
        const x = sample.columns.map((c) => c[i] as number)
        const z = x.reduce((s, v, k) => s + (w[k] * (v - mean[k])) / scale[k], b)
        // z + w·Δ/scale crosses 0 at Δ = −z·scale/w.
        const delta = (-z * scale[j]) / w[j]
        const y = x[j] + delta
        if (Math.abs(delta) <= 4 * p.std! && y >= p.min! && y <= p.max!) needed.push(Math.abs(delta))
      }
      expect({ feature: row.feature, flipped: row.rowsFlipped }).toEqual({ feature: row.feature, flipped: needed.length })
      expect(row.rowsSearched).toBe(40)
      expect(row.queries).toBeLessThanOrEqual(40 * 20)
      if (needed.length === 0) {
        expect(row.medianChange).toBeNull()
        continue
      }
      needed.sort((a, c) => a - c)
      const mid = needed.length >> 1
      const exact = needed.length % 2 ? needed[mid] : (needed[mid - 1] + needed[mid]) / 2
      expect(row.medianChange!).toBeGreaterThanOrEqual(exact * 0.999)
      expect(row.medianChange!).toBeLessThanOrEqual(exact * 1.05)
      expect(row.medianChangeInSd).toBeCloseTo(row.medianChange! / p.std!, 12)
    }
    // Most sensitive first; features that never flipped last.
    const keys = table.map((r) => (r.rowsFlipped === 0 ? Infinity : r.medianChangeInSd!))
    expect(keys).toEqual([...keys].sort((a, c) => a - c))
  })
})

describe('determinism, stress and the time budget', () => {
  it('the ONNX runtime is deterministic and batch-consistent', async () => {
    const { out } = await breastCancer({ ...QUIET, determinism: true })
    expect(byId(out, 'determinism')).toMatchObject({ rows: 171, violations: 0, status: 'pass' })
    expect(byId(out, 'batch-consistency')).toMatchObject({ rows: 20, violations: 0, status: 'pass' })
    // One call repeats the clean pass's chunk, then 20 rows alone.
    expect(out.robustness.cost.modelCalls).toBe(1 + 1 + 1 + 20)
  })

  it('NaN makes the logistic regression output NaN (a finding); text is refused with a clear error (valid)', async () => {
    const { out } = await breastCancer({ ...QUIET, stress: true })
    const nan = byId(out, 'stress/nan')
    expect(nan).toMatchObject({ status: 'fail', violations: 30, rows: 90 })
    // The value once, not `nan (NaN)`; the row once, not `row 1: … invalid output: row 1: …`.
    expect(nan.message).toBe(
      'stress value NaN broke the model in 30 of 30 features: mean_radius = NaN in row 1: invalid output: probability NaN',
    )
    expect(nan.examples![0]).toEqual({ row: 1, message: 'mean_radius = NaN: invalid output: probability NaN' })
    const text = byId(out, 'stress/wrong-type')
    expect(text).toMatchObject({ status: 'pass', violations: 0, parameters: { rejected: FEATURES } })
    expect(text.message).toMatch(/^stress value wrong-type \("not a number"\) in each of 30 features: no crash, valid outputs; /)
    expect(text.message).toContain(
      `rejected with a clear error for 30 features, e.g. mean_radius = "not a number": ${MODEL}: column 'mean_radius', data row 1: text value "not a number" where the model expects float numbers`,
    )
    for (const id of ['stress/inf', 'stress/-inf', 'stress/huge', 'stress/zero'])
      expect(byId(out, id)).toMatchObject({ status: 'pass', violations: 0 })
  })

  it('a finding names the data row the invalid output came from, in the data’s numbering, once', async () => {
    // prediction = x0 / (x0 + x1): a zero x0 is harmless, except in the second row, whose x1 is 0 too.
    const x0 = Array.from({ length: 20 }, (_, i) => 1 + i)
    const x1 = x0.map((_, i) => (i === 1 ? 0 : 2))
    const ratio: ModelRunner = {
      kind: 'command',
      describe: async () => ({ source: 'ratio', runner: 'command', inputs: [], outputs: [], notes: [] }),
      predict: async (b) => {
        const [a, c] = b.columns.map((col) => col.map(Number))
        return { length: b.length, values: Float64Array.from(a.map((v, i) => v / (v + c[i]))), sources: { values: 'ratio' } }
      },
      close: async () => {},
    }
    // Sample rows 100, 101, … of the data: row numbers 101, 102, …
    const rows = x0.map((_, i) => 100 + i)
    const labels = x0.map((v, i) => v / (v + x1[i]))
    const out = await engine(ratio, ['x0', 'x1'], [x0, x1], labels, 'regression', { ...QUIET, stress: true }, 1024, undefined, rows)
    const zero = byId(out, 'stress/zero')
    expect(zero).toMatchObject({ status: 'fail', violations: 1, rows: 6 })
    expect(zero.message).toBe('stress value zero (0) broke the model in 1 of 2 features: x0 = 0 in row 102: invalid output: value NaN')
    expect(zero.examples).toEqual([{ row: 102, message: 'x0 = 0: invalid output: value NaN' }])
    expect(byId(out, 'stress/nan').examples).toEqual([
      { row: 101, message: 'x0 = NaN: invalid output: value NaN' },
      { row: 101, message: 'x1 = NaN: invalid output: value NaN' },
    ])
    expect(byId(out, 'stress/huge').message).toBe('stress value huge (21000000, 3000000) in each of 2 features: no crash, valid outputs')
  })

  it('tests that do not fit the time budget are skipped, and the result says so', async () => {
    let t = 0
    // A clock on which every look is a thousand seconds later than the previous one.
    const { out } = await breastCancer(
      { ...QUIET, 'time-budget': 1, determinism: true, directional: [{ feature: 'mean_radius', direction: 'decreasing' }] },
      1024,
      () => (t += 1e6),
    )
    expect(out.robustness.tests.map((x) => [x.id, x.status])).toEqual([
      ['invariance/gaussian_noise/0', 'skipped'],
      ['directional/mean_radius/decreasing', 'skipped'],
      ['determinism', 'skipped'],
      ['batch-consistency', 'skipped'],
    ])
    expect(byId(out, 'determinism').message).toMatch(/^skipped: the time budget \(1 s\) would be exceeded: about .* s needed, 0 s left$/)
    expect(out.robustness.cost).toMatchObject({ budgetExhausted: true, modelCalls: 1, rowsScored: 171 })
  })
})

describe('regression and multiclass models', () => {
  // linreg.onnx: prediction = 3 + 2·(x0 − 1)/0.5 − 0.5·(x1 − 100)/20 (scripts/fixtures/onnx-fixture-models.ts).
  const x0 = Array.from({ length: 40 }, (_, i) => i / 4)
  const x1 = Array.from({ length: 40 }, (_, i) => 100 + (i % 7) * 5)
  const predict = (a: number, c: number) => 3 + (2 * (a - 1)) / 0.5 - (0.5 * (c - 100)) / 20
  const y = x0.map((a, i) => predict(a, x1[i]) + ((i % 3) - 1) * 0.1)

  it('a regression output flips when it moves more than tolerance × the label sd', async () => {
    const runner = await createOnnxRunner({ path: `${FIXTURE_MODELS}linreg.onnx` })
    opened.push(runner)
    const out = await engine(runner, ['x0', 'x1'], [x0, x1], y, 'regression', {
      ...QUIET,
      perturbations: [{ kind: 'shift', severity: [0, -0.1], features: ['x0'] }],
      directional: [
        { feature: 'x0', direction: 'increasing' },
        { feature: 'x1', direction: 'decreasing' },
        { feature: 'x1', direction: 'increasing' },
      ],
    })
    const mean = y.reduce((s, v) => s + v, 0) / y.length
    const tolerance = 0.01 * Math.sqrt(y.reduce((s, v) => s + (v - mean) ** 2, 0) / y.length)
    // Shifting x0 by −10% moves the prediction by 4·0.1·x0.
    const expected = x0.filter((a) => 0.4 * a > tolerance).length
    expect(expected).toBe(38)
    expect(byId(out, 'invariance/shift/-0.1')).toMatchObject({
      violations: expected,
      flipRate: expected / 40,
      status: 'fail',
      level: 'major',
    })
    expect(byId(out, 'invariance/shift/-0.1').metric!.name).toBe('rmse')
    expect(byId(out, 'invariance/shift/0')).toMatchObject({ violations: 0, status: 'pass' })
    expect(out.notes[0]).toBe(
      `Regression: an output counts as flipped when it moves by more than ${Number(tolerance.toPrecision(4))} (0.01 × the label's sd in the sample).`,
    )
    // x0 has a positive coefficient, x1 a negative one; rows at the maximum cannot move.
    expect(byId(out, 'directional/x0/increasing')).toMatchObject({ rows: 39, violations: 0, status: 'pass' })
    const movable = x1.filter((c) => c < 130).length
    expect(byId(out, 'directional/x1/decreasing')).toMatchObject({ rows: movable, violations: 0, status: 'pass' })
    expect(byId(out, 'directional/x1/increasing')).toMatchObject({ rows: movable, violations: movable, status: 'fail' })
    // x1 holds whole numbers, so its step is rounded: 0.5 × sd 9.82 → 5, and the prediction falls by 0.5·5/20.
    expect(byId(out, 'directional/x1/increasing').examples![0].message).toBe('row 1: prediction -1 → -1.125 when x1 100 → 105')
  })

  it('multiclass: flips are changed labels; directional compares the probability of the clean class', async () => {
    const runner = await createOnnxRunner({ path: `${FIXTURE_MODELS}trees.onnx` })
    opened.push(runner)
    // trees.onnx splits at f0 = 0.5 and f1 = 1 and 2.
    const f0 = Array.from({ length: 30 }, (_, i) => (i % 10) / 10)
    const f1 = Array.from({ length: 30 }, (_, i) => (i % 6) * 0.6)
    const labels = f0.map((_, i) => i % 3)
    const out = await engine(runner, ['f0', 'f1'], [f0, f1], labels, 'multiclass', {
      ...QUIET,
      perturbations: [{ kind: 'gaussian_noise', severity: 0 }],
      directional: [{ feature: 'f0', direction: 'increasing' }],
    })
    expect(byId(out, 'invariance/gaussian_noise/0')).toMatchObject({ violations: 0, status: 'pass' })
    expect(byId(out, 'directional/f0/increasing').message).toMatch(
      /must not lower the probability of the row's clean predicted class \(multiclass\)/,
    )
    expect(out.notes).toContain("Directional tests on a multiclass model compare the probability of each row's clean predicted class.")
  })
})

describe('the Wilson score interval', () => {
  it('matches the closed form', () => {
    const z = 1.959963984540054
    // k = 0: [0, z²/(n + z²)].
    expect(wilson(0, 171).low).toBe(0)
    expect(wilson(0, 171).high).toBeCloseTo((z * z) / (171 + z * z), 15)
    // k = n/2: symmetric around 1/2.
    const half = wilson(50, 100)
    expect(half.low + half.high).toBeCloseTo(1, 15)
    // Its bounds are the roots p of (k/n − p)² = z²·p(1 − p)/n.
    for (const [k, n] of [
      [7, 171],
      [1, 20],
      [95, 100],
    ]) {
      const { low, high } = wilson(k, n)
      for (const p of [low, high]) expect((k / n - p) ** 2).toBeCloseTo((z * z * p * (1 - p)) / n, 14)
      expect(low).toBeLessThan(k / n)
      expect(high).toBeGreaterThan(k / n)
    }
  })
})
