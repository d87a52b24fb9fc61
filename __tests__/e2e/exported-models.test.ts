/**
 * A new user's first command on the models scikit-learn users ship (issue 11): tree ensembles whose float32
 * probabilities overshoot [0, 1] and whose label output disagrees with argmax, the ZipMap variant,
 * per-column string + float inputs, an int64 input; no --features. Metrics must equal scikit-learn's on the
 * same (clipped) predictions, frozen by scripts/fixtures/exported-models.py.
 */
import { describe, expect, it } from '@jest/globals'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { runAction } from '../helpers/action-harness.js'
import { DataType, encodeModel, makeGraph, makeModel, makeNode, makeTensorValueInfo } from '../../src/core/onnx/proto.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const FIX = path.join(ROOT, '__tests__/fixtures/exported')

interface Frozen {
  rows: number
  metrics: Record<string, number>
  checks: {
    label_argmax_disagreements: number
    label_argmax_disagreement_rows: number[]
    probabilities_above_1: number
    largest_excess: number
  }
}
const frozen = JSON.parse(readFileSync(path.join(FIX, 'sklearn-metrics.json'), 'utf8')) as Record<string, Frozen>

async function cli(args: string[], cwd: string) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

/** A folder holding one model and its data, as a user's repository would. */
function workspace(model: string, data: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-exported-'))
  copyFileSync(path.join(FIX, model), path.join(dir, 'model.onnx'))
  copyFileSync(path.join(FIX, data), path.join(dir, 'test.csv'))
  return dir
}

function expectSklearnMetrics(result: ValidationResult, name: string): void {
  const want = frozen[name].metrics
  for (const [metric, value] of Object.entries(want)) {
    expect({ metric, value: result.metrics[metric] }).toEqual({ metric, value: expect.closeTo(value, 9) })
  }
}

const CASES = [
  { name: 'rf', model: 'rf.onnx', data: 'breast-cancer-test.csv' },
  { name: 'rf-zipmap', model: 'rf-zipmap.onnx', data: 'breast-cancer-test.csv' },
  { name: 'rf-both-weights', model: 'rf-both-weights.onnx', data: 'breast-cancer-test.csv' },
  { name: 'mixed', model: 'mixed.onnx', data: 'mixed-test.csv' },
  { name: 'int64', model: 'int64.onnx', data: 'digits-test.csv' },
]

describe('modelgate validate --model --data --label on exported-style models', () => {
  for (const c of CASES) {
    it(`${c.name}: runs without --features, metrics equal scikit-learn's on the same clipped predictions`, async () => {
      const dir = workspace(c.model, c.data)
      const r = await cli(
        ['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--report', 'out/report.json'],
        dir,
      )
      expect(r.stderr).not.toContain('internal error')
      const result = JSON.parse(readFileSync(path.join(dir, 'out/report.json'), 'utf8')) as ValidationResult
      expect(r.code).toBe(0)
      expect(result.data[0].rows).toBe(frozen[c.name].rows)
      expectSklearnMetrics(result, c.name)
      const checks = frozen[c.name].checks
      const consistency = result.checks.find((k) => k.id === 'output-consistency/test')!
      expect(consistency.value).toBe(checks.label_argmax_disagreements)
      expect(consistency.status).toBe(checks.label_argmax_disagreements === 0 ? 'pass' : 'warn')
      expect(result.data[0].outputConsistency?.examples).toEqual(checks.label_argmax_disagreement_rows.slice(0, 5).map((row) => row + 1))
      if (checks.probabilities_above_1 > 0) {
        expect(result.data[0].probabilityAdjustment).toMatchObject({ maxExcess: checks.largest_excess })
        expect(result.notes.join('\n')).toMatch(/clipped to \[0, 1\]/)
      } else {
        expect(result.data[0].probabilityAdjustment).toBeUndefined()
      }
      // Which output each metric used is said, never hidden.
      expect(result.notes.join('\n')).toMatch(/Metrics from the model output/)
    })
  }

  it('the one-input model takes the columns in file order, with a warning that says how to pin them', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    const r = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--json'], dir)
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout) as ValidationResult
    expect(result.warnings?.[0]).toMatch(/used in the file's order/)
    expect(result.warnings?.[0]).toMatch(/pin it with features:/)
    expect(r.stderr).toMatch(/^warning: features were not given/m)
    expect(result.features).toHaveLength(30)
  })

  it('a per-column model gets its features by name, in any column order, with no warning', async () => {
    const dir = workspace('mixed.onnx', 'mixed-test.csv')
    const r = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--json'], dir)
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout) as ValidationResult
    expect(result.warnings).toBeUndefined()
    expect(result.features).toEqual(result.model.inputs.map((i) => i.name))
  })

  it('refuses to guess when the columns do not fill the input, with the line to write', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    const csv = readFileSync(path.join(dir, 'test.csv'), 'utf8').split('\n')
    writeFileSync(path.join(dir, 'test.csv'), csv.map((l, i) => (l ? `${l},${i === 0 ? 'extra' : '1'}` : l)).join('\n'))
    const r = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /features: not given, and they cannot be inferred: model.onnx has one input "input" of shape \[-1, 30\] \(width 30\)/,
    )
    expect(r.stderr).toMatch(/test.csv has 31 columns besides "target"/)
    expect(r.stderr).toMatch(/--features mean_radius,mean_texture,/)
    expect(r.stderr).toMatch(/features: \[mean_radius, mean_texture, /)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('an id column is kept out of the inferred features and written with the predictions', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    const csv = readFileSync(path.join(dir, 'test.csv'), 'utf8').split('\n')
    writeFileSync(path.join(dir, 'test.csv'), csv.map((l, i) => (l ? `${i === 0 ? 'patient' : `p${i}`},${l}` : l)).join('\n'))
    writeFileSync(path.join(dir, 'modelgate.yml'), 'name: rf\nmodel: model.onnx\nlabel: target\nid: patient\ndata: test.csv\n')
    const r = await cli(['validate', '--predictions', 'p.csv', '--json'], dir)
    expect(r.stderr).not.toContain('internal error')
    expect(r.code).toBe(0)
    const lines = readFileSync(path.join(dir, 'p.csv'), 'utf8').trim().split('\n')
    expect(lines[0]).toBe('row_index,patient,target,label,probability_0,probability_1')
    expect(lines[1]).toMatch(/^0,p1,/)
    expect(lines).toHaveLength(172)
  })
})

describe('string inputs get the text as written', () => {
  it('a category "007" reaches a string input as "007", not as the number 7', async () => {
    // code (string) → LabelEncoder → the label: right only if the text survives the CSV reader.
    const bytes = encodeModel(
      makeModel({
        graph: makeGraph({
          name: 'codes',
          nodes: [
            makeNode(
              'LabelEncoder',
              ['code'],
              ['label'],
              { keys_strings: { strings: ['007', '7', '1.50', 'NA'] }, values_int64s: { ints: [1, 0, 1, 0] }, default_int64: { int: -1 } },
              { domain: 'ai.onnx.ml' },
            ),
          ],
          inputs: [makeTensorValueInfo('code', DataType.STRING, ['N'])],
          outputs: [makeTensorValueInfo('label', DataType.INT64, ['N'])],
        }),
        opsets: { '': 17, 'ai.onnx.ml': 3 },
        irVersion: 8,
      }),
    )
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-codes-'))
    writeFileSync(path.join(dir, 'model.onnx'), bytes)
    writeFileSync(path.join(dir, 'test.csv'), 'code,target\n007,1\n7,0\n1.50,1\nNA,0\n007,1\n')
    const r = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--json'], dir)
    expect(r.stderr).not.toContain('internal error')
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout) as ValidationResult
    expect(result.features).toEqual(['code'])
    expect(result.metrics.accuracy).toBe(1)
  })
})

describe('predictions out, and back in', () => {
  for (const ext of ['csv', 'parquet']) {
    it(`${ext}: the file, run as the model and as the baseline, gives the same metrics to the last bit`, async () => {
      const dir = workspace('rf-both-weights.onnx', 'breast-cancer-test.csv')
      const first = await cli(
        ['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--predictions', `p.${ext}`, '--json'],
        dir,
      )
      expect(first.code).toBe(0)
      const a = JSON.parse(first.stdout) as ValidationResult
      expect(existsSync(path.join(dir, `p.${ext}`))).toBe(true)
      const again = await cli(['validate', '--model', `p.${ext}`, '--data', 'test.csv', '--label', 'target', '--json'], dir)
      expect(again.code).toBe(0)
      const b = JSON.parse(again.stdout) as ValidationResult
      const quality = (m: Record<string, number>) =>
        Object.fromEntries(Object.entries(m).filter(([k]) => !/latency|rows_per_second|size/.test(k)))
      expect(quality(b.metrics)).toEqual(quality(a.metrics))
      // The label output's disagreement with argmax survives the round trip, since both outputs are written.
      expect(b.checks.find((c) => c.id === 'output-consistency/test')?.value).toBe(
        a.checks.find((c) => c.id === 'output-consistency/test')?.value,
      )
      const vs = await cli(
        ['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--baseline', `p.${ext}`, '--json'],
        dir,
      )
      expect(vs.code).toBe(0)
      const c = JSON.parse(vs.stdout) as ValidationResult
      expect(quality(c.baseline!.metrics)).toEqual(quality(a.metrics))
    })
  }

  it('refuses a predictions path that is the data file, and leaves the data untouched', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    const before = readFileSync(path.join(dir, 'test.csv'), 'utf8')
    const r = await cli(
      ['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--predictions', './out/../test.csv'],
      dir,
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--predictions .*: is the data set "test", which this run reads/)
    expect(readFileSync(path.join(dir, 'test.csv'), 'utf8')).toBe(before)
  })

  it('leaves no predictions file when the run stops on bad input', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    const csv = readFileSync(path.join(dir, 'test.csv'), 'utf8').split('\n')
    csv[150] = csv[150].replace(/^[^,]+/, 'oops')
    writeFileSync(path.join(dir, 'test.csv'), csv.join('\n'))
    const r = await cli(
      ['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target', '--predictions', 'p.csv', '--batch-size', '16'],
      dir,
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/test.csv: column 'mean_radius', data row 150: text value "oops"/)
    expect(existsSync(path.join(dir, 'p.csv'))).toBe(false)
  })
})

describe('modelgate init', () => {
  it('writes a commented manifest that loads and passes, and never overwrites one', async () => {
    const dir = workspace('mixed.onnx', 'mixed-test.csv')
    const r = await cli(['init', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target'], dir)
    expect(r.stderr).not.toContain('internal error')
    expect(r.code).toBe(0)
    const text = readFileSync(path.join(dir, 'modelgate.yml'), 'utf8')
    expect(text.split('\n')[0]).toBe(
      '# yaml-language-server: $schema=https://github.com/modelgate/modelgate/raw/main/schemas/modelgate.schema.json',
    )
    expect(text).toMatch(/^task: binary$/m)
    expect(text).toMatch(/^classes:\n {2}- 0\n {2}- 1$/m)
    expect(text).toMatch(/^ {2}- accuracy >= 0\.\d+$/m)
    const run = await cli(['validate', '--json'], dir)
    expect(run.code).toBe(0)
    const result = JSON.parse(run.stdout) as ValidationResult
    expect(result.status).toBe('pass')
    expect(result.checks.filter((c) => c.kind === 'threshold').length).toBeGreaterThanOrEqual(2)
    expectSklearnMetrics(result, 'mixed')

    const again = await cli(['init', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'target'], dir)
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/modelgate.yml: already exists; modelgate init never overwrites/)
    expect(readFileSync(path.join(dir, 'modelgate.yml'), 'utf8')).toBe(text)
  })
})

describe('JUnit on every exit, and messages that say where a value came from', () => {
  it('exit 2 still writes the JUnit file, with one erroring test case carrying the message', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    const r = await cli(['validate', '--model', 'model.onnx', '--data', 'test.csv', '--label', 'nope', '--junit', 'out/junit.xml'], dir)
    expect(r.code).toBe(2)
    const xml = readFileSync(path.join(dir, 'out/junit.xml'), 'utf8')
    expect(xml).toMatch(/<testsuites name="modelgate validate-model" tests="1" failures="0" errors="1"/)
    expect(xml).toMatch(/<error message="[^"]*nope[^"]*" type="invalid-input">/)
  })

  it('test cases point at the manifest and carry measured times', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    writeFileSync(
      path.join(dir, 'modelgate.yml'),
      'name: rf\nmodel: model.onnx\nlabel: target\ndata: test.csv\nthresholds: [accuracy >= 0.9]\n',
    )
    const r = await cli(['validate', '--junit', 'junit.xml', '--quiet'], dir)
    expect(r.code).toBe(0)
    const xml = readFileSync(path.join(dir, 'junit.xml'), 'utf8')
    expect(xml).toMatch(/<testcase classname="test" name="threshold\/test\/accuracy&gt;=0.9" file="modelgate.yml" time="(\d|\.|e|-)+"/)
    expect(xml).not.toMatch(/name="threshold[^"]*" file="modelgate.yml" time="0"/)
  })

  it('a metric misspelt in --threshold is reported against the flag, not the manifest', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    writeFileSync(path.join(dir, 'modelgate.yml'), 'name: rf\nmodel: model.onnx\nlabel: target\ndata: test.csv\n')
    const r = await cli(['validate', '--threshold', 'acc >= 0.9'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^modelgate: --threshold: "acc >= 0.9": unknown metric "acc"/m)
  })

  it('a --config that does not exist is looked for from the working directory', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    const r = await cli(['validate', '--config', 'nope.yml'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/nope.yml: manifest not found; check the path given with --config, relative to the working directory/)
  })
})

describe('the bundled validate-model action on each exported-style model, with model, data and label only', () => {
  for (const c of CASES) {
    it(`${c.name}: the same metrics as scikit-learn's, as the runner runs the action`, async () => {
      const dir = workspace(c.model, c.data)
      const run = await runAction(
        'validate-model',
        { model: 'model.onnx', data: 'test.csv', label: 'target', comment: 'false' },
        { GITHUB_WORKSPACE: dir },
      )
      expect(run.stderr).not.toContain('internal error')
      expect(run.code).toBe(0)
      expect(['pass', 'warn']).toContain(run.outputs.status)
      const report = JSON.parse(readFileSync(path.join(dir, 'modelgate-report.json'), 'utf8')) as ValidationResult
      expectSklearnMetrics(report, c.name)
      expect(run.summary).toContain('Metrics from the model output')
    })
  }
})

describe('the validate-model action on a tree ensemble, as the runner runs it', () => {
  it('passes with the label/argmax warning, writes predictions, and a missing job summary is one warning', async () => {
    const dir = workspace('rf-both-weights.onnx', 'breast-cancer-test.csv')
    const run = await runAction(
      'validate-model',
      { model: 'model.onnx', data: 'test.csv', label: 'target', 'predictions-path': 'out/predictions.csv', comment: 'false' },
      { GITHUB_WORKSPACE: dir, GITHUB_STEP_SUMMARY: '' },
    )
    expect(run.stderr).not.toContain('internal error')
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('warn')
    expect(run.outputs.passed).toBe('true')
    expect(run.outputs['predictions-path']).toBe(path.join(dir, 'out/predictions.csv'))
    const warnings = run.commands.filter((c) => c.command === 'warning').map((c) => c.message)
    expect(warnings.filter((w) => /Could not write the job summary/.test(w))).toHaveLength(1)
    expect(warnings.some((w) => /is not the argmax/.test(w))).toBe(true)
    expect(warnings.some((w) => /used in the file's order/.test(w))).toBe(true)
    const report = JSON.parse(readFileSync(path.join(dir, 'modelgate-report.json'), 'utf8')) as ValidationResult
    expectSklearnMetrics(report, 'rf-both-weights')
    expect(readFileSync(path.join(dir, 'out/predictions.csv'), 'utf8').split('\n')).toHaveLength(173)
  })

  it('a passing run stays passing without GITHUB_STEP_SUMMARY', async () => {
    const dir = workspace('mixed.onnx', 'mixed-test.csv')
    const run = await runAction(
      'validate-model',
      { model: 'model.onnx', data: 'test.csv', label: 'target', thresholds: 'accuracy >= 0.8', comment: 'false' },
      { GITHUB_WORKSPACE: dir, GITHUB_STEP_SUMMARY: '' },
    )
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('pass')
    expect(run.commands.filter((c) => c.command === 'warning')).toHaveLength(1)
  })

  it('on exit 2 the action still writes its JUnit file', async () => {
    const dir = workspace('rf.onnx', 'breast-cancer-test.csv')
    const run = await runAction(
      'validate-model',
      { model: 'model.onnx', data: 'test.csv', label: 'nope', 'junit-path': 'junit.xml', comment: 'false' },
      { GITHUB_WORKSPACE: dir },
    )
    expect(run.code).toBe(2)
    expect(run.outputs.status).toBe('error')
    expect(readFileSync(path.join(dir, 'junit.xml'), 'utf8')).toMatch(/errors="1"/)
  })
})
