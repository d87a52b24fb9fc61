/*
 * The settings layer part by part (src/core/settings/): each resolver on its own, with the environment
 * passed in. The whole (resolveSettings over a manifest) is tested in __tests__/manifest/.
 */
import { describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { UserError } from '../../src/core/errors.js'
import { parseManifest } from '../../src/core/manifest/load.js'
import { findManifest } from '../../src/core/settings/manifest.js'
import { resolveModel } from '../../src/core/settings/model.js'
import { resolveData, resolveReferencePredictions } from '../../src/core/settings/data.js'
import { resolveGates } from '../../src/core/settings/gates.js'
import { comparisonSettings, resolveBaseline } from '../../src/core/settings/baseline.js'
import {
  readOverrides,
  resolveDeploySettings,
  resolveRegistrySettings,
  resolveSettings,
  type OptionSource,
} from '../../src/core/settings/index.js'

const MANIFEST = `name: m
model: model.onnx
features: [a, b]
label: y
data:
  - name: test
    path: data/test.csv
  - data/holdout.csv
thresholds:
  - accuracy >= 0.9
registry:
  uri: local:reg
  promotion: [staging, prod]
deploy:
  environments:
    staging:
      target: local
`

function workspace(manifest = MANIFEST): string {
  const ws = mkdtempSync(path.join(tmpdir(), 'mg-settings-'))
  mkdirSync(path.join(ws, 'data'))
  writeFileSync(path.join(ws, 'modelgate.yml'), manifest)
  return ws
}

function source(values: Record<string, string>, lines: Record<string, string[]> = {}): OptionSource {
  return { value: (n) => values[n], lines: (n) => lines[n], label: (n) => `--${n}` }
}

function errorOf(fn: () => unknown): UserError {
  try {
    fn()
  } catch (e) {
    if (e instanceof UserError) return e
    throw e
  }
  throw new Error('expected a UserError')
}

describe('findManifest', () => {
  it('reads modelgate.yml when present and resolves from its folder', () => {
    const ws = workspace()
    const found = findManifest({ cwd: ws, field: '--config' })
    expect(found).toMatchObject({ file: 'modelgate.yml', baseDir: ws, path: path.join(ws, 'modelgate.yml') })
    expect(found.manifest?.name).toBe('m')
  })

  it('is optional: no file and no config is no manifest, resolved from the workspace', () => {
    const ws = mkdtempSync(path.join(tmpdir(), 'mg-settings-'))
    expect(findManifest({ cwd: ws, field: '--config' })).toEqual({ path: path.join(ws, 'modelgate.yml'), baseDir: ws, rule: undefined })
  })

  it('refuses a named config that is not there, saying how it was given', () => {
    const ws = mkdtempSync(path.join(tmpdir(), 'mg-settings-'))
    expect(errorOf(() => findManifest({ cwd: ws, config: 'nope.yml', field: '--config', givenBy: '--config' })).message).toBe(
      'nope.yml: manifest not found; check the path given with --config, relative to the working directory',
    )
  })

  it('ignores the manifest when asked (modelgate init)', () => {
    expect(findManifest({ cwd: workspace(), field: '--config', ignore: true }).manifest).toBeUndefined()
  })
})

describe('resolveModel', () => {
  it('expands ${VAR} in headers from the environment it is given, not the process', () => {
    const spec = { url: 'http://127.0.0.1:1/infer', headers: { Authorization: 'Bearer ${MG_SETTINGS_TEST_TOKEN}' } }
    process.env.MG_SETTINGS_TEST_TOKEN = 'from-the-process'
    const model = resolveModel(spec, '/ws', ['a'], { field: 'model' }, { MG_SETTINGS_TEST_TOKEN: 'from-the-face' })
    delete process.env.MG_SETTINGS_TEST_TOKEN
    expect(model).toMatchObject({ runner: 'http', url: spec.url, headers: { Authorization: 'Bearer from-the-face' } })
    expect(errorOf(() => resolveModel(spec, '/ws', ['a'], { file: 'modelgate.yml', field: 'model' }, {})).message).toMatch(
      /^modelgate\.yml: model\.headers\.Authorization: \$MG_SETTINGS_TEST_TOKEN is not set/,
    )
  })

  it('infers the runner and makes paths absolute from the base folder', () => {
    expect(resolveModel({ path: 'm.onnx' }, '/ws', ['a'], { field: 'model' })).toMatchObject({
      runner: 'onnx',
      path: '/ws/m.onnx',
      cwd: '/ws',
    })
    expect(resolveModel({ path: 'p.csv' }, '/ws', ['a'], { field: 'model' }).runner).toBe('predictions')
    expect(errorOf(() => resolveModel({}, '/ws', [], { field: 'model' })).message).toMatch(/^model: cannot tell how to run the model/)
  })
})

describe('resolveData and the reference predictions', () => {
  const manifest = parseManifest(MANIFEST, 'modelgate.yml')
  it('names each data set, from the manifest or the option', () => {
    expect(resolveData(undefined, manifest, '/cwd', '/base', 'modelgate.yml')).toEqual([
      { name: 'test', path: '/base/data/test.csv', format: undefined, contract: undefined },
      { name: 'holdout', path: '/base/data/holdout.csv', format: undefined, contract: undefined },
    ])
    expect(resolveData('x/eval.csv', manifest, '/cwd', '/base')).toEqual([{ name: 'eval', path: '/cwd/x/eval.csv' }])
    expect(resolveData(undefined, undefined, '/cwd', '/cwd')).toBeUndefined()
  })

  it('refuses two data sets of one name', () => {
    const twice = parseManifest(MANIFEST.replace('  - data/holdout.csv', '  - other/test.csv'), 'modelgate.yml')
    expect(errorOf(() => resolveData(undefined, twice, '/cwd', '/base', 'modelgate.yml')).message).toBe(
      'modelgate.yml: data: two data sets are named "test"; give each a distinct name',
    )
  })

  it('takes reference predictions with the default tolerance', () => {
    expect(resolveReferencePredictions('ref.csv', undefined, '/cwd', '/base')).toEqual({
      path: '/cwd/ref.csv',
      tolerance: 1e-5,
      maxMismatches: 0,
    })
  })
})

describe('resolveGates', () => {
  it('parses option lines, naming a bad one by its line', () => {
    const origin = (n: string) => `--${n}`
    expect(resolveGates(['accuracy >= 0.9'], undefined, undefined, origin).gates[0]).toMatchObject({ metric: 'accuracy', op: '>=' })
    expect(errorOf(() => resolveGates(['accuracy >= 0.9', 'acc >> 1'], undefined, undefined, origin)).message).toMatch(
      /^--thresholds, line 2: /,
    )
  })

  it("takes the manifest's, saying where they came from", () => {
    const manifest = parseManifest(MANIFEST, 'modelgate.yml')
    const { gates, thresholdsFrom } = resolveGates(undefined, manifest, 'modelgate.yml', (n) => n)
    expect(thresholdsFrom).toBe('modelgate.yml: thresholds')
    expect(gates.map((g) => g.expression)).toEqual(['accuracy >= 0.9'])
  })
})

describe('resolveBaseline', () => {
  const manifest = parseManifest(MANIFEST, 'modelgate.yml')
  const model = resolveModel({ path: 'model.onnx' }, '/base', ['a', 'b'], { field: 'model' })
  const context = {
    manifest,
    file: 'modelgate.yml',
    cwd: '/cwd',
    baseDir: '/base',
    features: ['a', 'b'],
    model,
    origin: (n: string) => `--${n}`,
    env: {},
  }

  it('a model or a report by path', () => {
    expect(resolveBaseline({ baseline: 'old.onnx' }, context).baseline).toMatchObject({
      kind: 'model',
      source: 'old.onnx',
      model: { path: '/cwd/old.onnx' },
    })
    expect(resolveBaseline({ baseline: 'report.json' }, context).baseline).toEqual({ kind: 'report', path: '/cwd/report.json' })
  })

  it('a registered version by stage, from the manifest registry, with its promotion order', () => {
    const { registryBaseline } = resolveBaseline({ baseline: 'production' }, context)
    expect(registryBaseline).toMatchObject({ name: 'm', promotion: ['staging', 'prod'], registry: { kind: 'local', root: '/base/reg' } })
  })

  it('the comparison defaults', () => {
    expect(comparisonSettings(undefined)).toMatchObject({ inconclusive: 'warn', bootstrap: { resamples: 1000 } })
  })
})

describe('options, registry and deploy settings', () => {
  it('reads the overrides, checking enums and numbers and naming the option', () => {
    expect(readOverrides(source({ 'fail-on': 'warn', 'batch-size': '64' }))).toMatchObject({ failOn: 'warn', batchSize: 64 })
    expect(errorOf(() => readOverrides(source({ 'batch-size': '0' }))).message).toBe('--batch-size: "0" is not a positive whole number')
  })

  it('resolves the registry from the same manifest finder', () => {
    const ws = workspace()
    const s = resolveRegistrySettings(source({}), ws)
    expect(s).toMatchObject({ name: 'm', manifestPath: 'modelgate.yml', registry: { kind: 'local', root: path.join(ws, 'reg') } })
    expect(s.policy.order).toEqual(['staging', 'prod'])
  })

  it('refuses an environment the manifest does not declare', () => {
    const ws = workspace()
    expect(errorOf(() => resolveDeploySettings(source({ environment: 'prod' }), ws, '')).message).toBe(
      "--environment: unknown environment 'prod'; modelgate.yml declares staging (deploy.environments)",
    )
    expect(resolveDeploySettings(source({ environment: 'staging' }), ws, '').request).toMatchObject({
      name: 'm',
      environment: 'staging',
      envStage: 'staging',
    })
  })

  it('a whole run: features and label checked against each other', () => {
    const ws = workspace(MANIFEST.replace('features: [a, b]', 'features: [a, y]'))
    expect(errorOf(() => resolveSettings({}, ws)).message).toMatch(/^modelgate\.yml: features: "y" is the label/)
  })
})
