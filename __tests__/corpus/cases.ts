/**
 * The committed bad-input corpus (issue 12, "Hostile and careless input"): one row per case, grouped by
 * kind. A row is data: the files of a fresh workspace, the command or action inputs, the exit code and a
 * fragment of the message, which names the file and the field, column or line. What every row must also
 * hold (no stack trace, inputs byte-identical, no partial output, no secret anywhere) is checked once, by
 * expectRefused in run.ts. Big inputs are built when the case runs, never committed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { ROOT } from '../helpers/action-harness.js'
import { BC_HEADER, BC_LINES, BC_TEXT, csvWithCell } from '../helpers/bc40.js'
import { MAX_RECORD_BYTES } from '../../src/core/data/files.js'
import { MAX_MANIFEST_BYTES } from '../../src/core/manifest/load.js'
import { GITHUB_CANARY, create, setupCli, type CaseContext, type Entry, type Face, type Row } from './run.js'

const MIB = 1024 * 1024
const read = (p: string) => readFileSync(path.join(ROOT, p))
const MODEL = read('examples/breast-cancer/model.onnx')
const BASELINE_MODEL = read('examples/breast-cancer/baseline.onnx')
const CONTRACT = read('examples/breast-cancer/contract.schema.json')
const REFERENCE = read('examples/breast-cancer/reference-predictions.csv').toString('utf8').trimEnd().split('\n')
const BROKEN = (name: string) => read(`__tests__/fixtures/models/${name}`)
const FEATURES = BC_HEADER.filter((h) => h !== 'target')

/** A digest of no model here: evidence about another model. */
const OTHER_DIGEST = `sha256:${'0'.repeat(64)}`

type Key = 'name' | 'model' | 'features' | 'label' | 'data'

/**
 * A manifest over model.onnx and data.csv (lines 1 to 5: name, model, features, label, data), with `extra`
 * from line 6. `set` replaces a key's value; null drops the key.
 */
export function manifest(extra = '', set: Partial<Record<Key, string | null>> = {}): string {
  const keys: Record<Key, string> = {
    name: 'corpus',
    model: 'model.onnx',
    features: `[${FEATURES.join(', ')}]`,
    label: 'target',
    data: 'data.csv',
  }
  const lines = (Object.keys(keys) as Key[]).filter((k) => set[k] !== null).map((k) => `${k}: ${set[k] ?? keys[k]}`)
  return `${lines.join('\n')}\n${extra}`
}

/** A workspace with the example model, the 40-row slice and the manifest over them, plus `more`. */
function ws(more: Record<string, Entry> = {}): Record<string, Entry> {
  return { 'model.onnx': MODEL, 'data.csv': BC_TEXT, 'modelgate.yml': manifest(), ...more }
}

/** A workspace with a manifest of its own (and the model and data). */
const withManifest = (text: Entry, more: Record<string, Entry> = {}) => ws({ 'modelgate.yml': text, ...more })

/** Flags that score model.onnx on `data` without a manifest. */
const flags = (data = 'data.csv', model = 'model.onnx') => [
  '--model',
  model,
  '--data',
  data,
  '--label',
  'target',
  '--features',
  FEATURES.join(','),
]

/** `modelgate validate --report report.json …`, refused: exit 2 and no report. */
function validate(id: string, message: Row['message'], files: Record<string, Entry>, args: string[] = [], more: Partial<Row> = {}): Row {
  return {
    id,
    face: 'cli',
    args: ['validate', '--report', 'report.json', ...args],
    files,
    exit: 2,
    message,
    mustNotExist: ['report.json'],
    ...more,
  }
}

/** `modelgate <args>`, refused with exit 2. */
function cli(id: string, message: Row['message'], files: Record<string, Entry>, args: string[], more: Partial<Row> = {}): Row {
  return { id, face: 'cli', args, files, exit: 2, message, ...more }
}

/** An action, refused with exit 2 and no report at `report` (the action's default report path). */
function act(
  id: string,
  face: Exclude<Face, 'cli'>,
  message: Row['message'],
  files: Record<string, Entry>,
  inputs: Record<string, string>,
  more: Partial<Row> = {},
): Row {
  const report = {
    'validate-model': 'modelgate-report.json',
    'test-robustness': 'modelgate-robustness.json',
    'register-version': 'modelgate-register.json',
    'deploy-model': 'modelgate-deploy.json',
    '.': 'modelgate-reports/validate.json',
  }[face]
  return { id, face, inputs, files, exit: 2, message, mustNotExist: [report], ...more }
}

// Inputs built at run time.

const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])
const utf16beNoBom = (text: string) => Buffer.from(text, 'utf16le').swap16()
const long = (n: number) => 'a'.repeat(n)
const EXCERPT_60 = `"${'a'.repeat(60)}"…`

/** Nine levels of nine aliases: 9^9 (387 million) strings once expanded. */
const ALIAS_BOMB =
  'name: lol\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
  'bcdefghi'
    .split('')
    .map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]\n`)
    .join('')

/** `bytes` of valid YAML: the manifest followed by comment lines. */
function bigManifest(bytes: number): string {
  const head = manifest()
  const line = `# ${'x'.repeat(77)}\n`
  return head + line.repeat(Math.ceil((bytes - head.length) / line.length))
}

/** The slice as JSON Lines, with data row `row` (from 1) of `column` written as `json`. */
function jsonl(row = 0, column = '', json = ''): string {
  return (
    BC_LINES.slice(1)
      .map((l, i) => {
        const values = l.split(',')
        return `{${BC_HEADER.map((h, j) => `${JSON.stringify(h)}: ${i + 1 === row && h === column ? json : values[j]}`).join(', ')}}`
      })
      .join('\n') + '\n'
  )
}

/** The slice as Parquet, every column a double but `column`, which is text with `value` in data row 1. */
function parquetWithText(column: string, value: string): Buffer {
  const rows = BC_LINES.slice(1).map((l) => l.split(','))
  return Buffer.from(
    parquetWriteBuffer({
      columnData: BC_HEADER.map((h, j) =>
        h === column
          ? { name: h, data: rows.map((r, i) => (i === 0 ? value : r[j])), type: 'STRING' as const, nullable: false }
          : { name: h, data: rows.map((r) => Number(r[j])), type: 'DOUBLE' as const, nullable: false },
      ),
    }),
  )
}
const PARQUET = read('__tests__/fixtures/e2e/bc40.parquet')

/** The slice with `column` dropped. */
const withoutColumn = (drop: string) =>
  BC_LINES.map((l) =>
    l
      .split(',')
      .filter((_, j) => BC_HEADER[j] !== drop)
      .join(','),
  ).join('\n') + '\n'

/** The slice with every data row's `column` emptied. */
const emptyColumn = (column: string) =>
  BC_LINES.map((l, i) =>
    i === 0
      ? l
      : l
          .split(',')
          .map((v, j) => (BC_HEADER[j] === column ? '' : v))
          .join(','),
  ).join('\n') + '\n'

/** The example's reference predictions, first `rows` rows: a predictions file for the slice. */
const predictions = (rows: number) => REFERENCE.slice(0, rows + 1).join('\n') + '\n'

/** A report JSON as evidence: valid by default; `over` replaces its top-level fields. */
const evidence = (over: Record<string, unknown> = {}) => JSON.stringify({ schemaVersion: '1.0', status: 'pass', ...over })

/** Registers model.onnx before the row runs, in the registry the workspace's manifest names (default local:.modelgate/registry). */
const registered = setupCli('register', '--quiet')

/** Registers model.onnx, then lays `files` over the workspace: a hand-edited or damaged registry. */
const registeredThen =
  (files: Record<string, Entry>, setup = registered) =>
  async (c: CaseContext) => {
    await setup(c)
    create(c.ws, files, c)
  }
const RECORD = '.modelgate/registry/corpus/versions/1.0.0/record.json'
const STAGES = '.modelgate/registry/corpus/stages.json'

/** Processes a run must not kill, by case folder: started by the row's setup, checked and ended by its `after`. */
const victims = new Map<string, ChildProcess>()

/** An environment's server.json naming a live process that is not a server, at a URL that answers as one. */
async function foreignServerInfo(c: CaseContext): Promise<void> {
  const victim = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
  victim.unref()
  victims.set(c.root, victim)
  writeFileSync(path.join(c.ws, 'env/server.json'), JSON.stringify({ pid: victim.pid, port: 1, url: c.server }))
}
function victimAlive(c: CaseContext): void {
  const victim = victims.get(c.root)!
  victims.delete(c.root)
  const alive = victim.exitCode === null && victim.signalCode === null
  victim.kill('SIGKILL')
  if (!alive) throw new Error(`modelgate serve --stop killed process ${victim.pid}, which server.json named but which was no server`)
}

/** The manifest's deploy key: environments that refuse in different ways. */
const DEPLOY = `registry:
  uri: local:registry
deploy:
  timeout: 5
  environments:
    staging:
      canary: [10, 50]
    prod:
      requires-stage: staging
      requires-evidence: [validate-model]
    hook:
      target: webhook
    signed:
      target: webhook
      webhook:
        url: http://127.0.0.1:9/deploy
        secret-env: CORPUS_UNSET_WEBHOOK_SECRET
      url: http://127.0.0.1:9/v2/models/corpus/infer
    missing-script:
      target: command
      command: [corpus-no-such-deployer]
      url: http://127.0.0.1:9/v2/models/corpus/infer
    missing-probe:
      target: command
      command: [node, -e, "0"]
      ready-command: [corpus-no-such-probe]
      url: http://127.0.0.1:9/v2/models/corpus/infer
    no-script:
      target: command
      url: http://127.0.0.1:9/v2/models/corpus/infer
    after-staging:
      requires-stage: staging
`
const deployWs = (more: Record<string, Entry> = {}) => ws({ 'modelgate.yml': manifest(DEPLOY), ...more })

/** A manifest whose model is an http model at `url`, with `headers` (YAML lines under headers:). */
const httpManifest = (url: string, headers: string[] = []) =>
  manifest('', {
    model: `\n  url: ${url}\n  retries: 0\n  timeout: 5${headers.length ? `\n  headers:\n${headers.map((h) => `    ${h}`).join('\n')}` : ''}`,
  })

const INFER = '{{SERVER}}/v2/models/m/infer'

// Secrets of the rows about credentials.
const BEARER = 'corpusBearerS3CRET'
const GH_TOKEN = 'ghp_corpusTOKENscheme42'
const BASIC_USER = 'alice'
const BASIC_PASSWORD = 'corpus-hunter2-horse'
const BASIC = Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64')
const ENV_SECRET = 'corpus-env-s3cret-value'
const URL_PASSWORD = 'corpus-pa55w0rd-in-url'
const MALFORMED = 'corpusMalformedS3CRET'

const manifestRows: Row[] = [
  validate(
    'manifest/malformed-yaml',
    /^modelgate: modelgate\.yml:3:1: invalid YAML: Flow sequence in block collection/,
    withManifest('name: bad\nmodel: [unclosed\nfeatures: [a]\n'),
  ),
  validate(
    'manifest/wrong-type',
    'modelgate: modelgate.yml: invalid manifest: batch-size (line 6, expected number, received string)',
    withManifest(manifest('batch-size: lots\n')),
  ),
  validate(
    'manifest/wrong-type-nested',
    'modelgate.yml: invalid manifest: reference-predictions.tolerance (line 8, expected number, received string)',
    withManifest(manifest('reference-predictions:\n  path: reference.csv\n  tolerance: tight\n')),
  ),
  validate(
    'manifest/wrong-type-boolean',
    'modelgate.yml: invalid manifest: calibration (line 6, expected boolean',
    withManifest(manifest('calibration: yes please\n')),
  ),
  validate(
    'manifest/enum-fail-on',
    'modelgate.yml: invalid manifest: fail-on (line 6, Invalid option',
    withManifest(manifest('fail-on: sometimes\n')),
  ),
  validate('manifest/enum-task', 'modelgate.yml: invalid manifest: task (line 6, Invalid option', withManifest(manifest('task: binery\n'))),
  validate(
    'manifest/enum-output-consistency',
    'modelgate.yml: invalid manifest: output-consistency (line 6, Invalid option',
    withManifest(manifest('output-consistency: maybe\n')),
  ),
  validate(
    'manifest/range-decision-threshold',
    'modelgate.yml: invalid manifest: decision-threshold (line 6, Too big',
    withManifest(manifest('decision-threshold: 2\n')),
  ),
  validate(
    'manifest/range-ece-bins',
    'modelgate.yml: invalid manifest: ece-bins (line 6, Too small',
    withManifest(manifest('ece-bins: 0\n')),
  ),
  validate(
    'manifest/classes-too-few',
    'modelgate.yml: invalid manifest: classes (line 6, Too small',
    withManifest(manifest('classes: [0]\n')),
  ),
  validate(
    'manifest/features-empty',
    'modelgate.yml: invalid manifest: features (line 3, Too small',
    withManifest(manifest('', { features: '[]' })),
  ),
  validate(
    'manifest/slices-wrong-type',
    'modelgate.yml: invalid manifest: slices (line 6, expected object',
    withManifest(manifest('slices: 3\n')),
  ),
  validate(
    'manifest/unknown-key',
    'modelgate: modelgate.yml: invalid manifest: thresholdz (line 6, unknown key(s): thresholdz)',
    withManifest(manifest('thresholdz: [accuracy >= 0.9]\n')),
  ),
  validate(
    'manifest/unknown-key-nested',
    'modelgate.yml: invalid manifest: model.runer (line 2, unknown key(s): runer)',
    withManifest(manifest('', { model: '{path: model.onnx, runer: onnx}' })),
  ),
  validate(
    'manifest/unknown-key-deep',
    'modelgate.yml: invalid manifest: deploy.environments.staging.cannary (line 9, unknown key(s): cannary)',
    withManifest(manifest('deploy:\n  environments:\n    staging:\n      cannary: [10]\n')),
  ),
  // The opt-out is the workflow's or the command line's: a manifest (from a pull request) cannot give it.
  validate(
    'manifest/cannot-opt-out',
    'modelgate.yml: invalid manifest: allow-outside-workspace (line 6, unknown key(s): allow-outside-workspace)',
    withManifest(manifest('allow-outside-workspace: true\n')),
  ),
  validate(
    'manifest/alias-bomb',
    'modelgate: modelgate.yml: invalid YAML: its aliases expand past the limit of 100 alias expansions',
    withManifest(ALIAS_BOMB),
  ),
  validate(
    'manifest/unresolved-alias',
    'modelgate: modelgate.yml: invalid YAML: Unresolved alias (the anchor must be set before the alias): nowhere',
    withManifest(manifest('baseline: *nowhere\n')),
  ),
  validate(
    'manifest/over-1-mib',
    `modelgate: modelgate.yml: the manifest is 2.0 MiB; the limit is ${MAX_MANIFEST_BYTES / MIB} MiB`,
    withManifest(() => bigManifest(2 * MIB)),
  ),
  validate(
    'manifest/40-mb',
    `modelgate: modelgate.yml: the manifest is 38.1 MiB; the limit is ${MAX_MANIFEST_BYTES / MIB} MiB`,
    withManifest(() => bigManifest(40_000_000)),
  ),
  // A device reads without end: the reader stops at the limit (an opt-out: /dev is outside the workspace).
  validate('manifest/dev-zero', `modelgate: /dev/zero: the manifest is larger than the limit of ${MAX_MANIFEST_BYTES / MIB} MiB`, ws(), [
    '--config',
    '/dev/zero',
    '--allow-outside-workspace',
  ]),
  validate('manifest/utf16-bom', 'modelgate: modelgate.yml is UTF-16 (or binary); save it as UTF-8', withManifest(utf16le(manifest()))),
  validate(
    'manifest/utf16-no-bom',
    'modelgate: modelgate.yml is UTF-16 (or binary); save it as UTF-8',
    withManifest(utf16beNoBom(manifest())),
  ),
  validate('manifest/binary', 'modelgate: modelgate.yml is UTF-16 (or binary); save it as UTF-8', withManifest(MODEL)),
  validate('manifest/empty', 'modelgate: modelgate.yml: the manifest is empty', withManifest('')),
  validate('manifest/comments-only', 'modelgate: modelgate.yml: the manifest is empty', withManifest('# name: corpus\n')),
  validate('manifest/not-a-mapping', 'modelgate: modelgate.yml: the manifest must be a mapping of keys', withManifest('- name: corpus\n')),
  validate(
    'manifest/is-a-folder',
    'modelgate: config.yml: cannot read the manifest (is a directory, not a file)',
    ws({ 'config.yml': { dir: true } }),
    ['--config', 'config.yml'],
  ),
  validate('manifest/missing-explicit-config', 'modelgate: nope.yml: manifest not found; check the path given with --config', ws(), [
    '--config',
    'nope.yml',
  ]),
  validate(
    'manifest/missing-name',
    'modelgate: modelgate.yml: invalid manifest: name (required',
    withManifest(manifest('', { name: null })),
  ),
  validate('manifest/missing-model', 'modelgate: modelgate.yml: invalid manifest: model (', withManifest(manifest('', { model: null }))),
  validate(
    'manifest/missing-label',
    'modelgate: modelgate.yml: invalid manifest: label (required',
    withManifest(manifest('', { label: null })),
  ),
  validate('manifest/missing-data', 'modelgate: modelgate.yml: invalid manifest: data (', withManifest(manifest('', { data: null }))),
  validate(
    'manifest/runner-not-inferable',
    'modelgate: modelgate.yml: model: cannot tell how to run the model; set runner',
    withManifest(manifest('', { model: 'model.bin' }), { 'model.bin': MODEL }),
  ),
  validate(
    'manifest/http-without-url',
    'modelgate: modelgate.yml: model.url: required for the http runner',
    withManifest(manifest('', { model: '{runner: http}' })),
  ),
  validate(
    'manifest/url-invalid',
    'modelgate.yml: invalid manifest: model.url (line 2, Invalid URL)',
    withManifest(manifest('', { model: '{url: not a url}' })),
  ),
  validate(
    'manifest/duplicate-data-names',
    'modelgate: modelgate.yml: data: two data sets are named "data"; give each a distinct name',
    withManifest(manifest('', { data: '[data.csv, data.csv]' })),
  ),
  validate(
    'manifest/threshold-syntax',
    'modelgate.yml: invalid manifest: thresholds[1] (line 8, cannot read gate "accuracy >>= 0.9"',
    withManifest(manifest('thresholds:\n  - accuracy >= 0.9\n  - accuracy >>= 0.9\n')),
  ),
  validate(
    'manifest/threshold-value-and-change',
    'modelgate.yml: invalid manifest: thresholds[0] (line 6, give exactly one of "value" (absolute bound) or "change"',
    withManifest(manifest("thresholds: [{metric: accuracy, op: '>=', value: 0.9, change: 0.1}]\n")),
  ),
  validate(
    'manifest/misspelt-gate-metric',
    /^modelgate: modelgate\.yml: thresholds: "acuracy >= 0\.9": unknown metric "acuracy"; known: binary: accuracy, /,
    withManifest(manifest('thresholds: [acuracy >= 0.9]\n')),
  ),
  validate(
    'manifest/metric-of-another-task',
    'modelgate: modelgate.yml: thresholds: "r2 >= 0.9": unknown metric "r2" for a binary model; known: accuracy,',
    withManifest(manifest('thresholds: [r2 >= 0.9]\n')),
  ),
  validate(
    'manifest/reference-predictions-for-several-data-sets',
    'modelgate.yml: reference-predictions: one file holds the predictions of one data set, but there are 2',
    withManifest(manifest('reference-predictions: ref.csv\n', { data: '[{name: a, path: data.csv}, {name: b, path: data.csv}]' }), {
      'ref.csv': predictions(40),
    }),
  ),
  cli(
    'manifest/registry-uri-invalid',
    "modelgate: registry.uri: 'ftp://example.com/x' is not a registry",
    withManifest(manifest('registry: {uri: "ftp://example.com/x"}\n')),
    ['register', '--quiet'],
  ),
  validate(
    'manifest/registry-stage-name',
    'modelgate.yml: invalid manifest: registry.stages[0] (line 6, a stage name',
    withManifest(manifest("registry: {uri: 'local:reg', stages: ['bad stage']}\n")),
  ),
  validate(
    'manifest/deploy-target-enum',
    'modelgate.yml: invalid manifest: deploy.environments.staging.target (line 6, Invalid option',
    withManifest(manifest('deploy: {environments: {staging: {target: moon}}}\n')),
  ),
  validate(
    'manifest/duplicate-key',
    'modelgate: modelgate.yml:6:1: invalid YAML: Map keys must be unique',
    withManifest(manifest('name: again\n')),
  ),
  validate(
    'manifest/deep-nesting',
    /^modelgate: modelgate\.yml:6:\d+: invalid YAML: /,
    withManifest(() => manifest(`robustness: ${'['.repeat(100_000)}\n`)),
  ),
  validate(
    'manifest/tab-indented',
    'modelgate: modelgate.yml:7:1: invalid YAML: Tabs are not allowed as indentation',
    withManifest(manifest('reference-predictions:\n\tpath: ref.csv\n')),
  ),
  validate(
    'manifest/gate-number-out-of-range',
    'modelgate: modelgate.yml: invalid manifest: thresholds[0] (line 6, cannot read gate "accuracy >= 1e400": 1e400 is out of the range of a double',
    withManifest(manifest('thresholds: [accuracy >= 1e400]\n')),
  ),
  validate(
    'manifest/slice-expression-syntax',
    'modelgate: modelgate.yml: invalid manifest: slices.define[0].where (line 9, cannot read the expression "mean_area >>> 700"',
    withManifest(manifest('slices:\n  define:\n    - name: big\n      where: mean_area >>> 700\n')),
  ),
  validate(
    'manifest/slice-unknown-column',
    'modelgate: modelgate.yml: slices.define[0].where: slice "big" reads column "mean_areaa", which the data does not have; columns: mean_radius,',
    withManifest(manifest('slices:\n  define:\n    - name: big\n      where: mean_areaa > 700\n')),
  ),
  validate(
    'manifest/fairness-column-missing',
    'modelgate: data.csv: missing column(s) "sex"; the file has: mean_radius,',
    withManifest(manifest('fairness:\n  sensitive: sex\n')),
  ),
  validate(
    'manifest/id-column-missing',
    'modelgate: data.csv: missing column(s) "row_id"; the file has: mean_radius,',
    withManifest(manifest('id: row_id\n')),
  ),
]

const flagRows: Row[] = [
  validate('flags/unknown-flag', "modelgate: Unknown option '--modle'; see modelgate validate --help", ws(), ['--modle', 'model.onnx']),
  validate('flags/fail-on-enum', 'modelgate: --fail-on: "sometimes" is not one of fail, warn, never', ws(), ['--fail-on', 'sometimes']),
  validate('flags/task-enum', 'modelgate: --task: "binery" is not one of binary, multiclass, regression', ws(), ['--task', 'binery']),
  validate('flags/runner-enum', 'modelgate: --runner: "onx" is not one of onnx, command, http, predictions', ws(), ['--runner', 'onx']),
  validate('flags/batch-size-zero', 'modelgate: --batch-size: "0" is not a positive whole number', ws(), ['--batch-size', '0']),
  validate('flags/batch-size-text', 'modelgate: --batch-size: "abc" is not a positive whole number', ws(), ['--batch-size', 'abc']),
  validate('flags/unknown-feature-column', 'modelgate: data.csv: missing column(s) "nope"; the file has: mean_radius,', ws(), [
    '--features',
    'nope',
  ]),
  validate('flags/unexpected-positional', "modelgate: Unexpected argument 'extra'. This command does not take positional arguments", ws(), [
    'extra',
  ]),
  cli('flags/unknown-command', 'modelgate: unknown command "frobnicate"; try: modelgate --help', ws(), ['frobnicate']),
  validate('flags/missing-data-file', 'modelgate: nope.csv: file not found', ws(), flags('nope.csv')),
  validate('flags/missing-model-file', 'modelgate: cannot read ONNX model nope.onnx: file not found', ws(), flags('data.csv', 'nope.onnx')),
  validate('flags/missing-baseline', 'modelgate: cannot read ONNX model nope.onnx: file not found', ws(), ['--baseline', 'nope.onnx']),
  validate(
    'flags/baseline-not-json',
    /^modelgate: baseline\.json: the baseline report is not valid JSON \(.+\)$/,
    ws({ 'baseline.json': 'PASSED: model\n\nMetrics on bc40 (40 rows)\n' }),
    ['--baseline', 'baseline.json'],
  ),
  validate('flags/threshold-syntax', 'modelgate: --threshold, line 2: cannot read gate "accuracy is high"', ws(), [
    '--threshold',
    'accuracy >= 0.9',
    '--threshold',
    'accuracy is high',
  ]),
  // Found before scoring, even with the task inferred: a bad cell late in the data would stop scoring first.
  validate(
    'flags/threshold-unknown-metric-before-scoring',
    /^modelgate: --threshold: "acuracy >= 0\.9": unknown metric "acuracy"; known: binary: accuracy,/,
    ws({ 'data.csv': csvWithCell(39, 'mean_texture', 'oops') }),
    [...flags(), '--threshold', 'acuracy >= 0.9'],
  ),
  cli('flags/robustness-rows-zero', 'modelgate: --rows: "0" is not valid:', ws(), ['robustness', '--report', 'rob.json', '--rows', '0'], {
    mustNotExist: ['rob.json'],
  }),
  cli(
    'flags/robustness-seed-text',
    'modelgate: --seed: "abc" is not valid: not a number',
    ws(),
    ['robustness', '--report', 'rob.json', '--seed', 'abc'],
    {
      mustNotExist: ['rob.json'],
    },
  ),
  cli(
    'flags/robustness-seed-negative',
    'modelgate: --seed: "-1" is not valid:',
    ws(),
    ['robustness', '--report', 'rob.json', '--seed=-1'],
    {
      mustNotExist: ['rob.json'],
    },
  ),
  cli(
    'flags/robustness-time-budget-text',
    'modelgate: --time-budget: "soon" is not valid: not a number',
    ws(),
    ['robustness', '--report', 'rob.json', '--time-budget', 'soon'],
    { mustNotExist: ['rob.json'] },
  ),
  cli('flags/robustness-unknown-flag', "modelgate: Unknown option '--threshold'; see modelgate robustness --help", ws(), [
    'robustness',
    '--threshold',
    'accuracy >= 0.9',
  ]),
  cli(
    'flags/init-missing-label',
    'modelgate: --label is required; see modelgate init --help',
    { 'model.onnx': MODEL, 'data.csv': BC_TEXT },
    ['init', '--model', 'model.onnx', '--data', 'data.csv'],
    {
      mustNotExist: ['modelgate.yml'],
    },
  ),
  cli('flags/init-never-overwrites', 'modelgate: modelgate.yml: already exists; modelgate init never overwrites a manifest', ws(), [
    'init',
    '--model',
    'model.onnx',
    '--data',
    'data.csv',
    '--label',
    'target',
  ]),
  cli(
    'flags/init-over-the-data',
    'modelgate: data.csv: already exists; modelgate init never overwrites a manifest',
    { 'model.onnx': MODEL, 'data.csv': BC_TEXT },
    ['init', '--model', 'model.onnx', '--data', 'data.csv', '--label', 'target', '--config', 'data.csv'],
  ),
  cli('flags/serve-without-state', 'modelgate: --state is required; see modelgate serve --help', {}, ['serve']),
  cli('flags/serve-port-text', 'modelgate: --port: "abc" is not a positive whole number', {}, [
    'serve',
    '--state',
    'state.json',
    '--port',
    'abc',
  ]),
  validate(
    'flags/threshold-1e400',
    'modelgate: --threshold, line 1: cannot read gate "accuracy >= 1e400": 1e400 is out of the range of a double',
    ws(),
    ['--threshold', 'accuracy >= 1e400'],
  ),
  validate('flags/threshold-nan', 'modelgate: --threshold, line 1: cannot read gate "accuracy >= NaN"', ws(), [
    '--threshold',
    'accuracy >= NaN',
  ]),
  validate(
    'flags/too-few-features',
    "modelgate: model.onnx: input 'input' takes 30 features per row but 2 were given (mean_radius, mean_texture)",
    ws(),
    ['--features', 'mean_radius,mean_texture'],
  ),
  validate('flags/nothing-to-validate', 'modelgate: no manifest: modelgate.yml is not in {{WS}}. Point to yours with --config', {}, []),
]

const dataRows: Row[] = [
  validate('data/empty', 'modelgate: data.csv: the file is empty; a header row is required', ws({ 'data.csv': '' })),
  validate(
    'data/header-only',
    'modelgate: data.csv: no data rows (the file has a header or schema but no rows)',
    ws({ 'data.csv': `${BC_LINES[0]}\n` }),
  ),
  validate('data/no-label-column', 'modelgate: data.csv: missing column(s) "target"', ws({ 'data.csv': withoutColumn('target') })),
  validate(
    'data/missing-feature',
    'modelgate: data.csv: missing column(s) "mean_texture"; the file has: mean_radius, mean_perimeter',
    ws({ 'data.csv': withoutColumn('mean_texture') }),
  ),
  validate(
    'data/duplicate-header',
    'modelgate: data.csv: line 1: duplicate column name "mean_radius" in the header',
    ws({ 'data.csv': BC_TEXT.replace('mean_radius,mean_texture', 'mean_radius,mean_radius') }),
  ),
  validate(
    'data/ragged-short',
    'modelgate: data.csv: line 3: expected 31 fields as in the header, found 30',
    ws({ 'data.csv': BC_LINES.map((l, i) => (i === 2 ? l.replace(/,[^,]*$/, '') : l)).join('\n') + '\n' }),
  ),
  validate(
    'data/ragged-long',
    'modelgate: data.csv: line 11: expected 31 fields as in the header, found 33',
    ws({ 'data.csv': BC_LINES.map((l, i) => (i === 10 ? `${l},9,9` : l)).join('\n') + '\n' }),
  ),
  validate(
    'data/unclosed-quote',
    'modelgate: data.csv: line 2: unterminated quoted field',
    ws({ 'data.csv': `${BC_LINES[0]}\n"${BC_LINES[1]}\n${BC_LINES[2]}\n` }),
  ),
  // A quote left open makes the rest of the file one record: the reader stops at the bound, not at the end.
  validate(
    'data/unclosed-quote-large-file',
    `modelgate: data.csv: line 2: the record starting on this line is longer than ${MAX_RECORD_BYTES / MIB} MiB, the most one record may take; the quote opened on line 2 is not closed within it`,
    ws({ 'data.csv': () => `${BC_LINES[0]}\n"${`${BC_LINES[1]}\n`.repeat(Math.ceil((2.5 * MAX_RECORD_BYTES) / BC_LINES[1].length))}` }),
  ),
  validate(
    'data/non-numeric-cell',
    `modelgate: data.csv: column 'mean_texture', data row 5: text value "n/a" where the model expects float numbers`,
    ws({ 'data.csv': csvWithCell(5, 'mean_texture', 'n/a') }),
  ),
  validate(
    'data/1e400',
    "modelgate: data.csv: column 'mean_texture', data row 5: 1e400 is out of the range of a double (float64",
    ws({ 'data.csv': csvWithCell(5, 'mean_texture', '1e400') }),
  ),
  validate(
    'data/minus-1e400-jsonl',
    "modelgate: data.jsonl: line 5: column 'mean_texture': -1e400 is out of the range of a double (float64",
    ws({ 'data.jsonl': jsonl(5, 'mean_texture', '-1e400') }),
    flags('data.jsonl'),
  ),
  validate('data/utf16-bom', 'modelgate: data.csv is UTF-16 (or binary); save it as UTF-8', ws({ 'data.csv': utf16le(BC_TEXT) })),
  validate('data/utf16-no-bom', 'modelgate: data.csv is UTF-16 (or binary); save it as UTF-8', ws({ 'data.csv': utf16beNoBom(BC_TEXT) })),
  validate(
    'data/utf16-jsonl',
    'modelgate: data.jsonl is UTF-16 (or binary); save it as UTF-8',
    ws({ 'data.jsonl': utf16le(jsonl()) }),
    flags('data.jsonl'),
  ),
  validate('data/binary', 'modelgate: data.csv is UTF-16 (or binary); save it as UTF-8', ws({ 'data.csv': MODEL })),
  validate(
    'data/over-long-line',
    `modelgate: data.csv: line 3: the record starting on this line is longer than ${MAX_RECORD_BYTES / MIB} MiB, the most one record may take`,
    ws({ 'data.csv': () => `${BC_LINES[0]}\n${BC_LINES[1]}\n${long(MAX_RECORD_BYTES + MIB)},1\n` }),
  ),
  validate(
    'data/over-long-line-jsonl',
    `modelgate: data.jsonl: line 2: the line is longer than ${MAX_RECORD_BYTES / MIB} MiB, the most one line may take`,
    ws({ 'data.jsonl': () => jsonl(2, 'mean_texture', `"${long(MAX_RECORD_BYTES + MIB)}"`) }),
    flags('data.jsonl'),
  ),
  // Huge cells are never echoed whole: a 60-character excerpt and the length.
  validate(
    'data/10-mib-cell',
    `modelgate: data.csv: column 'mean_texture', data row 1: text value ${EXCERPT_60} (${10 * MIB} characters) where the model expects float numbers`,
    ws({ 'data.csv': () => csvWithCell(1, 'mean_texture', `"${long(10 * MIB)}"`) }),
  ),
  validate(
    'data/50-mb-cell-csv',
    `modelgate: data.csv: line 2: the record starting on this line is longer than ${MAX_RECORD_BYTES / MIB} MiB`,
    ws({ 'data.csv': () => csvWithCell(1, 'mean_texture', `"${long(50_000_000)}"`) }),
  ),
  validate(
    'data/10-mib-cell-jsonl',
    `modelgate: data.jsonl: column 'mean_texture', data row 1: text value ${EXCERPT_60} (${10 * MIB} characters) where the model expects float numbers`,
    ws({ 'data.jsonl': () => jsonl(1, 'mean_texture', `"${long(10 * MIB)}"`) }),
    flags('data.jsonl'),
  ),
  validate(
    'data/50-mb-cell-parquet',
    `modelgate: data.parquet: column 'mean_texture', data row 1: text value ${EXCERPT_60} (50000000 characters) where the model expects float numbers`,
    ws({ 'data.parquet': () => parquetWithText('mean_texture', long(50_000_000)) }),
    flags('data.parquet'),
  ),
  validate(
    'data/control-characters',
    `modelgate: data.csv: column 'mean_texture', data row 2: text value "\\u001b[31mred\\r\\nline" where the model expects float numbers`,
    ws({ 'data.csv': csvWithCell(2, 'mean_texture', '"\x1b[31mred\r\nline"') }),
  ),
  validate(
    'data/1-mib-duplicate-column-name',
    `modelgate: data.csv: line 1: duplicate column name ${EXCERPT_60} (${MIB} characters) in the header`,
    ws({ 'data.csv': () => `${long(MIB)},${long(MIB)}\n1,2\n` }),
  ),
  validate(
    'data/1-mib-column-name',
    `; the file has: ${EXCERPT_60} (${MIB} characters), target`,
    ws({ 'data.csv': () => `${long(MIB)},target\n1,0\n` }),
  ),
  validate(
    'data/jsonl-invalid-line',
    'modelgate: data.jsonl: line 3: not valid JSON',
    ws({
      'data.jsonl': jsonl()
        .split('\n')
        .map((l, i) => (i === 2 ? '{"mean_radius": 1,' : l))
        .join('\n'),
    }),
    flags('data.jsonl'),
  ),
  validate(
    'data/jsonl-not-an-object',
    'modelgate: data.jsonl: line 1: expected a JSON object, found an array',
    ws({ 'data.jsonl': '[1, 2]\n' }),
    flags('data.jsonl'),
  ),
  validate(
    'data/jsonl-missing-field',
    'modelgate: data.jsonl: missing column(s) "mean_texture"',
    ws({ 'data.jsonl': jsonl().replace(/"mean_texture": [^,]*, /g, '') }),
    flags('data.jsonl'),
  ),
  validate(
    'data/parquet-truncated',
    'modelgate: data.parquet: not a valid Parquet file',
    ws({ 'data.parquet': PARQUET.subarray(0, PARQUET.length - 100) }),
    flags('data.parquet'),
  ),
  validate(
    'data/parquet-garbage',
    'modelgate: data.parquet: not a valid Parquet file',
    ws({ 'data.parquet': BROKEN('random-bytes.onnx') }),
    flags('data.parquet'),
  ),
  validate(
    'data/parquet-text-column',
    `modelgate: data.parquet: column 'mean_texture', data row 1: text value "n/a" where the model expects float numbers`,
    ws({ 'data.parquet': () => parquetWithText('mean_texture', 'n/a') }),
    flags('data.parquet'),
  ),
  validate(
    'data/format-says-parquet',
    'modelgate: data.csv: not a valid Parquet file',
    withManifest(manifest('', { data: '[{path: data.csv, format: parquet}]' })),
  ),
  validate(
    'data/unknown-extension',
    'modelgate: data.tsv: cannot tell the data format from the extension .tsv; supported: .csv, .jsonl',
    ws({ 'data.tsv': BC_TEXT }),
    flags('data.tsv'),
  ),
  validate('data/is-a-folder', 'modelgate: data.csv: is a directory, not a file', ws({ 'data.csv': { dir: true } })),
  validate('data/fifo', 'modelgate: data.csv: is a named pipe (FIFO), not a regular file', ws({ 'data.csv': { fifo: true } })),
  validate(
    'data/path-through-a-file',
    'modelgate: plain.csv/data.csv: a part of the path is not a directory (ENOTDIR)',
    ws({ 'plain.csv': BC_TEXT }),
    flags('plain.csv/data.csv'),
  ),
  validate(
    'data/symlink-loop',
    'modelgate: data.csv: too many levels of symbolic links (ELOOP)',
    ws({ 'data.csv': { symlink: 'other.csv' }, 'other.csv': { symlink: 'data.csv' } }),
  ),
  validate(
    'data/dangling-symlink',
    'modelgate: data.csv: a symbolic link to a missing file (gone.csv)',
    ws({ 'data.csv': { symlink: 'gone.csv' } }),
  ),
  validate(
    'data/no-labelled-rows',
    'modelgate: data.csv: none of its 40 rows has a value in the label column "target"; the metrics need labelled rows',
    ws({ 'data.csv': emptyColumn('target') }),
  ),
  validate(
    'data/label-not-a-class',
    `modelgate: data.csv: target has the value "2", which is not one of the model's classes (0, 1)`,
    ws({ 'data.csv': csvWithCell(7, 'target', '2') }),
  ),
  validate(
    'data/feature-empty-in-every-row-model-nan',
    /gives probability NaN .*; note: feature "mean_texture" has no value \(missing or NaN\) in any of the first 40 rows of data\.csv/,
    ws({ 'data.csv': emptyColumn('mean_texture') }),
  ),
  validate(
    'data/contract-not-json',
    'modelgate: contract.json: the data contract is not valid JSON',
    withManifest(manifest('', { data: '[{path: data.csv, contract: contract.json}]' }), { 'contract.json': '{"type": "object",' }),
  ),
  validate(
    'data/contract-not-a-schema',
    'modelgate: contract.json: not a valid JSON Schema (schema is invalid: data/type must be',
    withManifest(manifest('', { data: '[{path: data.csv, contract: contract.json}]' }), { 'contract.json': '{"type": 12}' }),
  ),
  validate(
    'data/contract-missing',
    'modelgate: contract.json: cannot read the data contract (file not found)',
    withManifest(manifest('', { data: '[{path: data.csv, contract: contract.json}]' })),
  ),
  validate(
    'data/infinity-text',
    `modelgate: data.csv: column 'mean_texture', data row 3: text value "Infinity" where the model expects float numbers`,
    ws({ 'data.csv': csvWithCell(3, 'mean_texture', 'Infinity') }),
  ),
  validate(
    'data/label-fraction',
    `modelgate: data.csv: target has the value "1.5", which is not one of the model's classes (0, 1)`,
    ws({ 'data.csv': csvWithCell(3, 'target', '1.5') }),
  ),
  validate('data/jsonl-empty', 'modelgate: data.jsonl: no data rows', ws({ 'data.jsonl': '' }), flags('data.jsonl')),
  validate('data/jsonl-blank-lines', 'modelgate: data.jsonl: no data rows', ws({ 'data.jsonl': '\n\n\n' }), flags('data.jsonl')),
  validate(
    'data/parquet-empty',
    'modelgate: data.parquet: not a valid Parquet file',
    ws({ 'data.parquet': Buffer.alloc(0) }),
    flags('data.parquet'),
  ),
]

const modelRows: Row[] = [
  validate(
    'model/random-bytes',
    'modelgate: model.onnx is not an ONNX model (protobuf decoding failed: invalid wire type 7 at offset 103)',
    ws({ 'model.onnx': BROKEN('random-bytes.onnx') }),
  ),
  validate(
    'model/truncated',
    'modelgate: model.onnx is not an ONNX model (protobuf decoding failed',
    ws({ 'model.onnx': MODEL.subarray(0, 800) }),
  ),
  validate(
    'model/empty',
    'modelgate: model.onnx is not an ONNX model (no IR version, graph or graph outputs)',
    ws({ 'model.onnx': Buffer.alloc(0) }),
  ),
  validate(
    'model/csv-renamed',
    'modelgate: model.onnx is not an ONNX model (protobuf decoding failed: index out of range)',
    ws({ 'model.onnx': BROKEN('csv-renamed.onnx') }),
  ),
  validate('model/unknown-operator', 'modelgate: onnxruntime could not load model.onnx:', ws({ 'model.onnx': BROKEN('unknown-op.onnx') })),
  validate('model/is-a-folder', 'modelgate: cannot read ONNX model model.onnx: it is a directory', ws({ 'model.onnx': { dir: true } })),
  validate(
    'model/predictions-missing-rows',
    'modelgate: preds.csv: the predictions file has 30 rows but the data has at least 40; it needs exactly one row per data row, in the same order',
    ws({ 'preds.csv': predictions(30) }),
    flags('data.csv', 'preds.csv'),
  ),
  validate(
    'model/predictions-extra-rows',
    'modelgate: preds.csv: the predictions file has 45 rows but the data has 40; it needs exactly one row per data row, in the same order',
    ws({ 'preds.csv': predictions(45) }),
    flags('data.csv', 'preds.csv'),
  ),
  validate(
    'model/baseline-predictions-extra-rows',
    'modelgate: base.csv: the predictions file has 41 rows but the data has 40',
    ws({ 'base.csv': predictions(41) }),
    ['--baseline', 'base.csv'],
  ),
  validate(
    'model/predictions-without-prediction-columns',
    'modelgate: preds.csv: found no prediction columns among mean_radius,',
    ws({ 'preds.csv': BC_TEXT }),
    flags('data.csv', 'preds.csv'),
  ),
  validate(
    'model/http-connection-refused',
    /^modelgate: POST http:\/\/127\.0\.0\.1:\d+\/v2\/models\/m\/infer: request failed: connect ECONNREFUSED 127\.0\.0\.1:\d+$/,
    withManifest(httpManifest('{{REFUSED}}/v2/models/m/infer')),
  ),
  validate(
    'model/command-not-found',
    'modelgate: model command `corpus-no-such-model --serve` cannot be started: corpus-no-such-model was not found (ENOENT); check the program name and PATH',
    withManifest(manifest('', { model: '{runner: command, command: [corpus-no-such-model, --serve]}' })),
  ),
  validate(
    'model/baseline-missing',
    'modelgate: cannot read ONNX model gone.onnx: file not found',
    withManifest(manifest('baseline: gone.onnx\n')),
  ),
  validate(
    'model/baseline-corrupt',
    'modelgate: base.onnx is not an ONNX model',
    withManifest(manifest('baseline: base.onnx\n'), { 'base.onnx': BROKEN('random-bytes.onnx') }),
  ),
]

const outputRows: Row[] = [
  validate(
    'outputs/report-over-data',
    'modelgate: --report {{WS}}/data.csv: is the data set "data", which this run reads; give the output another path',
    ws(),
    ['--report', 'data.csv'],
  ),
  validate('outputs/report-over-model', 'modelgate: --report {{WS}}/model.onnx: is the model, which this run reads', ws(), [
    '--report',
    'model.onnx',
  ]),
  validate('outputs/report-over-manifest', 'modelgate: --report {{WS}}/modelgate.yml: is the manifest, which this run reads', ws(), [
    '--report',
    'modelgate.yml',
  ]),
  validate('outputs/junit-over-data', 'modelgate: --junit {{WS}}/data.csv: is the data set "data", which this run reads', ws(), [
    '--junit',
    'data.csv',
  ]),
  validate('outputs/summary-over-manifest', 'modelgate: --summary {{WS}}/modelgate.yml: is the manifest, which this run reads', ws(), [
    '--summary',
    'modelgate.yml',
  ]),
  validate('outputs/predictions-over-model', 'modelgate: --predictions {{WS}}/model.onnx: is the model, which this run reads', ws(), [
    '--predictions',
    'model.onnx',
  ]),
  validate(
    'outputs/report-over-baseline',
    'modelgate: --report {{WS}}/base.onnx: is the baseline model, which this run reads',
    withManifest(manifest('baseline: base.onnx\n'), { 'base.onnx': BASELINE_MODEL }),
    ['--report', 'base.onnx'],
  ),
  validate(
    'outputs/summary-over-contract',
    'modelgate: --summary {{WS}}/contract.json: is the contract of "data", which this run reads',
    withManifest(manifest('', { data: '[{path: data.csv, contract: contract.json}]' }), { 'contract.json': CONTRACT }),
    ['--summary', 'contract.json'],
  ),
  validate(
    'outputs/report-over-data-via-symlink',
    'modelgate: --report {{WS}}/out.json: is the data set "data", which this run reads',
    ws({ 'out.json': { symlink: 'data.csv' } }),
    ['--report', 'out.json'],
  ),
  validate(
    'outputs/report-over-data-via-dotdot',
    'modelgate: --report {{WS}}/data.csv: is the data set "data", which this run reads',
    ws({ sub: { dir: true } }),
    ['--report', 'sub/../data.csv'],
  ),
  validate(
    'outputs/two-outputs-one-path',
    'modelgate: --junit {{WS}}/report.json: is also given as --report; give each output its own path',
    ws(),
    ['--junit', 'report.json'],
  ),
  validate('outputs/report-is-a-folder', 'modelgate: --report {{WS}}/out: is a folder; give a file path', ws({ out: { dir: true } }), [
    '--report',
    'out',
  ]),
  validate(
    'outputs/report-under-a-regular-file',
    'modelgate: --report {{WS}}/not-a-dir/report.json: cannot write there (EEXIST',
    ws({ 'not-a-dir': 'a file where a folder is needed\n' }),
    ['--report', 'not-a-dir/report.json'],
  ),
  // The error JUnit is the one file a failed run may write: it says why.
  validate('outputs/error-junit-only', 'modelgate: nope.csv: file not found', ws(), [...flags('nope.csv'), '--junit', 'junit.xml'], {
    allowNew: ['junit.xml'],
  }),
  cli('outputs/register-report-over-model', 'modelgate: --report {{WS}}/model.onnx: is the model, which this run reads', ws(), [
    'register',
    '--report',
    'model.onnx',
    '--quiet',
  ]),
  cli('outputs/robustness-report-over-data', 'modelgate: --report {{WS}}/data.csv: is the data set "data", which this run reads', ws(), [
    'robustness',
    '--report',
    'data.csv',
  ]),
  cli(
    'outputs/deploy-report-over-manifest',
    'modelgate: --report {{WS}}/modelgate.yml: is the manifest',
    deployWs(),
    ['deploy', '--environment', 'staging', '--report', 'modelgate.yml'],
    {
      setup: registered,
    },
  ),
  act(
    'outputs/action-report-path-over-data',
    'validate-model',
    'input report-path {{WS}}/data.csv: is the data set "data", which this run reads',
    ws(),
    {
      'report-path': 'data.csv',
    },
  ),
  act('outputs/action-junit-path-over-manifest', 'validate-model', 'input junit-path {{WS}}/modelgate.yml: is the manifest', ws(), {
    'junit-path': 'modelgate.yml',
  }),
  act('outputs/action-predictions-path-over-model', 'validate-model', 'input predictions-path {{WS}}/model.onnx: is the model', ws(), {
    'predictions-path': 'model.onnx',
  }),
  act('outputs/robustness-action-report-over-model', 'test-robustness', 'input report-path {{WS}}/model.onnx: is the model', ws(), {
    'report-path': 'model.onnx',
  }),
  cli(
    'outputs/register-report-over-evidence',
    'modelgate: --report {{WS}}/e.json: is an evidence report, which this run reads',
    ws({ 'e.json': evidence() }),
    ['register', '--evidence', 'e.json', '--report', 'e.json', '--quiet'],
  ),
  validate(
    'outputs/report-over-baseline-report',
    'modelgate: --report {{WS}}/old.json: is the baseline report, which this run reads',
    ws({ 'old.json': evidence() }),
    ['--baseline', 'old.json', '--report', 'old.json'],
  ),
  validate(
    'outputs/report-over-reference-predictions',
    'modelgate: --report {{WS}}/ref.csv: is the reference predictions, which this run reads',
    ws({ 'ref.csv': predictions(40) }),
    ['--reference-predictions', 'ref.csv', '--report', 'ref.csv'],
  ),
]

const OUTSIDE_NOTE = 'is outside the workspace ({{WS}}); modelgate reads and writes only inside it'

const confinementRows: Row[] = [
  // The job's environment holds its tokens: reading it would print them into the summary.
  validate('confinement/data-proc-self-environ', `modelgate: --data: /proc/self/environ (which resolves to /proc/`, ws(), [
    '--data',
    '/proc/self/environ',
  ]),
  validate(
    'confinement/data-proc-self-environ-in-manifest',
    'modelgate: modelgate.yml: data: /proc/self/environ',
    withManifest(manifest('', { data: '/proc/self/environ' })),
  ),
  validate(
    'confinement/model-outside',
    `modelgate: modelgate.yml: model: {{OUTSIDE}}/model.onnx ${OUTSIDE_NOTE}`,
    withManifest(manifest('', { model: '{{OUTSIDE}}/model.onnx' })),
    [],
    {
      outside: { 'model.onnx': MODEL },
    },
  ),
  validate(
    'confinement/contract-outside',
    `modelgate: modelgate.yml: data.contract: {{OUTSIDE}}/contract.json ${OUTSIDE_NOTE}`,
    withManifest(manifest('', { data: '[{path: data.csv, contract: "{{OUTSIDE}}/contract.json"}]' })),
    [],
    {
      outside: { 'contract.json': CONTRACT },
    },
  ),
  validate(
    'confinement/baseline-outside',
    `baseline: {{OUTSIDE}}/base.onnx ${OUTSIDE_NOTE}`,
    withManifest(manifest('baseline: {{OUTSIDE}}/base.onnx\n')),
    [],
    {
      outside: { 'base.onnx': BASELINE_MODEL },
    },
  ),
  validate(
    'confinement/reference-predictions-outside',
    `reference-predictions: {{OUTSIDE}}/ref.csv ${OUTSIDE_NOTE}`,
    withManifest(manifest('reference-predictions: {{OUTSIDE}}/ref.csv\n')),
    [],
    { outside: { 'ref.csv': predictions(40) } },
  ),
  validate(
    'confinement/symlink-to-outside',
    `data.csv (which resolves to {{OUTSIDE}}/data.csv) ${OUTSIDE_NOTE}`,
    ws({ 'data.csv': { symlink: '{{OUTSIDE}}/data.csv' } }),
    [],
    {
      outside: { 'data.csv': BC_TEXT },
    },
  ),
  validate(
    'confinement/symlinked-folder-to-outside',
    `(which resolves to {{OUTSIDE}}/data.csv) ${OUTSIDE_NOTE}`,
    ws({ shared: { symlink: '{{OUTSIDE}}' } }),
    flags('shared/data.csv'),
    {
      outside: { 'data.csv': BC_TEXT },
    },
  ),
  validate(
    'confinement/dotdot-escape',
    `modelgate: modelgate.yml: data: {{OUTSIDE}}/data.csv ${OUTSIDE_NOTE}`,
    withManifest(manifest('', { data: '../outside/data.csv' })),
    [],
    { outside: { 'data.csv': BC_TEXT } },
  ),
  validate(
    'confinement/report-outside',
    `modelgate: --report: {{OUTSIDE}}/report.json ${OUTSIDE_NOTE}`,
    ws(),
    ['--report', '{{OUTSIDE}}/report.json'],
    {
      mustNotExist: ['../outside/report.json'],
    },
  ),
  validate('confinement/junit-outside', `modelgate: --junit: {{OUTSIDE}}/junit.xml ${OUTSIDE_NOTE}`, ws(), [
    '--junit',
    '{{OUTSIDE}}/junit.xml',
  ]),
  validate('confinement/predictions-outside', `modelgate: --predictions: {{OUTSIDE}}/p.csv ${OUTSIDE_NOTE}`, ws(), [
    '--predictions',
    '{{OUTSIDE}}/p.csv',
  ]),
  cli(
    'confinement/robustness-data-outside',
    `modelgate: --data: {{OUTSIDE}}/data.csv ${OUTSIDE_NOTE}`,
    ws(),
    ['robustness', '--data', '{{OUTSIDE}}/data.csv'],
    {
      outside: { 'data.csv': BC_TEXT },
    },
  ),
  cli(
    'confinement/register-evidence-outside',
    `modelgate: --evidence: {{OUTSIDE}}/report.json ${OUTSIDE_NOTE}`,
    ws(),
    ['register', '--evidence', '{{OUTSIDE}}/report.json', '--quiet'],
    {
      outside: { 'report.json': evidence() },
    },
  ),
  cli(
    'confinement/registry-outside',
    `modelgate: --registry: {{OUTSIDE}}/registry ${OUTSIDE_NOTE}`,
    ws(),
    ['register', '--registry', 'local:{{OUTSIDE}}/registry', '--quiet'],
    {
      mustNotExist: ['../outside/registry'],
    },
  ),
  cli('confinement/registry-list-outside', `modelgate: --registry: {{OUTSIDE}}/registry ${OUTSIDE_NOTE}`, ws(), [
    'registry',
    'list',
    '--registry',
    'local:{{OUTSIDE}}/registry',
  ]),
  act(
    'confinement/action-config-outside',
    'validate-model',
    `input config: {{OUTSIDE}}/modelgate.yml ${OUTSIDE_NOTE}`,
    ws(),
    { config: '{{OUTSIDE}}/modelgate.yml' },
    {
      outside: { 'modelgate.yml': manifest('', { model: 'model.onnx' }), 'model.onnx': MODEL, 'data.csv': BC_TEXT },
    },
  ),
  act(
    'confinement/action-data-outside',
    'validate-model',
    `input data: {{OUTSIDE}}/data.csv ${OUTSIDE_NOTE}`,
    ws(),
    { data: '{{OUTSIDE}}/data.csv' },
    {
      outside: { 'data.csv': BC_TEXT },
    },
  ),
  // The action's workspace is the repository alone, even for a manifest in a subfolder that points up.
  act(
    'confinement/action-manifest-points-up',
    'validate-model',
    `sub/modelgate.yml: data: {{OUTSIDE}}/data.csv ${OUTSIDE_NOTE}`,
    { 'sub/modelgate.yml': manifest('', { model: 'model.onnx', data: '../../outside/data.csv' }), 'sub/model.onnx': MODEL },
    { config: 'sub/modelgate.yml' },
    {
      outside: { 'data.csv': BC_TEXT },
    },
  ),
  act('confinement/action-report-outside', 'validate-model', `input report-path: {{OUTSIDE}}/r.json ${OUTSIDE_NOTE}`, ws(), {
    'report-path': '{{OUTSIDE}}/r.json',
  }),
  act(
    'confinement/register-action-evidence-outside',
    'register-version',
    `input evidence: {{OUTSIDE}}/report.json ${OUTSIDE_NOTE}`,
    ws(),
    { evidence: '{{OUTSIDE}}/report.json' },
    {
      outside: { 'report.json': evidence() },
    },
  ),
  validate(
    'confinement/report-through-symlinked-folder',
    `(which resolves to {{OUTSIDE}}/report.json) ${OUTSIDE_NOTE}`,
    ws({ out: { symlink: '{{OUTSIDE}}' } }),
    ['--report', 'out/report.json'],
    {
      mustNotExist: ['../outside/report.json'],
    },
  ),
  cli(
    'confinement/registry-symlinked-outside',
    `(which resolves to {{OUTSIDE}}/registry) ${OUTSIDE_NOTE}`,
    ws({ '.modelgate/registry': { symlink: '{{OUTSIDE}}/registry' } }),
    ['register', '--quiet'],
    {
      outside: { 'registry/.keep': '' },
    },
  ),
  cli('confinement/evidence-symlink-to-environ', '(which resolves to /proc/', ws({ 'e.json': { symlink: '/proc/self/environ' } }), [
    'register',
    '--evidence',
    'e.json',
    '--quiet',
  ]),
  validate('confinement/model-symlink-to-environ', '(which resolves to /proc/', ws({ 'model.onnx': { symlink: '/proc/self/environ' } })),
  act(
    'confinement/action-symlink-to-environ',
    'validate-model',
    '(which resolves to /proc/',
    ws({ 'data.csv': { symlink: '/proc/self/environ' } }),
    {},
  ),
]

/** Opt-outs and the handled hostile cases that end well: exit 0, the outputs they write allowed. */
export const POSITIVE: Row[] = [
  {
    id: 'confinement/opt-out-cli',
    face: 'cli',
    args: ['validate', ...flags('{{OUTSIDE}}/data.csv'), '--report', 'report.json', '--allow-outside-workspace'],
    files: ws(),
    outside: { 'data.csv': BC_TEXT },
    exit: 0,
    message: 'PASSED: corpus',
    allowNew: ['report.json'],
  },
  {
    id: 'confinement/opt-out-action',
    face: 'validate-model',
    inputs: { data: '{{OUTSIDE}}/data.csv', 'allow-outside-workspace': 'true', comment: 'false' },
    files: ws(),
    outside: { 'data.csv': BC_TEXT },
    exit: 0,
    message: 'modelgate validate-model: corpus',
    allowNew: ['modelgate-report.json'],
  },
  {
    id: 'registry/stale-empty-lock-broken',
    face: 'cli',
    args: ['register', '--quiet'],
    files: ws({ '.modelgate/registry/corpus/.lock': { content: '', ageMs: 60_000 } }),
    exit: 0,
    message: /broke the stale lock .*\.lock: it records no owner \(empty file/,
    allowNew: ['.modelgate/'],
    allowChanged: ['.modelgate/'],
  },
  {
    id: 'registry/lock-of-a-dead-process-broken',
    face: 'cli',
    args: ['register', '--quiet'],
    files: ws({
      '.modelgate/registry/corpus/.lock': () =>
        JSON.stringify({ pid: 2 ** 22 - 1, host: hostname(), at: new Date().toISOString(), token: 'corpus' }),
    }),
    exit: 0,
    message: /broke the stale lock .*\.lock/,
    allowNew: ['.modelgate/'],
    allowChanged: ['.modelgate/'],
  },
  {
    id: 'registry/stale-lock-action-warning',
    face: 'register-version',
    inputs: { model: 'model.onnx', name: 'corpus', registry: 'local:registry' },
    files: ws({ 'registry/corpus/.lock': { content: '', ageMs: 60_000 } }),
    exit: 0,
    message: 'broke the stale lock',
    allowNew: ['registry/', 'modelgate-register.json'],
    allowChanged: ['registry/'],
  },
  {
    id: 'registry/lock-is-a-folder-broken',
    face: 'cli',
    args: ['register', '--quiet'],
    files: ws({ '.modelgate/registry/corpus/.lock': { dir: true } }),
    exit: 0,
    message: /broke the stale lock .*\.lock: it records no owner \(a folder/,
    allowNew: ['.modelgate/'],
    allowChanged: ['.modelgate/'],
  },
  // The breaker removes the link, never what it points at.
  {
    id: 'registry/lock-symlink-to-outside-broken',
    face: 'cli',
    args: ['register', '--quiet'],
    files: ws({ '.modelgate/registry/corpus/.lock': { symlink: '{{OUTSIDE}}/victim' } }),
    outside: { victim: 'not a lock\n' },
    exit: 0,
    message: /broke the stale lock .*\.lock: it records no owner \(a symbolic link/,
    allowNew: ['.modelgate/'],
    allowChanged: ['.modelgate/'],
  },
]

const secretRows: Row[] = [
  validate(
    'secrets/bearer-token-quoted-by-server',
    'modelgate: POST {{SERVER}}/v2/models/m/infer: the server answered 401 Unauthorized',
    ws(),
    ['--model', INFER, '--header', `Authorization: Bearer ${BEARER}`],
    {
      secret: BEARER,
    },
  ),
  validate(
    'secrets/token-scheme-quoted-by-server',
    'the server answered 401 Unauthorized',
    ws(),
    ['--model', INFER, '--header', `Authorization: token ${GH_TOKEN}`],
    {
      secret: GH_TOKEN,
    },
  ),
  validate(
    'secrets/basic-user-password-quoted-by-server',
    'the server answered 401 Unauthorized',
    ws(),
    ['--model', INFER, '--header', `Authorization: Basic ${BASIC}`],
    {
      secret: [BASIC, `${BASIC_USER}:${BASIC_PASSWORD}`, BASIC_PASSWORD],
    },
  ),
  validate(
    'secrets/env-value-in-manifest-header',
    'the server answered 401 Unauthorized',
    withManifest(httpManifest(INFER, ['X-Api-Key: team-${CORPUS_TOKEN_ENV}'])),
    [],
    {
      env: { CORPUS_TOKEN_ENV: ENV_SECRET },
      secret: ENV_SECRET,
    },
  ),
  validate(
    'secrets/url-userinfo',
    'do not put credentials in the URL',
    ws(),
    ['--model', `http://${BASIC_USER}:${URL_PASSWORD}@127.0.0.1:9/v2/models/m/infer`],
    {
      secret: URL_PASSWORD,
    },
  ),
  validate(
    'secrets/malformed-header-not-echoed',
    'modelgate: --header: expected "Name: value" (a header name such as Authorization, a colon, then the value, e.g. "Authorization: Bearer <token>"); the text given is not shown',
    ws(),
    ['--model', INFER, '--header', `Authorization Bearer ${MALFORMED}`],
    { secret: [MALFORMED, 'Authorization Bearer'] },
  ),
  validate(
    'secrets/malformed-second-header',
    'modelgate: --header, header 2 of 2: expected "Name: value"',
    ws(),
    ['--model', INFER, '--header', 'X-Trace: 1', '--header', `Authorization Bearer ${MALFORMED}`],
    {
      secret: MALFORMED,
    },
  ),
  act(
    'secrets/action-bearer-quoted-by-server',
    'validate-model',
    'the server answered 401 Unauthorized',
    ws(),
    { model: INFER, 'http-headers': `Authorization: Bearer ${BEARER}` },
    {
      secret: BEARER,
    },
  ),
  act(
    'secrets/action-env-value-in-manifest-header',
    'validate-model',
    'the server answered 401 Unauthorized',
    withManifest(httpManifest(INFER, ['X-Api-Key: team-${CORPUS_TOKEN_ENV}'])),
    {},
    {
      env: { CORPUS_TOKEN_ENV: ENV_SECRET },
      secret: ENV_SECRET,
    },
  ),
  act(
    'secrets/action-malformed-header-not-echoed',
    'validate-model',
    'input http-headers, header 2 of 2: expected "Name: value"',
    ws(),
    { model: INFER, 'http-headers': `X-Trace: 1\nAuthorization Bearer ${MALFORMED}` },
    { secret: MALFORMED },
  ),
  act(
    'secrets/action-url-userinfo',
    'validate-model',
    'do not put credentials in the URL',
    ws(),
    { model: `http://${BASIC_USER}:${URL_PASSWORD}@127.0.0.1:9/v2/models/m/infer` },
    {
      secret: URL_PASSWORD,
    },
  ),
  cli(
    'secrets/registry-token-flag',
    'modelgate: registry 127.0.0.1:9 unreachable: GET 127.0.0.1:9/v2/models/corpus/tags/list: connect ECONNREFUSED',
    ws(),
    ['register', '--registry', 'oci://127.0.0.1:9/models', '--token', BEARER, '--quiet'],
    {
      secret: BEARER,
    },
  ),
  // With the opt-out, the job's environment can be read: whatever is wrong with it as input, it is not printed.
  validate(
    'secrets/environ-as-data-with-opt-out',
    'modelgate: /proc/self/environ: cannot tell the data format from the extension (none)',
    ws(),
    ['--data', '/proc/self/environ', '--allow-outside-workspace'],
  ),
  validate('secrets/environ-as-manifest-with-opt-out', 'modelgate: /proc/self/environ is UTF-16 (or binary); save it as UTF-8', ws(), [
    '--config',
    '/proc/self/environ',
    '--allow-outside-workspace',
  ]),
  act(
    'secrets/action-environ-as-data-with-opt-out',
    'validate-model',
    '/proc/self/environ: cannot tell the data format from the extension (none)',
    ws(),
    {
      data: '/proc/self/environ',
      'allow-outside-workspace': 'true',
    },
  ),
]

/** ESC or BEL anywhere: what a terminal escape sequence is made of. */
const TERMINAL_CONTROL = { test: (text: string) => text.includes('\u001b') || text.includes('\u0007') }

const injectionRows: Row[] = [
  // Data-derived text reaches logs as text: a data set name cannot emit workflow commands.
  {
    id: 'injection/data-set-name-workflow-command',
    face: 'validate-model',
    inputs: { comment: 'false' },
    files: withManifest(manifest('', { data: `[{name: ${JSON.stringify('x\n::warning title=pwned::pwned by data')}, path: data.csv}]` })),
    exit: 0,
    message: ':\u200b:warning title=pwned::pwned by data',
    allowNew: ['modelgate-report.json'],
    forbid: [/^::warning title=pwned/m],
  },
  {
    id: 'injection/data-set-name-terminal-escape',
    face: 'cli',
    args: ['validate'],
    files: withManifest(manifest('', { data: `[{name: ${JSON.stringify('red\u001b[31m\u001b]0;owned\u0007')}, path: data.csv}]` })),
    exit: 0,
    message: 'red: scored 40 rows',
    forbid: [TERMINAL_CONTROL],
  },
  validate(
    'injection/column-name-terminal-escape-in-error',
    'modelgate: data.csv: missing column(s) "mean_radius", "mean_texture"; the file has: "mean\\u001b]0;owned\\u0007_radius",',
    ws({ 'data.csv': withoutColumn('mean_texture').replace('mean_radius', 'mean\u001b]0;owned\u0007_radius') }),
    [],
    { forbid: [TERMINAL_CONTROL] },
  ),
  act(
    'injection/cell-workflow-command-in-error',
    'validate-model',
    "data.csv: column 'mean_texture', data row 3: text value",
    ws({ 'data.csv': csvWithCell(3, 'mean_texture', '"x\n::warning::pwned by a cell"') }),
    { comment: 'false' },
    { forbid: [/^::warning::pwned/m] },
  ),
]

const registryRows: Row[] = [
  cli(
    'registry/path-is-a-regular-file',
    'modelgate: local registry {{WS}}/regfile: cannot register corpus: it is a file, not a folder',
    ws({ regfile: 'not a folder' }),
    ['register', '--registry', 'local:regfile', '--quiet'],
  ),
  cli(
    'registry/list-path-is-a-regular-file',
    'modelgate: local registry {{WS}}/regfile: cannot list corpus: it is a file, not a folder',
    ws({ regfile: 'not a folder' }),
    ['registry', 'list', '--registry', 'local:regfile'],
  ),
  cli(
    'registry/path-under-a-regular-file',
    'modelgate: local registry {{WS}}/regfile/below: cannot register corpus: {{WS}}/regfile is a file, not a folder',
    ws({ regfile: 'not a folder' }),
    ['register', '--registry', 'local:regfile/below', '--quiet'],
  ),
  cli(
    'registry/model-folder-is-a-file',
    'modelgate: local registry {{WS}}/.modelgate/registry: cannot register corpus: {{WS}}/.modelgate/registry/corpus: it is a file, not a folder (EEXIST)',
    ws({ '.modelgate/registry/corpus': 'x' }),
    ['register', '--quiet'],
  ),
  cli('registry/name-invalid', "modelgate: name: 'bad name!' is not a valid model name", ws(), [
    'register',
    '--name',
    'bad name!',
    '--quiet',
  ]),
  cli('registry/version-not-semver', "modelgate: --version: 'one' is not a SemVer version (e.g. 1.4.0)", ws(), [
    'register',
    '--version',
    'one',
    '--quiet',
  ]),
  cli('registry/version-and-bump', 'modelgate: --version and --bump both given: use one', ws(), [
    'register',
    '--version',
    '1.0.0',
    '--bump',
    'major',
    '--quiet',
  ]),
  cli('registry/bump-enum', 'modelgate: --bump: "huge" is not one of auto, major, minor, patch', ws(), [
    'register',
    '--bump',
    'huge',
    '--quiet',
  ]),
  cli('registry/stage-invalid', "modelgate: stage: 'prod!' is not a valid stage name", ws(), ['register', '--stage', 'prod!', '--quiet']),
  cli('registry/label-not-key-value', "modelgate: --label: 'noequals' is not key=value", ws(), [
    'register',
    '--label',
    'noequals',
    '--quiet',
  ]),
  cli('registry/model-missing', 'modelgate: {{WS}}/nope.onnx: model not found', ws(), ['register', '--model', 'nope.onnx', '--quiet']),
  cli('registry/uri-invalid', "modelgate: --registry: 'ftp://example.com/x' is not a registry", ws(), [
    'register',
    '--registry',
    'ftp://example.com/x',
    '--quiet',
  ]),
  cli('registry/evidence-missing', 'modelgate: {{WS}}/nope.json: evidence file cannot be read', ws(), [
    'register',
    '--evidence',
    'nope.json',
    '--quiet',
  ]),
  cli('registry/evidence-not-json', 'modelgate: {{WS}}/data.csv: evidence is not valid JSON', ws(), [
    'register',
    '--evidence',
    'data.csv',
    '--quiet',
  ]),
  cli(
    'registry/evidence-not-a-report',
    'modelgate: {{WS}}/e.json: evidence is not a modelgate report (no schemaVersion/status)',
    ws({ 'e.json': '{"hello": "world"}' }),
    ['register', '--evidence', 'e.json', '--quiet'],
  ),
  cli(
    'registry/evidence-about-another-model',
    `modelgate: {{WS}}/e.json: this report is about model ${OTHER_DIGEST}, not the one being registered`,
    ws({ 'e.json': evidence({ model: { digest: OTHER_DIGEST } }) }),
    ['register', '--evidence', 'e.json', '--quiet'],
  ),
  cli(
    'registry/evidence-schema-version',
    'modelgate: {{WS}}/e.json: schemaVersion: 9.0 is not readable by this version',
    ws({ 'e.json': evidence({ schemaVersion: '9.0' }) }),
    ['register', '--evidence', 'e.json', '--quiet'],
  ),
  cli(
    'registry/evidence-unknown-status',
    "modelgate: {{WS}}/e.json: status: unknown value 'great'",
    ws({ 'e.json': evidence({ status: 'great' }) }),
    ['register', '--evidence', 'e.json', '--quiet'],
  ),
  cli(
    'registry/promote-unknown-version',
    'modelgate: {{WS}}/.modelgate/registry: corpus has no version 9.9.9',
    ws(),
    ['registry', 'promote', '9.9.9', 'staging'],
    { setup: registered },
  ),
  cli(
    'registry/promote-invalid-stage',
    "modelgate: stage: 'bad stage' is not a valid stage name",
    ws(),
    ['registry', 'promote', '1.0.0', 'bad stage'],
    { setup: registered },
  ),
  cli(
    'registry/promote-out-of-order',
    'modelgate: corpus 1.0.0 cannot reach prod: the promotion order dev → staging → prod requires it to have held staging first',
    withManifest(manifest('registry:\n  stages: [dev, staging, prod]\n  promotion: [dev, staging, prod]\n')),
    ['registry', 'promote', '1.0.0', 'prod'],
    { setup: registered },
  ),
  cli(
    'registry/promote-undeclared-stage',
    "modelgate: stage: unknown stage 'qa'; the manifest declares dev, prod",
    withManifest(manifest('registry:\n  stages: [dev, prod]\n')),
    ['registry', 'promote', '1.0.0', 'qa'],
    { setup: registered },
  ),
  cli(
    'registry/show-unknown-version',
    'modelgate: {{WS}}/.modelgate/registry: corpus has no version 9.9.9',
    ws(),
    ['registry', 'show', '9.9.9'],
    { setup: registered },
  ),
  cli(
    'registry/deprecate-unknown-version',
    'modelgate: {{WS}}/.modelgate/registry: corpus has no version 9.9.9',
    ws(),
    ['registry', 'deprecate', '9.9.9'],
    { setup: registered },
  ),
  cli('registry/deprecate-not-semver', "modelgate: version: 'v1' is not a SemVer version", ws(), ['registry', 'deprecate', 'v1'], {
    setup: registered,
  }),
  cli(
    'registry/version-exists-other-digest',
    'modelgate: version 1.0.0 is already registered with digest sha256:7d4d294826ca',
    ws({ 'other.onnx': BASELINE_MODEL }),
    ['register', '--model', 'other.onnx', '--version', '1.0.0', '--quiet'],
    { setup: registered },
  ),
  cli('registry/unknown-verb', "modelgate: unknown registry command 'frob'; use list, show, promote, deprecate", ws(), [
    'registry',
    'frob',
  ]),
  cli('registry/promote-arity', 'modelgate: modelgate registry promote takes 2 arguments; see modelgate registry --help', ws(), [
    'registry',
    'promote',
    '1.0.0',
  ]),
  cli('registry/show-arity', 'modelgate: modelgate registry show takes 1 argument; see modelgate registry --help', ws(), [
    'registry',
    'show',
    '1.0.0',
    'extra',
  ]),
  cli('registry/list-arity', 'modelgate: modelgate registry list takes 0 arguments; see modelgate registry --help', ws(), [
    'registry',
    'list',
    'extra',
  ]),
  cli('registry/list-name-invalid', "modelgate: name: 'a b' is not a valid model name", ws(), ['registry', 'list', '--name', 'a b']),
  cli(
    'registry/versions-is-a-file',
    'modelgate: local registry {{WS}}/.modelgate/registry: cannot list corpus: {{WS}}/.modelgate/registry/corpus/versions: it is a file, not a folder (ENOTDIR)',
    ws({ '.modelgate/registry/corpus/versions': 'x' }),
    ['registry', 'list'],
  ),
  cli('registry/record-not-json', `modelgate: {{WS}}/${RECORD}: unreadable version record (`, ws(), ['registry', 'list'], {
    setup: registeredThen({ [RECORD]: 'garbage' }),
  }),
  cli('registry/stages-not-json', `modelgate: {{WS}}/${STAGES}: unreadable stage history (`, ws(), ['registry', 'list'], {
    setup: registeredThen({ [STAGES]: '{not json' }, async (c) => {
      await registered(c)
      await setupCli('registry', 'promote', '1.0.0', 'staging')(c)
    }),
  }),
]

const deployRows: Row[] = [
  cli('deploy/missing-environment', 'modelgate: --environment is required (e.g. staging)', deployWs(), ['deploy'], {
    setup: registered,
  }),
  cli(
    'deploy/unknown-environment',
    "modelgate: --environment: unknown environment 'prdo'; modelgate.yml declares staging, prod,",
    deployWs(),
    ['deploy', '--environment', 'prdo'],
    { setup: registered },
  ),
  cli('deploy/nothing-registered', 'modelgate: {{WS}}/registry: corpus has no versions', deployWs(), [
    'deploy',
    '--environment',
    'staging',
  ]),
  cli(
    'deploy/version-not-registered',
    'modelgate: {{WS}}/registry: corpus has no version 9.9.9',
    deployWs(),
    ['deploy', '--environment', 'staging', '--version', '9.9.9'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/stage-not-held',
    'modelgate: {{WS}}/registry: no version of corpus holds stage nostage',
    deployWs(),
    ['deploy', '--environment', 'staging', '--stage', 'nostage'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/version-and-stage',
    'modelgate: --version and --stage both given: deploy one or the other',
    deployWs(),
    ['deploy', '--environment', 'staging', '--version', '1.0.0', '--stage', 'staging'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/requires-evidence-missing',
    'modelgate: corpus 1.0.0 cannot be deployed to prod: it has no validate-model report as evidence',
    deployWs(),
    ['deploy', '--environment', 'prod', '--version', '1.0.0'],
    { setup: registered },
  ),
  cli(
    'deploy/canary-steps-decreasing',
    'modelgate: --canary-steps: steps must increase (50, 10)',
    deployWs(),
    ['deploy', '--environment', 'staging', '--canary-steps', '50,10'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/canary-steps-text',
    "modelgate: --canary-steps: 'abc' is not a percentage from 1 to 100",
    deployWs(),
    ['deploy', '--environment', 'staging', '--canary-steps', 'abc'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/canary-steps-zero',
    "modelgate: --canary-steps: '0' is not a percentage from 1 to 100",
    deployWs(),
    ['deploy', '--environment', 'staging', '--canary-steps', '0'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/timeout-text',
    "modelgate: --timeout: 'abc' is not a non-negative number",
    deployWs(),
    ['deploy', '--environment', 'staging', '--timeout', 'abc'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/timeout-negative',
    "modelgate: --timeout: '-5' is not a non-negative number",
    deployWs(),
    ['deploy', '--environment', 'staging', '--timeout=-5'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/max-error-rate-above-one',
    'modelgate: --max-error-rate: a share from 0 to 1',
    deployWs(),
    ['deploy', '--environment', 'staging', '--max-error-rate', '2'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/p95-text',
    "modelgate: --p95-latency-ms: 'x' is not a non-negative number",
    deployWs(),
    ['deploy', '--environment', 'staging', '--p95-latency-ms', 'x'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/target-enum',
    'modelgate: --target: "moon" is not one of local, kserve, webhook, command',
    deployWs(),
    ['deploy', '--environment', 'staging', '--target', 'moon'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/webhook-secret-unset',
    'modelgate: the webhook target signs with the secret in $CORPUS_UNSET_WEBHOOK_SECRET, which is not set',
    deployWs(),
    ['deploy', '--environment', 'signed'],
    {
      setup: registered,
    },
  ),
  cli('deploy/registry-outside', `modelgate: --registry: {{OUTSIDE}}/registry ${OUTSIDE_NOTE}`, deployWs(), [
    'deploy',
    '--environment',
    'staging',
    '--registry',
    'local:{{OUTSIDE}}/registry',
  ]),
  cli(
    'deploy/webhook-without-url',
    'modelgate: deploy.environments.hook.webhook: the webhook target needs url (and status-url)',
    deployWs(),
    ['deploy', '--environment', 'hook'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/command-without-script',
    'modelgate: deploy.environments.no-script.command: the command target needs the argv of your deploy script',
    deployWs(),
    ['deploy', '--environment', 'no-script'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/requires-stage-not-held',
    'modelgate: corpus 1.0.0 cannot be deployed to after-staging: it has never held stage staging',
    deployWs(),
    ['deploy', '--environment', 'after-staging', '--version', '1.0.0'],
    { setup: registered },
  ),
  cli(
    'deploy/report-outside',
    `modelgate: --report: {{OUTSIDE}}/deploy.json ${OUTSIDE_NOTE}`,
    deployWs(),
    ['deploy', '--environment', 'staging', '--report', '{{OUTSIDE}}/deploy.json'],
    {
      setup: registered,
    },
  ),
  cli(
    'deploy/dry-run-unknown-version',
    'modelgate: {{WS}}/registry: corpus has no version 9.9.9',
    deployWs(),
    ['deploy', '--environment', 'staging', '--version', '9.9.9', '--dry-run'],
    {
      setup: registered,
    },
  ),
]

const actionRows: Row[] = [
  act('action/validate-comment-not-boolean', 'validate-model', 'input comment: "maybe" is not true or false', ws(), { comment: 'maybe' }),
  act('action/validate-allow-outside-not-boolean', 'validate-model', 'input allow-outside-workspace: "yes?" is not true or false', ws(), {
    'allow-outside-workspace': 'yes?',
  }),
  act('action/validate-fail-on-enum', 'validate-model', 'input fail-on: "sometimes" is not one of fail, warn, never', ws(), {
    'fail-on': 'sometimes',
  }),
  act('action/validate-runner-enum', 'validate-model', 'input runner: "onx" is not one of onnx, command, http, predictions', ws(), {
    runner: 'onx',
  }),
  act('action/validate-batch-size-zero', 'validate-model', 'input batch-size: "0" is not a positive whole number', ws(), {
    'batch-size': '0',
  }),
  act('action/validate-threshold-syntax', 'validate-model', 'input thresholds, line 1: cannot read gate "accuracy is high"', ws(), {
    thresholds: 'accuracy is high',
  }),
  act('action/validate-missing-data', 'validate-model', 'nope.csv: file not found', ws(), { data: 'nope.csv' }),
  act(
    'action/validate-bad-manifest',
    'validate-model',
    'modelgate.yml: invalid manifest: batch-size (line 6',
    withManifest(manifest('batch-size: lots\n')),
    {},
  ),
  act(
    'action/validate-error-junit-only',
    'validate-model',
    'nope.csv: file not found',
    ws(),
    { data: 'nope.csv', 'junit-path': 'junit.xml' },
    { allowNew: ['junit.xml'] },
  ),
  act('action/robustness-rows-zero', 'test-robustness', 'input rows: "0" is not valid:', ws(), { rows: '0' }),
  act('action/robustness-seed-negative', 'test-robustness', 'input seed: "-1" is not valid:', ws(), { seed: '-1' }),
  act('action/robustness-time-budget-negative', 'test-robustness', 'input time-budget: "-5" is not valid:', ws(), { 'time-budget': '-5' }),
  act('action/robustness-comment-not-boolean', 'test-robustness', 'input comment: "maybe" is not true or false', ws(), {
    comment: 'maybe',
  }),
  act('action/robustness-report-over-data', 'test-robustness', 'input report-path {{WS}}/data.csv: is the data set', ws(), {
    'report-path': 'data.csv',
  }),
  act('action/register-stage-invalid', 'register-version', "stage: 'prod!' is not a valid stage name", ws(), {
    model: 'model.onnx',
    stage: 'prod!',
  }),
  act('action/register-version-not-semver', 'register-version', "input version: 'one' is not a SemVer version", ws(), {
    model: 'model.onnx',
    version: 'one',
  }),
  act('action/register-version-and-bump', 'register-version', 'input version and input bump both given', ws(), {
    model: 'model.onnx',
    version: '1.0.0',
    bump: 'major',
  }),
  act('action/register-not-a-registry', 'register-version', "registry: 'ftp://example.com/x' is not a registry", ws(), {
    model: 'model.onnx',
    registry: 'ftp://example.com/x',
  }),
  act('action/register-missing-model', 'register-version', 'missing.onnx: model not found', ws(), { model: 'missing.onnx' }),
  act('action/register-evidence-unreadable', 'register-version', 'nope.json: evidence file cannot be read', ws(), {
    model: 'model.onnx',
    evidence: 'nope.json',
  }),
  act('action/register-allow-outside-not-boolean', 'register-version', 'input allow-outside-workspace: "yes?" is not true or false', ws(), {
    'allow-outside-workspace': 'yes?',
  }),
  act('action/register-report-over-model', 'register-version', 'input report-path {{WS}}/model.onnx: is the model', ws(), {
    model: 'model.onnx',
    'report-path': 'model.onnx',
  }),
  act(
    'action/deploy-canary-decreasing',
    'deploy-model',
    'input canary-steps: steps must increase (50, 10)',
    deployWs(),
    { environment: 'staging', 'canary-steps': '50,10' },
    {
      setup: registered,
    },
  ),
  act(
    'action/deploy-missing-environment',
    'deploy-model',
    'input environment is required (e.g. staging)',
    deployWs(),
    {},
    { setup: registered },
  ),
  act(
    'action/deploy-dry-run-not-boolean',
    'deploy-model',
    'input dry-run: "maybe" is not true or false',
    deployWs(),
    { environment: 'staging', 'dry-run': 'maybe' },
    {
      setup: registered,
    },
  ),
  act(
    'action/deploy-deployment-not-boolean',
    'deploy-model',
    'input deployment: "maybe" is not true or false',
    deployWs(),
    { environment: 'staging', deployment: 'maybe' },
    {
      setup: registered,
    },
  ),
  act(
    'action/deploy-timeout-negative',
    'deploy-model',
    "input timeout: '-5' is not a non-negative number",
    deployWs(),
    { environment: 'staging', timeout: '-5' },
    {
      setup: registered,
    },
  ),
  act(
    'action/deploy-unknown-environment',
    'deploy-model',
    "input environment: unknown environment 'prdo'",
    deployWs(),
    { environment: 'prdo' },
    { setup: registered },
  ),
  act('action/pipeline-stages-unknown', '.', "input stages: unknown stage 'teleport'; use validate, robustness, register, deploy", ws(), {
    stages: 'validate,teleport',
  }),
  act('action/pipeline-stages-out-of-order', '.', "input stages: 'deploy,register' is out of order", ws(), { stages: 'deploy,register' }),
  act(
    'action/pipeline-deploy-without-environment',
    '.',
    'input environment is required when stages include deploy (e.g. environment: staging); no stage was run',
    ws(),
    {
      stages: 'validate,deploy',
    },
  ),
  act(
    'action/deploy-version-not-semver',
    'deploy-model',
    "input version: 'one' is not a SemVer version (e.g. 1.4.0)",
    deployWs(),
    { environment: 'staging', version: 'one' },
    { setup: registered },
  ),
  act(
    'action/deploy-target-enum',
    'deploy-model',
    'input target: "moon" is not one of local, kserve, webhook, command',
    deployWs(),
    { environment: 'staging', target: 'moon' },
    { setup: registered },
  ),
  act(
    'action/deploy-max-error-rate-above-one',
    'deploy-model',
    'input max-error-rate: a share from 0 to 1',
    deployWs(),
    { environment: 'staging', 'max-error-rate': '2' },
    { setup: registered },
  ),
  act(
    'action/deploy-report-over-manifest',
    'deploy-model',
    'input report-path {{WS}}/modelgate.yml: is the manifest, which this run reads',
    deployWs(),
    { environment: 'staging', 'report-path': 'modelgate.yml' },
    { setup: registered },
  ),
  act('action/register-name-invalid', 'register-version', "name: 'bad name!' is not a valid model name", ws(), {
    model: 'model.onnx',
    name: 'bad name!',
  }),
  act('action/register-labels-not-key-value', 'register-version', "input labels: 'noequals' is not key=value", ws(), {
    model: 'model.onnx',
    labels: 'team=ml\nnoequals',
  }),
  act('action/robustness-missing-model', 'test-robustness', 'cannot read ONNX model nope.onnx: file not found', ws(), {
    model: 'nope.onnx',
  }),
  act('action/pipeline-stages-twice', '.', "input stages: 'validate' is listed twice", ws(), { stages: 'validate,validate' }),
]

/** Every row the bundle handles as the issue asks, by kind. */
export const KINDS: Record<string, Row[]> = {
  manifest: manifestRows,
  flags: flagRows,
  data: dataRows,
  model: modelRows,
  outputs: outputRows,
  confinement: confinementRows,
  secrets: secretRows,
  injection: injectionRows,
  registry: registryRows,
  deploy: deployRows,
  action: actionRows,
}

/**
 * Rows written as the bundle should behave, which it does not yet: skipped by the test (not weakened), each
 * with what happens today and where the fix belongs. Move a row back into its kind when its fix lands.
 */
/**
 * Rows the bundle got wrong when the corpus was written, each with its `gap` note (what happened then,
 * where the fix belonged). All are fixed: they run with their kinds, and the notes stay as the record of
 * what each row guards against. A new gap goes into KNOWN_GAPS below until its fix lands.
 */
const FIXED_GAPS: Row[] = [
  validate(
    'model/command-exits-1',
    /^modelgate: model command `\S+ -e 'process\.exit\(1\)'` exited with code 1 before it was ready/,
    withManifest(manifest('', { model: '{runner: command, command: ["{{NODE}}", -e, "process.exit(1)"]}' })),
    [],
    {
      gap: 'two lines: "(its stderr was empty)" is printed on a line of its own after the modelgate: line (a child\'s stderr, when it has one, follows on more lines); fold it into the one line and quote a short, escaped excerpt of the stderr instead (src/core/runners/command.ts)',
    },
  ),
  validate(
    'model/command-prints-garbage',
    /^modelgate: model command `.+` protocol error: printed a line on stdout that is not a protocol message .*"garbage"/,
    withManifest(
      manifest('', { model: `{runner: command, command: ["{{NODE}}", -e, "console.log('garbage'); setInterval(() => {}, 1000)"]}` }),
    ),
    [],
    {
      gap: 'two lines, as for model/command-exits-1: "(its stderr was empty)" follows the message on its own line (src/core/runners/command.ts)',
    },
  ),
  // A negative number after a space is what people type; Node's parseArgs takes it for an option.
  cli(
    'flags/negative-number-after-a-space',
    'modelgate: --seed: "-1" is not valid:',
    ws(),
    ['robustness', '--report', 'rob.json', '--seed', '-1'],
    {
      mustNotExist: ['rob.json'],
      gap: "three lines: Node's \"Option '--seed' argument is ambiguous. / Did you forget to specify the option argument for '--seed'? / To specify an option argument starting with a dash use '--seed=-XYZ'.\" is printed as the message; take a value that parses as a number (or say it in one line) in parseCommand (src/cli/args.ts)",
    },
  ),
  cli(
    'deploy/timeout-negative-after-a-space',
    "modelgate: --timeout: '-5' is not a non-negative number",
    deployWs(),
    ['deploy', '--environment', 'staging', '--timeout', '-5'],
    {
      setup: registered,
      gap: 'three lines (Node\'s "argument is ambiguous" text), as for flags/negative-number-after-a-space (src/cli/args.ts)',
    },
  ),
  validate(
    'flags/duplicate-feature',
    'modelgate: --features: "mean_radius" is listed twice',
    ws(),
    ['--features', FEATURES.map((f) => (f === 'mean_texture' ? 'mean_radius' : f)).join(',')],
    {
      gap: 'exit 0: the model is scored with mean_radius fed twice and mean_texture never read, silently; refuse a feature listed twice (flag and manifest key features) in resolveSettings (src/core/settings.ts)',
    },
  ),
  validate(
    'flags/label-as-feature',
    'modelgate: --features: "target" is the label;',
    ws(),
    ['--features', FEATURES.map((f) => (f === 'mean_texture' ? 'target' : f)).join(',')],
    {
      gap: 'exit 0: the label is fed to the model as a feature (label leakage), silently; refuse the label (and the id column) among the features in resolveSettings (src/core/settings.ts)',
    },
  ),
  validate(
    'data/nan-feature-in-one-row',
    /^modelgate: data\.csv: data row 3: the model's output "probabilities" gives probability NaN .*mean_texture/,
    ws({ 'data.csv': csvWithCell(3, 'mean_texture', 'NaN') }),
    [],
    {
      gap: 'the message names the row and the output but not the feature: "data.csv: data row 3: the model\'s output "probabilities" gives probability NaN for class 1 of 2, …"; name the row\'s missing/NaN features, as the note does for a feature empty in every row (src/core/validate/run.ts, where the note is added, and src/core/validate/probabilities.ts)',
    },
  ),
  validate(
    'secrets/header-env-var-not-set',
    'modelgate: modelgate.yml: model.headers.X-Api-Key: $CORPUS_UNSET_TOKEN is not set (or empty) in the environment',
    withManifest(httpManifest(INFER, ['X-Api-Key: ${CORPUS_UNSET_TOKEN}'])),
    [],
    {
      gap: "an unset (or misspelt) variable becomes an empty header value and the request is sent: the run fails later with the server's 401, which does not say why; refuse it before any request in expandHeaders (src/core/settings.ts)",
    },
  ),
  cli(
    'deploy/environment-not-a-name',
    "modelgate: --environment: '../../escape' is not a valid environment name",
    ws(),
    ['deploy', '--environment', '../../escape', '--dry-run'],
    {
      setup: registered,
      gap: 'refused, but as "deploy.environments.../../escape.stage: \'../../escape\' is not a valid stage name", a manifest key the user never wrote (the manifest has no deploy key); check --environment / input environment against the stage-name grammar first, in resolveDeploySettings (src/core/deploy/settings.ts)',
    },
  ),
  cli(
    'deploy/command-not-found',
    'modelgate: modelgate.yml: deploy.environments.missing-script.command: corpus-no-such-deployer is not a program on PATH',
    deployWs(),
    ['deploy', '--environment', 'missing-script'],
    {
      setup: registered,
      gap: 'exit 2, but the artifact is fetched first and left behind (.modelgate/artifacts/corpus/artifacts/1.0.0/model.onnx), and the message ("command target: command corpus-no-such-deployer is not a program on PATH") names neither the manifest nor the key; check the programs before fetching, or fetch into a scratch folder removed on failure (src/core/deploy/run.ts, src/core/deploy/targets/command.ts)',
    },
  ),
  cli(
    'deploy/ready-command-not-found',
    'modelgate: modelgate.yml: deploy.environments.missing-probe.ready-command: corpus-no-such-probe is not a program on PATH',
    deployWs(),
    ['deploy', '--environment', 'missing-probe'],
    {
      setup: registered,
      gap: 'as deploy/command-not-found: the artifact is left in .modelgate/artifacts, and the message says "command target: readyCommand corpus-no-such-probe is not a program on PATH", an internal name for the key ready-command (src/core/deploy/targets/command.ts, src/core/deploy/run.ts)',
    },
  ),
  cli(
    'confinement/init-data-outside',
    `modelgate: --data: {{OUTSIDE}}/data.csv ${OUTSIDE_NOTE}`,
    { 'model.onnx': MODEL },
    ['init', '--model', 'model.onnx', '--data', '{{OUTSIDE}}/data.csv', '--label', 'target'],
    {
      outside: { 'data.csv': BC_TEXT },
      mustNotExist: ['modelgate.yml'],
      gap: 'refused, but the CLI names the flag as the action would: "input data: … is outside the workspace"; init should label its options --data, --model (src/cli/init.ts, the OptionSource it passes)',
    },
  ),
  act(
    'action/pipeline-comment-not-boolean',
    '.',
    'input comment: "maybe" is not true or false',
    ws(),
    { comment: 'maybe' },
    {
      gap: 'the ::error says only "modelgate: the validate stage could not run (invalid input)"; the cause is a ::warning ("validate: input comment: …"). The pipeline should check its common inputs before any stage, and put a stage\'s invalid-input message in the ::error (src/actions/pipeline/main.ts, stageIO.setFailed and the code === 2 branch)',
    },
  ),
  act(
    'action/pipeline-allow-outside-not-boolean',
    '.',
    'input allow-outside-workspace: "yes?" is not true or false',
    ws(),
    { 'allow-outside-workspace': 'yes?' },
    {
      gap: 'as action/pipeline-comment-not-boolean: the ::error does not name the input (src/actions/pipeline/main.ts)',
    },
  ),
  act(
    'action/pipeline-config-outside',
    '.',
    `input config: {{OUTSIDE}}/modelgate.yml ${OUTSIDE_NOTE}`,
    ws(),
    { config: '{{OUTSIDE}}/modelgate.yml' },
    {
      outside: { 'modelgate.yml': manifest() },
      gap: 'as action/pipeline-comment-not-boolean: refused, but the ::error does not name the input or the path; the reason is a ::warning (src/actions/pipeline/main.ts)',
    },
  ),
  validate(
    'data/jsonl-deep-nesting',
    /^modelgate: data\.jsonl: .*mean_texture/,
    ws({ 'data.jsonl': () => jsonl(2, 'mean_texture', `${'['.repeat(100_000)}${']'.repeat(100_000)}`) }),
    flags('data.jsonl'),
    {
      gap: 'crash: exit 1, "modelgate: internal error: Maximum call stack size exceeded" and a RangeError stack (Array.join/Array.toString): a 100 000-deep array as a cell value is stringified recursively; describe a non-scalar JSON value without String() (say "an array where the model expects float numbers", with an excerpt) (src/core/data/jsonl.ts and where cells are described, src/core/data/files.ts excerpt)',
    },
  ),
  cli(
    'registry/show-stage-nobody-holds',
    'modelgate: {{WS}}/.modelgate/registry: no version of corpus holds stage prod',
    ws(),
    ['registry', 'show', 'prod'],
    {
      setup: registered,
      gap: 'refused as "version: \'prod\' is not a SemVer version (e.g. 1.4.0)", though show takes <version|stage> and `show staging` works once staging is held; say that no version holds the stage, as deploy --stage does (src/cli/registry.ts)',
    },
  ),
  act(
    'action/pipeline-report-dir-is-a-file',
    '.',
    'input report-dir: reports',
    ws({ reports: 'a file' }),
    { 'report-dir': 'reports' },
    {
      mustNotExist: ['reports/validate.json'],
      gap: 'the ::error is "the validate stage could not run (invalid input)"; the cause, a ::warning, names "input report-path …/reports/validate.json", an input the workflow did not set, not report-dir (src/actions/pipeline/main.ts)',
    },
  ),
  act(
    'action/pipeline-report-dir-outside',
    '.',
    `input report-dir: {{OUTSIDE}}/reports ${OUTSIDE_NOTE}`,
    ws(),
    { 'report-dir': '{{OUTSIDE}}/reports' },
    {
      mustNotExist: ['../outside/reports'],
      gap: 'as action/pipeline-report-dir-is-a-file: the ::error does not name the input; the ::warning says "input report-path: …/outside/reports/validate.json is outside the workspace" (src/actions/pipeline/main.ts)',
    },
  ),
  // Hand-edited or damaged registries: every read must refuse a record it cannot use, naming the file.
  cli('registry/record-not-a-record', `{{WS}}/${RECORD}: `, ws(), ['registry', 'list'], {
    setup: registeredThen({ [RECORD]: '{}' }),
    gap: "crash: exit 1, \"internal error: Cannot read properties of undefined (reading 'slice')\" and a stack (renderVersionList): a record.json that is JSON but not a version record is used as one; check the record's shape where it is read and name the file (src/core/registry/backends/local.ts, the record reader)",
  }),
  cli('registry/stages-not-an-object', `{{WS}}/${STAGES}: `, ws(), ['registry', 'list'], {
    setup: registeredThen({ [STAGES]: '[]' }),
    gap: 'crash: exit 1, "internal error: e is not iterable" and a stack (stageState): a stages.json that is JSON but not a stage history; check its shape where it is read (src/core/registry/backends/local.ts)',
  }),
  cli(
    'deploy/record-not-a-record',
    `{{WS}}/registry/corpus/versions/1.0.0/record.json: `,
    deployWs(),
    ['deploy', '--environment', 'staging', '--dry-run'],
    {
      setup: registeredThen({ 'registry/corpus/versions/1.0.0/record.json': '{}' }, registered),
      gap: 'crash: exit 1, after printing "corpus undefined (undefined) → staging …": "internal error: Cannot read properties of undefined (reading \'includes\')" and a stack; as registry/record-not-a-record (src/core/registry/backends/local.ts)',
    },
  ),
  // Outputs over the registry the run reads and writes: a report there destroys a version's record or card.
  cli(
    'outputs/deploy-report-over-registry-record',
    'modelgate: --report {{WS}}/registry/corpus/versions/1.0.0/record.json: ',
    deployWs(),
    ['deploy', '--environment', 'staging', '--dry-run', '--report', 'registry/corpus/versions/1.0.0/record.json'],
    {
      setup: registered,
      gap: 'data loss: exit 0, the dry run writes its result over the version record, and every later registry list or deploy then crashes (registry/record-not-a-record); checkDeployOutput checks the manifest only: refuse outputs inside a local registry folder (src/core/deploy/settings.ts)',
    },
  ),
  cli(
    'outputs/register-report-inside-registry',
    'modelgate: --report {{WS}}/.modelgate/registry/corpus/versions/1.0.0/MODEL_CARD.md: ',
    ws({ 'other.onnx': BASELINE_MODEL }),
    ['register', '--model', 'other.onnx', '--report', '.modelgate/registry/corpus/versions/1.0.0/MODEL_CARD.md', '--quiet'],
    {
      setup: registered,
      gap: "data loss: exit 0, version 1.0.0's model card is overwritten by the result JSON of registering 1.0.1; refuse outputs inside the local registry folder (src/cli/registry.ts, its output check, and the register-version action)",
    },
  ),
  // A server.json is a file in the workspace, which a pull request can write: its pid must not be trusted.
  cli('deploy/serve-stop-foreign-pid', /server\.json/, { 'env/state.json': '{}' }, ['serve', '--stop', '--state', 'env/state.json'], {
    setup: foreignServerInfo,
    after: victimAlive,
    gap: 'exit 0, "stopped …": serve --stop sends SIGTERM to whatever pid server.json names once anything answers /v2/health/live at its url (here a process that is no server); check that the server at the url is that process (e.g. it reports its pid or a token from the info file) before signalling, and refuse otherwise (src/cli/serve.ts, stopServer)',
  }),
  cli(
    'deploy/serve-stop-info-not-json',
    'modelgate: {{WS}}/env/server.json: ',
    { 'env/state.json': '{}', 'env/server.json': 'garbage\n' },
    ['serve', '--stop', '--state', 'env/state.json'],
    {
      gap: 'exit 0 and "modelgate serve: no server is running (…/server.json not found)" for a server.json that exists but is not JSON (or has no pid/url: "the server at undefined was not running"); say what is wrong with the file (src/cli/serve.ts, stopServer)',
    },
  ),
  // JSON.parse's message quotes the first characters of the text as they are, a newline included.
  cli(
    'registry/evidence-short-not-json',
    'modelgate: {{WS}}/e.json: evidence is not valid JSON (line 1, column 1)',
    ws({ 'e.json': 'oops\n' }),
    ['register', '--evidence', 'e.json', '--quiet'],
    {
      gap: 'two lines: the message ends "…(Unexpected token \'o\', "oops" then a line break and "" is not valid JSON)": the excerpt V8 puts in a JSON.parse error is quoted raw; escape control characters in such messages (where JSON.parse errors are wrapped: src/core/registry/evidence.ts, src/core/registry/backends/local.ts, the deploy state reader; or once, in errorText, src/core/errors.ts)',
    },
  ),
  // A refused deploy that fetched the artifact before refusing.
  cli(
    'deploy/state-not-json',
    'modelgate: {{WS}}/.modelgate/environments/corpus/staging/state.json: the environment state is not valid JSON',
    deployWs(),
    ['deploy', '--environment', 'staging', '--dry-run'],
    {
      setup: registeredThen({ '.modelgate/environments/corpus/staging/state.json': 'garbage' }, registered),
      gap: 'exit 2 with the right message, but the artifact was fetched first and is left behind (.modelgate/artifacts/corpus/artifacts/1.0.0/model.onnx): a refused deploy must change nothing; read and check the environment state before fetching, or fetch into a scratch folder removed on failure (src/core/deploy/run.ts)',
    },
  ),
  cli(
    'deploy/state-invalid',
    'modelgate: {{WS}}/.modelgate/environments/corpus/staging/state.json: invalid environment state: schemaVersion: expected "1.0"',
    deployWs(),
    ['deploy', '--environment', 'staging', '--dry-run'],
    {
      setup: registeredThen({ '.modelgate/environments/corpus/staging/state.json': '{}' }, registered),
      gap: 'exit 2 with the right message, but the artifact was fetched first and is left behind (.modelgate/artifacts/corpus/artifacts/1.0.0/model.onnx): a refused deploy must change nothing; read and check the environment state before fetching, or fetch into a scratch folder removed on failure (src/core/deploy/run.ts)',
    },
  ),
  cli(
    'deploy/state-an-array',
    'modelgate: {{WS}}/.modelgate/environments/corpus/staging/state.json: invalid environment state: (top level): expected object, received array',
    deployWs(),
    ['deploy', '--environment', 'staging', '--dry-run'],
    {
      setup: registeredThen({ '.modelgate/environments/corpus/staging/state.json': '[]' }, registered),
      gap: 'exit 2 with the right message, but the artifact was fetched first and is left behind (.modelgate/artifacts/corpus/artifacts/1.0.0/model.onnx): a refused deploy must change nothing; read and check the environment state before fetching, or fetch into a scratch folder removed on failure (src/core/deploy/run.ts)',
    },
  ),
  // A file holding a token, given where a report is expected: V8's JSON.parse error quotes its first 10 characters.
  act(
    'secrets/evidence-file-holding-the-token',
    'register-version',
    'e.json: evidence is not valid JSON',
    ws({ 'e.json': GITHUB_CANARY }),
    { model: 'model.onnx', evidence: 'e.json' },
    {
      secret: GITHUB_CANARY.slice(0, 10),
      gap: 'the ::error quotes the first 10 characters of the file ("Unexpected token \'g\', "ghs_corpus"... is not valid JSON"), past the mask, which hides only the whole token; say where the JSON breaks (line, column) without quoting the text (src/core/registry/evidence.ts, and the other JSON.parse wrappers: baseline report, contract, deploy state, registry records)',
    },
  ),
]

for (const row of FIXED_GAPS) KINDS[row.id.split('/')[0]!]!.push(row)

export const KNOWN_GAPS: Row[] = []
