/**
 * Property-based fuzzing of the manifest loader, loadManifest and parseManifest (issue 12).
 *
 * Rejections: random bytes, YAML-biased text, mutated valid manifests (the examples' and a test's) and
 * valid manifests with a random key set to a random value either load or throw a UserError whose
 * message starts with the name the manifest is shown by and whose every further line is an
 * "  also: " problem; never a YAML, zod or other internal error, never a stack trace, never a line
 * break taken from a key or a value.
 *
 * Positive: a manifest written from random valid settings loads to those settings.
 *
 * Seeded and bounded; see fuzz.ts for MODELGATE_FUZZ_SEED and MODELGATE_FUZZ_RUNS.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse, stringify } from 'yaml'
import { UserError } from '../../src/core/errors.js'
import { loadManifest, parseManifest } from '../../src/core/manifest/load.js'
import { expectUserError, fuzzParams, mutated, nastyText, scratchDir } from './fuzz.js'

const scratch = scratchDir('manifest')
afterAll(() => scratch.remove())

/** How messages name the manifest: a workspace-relative name, not the temp path it was read from. */
const SHOWN = 'config/modelgate.yml'

let files = 0

/** Loads `bytes` as a manifest; a throw must be a UserError that names SHOWN and lists one problem a line. */
function loadsOrRejects(load: () => unknown): void {
  try {
    load()
  } catch (e) {
    expectUserError(e, { file: SHOWN, multiline: true })
    const [, ...more] = (e as UserError).message.split('\n')
    for (const line of more) expect(line).toMatch(/^ {2}also: \S/)
  }
}

const fromFile = (bytes: Uint8Array) => () => loadManifest(scratch.file(`m-${files++}.yml`, bytes), SHOWN)
const fromText = (text: string) => () => parseManifest(text, SHOWN)

const example = (name: string) => readFileSync(fileURLToPath(new URL(`../../examples/${name}/modelgate.yml`, import.meta.url)), 'utf8')

const GOOD = `name: cancer
model: { path: model.onnx, timeout: 30 }
features: [a, b]
label: target
data: data/test.csv
thresholds:
  - accuracy >= 0.9
  - metric: log_loss
    op: "<="
    value: 0.3
    severity: warn
  - roc_auc >= baseline - 0.01
baseline: old.onnx
registry:
  stages: [dev, prod]
  labels: { team: ml }
deploy:
  environments:
    prod: { target: webhook, webhook: { url: "https://example.com/hook" } }
`
const SEEDS = [GOOD, example('breast-cancer'), example('diabetes'), example('command-runner')]

const YAML_PIECES = [
  'name: x\n',
  'model: m.onnx\n',
  'label: y\n',
  'data: d.csv\n',
  'thresholds:\n  - ',
  'accuracy >= 0.9',
  ': ',
  '- ',
  '  ',
  '\n',
  '{',
  '}',
  '[',
  ']',
  '&a ',
  '*a',
  '<<: *a',
  '!!binary ',
  '!!set ',
  '!foo ',
  '? ',
  '---\n',
  '...\n',
  '%YAML 1.2\n',
  '#',
  "'",
  '|\n',
  '>-\n',
  '~',
  '.inf',
  '0x1F',
  '1e400',
]

describe('the manifest loader on hostile input', () => {
  it('loads or rejects random bytes with a UserError naming the manifest', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => loadsOrRejects(fromFile(bytes))),
      fuzzParams(300),
    )
  })

  it('loads or rejects YAML-biased text with a UserError naming the manifest', () => {
    fc.assert(
      fc.property(nastyText(YAML_PIECES), (text) => loadsOrRejects(fromText(text))),
      fuzzParams(500),
    )
  })

  it('loads or rejects mutated valid manifests (from a file: BOMs, NUL, broken UTF-8) with a UserError naming the manifest', () => {
    fc.assert(
      fc.property(mutated(SEEDS), (bytes) => loadsOrRejects(fromFile(bytes))),
      fuzzParams(400),
    )
  })

  it('loads or rejects a valid manifest with a random key set to a random value', () => {
    const base = parseYamlObject(GOOD)
    const paths = [
      [],
      ['model'],
      ['thresholds', 1],
      ['thresholds'],
      ['registry'],
      ['registry', 'labels'],
      ['deploy', 'environments'],
      ['deploy', 'environments', 'prod'],
      ['deploy', 'environments', 'prod', 'webhook'],
    ] as const
    const key = fc.oneof(
      fc.constantFrom('name', 'model', 'features', 'thresholds', 'data', 'registry', 'url', 'target', 'severity', 'value', '__proto__'),
      nastyText([], 3),
      fc.string({ unit: 'binary', maxLength: 8 }),
    )
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      nastyText(['accuracy >= ', 'baseline', '%', 'warn', 'http://', 'local:']),
      fc.double(),
      fc.constantFrom(-0, 1e308, -1, 0, 65536, 2 ** 53 + 1),
    )
    fc.assert(
      fc.property(fc.constantFrom(...paths), key, value, (at, k, v) => {
        const manifest = structuredClone(base)
        let node = manifest as Record<string | number, unknown>
        for (const step of at) node = node[step] as Record<string | number, unknown>
        // defineProperty: a plain assignment of "__proto__" would set the prototype, not write a key.
        Object.defineProperty(node, k, { value: v, enumerable: true, writable: true, configurable: true })
        loadsOrRejects(fromText(stringify(manifest)))
      }),
      fuzzParams(500),
    )
  })

  it('regression: names a key with a line break as an escaped excerpt, on one line', () => {
    const e = rejection(() => parseManifest('"x\\n    at y": 1\nname: x\nmodel: m.onnx\nlabel: t\ndata: d.csv\n', SHOWN))
    expect(e.message).toBe(`${SHOWN}: invalid manifest: "x\\n    at y" (line 1, unknown key(s): "x\\n    at y")`)
    expect(e.field).toBe('"x\\n    at y"')
  })

  it('regression: quotes keys with a byte order mark (two files joined) or a lone CR, which print as a known key', () => {
    const bom = rejection(() => parseManifest('name: x\nmodel: m.onnx\nlabel: t\ndata: d.csv\n\ufeffbatch-size: 5\n', SHOWN))
    expect(bom.message).toBe(`${SHOWN}: invalid manifest: "\\ufeffbatch-size" (line 5, unknown key(s): "\\ufeffbatch-size")`)
    // The shrunk counterexamples, as fast-check found them.
    const found: [string, string][] = [
      ['&a \ufeff<<: *a', '  also: "\\ufeff<<" (line 1, unknown key(s): "\\ufeff<<")'],
      ['\rname: x\n', '  also: "\\rname" (line 1, unknown key(s): "\\rname")'],
    ]
    for (const [text, last] of found) {
      const lines = rejection(() => parseManifest(text, SHOWN)).message.split('\n')
      expect(lines.at(-1)).toBe(last)
    }
  })

  it('regression: refuses a gate bound beyond the range of a double', () => {
    const e = rejection(() => parseManifest('name: x\nmodel: m.onnx\nlabel: t\ndata: d.csv\nthresholds: ["a >= 1e400"]\n', SHOWN))
    expect(e.message).toBe(
      `${SHOWN}: invalid manifest: thresholds[0] (line 5, cannot read gate "a >= 1e400": 1e400 is out of the range of a double (the largest is about 1.8e308))`,
    )
  })

  it('regression: quotes a gate line with a line break on one line', () => {
    const e = rejection(() => parseManifest('name: x\nmodel: m.onnx\nlabel: t\ndata: d.csv\nthresholds: ["a >= 1\\nb"]\n', SHOWN))
    expect(e.message).toMatch(
      /^config\/modelgate\.yml: invalid manifest: thresholds\[0\] \(line 5, cannot read gate "a >= 1\\nb": expected /,
    )
    expect(e.message).not.toMatch(/\n/)
  })
})

function rejection(work: () => unknown): UserError {
  try {
    work()
  } catch (e) {
    expectUserError(e, { file: SHOWN, multiline: true })
    return e as UserError
  }
  throw new Error('expected a UserError')
}

function parseYamlObject(text: string): Record<string, unknown> {
  return parse(text) as Record<string, unknown>
}

/* ------------------------------------------------------------------------------------------------ */

const plainText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
const gate = fc
  .tuple(
    fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/),
    fc.constantFrom('>=', '<=', '==', '>', '<'),
    fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      fc.constantFrom('baseline', 'baseline - 0.01', 'baseline + 5%'),
    ),
    fc.constantFrom('', ' warn', ' fail'),
  )
  .map(([metric, op, bound, sev]) => `${metric} ${op} ${bound}${sev}`)

describe('the manifest loader on valid manifests', () => {
  it('loads a manifest written from random valid settings to those settings', () => {
    const settings = fc.record({
      name: plainText,
      model: plainText,
      features: fc.uniqueArray(plainText, { minLength: 1, maxLength: 5 }),
      label: plainText,
      data: fc.oneof(plainText, fc.array(plainText, { minLength: 1, maxLength: 3 })),
      thresholds: fc.array(gate, { maxLength: 4 }),
      'batch-size': fc.integer({ min: 1, max: 1_000_000 }),
      'fail-on': fc.constantFrom('fail', 'warn', 'never'),
      classes: fc.option(fc.uniqueArray(fc.oneof(fc.integer(), plainText), { minLength: 2, maxLength: 4 }), { nil: undefined }),
    })
    fc.assert(
      fc.property(settings, fc.constantFrom<'block' | 'flow'>('block', 'flow'), (s, style) => {
        const text = stringify(s, style === 'flow' ? { collectionStyle: 'flow' } : undefined)
        const m = parseManifest(text, SHOWN)
        const { classes, ...rest } = s
        expect(m).toMatchObject(rest)
        expect(m.classes).toEqual(classes)
      }),
      fuzzParams(300),
    )
  })
})
