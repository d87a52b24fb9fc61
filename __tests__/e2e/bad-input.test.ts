/**
 * `modelgate validate` on invalid input, through runCli: exit code 2, one line naming the file and the
 * field or column, no stack trace, and no report file. Each case builds its inputs in a fresh directory.
 */
import { describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { outside } from '../helpers/workspace.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { BC40, BC_HEADER, BC_LINES, csvWithCell } from '../helpers/bc40.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const MODELS = path.join(ROOT, '__tests__/fixtures/models')
const MODEL = path.join(ROOT, 'examples/breast-cancer/model.onnx')
const FEATURES = BC_HEADER.filter((h) => h !== 'target')
const GATE_SYNTAX =
  'expected `<metric> <op> <number>` or `<metric> <op> baseline [+|- <number>[%]]`, optionally followed by `warn` or `fail`; op is one of >=, >, <=, <, =='

interface Case {
  dir: string
  report: string
  /** Writes `name` into the case's directory and returns its absolute path. */
  file: (name: string, text: string) => string
}

function newCase(): Case {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-e2e-bad-'))
  return {
    dir,
    report: path.join(dir, 'report.json'),
    file: (name, text) => {
      const p = path.join(dir, name)
      writeFileSync(p, text)
      return p
    },
  }
}

/** A manifest over the example model and the 40-row slice, with `extra` lines appended (from line 6 on). */
function manifest(extra = ''): string {
  return [`name: bad`, `model: ${MODEL}`, `features: [${FEATURES.join(', ')}]`, `label: target`, `data: ${BC40}`].join('\n') + '\n' + extra
}

/** Flags that score the example model on `data` (the slice by default). */
function flags(data = BC40): string[] {
  return ['--model', MODEL, '--data', data, '--label', 'target', '--features', FEATURES.join(',')]
}

/** Runs `validate --report <case>/report.json …args` in the case's directory. */
async function run(c: Case, args: string[]) {
  const err: string[] = []
  const code = await runCli(outside(['validate', '--report', c.report, ...args]), {
    stdout: () => {},
    stderr: (t) => err.push(t),
    cwd: c.dir,
  })
  const stderr = err.join('\n')
  // Progress lines come first; the error is everything from its `modelgate: ` line on.
  const lines = stderr.split('\n')
  const at = lines.findIndex((l) => l.startsWith('modelgate: '))
  return { code, stderr, error: at < 0 ? '' : lines.slice(at).join('\n') }
}

type Run = Awaited<ReturnType<typeof run>>

/** Exit 2, exactly this one-line message, no stack trace, no report. */
function expectRejected(c: Case, r: Run, message: string | RegExp): void {
  expect(r.stderr).not.toMatch(/^\s+at /m)
  expect(r.stderr).not.toContain('internal error')
  if (typeof message === 'string') expect(r.error).toBe(message)
  else expect(r.error).toMatch(message)
  expect(r.error).not.toContain('\n')
  expect(r.code).toBe(2)
  expect(existsSync(c.report)).toBe(false)
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

describe('bad manifests', () => {
  it('malformed YAML: the line and column of the problem', async () => {
    const c = newCase()
    c.file('modelgate.yml', 'name: bad\nmodel: [unclosed\nfeatures: [a]\n')
    expectRejected(
      c,
      await run(c, []),
      /^modelgate: modelgate\.yml:3:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a \]$/,
    )
  })

  it('a key of the wrong type', async () => {
    const c = newCase()
    c.file('modelgate.yml', manifest('batch-size: lots\n'))
    expectRejected(
      c,
      await run(c, ['--config', 'modelgate.yml']),
      'modelgate: modelgate.yml: invalid manifest: batch-size (line 6, expected number, received string)',
    )
  })

  it('a nested key of the wrong type', async () => {
    const c = newCase()
    c.file('modelgate.yml', manifest('reference-predictions:\n  path: reference.csv\n  tolerance: tight\n'))
    expectRejected(
      c,
      await run(c, []),
      'modelgate: modelgate.yml: invalid manifest: reference-predictions.tolerance (line 8, expected number, received string)',
    )
  })

  it('an unknown key, pointed at by its own name and line', async () => {
    const c = newCase()
    c.file('modelgate.yml', manifest('thresholdz: [accuracy >= 0.9]\n'))
    expectRejected(c, await run(c, []), 'modelgate: modelgate.yml: invalid manifest: thresholdz (line 6, unknown key(s): thresholdz)')
  })

  it('a gate line that cannot be read', async () => {
    const c = newCase()
    c.file('modelgate.yml', manifest('thresholds:\n  - accuracy >= 0.9\n  - accuracy >>= 0.9\n'))
    expectRejected(
      c,
      await run(c, []),
      `modelgate: modelgate.yml: invalid manifest: thresholds[1] (line 8, cannot read gate "accuracy >>= 0.9": ${GATE_SYNTAX})`,
    )
  })

  it('a --threshold that cannot be read', async () => {
    const c = newCase()
    expectRejected(
      c,
      await run(c, [...flags(), '--threshold', 'accuracy >= 0.9', '--threshold', 'accuracy is high']),
      `modelgate: --threshold, line 2: cannot read gate "accuracy is high": ${GATE_SYNTAX}`,
    )
  })

  it('an unknown metric in a gate', async () => {
    const c = newCase()
    c.file('modelgate.yml', manifest('thresholds: [acuracy >= 0.9]\n'))
    expectRejected(
      c,
      await run(c, []),
      // Found before scoring, when the task is not known yet: each task's metrics are listed.
      /^modelgate: modelgate\.yml: thresholds: "acuracy >= 0\.9": unknown metric "acuracy"; known: binary: accuracy, balanced_accuracy, precision, recall, f1, mcc, roc_auc, average_precision, log_loss, brier, ece, mce; multiclass: [a-z0-9_, ]+; regression: [a-z0-9_, ]+; any task: latency_p50_ms(, [a-z0-9_]+)*$/,
    )
  })

  // A metric the message offers must be one a gate can use.
  it('every metric the unknown-metric message lists is computed', async () => {
    const c = newCase()
    const r = await run(c, [...flags(), '--threshold', 'acuracy >= 0.9'])
    const known = [
      ...r.error
        .replace(/^.*; known: binary: /, '')
        .split('; ')[0]
        .split(', '),
      ...r.error.replace(/^.*; any task: /, '').split(', '),
    ]
    const ok = await runCli(outside(['validate', ...flags(), '--json']), {
      stdout: (t) => writeFileSync(c.report, t),
      stderr: () => {},
      cwd: c.dir,
    })
    expect(ok).toBe(0)
    const result = JSON.parse(readFileSync(c.report, 'utf8')) as ValidationResult
    expect(known.filter((m) => !(m in result.metrics))).toEqual([])
  })
})

describe('missing and unreadable files', () => {
  it('a missing data file', async () => {
    const c = newCase()
    expectRejected(c, await run(c, flags('nope.csv')), 'modelgate: nope.csv: file not found')
  })

  it('a missing model file', async () => {
    const c = newCase()
    const args = flags()
    args[1] = 'nope.onnx'
    expectRejected(c, await run(c, args), 'modelgate: cannot read ONNX model nope.onnx: file not found')
  })

  it('a corrupt ONNX file (random bytes)', async () => {
    const c = newCase()
    const args = flags()
    args[1] = path.join(MODELS, 'random-bytes.onnx')
    expectRejected(
      c,
      await run(c, args),
      `modelgate: ${args[1]} is not an ONNX model (protobuf decoding failed: invalid wire type 7 at offset 103)`,
    )
  })

  it('a CSV renamed .onnx', async () => {
    const c = newCase()
    const args = flags()
    args[1] = path.join(MODELS, 'csv-renamed.onnx')
    expectRejected(c, await run(c, args), `modelgate: ${args[1]} is not an ONNX model (protobuf decoding failed: index out of range)`)
  })

  it('a baseline report that is not JSON', async () => {
    const c = newCase()
    c.file('baseline.json', 'PASSED: model\n\nMetrics on bc40 (40 rows)\n')
    expectRejected(
      c,
      await run(c, [...flags(), '--baseline', 'baseline.json']),
      /^modelgate: baseline\.json: the baseline report is not valid JSON \(.+\)$/,
    )
  })
})

describe('bad data', () => {
  const withoutColumn = (drop: string) =>
    BC_LINES.map((l) =>
      l
        .split(',')
        .filter((_, j) => BC_HEADER[j] !== drop)
        .join(','),
    ).join('\n') + '\n'

  it('a data file missing a feature column: names the missing and the present ones', async () => {
    const c = newCase()
    c.file('data.csv', withoutColumn('mean_texture'))
    const present = BC_HEADER.filter((h) => h !== 'mean_texture').join(', ')
    expectRejected(c, await run(c, flags('data.csv')), `modelgate: data.csv: missing column(s) "mean_texture"; the file has: ${present}`)
  })

  it('a data file with a header and no rows', async () => {
    const c = newCase()
    c.file('data.csv', `${BC_LINES[0]}\n`)
    expectRejected(c, await run(c, flags('data.csv')), 'modelgate: data.csv: no data rows (the file has a header or schema but no rows)')
  })

  it('a completely empty data file', async () => {
    const c = newCase()
    c.file('data.csv', '')
    expectRejected(c, await run(c, flags('data.csv')), 'modelgate: data.csv: the file is empty; a header row is required')
  })

  /** The slice with one cell replaced: `row` counts data rows from 1. */
  const withCell = csvWithCell

  it('a non-numeric value in a feature column (ONNX runner)', async () => {
    const c = newCase()
    c.file('data.csv', withCell(5, 'mean_texture', 'n/a'))
    expectRejected(
      c,
      await run(c, flags('data.csv')),
      /^modelgate: data\.csv: column 'mean_texture', data row 5: text value "n\/a" where the model expects float numbers$/,
    )
  })

  // The runner knows the column and row; the message must name the data file that holds the value.
  it('a non-numeric value in a feature column: the message names the data file', async () => {
    const c = newCase()
    c.file('data.csv', withCell(5, 'mean_texture', 'n/a'))
    expect((await run(c, flags('data.csv'))).error).toMatch(/^modelgate: data\.csv\b/)
  })

  it('a label value that is not one of the model’s classes', async () => {
    const c = newCase()
    c.file('data.csv', withCell(7, 'target', '2'))
    expectRejected(
      c,
      await run(c, flags('data.csv')),
      `modelgate: data.csv: target has the value "2", which is not one of the model's classes (0, 1)`,
    )
  })
})

describe('bad flags', () => {
  it('an unknown flag', async () => {
    const c = newCase()
    expectRejected(
      c,
      await run(c, ['--modle', MODEL]),
      /^modelgate: (TypeError \[ERR_PARSE_ARGS_UNKNOWN_OPTION\]: )?Unknown option '--modle'; see modelgate validate --help$/,
    )
  })

  // errorText (src/core/errors.ts) tests `instanceof Error`, which fails for errors from another realm (Node's
  // own errors under jest's VM modules), so the message gains "TypeError [ERR_PARSE_ARGS_UNKNOWN_OPTION]: ".
  it('an unknown flag: the message is Node’s text alone', async () => {
    const c = newCase()
    expect((await run(c, ['--modle', MODEL])).error).toBe("modelgate: Unknown option '--modle'; see modelgate validate --help")
  })

  it('a bad --fail-on value', async () => {
    const c = newCase()
    expectRejected(
      c,
      await run(c, [...flags(), '--fail-on', 'sometimes']),
      'modelgate: --fail-on: "sometimes" is not one of fail, warn, never',
    )
  })

  // Output paths are checked before the run: no stack trace, and no report written beside a JUnit file that cannot be.
  it('an unwritable --junit path: exit 2, a message naming it, and no report', async () => {
    const c = newCase()
    const blocker = c.file('not-a-dir', 'a file where a directory is needed\n')
    expectRejected(
      c,
      await run(c, [...flags(), '--junit', path.join(blocker, 'junit.xml')]),
      new RegExp(`^modelgate: .*${escape(path.join(blocker, 'junit.xml'))}`),
    )
  })
})

describe('predictions files that do not line up with the data', () => {
  const reference = readFileSync(path.join(ROOT, 'examples/breast-cancer/reference-predictions.csv'), 'utf8').trimEnd().split('\n')
  const predictions = (rows: number) => reference.slice(0, rows + 1).join('\n') + '\n'

  it('fewer rows than the data', async () => {
    const c = newCase()
    c.file('preds.csv', predictions(30))
    const args = flags()
    args[1] = 'preds.csv'
    expectRejected(
      c,
      await run(c, args),
      `modelgate: preds.csv: the predictions file has 30 rows but the data has at least 40; it needs exactly one row per data row, in the same order`,
    )
  })

  it('more rows than the data', async () => {
    const c = newCase()
    c.file('preds.csv', predictions(45))
    const args = flags()
    args[1] = 'preds.csv'
    expectRejected(
      c,
      await run(c, args),
      `modelgate: preds.csv: the predictions file has 45 rows but the data has 40; it needs exactly one row per data row, in the same order`,
    )
  })
})

describe('models that cannot be reached', () => {
  const NOT_FOUND = 'no-such-model-server-e2e'
  const commandManifest = () => manifest().replace(`model: ${MODEL}`, `model: {runner: command, command: [${NOT_FOUND}, --serve]}`)
  const notFound = `modelgate: model command \`${NOT_FOUND} --serve\` cannot be started: ${NOT_FOUND} was not found (ENOENT); check the program name and PATH`

  it('a command that does not exist', async () => {
    const c = newCase()
    c.file('modelgate.yml', commandManifest())
    const r = await run(c, [])
    expect(r.stderr).not.toMatch(/^\s+at /m)
    expect(r.error.split('\n')[0]).toBe(notFound)
    expect(r.code).toBe(2)
    expect(existsSync(c.report)).toBe(false)
  })

  // A program that never started has no stderr to show: the message is one line.
  it('a command that does not exist: one line', async () => {
    const c = newCase()
    c.file('modelgate.yml', commandManifest())
    expect((await run(c, [])).error).toBe(notFound)
  })

  it('an http URL where nothing listens', async () => {
    // A port that was just free: bind, note it, close.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const url = `http://127.0.0.1:${port}/v2/models/m/infer`
    const c = newCase()
    c.file('modelgate.yml', manifest().replace(`model: ${MODEL}`, `model:\n  url: ${url}\n  timeout: 2\n  retries: 0`))
    expectRejected(c, await run(c, []), `modelgate: POST ${url}: request failed: connect ECONNREFUSED 127.0.0.1:${port}`)
  })
})
