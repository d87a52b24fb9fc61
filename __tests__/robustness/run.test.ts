import { describe, expect, it } from '@jest/globals'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { UserError } from '../../src/core/errors.js'
import { benchmarkRobustness } from '../../bench/robustness.js'
import { readSample, runRobustness } from '../../src/core/robustness/run.js'
import type { RobustnessTest } from '../../src/core/robustness/types.js'
import { resolveSettings } from '../../src/core/settings/index.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { resultSchema } from '../../src/core/result/schema.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const TEST_CSV = path.join(EXAMPLE, 'data/test.csv')
const FRAGILE = path.join(ROOT, '__tests__/fixtures/robustness/fragile_model.py')
const WEIGHTS = path.join(ROOT, 'examples/command-runner/weights.json')
const FEATURES = ['mean_radius', 'mean_texture', 'mean_perimeter', 'mean_area', 'mean_smoothness', 'mean_compactness', 'mean_concavity', 'mean_concave_points', 'mean_symmetry', 'mean_fractal_dimension', 'radius_error', 'texture_error', 'perimeter_error', 'area_error', 'smoothness_error', 'compactness_error', 'concavity_error', 'concave_points_error', 'symmetry_error', 'fractal_dimension_error', 'worst_radius', 'worst_texture', 'worst_perimeter', 'worst_area', 'worst_smoothness', 'worst_compactness', 'worst_concavity', 'worst_concave_points', 'worst_symmetry', 'worst_fractal_dimension'] // prettier-ignore
const CONTEXT = { tool: 'modelgate', version: '0.0.0-test' }

/** Writes a manifest (model lines, then a robustness section) into a fresh directory; the workspace is the repository. */
function manifest(model: string, robustness: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-robustness-'))
  const file = path.join(dir, 'modelgate.yml')
  writeFileSync(
    file,
    `name: breast-cancer\n${model}\nfeatures: [${FEATURES.join(', ')}]\nlabel: target\ndata: ${TEST_CSV}\nrobustness:\n${robustness
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')}\n`,
  )
  return file
}

async function run(model: string, robustness: string): Promise<ValidationResult> {
  const settings = resolveSettings({ config: manifest(model, robustness) }, ROOT)
  return runRobustness(settings, { context: CONTEXT })
}

const ONNX = `model: ${path.join(EXAMPLE, 'model.onnx')}`
const SMALL = `sensitivity: { rows: 10, features: [worst_radius, mean_texture] }
degradation: [accuracy >= clean - 0.02]
directional:
  - { feature: worst_radius, direction: decreasing }`

const test = (r: ValidationResult, id: string): RobustnessTest => r.robustness!.tests.find((t) => t.id === id)!

/** The result as written to disk (JSON) must match the published result schema. */
function expectValidJson(r: ValidationResult): void {
  const parsed = resultSchema.safeParse(JSON.parse(JSON.stringify(r)))
  expect(parsed.success ? [] : parsed.error.issues).toEqual([])
}

describe('runRobustness on the breast-cancer example', () => {
  it('returns a result whose checks are the robustness tests, with the clean metrics and paths relative to the workspace', async () => {
    const r = await run(ONNX, SMALL)
    expect(r).toMatchObject({ schemaVersion: '1.0', task: 'binary', status: 'fail' })
    expectValidJson(r)
    expect(r.metrics.accuracy).toBe(168 / 171)
    expect(r.robustness!.clean).toEqual(r.metrics)
    expect(r.model).toMatchObject({ name: 'breast-cancer', runner: 'onnx', source: 'examples/breast-cancer/model.onnx' })
    expect(r.data).toHaveLength(1)
    expect(r.data[0]).toMatchObject({
      name: 'test',
      path: 'examples/breast-cancer/data/test.csv',
      format: 'csv',
      rows: 171,
      metrics: r.metrics,
    })
    expect(r.data[0].performance).toMatchObject({ batches: 1, batchSize: 1024 })
    expect(r.data[0].confusionMatrix!.matrix.flat().reduce((a, b) => a + b, 0)).toBe(171)

    const ids = r.robustness!.tests.map((t) => t.id)
    expect(ids.slice(0, 7)).toEqual([
      'invariance/gaussian_noise/0.05',
      'invariance/gaussian_noise/0.1',
      'invariance/gaussian_noise/0.25',
      'invariance/shift/-0.1',
      'invariance/shift/-0.01',
      'invariance/shift/0.01',
      'invariance/shift/0.1',
    ])
    expect(ids.slice(7, 11)).toEqual([
      'degradation/accuracy>=clean-0.02',
      'directional/worst_radius/decreasing',
      'determinism',
      'batch-consistency',
    ])
    expect(ids.filter((id) => id.startsWith('stress/'))).toEqual(
      ['nan', 'inf', '-inf', 'max', '-max', 'huge', '-huge', 'zero', 'empty', 'wrong-type', 'missing'].map((v) => `stress/${v}`),
    )
    expect(r.checks.map((c) => c.id)).toEqual(ids)
    for (const [c, t] of r.checks.map((c, i) => [c, r.robustness!.tests[i]] as const)) {
      expect(c).toMatchObject({ kind: 'robustness', dataset: 'test', status: t.status, severity: 'fail', message: t.message })
    }
    expect(r.checks.find((c) => c.id === 'invariance/shift/-0.1')).toMatchObject({
      value: 7 / 171,
      threshold: { op: '<', value: 0.05, expression: 'flip rate < 0.05' },
    })
    expect(r.checks.find((c) => c.id === 'stress/nan')).toMatchObject({ status: 'fail', value: 30 })
    expect(test(r, 'directional/worst_radius/decreasing')).toMatchObject({ status: 'pass', violations: 0 })
    expect(test(r, 'stress/empty').message).toContain(
      `e.g. mean_radius = "": examples/breast-cancer/model.onnx: column 'mean_radius', data row 1: text value "" where the model expects float numbers`,
    )
    expect(r.robustness!.sensitivity!.map((s) => s.feature).sort()).toEqual(['mean_texture', 'worst_radius'])
    expect(r.robustness).toMatchObject({ seed: 20261126, rows: 171, rowsAvailable: 171 })
    expect(r.robustness!.profiles).toHaveLength(30)
    expect(r.notes[0]).toBe('test: robustness tests on all 171 labelled rows (within the row budget of 2,000).')
  })

  it('is reproducible: the same seed gives the same robustness section but for the seconds', async () => {
    const a = await run(ONNX, `seed: 11\nrows: 100\n${SMALL}`)
    const b = await run(ONNX, `seed: 11\nrows: 100\n${SMALL}`)
    const strip = (r: ValidationResult) => ({
      ...r.robustness!,
      tests: r.robustness!.tests.map((t) => ({ ...t, seconds: 0 })),
      cost: { ...r.robustness!.cost, seconds: 0 },
    })
    expect(strip(a)).toEqual(strip(b))
    const untimed = (r: ValidationResult) => r.checks.map((c) => ({ ...c, seconds: 0 }))
    expect(untimed(a)).toEqual(untimed(b))
    expect(a.robustness!.tests.every((t) => typeof t.seconds === 'number' && t.seconds >= 0)).toBe(true)
    expect(a.robustness!.cost.seconds).toBeGreaterThan(0)
  })

  it('samples the rows within the row budget, seeded, and says so', async () => {
    const r = await run(ONNX, `seed: 7\nrows: 60\nsensitivity: false\nstress: false`)
    expect(r.robustness).toMatchObject({ rows: 60, rowsAvailable: 171 })
    expect(r.data[0].rows).toBe(60)
    expect(r.notes[0]).toBe('test: robustness tests on a seeded random sample of 60 of 171 labelled rows (row budget 60, seed 7).')
  })
})

describe('readSample', () => {
  it('keeps a seeded uniform sample in file order, or every row when the budget allows', async () => {
    const a = await readSample(TEST_CSV, 'csv', FEATURES, 'target', 50, 1)
    const b = await readSample(TEST_CSV, 'csv', FEATURES, 'target', 50, 1)
    const c = await readSample(TEST_CSV, 'csv', FEATURES, 'target', 50, 2)
    expect(a.rows).toEqual(b.rows)
    expect(a.rows).not.toEqual(c.rows)
    expect(a.rows).toHaveLength(50)
    expect(new Set(a.rows).size).toBe(50)
    expect(a.rows).toEqual([...a.rows].sort((x, y) => x - y))
    expect(a).toMatchObject({ available: 171, unlabelled: 0, sampled: true })
    // Each kept row carries its own cells: row 0 of the file is 11.42, 20.38, … with target 0.
    const all = await readSample(TEST_CSV, 'csv', FEATURES, 'target', 2000, 1)
    expect(all).toMatchObject({ available: 171, sampled: false })
    expect(all.rows).toEqual(Array.from({ length: 171 }, (_, i) => i))
    a.rows.forEach((row, i) => {
      expect(a.columns.map((col) => col[i])).toEqual(all.columns.map((col) => col[row]))
      expect(a.labels[i]).toBe(all.labels[row])
    })
    expect([all.columns[0][0], all.columns[1][0], all.labels[0]]).toEqual([11.42, 20.38, 0])
  })
})

describe('a command model that crashes on missing values', () => {
  it('is reported as a stress finding naming the feature, the value and the error; the model is restarted and the run completes', async () => {
    const model = `model:\n  runner: command\n  command: [python3, ${FRAGILE}, ${WEIGHTS}]`
    const r = await run(model, `sensitivity: false\nperturbations: [{ kind: gaussian_noise, severity: 0.1 }]`)
    expect(r.status).toBe('fail')
    expectValidJson(r)
    expect(test(r, 'invariance/gaussian_noise/0.1').status).not.toBe('fail')
    expect(test(r, 'determinism')).toMatchObject({ status: 'pass', violations: 0 })
    expect(test(r, 'batch-consistency')).toMatchObject({ status: 'pass', violations: 0 })
    // JSON has no NaN or Infinity: they reach the model as null, like a missing value and, here, like text.
    // Each crash costs a restart: a value is tried on three features, not all thirty.
    for (const value of ['nan', 'inf', '-inf', 'missing', 'empty', 'wrong-type']) {
      const t = test(r, `stress/${value}`)
      expect(t).toMatchObject({
        status: 'fail',
        violations: 3,
        rows: 9,
        parameters: { features: FEATURES.slice(0, 3), untried: FEATURES.slice(3) },
      })
      expect(t.message).toMatch(/; not tried on 27 more features after it crashed the model 3 times$/)
      expect(t.examples![0].message).toMatch(
        /^mean_radius = .+: the model failed: model command `python3 .*fragile_model\.py .*` exited with code 1 while answering a request; the end of its stderr: ".*TypeError: .*"$/,
      )
    }
    expect(test(r, 'stress/nan').message).toMatch(
      /^stress value NaN broke the model in 3 of 3 features: mean_radius = NaN: the model failed: .*TypeError: unsupported operand type\(s\) for -: 'NoneType' and 'float'"; not tried/,
    )
    // After each crash the model was started again: the values it can take pass on every feature.
    for (const value of ['max', '-max', 'huge', '-huge', 'zero']) {
      expect(test(r, `stress/${value}`)).toMatchObject({ status: 'pass', violations: 0, rows: 90 })
    }
  })
})

describe('configuration errors name the manifest and the field', () => {
  const rejects = async (robustness: string, message: RegExp) => {
    const e = await run(ONNX, robustness).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(e).toBeInstanceOf(UserError)
    expect((e as UserError).message).toMatch(message)
  }

  it('a directional feature the model does not have', () =>
    rejects(
      `directional: [{ feature: nope, direction: increasing }]`,
      /modelgate\.yml: robustness\.directional\[0\]\.feature: "nope" is not among the model's features$/,
    ))

  it('a degradation gate on an unknown metric', () =>
    rejects(
      `degradation: [r2 >= clean - 0.1]`,
      /modelgate\.yml: robustness\.degradation\[0\]: "r2 >= clean - 0\.1": unknown metric "r2" for a binary model; known: accuracy, /,
    ))

  it('a feature override glob that matches nothing', () =>
    rejects(
      `features: { "pixel_*": { immutable: true } }`,
      /modelgate\.yml: robustness\.features\.pixel_\*: matches none of the model's features \(mean_radius, /,
    ))

  it('perturbation features the model does not have', () =>
    rejects(
      `perturbations: [{ kind: shift, severity: 0.1, features: [mean_radius, age] }]`,
      /robustness\.perturbations\[0\]\.features: "age" not among the model's features$/,
    ))

  it('flip-major below flip-fail, when the manifest is read', () => {
    expect(() => resolveSettings({ config: manifest(ONNX, 'flip-fail: 0.2\nflip-major: 0.1') }, ROOT)).toThrow(/robustness\.flip-major/)
  })
})

describe('benchmarkRobustness', () => {
  it('times a clean pass and K batched perturbations', async () => {
    const b = await benchmarkRobustness(path.join(EXAMPLE, 'model.onnx'), TEST_CSV, FEATURES, 'target', 4, 171)
    expect(b.cleanSeconds).toBeGreaterThan(0)
    expect(b.perturbedSeconds).toBeGreaterThan(0)
    expect(b.ratioPerPerturbation).toBeCloseTo(b.perturbedSeconds / (4 * b.cleanSeconds), 12)
    expect(b.modelSeconds).toBeLessThanOrEqual(b.perturbedSeconds)
    // 171 rows fit one chunk: one call carries the four perturbed copies.
    expect({ calls: b.modelCalls, rows: b.rowsScored }).toEqual({ calls: 1, rows: 4 * 171 })
  })
})
