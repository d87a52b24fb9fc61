/**
 * `modelgate validate` end to end through runCli, one run per runner and task. Every expected number is
 * computed here from the fixture files (or frozen from scikit-learn by scripts/fixtures/e2e-predictions.py),
 * never read back from the tool.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { outside } from '../helpers/workspace.js'
import { PERFORMANCE_METRIC_NAMES } from '../../src/core/metrics/index.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { LOGREG } from '../../scripts/fixtures/onnx-fixture-models.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const FIX = path.join(ROOT, '__tests__/fixtures/e2e')
const MODELS = path.join(ROOT, '__tests__/fixtures/models')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const COMMAND_EXAMPLE = path.join(ROOT, 'examples/command-runner')
const BC40 = path.join(FIX, 'bc40.csv')

async function cli(args: string[], cwd = ROOT) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(outside(args), { stdout: (t) => out.push(t), stderr: (t) => err.push(t), cwd })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

/** `validate … --json`: the exit code and the parsed result. */
async function validateJson(args: string[], cwd = ROOT): Promise<{ code: number; result: ValidationResult }> {
  const r = await cli(['validate', ...args, '--json'], cwd)
  if (r.stdout === '') throw new Error(`no result (exit ${r.code}): ${r.stderr}`)
  return { code: r.code, result: JSON.parse(r.stdout) as ValidationResult }
}

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'mg-e2e-runners-'))
}

/** A plain CSV (no quoting) as header + numeric columns by name. */
function readNumericCsv(file: string): { header: string[]; rows: number[][]; col: (name: string) => number[] } {
  const lines = readFileSync(file, 'utf8').trimEnd().split(/\r?\n/)
  const header = lines[0].split(',')
  const rows = lines.slice(1).map((l) => l.split(',').map(Number))
  return { header, rows, col: (name) => rows.map((r) => r[header.indexOf(name)]) }
}

// --- metric formulas, written from scikit-learn's definitions --------------------------------------------

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length

function accuracy(y: number[], pred: number[]): number {
  return mean(y.map((v, i) => (v === pred[i] ? 1 : 0)))
}

/** sklearn.metrics.log_loss (1.2): clip to [eps, 1 − eps], renormalize each row, mean of −log p(true class). */
function logLoss(y: number[], proba: number[][], classes: number[]): number {
  const eps = 2.220446049250313e-16
  return mean(
    y.map((label, i) => {
      const clipped = proba[i].map((p) => Math.min(Math.max(p, eps), 1 - eps))
      const sum = clipped.reduce((s, p) => s + p, 0)
      return -Math.log(clipped[classes.indexOf(label)] / sum)
    }),
  )
}

function brier(y: number[], p1: number[]): number {
  return mean(y.map((v, i) => (p1[i] - v) ** 2))
}

function f1Macro(y: number[], pred: number[], classes: number[]): number {
  return mean(
    classes.map((c) => {
      const tp = y.filter((v, i) => v === c && pred[i] === c).length
      const fp = y.filter((v, i) => v !== c && pred[i] === c).length
      const fn = y.filter((v, i) => v === c && pred[i] !== c).length
      return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn)
    }),
  )
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)))

/** Binary metrics of positive-class probabilities p1 (labels: p1 >= 0.5). */
function binaryExpected(y: number[], p1: number[]) {
  return {
    accuracy: accuracy(
      y,
      p1.map((p) => (p >= 0.5 ? 1 : 0)),
    ),
    log_loss: logLoss(
      y,
      p1.map((p) => [1 - p, p]),
      [0, 1],
    ),
    brier: brier(y, p1),
  }
}

/** Everything but the timings and the file size, which differ from run to run or file to file. */
function qualityMetrics(result: ValidationResult): Record<string, number> {
  return Object.fromEntries(Object.entries(result.metrics).filter(([k]) => !PERFORMANCE_METRIC_NAMES.includes(k)))
}

const bc = readNumericCsv(BC40)
const BC_FEATURES = bc.header.filter((h) => h !== 'target')
const BC_LABELS = bc.col('target')

describe('command runner: examples/command-runner/model.py', () => {
  it('scores the 40-row slice with the probabilities weights.json gives', async () => {
    interface Term {
      name: string
      mean: number
      scale: number
      coef: number
    }
    const weights = JSON.parse(readFileSync(path.join(COMMAND_EXAMPLE, 'weights.json'), 'utf8')) as { intercept: number; features: Term[] }
    // model.py's arithmetic, in its order: z = b + Σ coef·(x − mean)/scale.
    const p1 = bc.rows.map((row) =>
      sigmoid(weights.features.reduce((z, t) => z + (t.coef * (row[bc.header.indexOf(t.name)] - t.mean)) / t.scale, weights.intercept)),
    )
    const expected = binaryExpected(BC_LABELS, p1)

    const dir = tempDir()
    const manifest = {
      name: 'command-logreg',
      model: {
        runner: 'command',
        command: ['python3', path.join(COMMAND_EXAMPLE, 'model.py'), path.join(COMMAND_EXAMPLE, 'weights.json')],
      },
      features: BC_FEATURES,
      label: 'target',
      data: [{ name: 'slice', path: BC40 }],
      thresholds: ['accuracy >= 0.5'],
    }
    writeFileSync(path.join(dir, 'modelgate.yml'), JSON.stringify(manifest))
    const { code, result } = await validateJson(['--config', 'modelgate.yml'], dir)
    expect(code).toBe(0)
    expect(result.task).toBe('binary')
    expect(result.model.runner).toBe('command')
    expect(result.data[0].rows).toBe(40)
    expect(result.metrics.accuracy).toBeCloseTo(expected.accuracy, 12)
    expect(result.metrics.log_loss).toBeCloseTo(expected.log_loss, 12)
    expect(result.metrics.brier).toBeCloseTo(expected.brier, 12)
    expect(result.checks.map((c) => `${c.status} ${c.id}`)).toEqual(['pass output-consistency/slice', 'pass threshold/slice/accuracy>=0.5'])
  })
})

describe('http runner', () => {
  /** The served model: a logistic regression on three features, evaluated on what the request carried. */
  const HTTP_FEATURES = ['mean_radius', 'mean_texture', 'mean_smoothness']
  const W = [-0.9, -0.3, 40]
  const B = 14
  const logistic = (x: number[]) => sigmoid(B + x.reduce((s, v, j) => s + W[j] * v, 0))

  let server: Server
  let base: string
  const requests: { method: string; url: string; body: unknown }[] = []

  function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      let text = ''
      req.setEncoding('utf8')
      req.on('data', (chunk: string) => (text += chunk))
      req.on('end', () => resolve(text))
      req.on('error', reject)
    })
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      void readBody(req).then((text) => {
        const body: unknown = text === '' ? undefined : JSON.parse(text)
        requests.push({ method: req.method ?? '', url: req.url ?? '', body })
        const send = (status: number, payload: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(payload))
        }
        if (req.method === 'GET' && req.url === '/v2/models/m') {
          return send(200, {
            name: 'm',
            platform: 'e2e-test',
            inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
            outputs: [
              { name: 'label', datatype: 'INT64', shape: [-1] },
              { name: 'probabilities', datatype: 'FP64', shape: [-1, 2] },
            ],
          })
        }
        if (req.method === 'POST' && req.url === '/v2/models/m/infer') {
          const input = (body as { inputs: { name: string; datatype: string; shape: [number, number]; data: number[] }[] }).inputs[0]
          const [n, k] = input.shape
          // An FP32 tensor: the server sees float32 values, as a real one would.
          const x = input.data.map((v) => (input.datatype === 'FP32' ? Math.fround(v) : v))
          const p = Array.from({ length: n }, (_, i) => logistic(x.slice(i * k, (i + 1) * k)))
          return send(200, {
            model_name: 'm',
            outputs: [
              { name: 'label', datatype: 'INT64', shape: [n], data: p.map((q) => (q >= 0.5 ? 1 : 0)) },
              { name: 'probabilities', datatype: 'FP64', shape: [n, 2], data: p.flatMap((q) => [1 - q, q]) },
            ],
          })
        }
        if (req.method === 'POST' && req.url === '/invocations') {
          const split = (body as { dataframe_split: { columns: string[]; data: number[][] } }).dataframe_split
          const order = HTTP_FEATURES.map((f) => split.columns.indexOf(f))
          return send(200, { predictions: split.data.map((row) => ((q) => [1 - q, q])(logistic(order.map((j) => row[j])))) })
        }
        send(404, { error: `no route ${req.method} ${req.url}` })
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  const columns = () => HTTP_FEATURES.map((f) => bc.col(f))
  const rowsOf = (cols: number[][]) => BC_LABELS.map((_, i) => cols.map((c) => c[i]))

  it('KServe V2: sends FP32 tensors in batches and scores what the server answers', async () => {
    requests.length = 0
    const p1 = rowsOf(columns()).map((x) => logistic(x.map(Math.fround)))
    const expected = binaryExpected(BC_LABELS, p1)
    const { code, result } = await validateJson([
      '--model',
      `${base}/v2/models/m/infer`,
      '--data',
      BC40,
      '--label',
      'target',
      '--features',
      HTTP_FEATURES.join(','),
      '--batch-size',
      '16',
    ])
    expect(code).toBe(0)
    expect(result.model.runner).toBe('http')
    expect(result.data[0].rows).toBe(40)
    expect(result.metrics.accuracy).toBeCloseTo(expected.accuracy, 12)
    expect(result.metrics.log_loss).toBeCloseTo(expected.log_loss, 12)
    expect(result.metrics.brier).toBeCloseTo(expected.brier, 12)
    expect(result.data[0].metricSources.accuracy).toBe('label')
    expect(result.data[0].metricSources.log_loss).toBe('probabilities')
    // Metadata first, then 40 rows in batches of 16, 16 and 8, as the metadata's FP32 input "x".
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /v2/models/m',
      'POST /v2/models/m/infer',
      'POST /v2/models/m/infer',
      'POST /v2/models/m/infer',
    ])
    const inputs = requests.slice(1).map((r) => (r.body as { inputs: { name: string; datatype: string; shape: number[] }[] }).inputs[0])
    expect(inputs.map((i) => [i.name, i.datatype, i.shape])).toEqual([
      ['x', 'FP32', [16, 3]],
      ['x', 'FP32', [16, 3]],
      ['x', 'FP32', [8, 3]],
    ])
  })

  it('MLflow /invocations: probabilities as a list of rows', async () => {
    requests.length = 0
    const p1 = rowsOf(columns()).map(logistic)
    const expected = binaryExpected(BC_LABELS, p1)
    const { code, result } = await validateJson([
      '--model',
      `${base}/invocations`,
      '--data',
      BC40,
      '--label',
      'target',
      '--features',
      HTTP_FEATURES.join(','),
    ])
    expect(code).toBe(0)
    expect(result.task).toBe('binary')
    expect(result.metrics.accuracy).toBeCloseTo(expected.accuracy, 12)
    expect(result.metrics.log_loss).toBeCloseTo(expected.log_loss, 12)
    expect(result.metrics.brier).toBeCloseTo(expected.brier, 12)
    expect(requests).toHaveLength(1)
    expect((requests[0].body as { dataframe_split: { columns: string[] } }).dataframe_split.columns).toEqual(HTTP_FEATURES)
  })
})

interface Frozen {
  sklearn: string
  iris: { rows: number; accuracy: number; f1_macro: number; log_loss: number; roc_auc_ovr: number }
  diabetes: { rows: number; mae: number; rmse: number; r2: number; max_error: number }
}
const frozen = JSON.parse(readFileSync(path.join(FIX, 'sklearn-metrics.json'), 'utf8')) as Frozen

describe('predictions runner', () => {
  it('multiclass: iris with nearest-centroid predictions', async () => {
    const data = readNumericCsv(path.join(FIX, 'iris.csv'))
    const preds = readNumericCsv(path.join(FIX, 'iris-predictions.csv'))
    const y = data.col('target')
    const pred = preds.col('label')
    const proba = preds.rows.map((r) => r.slice(1))
    const expected = { accuracy: accuracy(y, pred), f1_macro: f1Macro(y, pred, [0, 1, 2]), log_loss: logLoss(y, proba, [0, 1, 2]) }
    // The independent formulas agree with scikit-learn's frozen numbers, so either side going wrong shows.
    expect(expected.accuracy).toBeCloseTo(frozen.iris.accuracy, 12)
    expect(expected.f1_macro).toBeCloseTo(frozen.iris.f1_macro, 12)
    expect(expected.log_loss).toBeCloseTo(frozen.iris.log_loss, 12)

    const features = data.header.filter((h) => h !== 'target').join(',')
    const { code, result } = await validateJson([
      '--model',
      path.join(FIX, 'iris-predictions.csv'),
      '--task',
      'multiclass',
      '--data',
      path.join(FIX, 'iris.csv'),
      '--label',
      'target',
      '--features',
      features,
    ])
    expect(code).toBe(0)
    expect(result.task).toBe('multiclass')
    expect(result.model.runner).toBe('predictions')
    expect(result.data[0].rows).toBe(frozen.iris.rows)
    expect(result.metrics.accuracy).toBeCloseTo(expected.accuracy, 12)
    expect(result.metrics.f1_macro).toBeCloseTo(expected.f1_macro, 12)
    expect(result.metrics.log_loss).toBeCloseTo(expected.log_loss, 12)
    expect(result.metrics.roc_auc_ovr).toBeCloseTo(frozen.iris.roc_auc_ovr, 12)
  })

  it('regression: diabetes with least-squares predictions', async () => {
    const data = readNumericCsv(path.join(FIX, 'diabetes.csv'))
    const y = data.col('target')
    const pred = readNumericCsv(path.join(FIX, 'diabetes-predictions.csv')).col('prediction')
    const residual = y.map((v, i) => v - pred[i])
    const ybar = mean(y)
    const expected = {
      mae: mean(residual.map(Math.abs)),
      rmse: Math.sqrt(mean(residual.map((r) => r * r))),
      r2: 1 - residual.reduce((s, r) => s + r * r, 0) / y.reduce((s, v) => s + (v - ybar) ** 2, 0),
      max_error: Math.max(...residual.map(Math.abs)),
    }
    for (const k of ['mae', 'rmse', 'r2', 'max_error'] as const) expect(expected[k]).toBeCloseTo(frozen.diabetes[k], 10)

    const features = data.header.filter((h) => h !== 'target').join(',')
    const { code, result } = await validateJson([
      '--model',
      path.join(FIX, 'diabetes-predictions.csv'),
      '--task',
      'regression',
      '--data',
      path.join(FIX, 'diabetes.csv'),
      '--label',
      'target',
      '--features',
      features,
      '--threshold',
      'r2 >= 0.5',
      '--threshold',
      'rmse <= 50',
    ])
    expect(code).toBe(1) // rmse ≈ 53.5 > 50
    expect(result.task).toBe('regression')
    expect(result.data[0].rows).toBe(frozen.diabetes.rows)
    expect(result.metrics.mae).toBeCloseTo(frozen.diabetes.mae, 10)
    expect(result.metrics.rmse).toBeCloseTo(frozen.diabetes.rmse, 10)
    expect(result.metrics.r2).toBeCloseTo(frozen.diabetes.r2, 12)
    expect(result.metrics.max_error).toBeCloseTo(frozen.diabetes.max_error, 10)
    expect(result.checks.map((c) => `${c.status} ${c.id}`)).toEqual(['pass threshold/diabetes/r2>=0.5', 'fail threshold/diabetes/rmse<=50'])
  })
})

describe('data formats and column order (the example ONNX model on the 40-row slice)', () => {
  const MODEL = path.join(EXAMPLE, 'model.onnx')
  const run = (data: string) => validateJson(['--model', MODEL, '--data', data, '--label', 'target', '--features', BC_FEATURES.join(',')])

  it('Parquet, JSON Lines and a CSV with shuffled columns and an extra one give the CSV metrics', async () => {
    const csv = await run(BC40)
    expect(csv.code).toBe(0)
    expect(csv.result.data[0].rows).toBe(40)
    // The reference predictions of the trainer: the ONNX model's labels must be these (float32 vs float64 aside).
    const ref = readNumericCsv(path.join(EXAMPLE, 'reference-predictions.csv'))
    expect(csv.result.metrics.accuracy).toBeCloseTo(accuracy(BC_LABELS, ref.col('label').slice(0, 40)), 12)
    const expected = qualityMetrics(csv.result)
    expect(Object.keys(expected)).toEqual(expect.arrayContaining(['accuracy', 'roc_auc', 'log_loss', 'brier', 'f1']))
    for (const file of ['bc40.parquet', 'bc40.jsonl', 'bc40-shuffled.csv']) {
      const other = await run(path.join(FIX, file))
      expect({ file, code: other.code, rows: other.result.data[0].rows }).toEqual({ file, code: 0, rows: 40 })
      expect({ file, metrics: qualityMetrics(other.result) }).toEqual({ file, metrics: expected })
    }
  })
})

describe('data contract and conversion parity', () => {
  /** A manifest (JSON is YAML) in a fresh directory: the example ONNX model on one data set named "slice". */
  function manifestDir(data: { path: string; contract?: string }, extra: Record<string, unknown> = {}): string {
    const dir = tempDir()
    const manifest = {
      name: 'bc-slice',
      model: path.join(EXAMPLE, 'model.onnx'),
      features: BC_FEATURES,
      label: 'target',
      data: [{ name: 'slice', ...data }],
      ...extra,
    }
    writeFileSync(path.join(dir, 'modelgate.yml'), JSON.stringify(manifest))
    return dir
  }

  it('counts the 3 rows with a negative mean_area and fails the contract check', async () => {
    const dir = manifestDir({ path: path.join(FIX, 'bc40-contract-violations.csv'), contract: path.join(EXAMPLE, 'contract.schema.json') })
    const { code, result } = await validateJson([], dir)
    expect(code).toBe(1)
    expect(result.status).toBe('fail')
    const check = result.checks.find((c) => c.id === 'contract/slice')
    expect(check).toMatchObject({ kind: 'contract', status: 'fail', value: 3 })
    expect(result.data[0].contract).toMatchObject({ violations: 3, rowsChecked: 40 })
    // Rows 3, 11 and 30 of the file (counted from 1, as the messages do).
    expect(result.data[0].contract?.examples.map((e) => e.row)).toEqual([3, 11, 30])
    expect(check?.message).toBe('3 of 40 rows violate the data contract, e.g. row 3: /mean_area must be >= 0')
  })

  it('finds the 2 reference rows moved by 1e-3 at tolerance 1e-5, and passes at 1e-2', async () => {
    const reference = path.join(FIX, 'bc40-reference-perturbed.csv')
    const strict = await validateJson([], manifestDir({ path: BC40 }, { 'reference-predictions': { path: reference, tolerance: 1e-5 } }))
    expect(strict.code).toBe(1)
    expect(strict.result.checks.find((c) => c.id === 'parity/slice')).toMatchObject({ kind: 'parity', status: 'fail', value: 2 })
    expect(strict.result.data[0].parity).toMatchObject({ rows: 40, labelMismatches: 0, probabilityMismatches: 2 })
    expect(strict.result.data[0].parity?.examples.map((e) => e.message)).toEqual([
      expect.stringMatching(/^row 1: largest difference 1\.000e-3 > tolerance 0\.00001$/),
      expect.stringMatching(/^row 5: largest difference 1\.000e-3 > tolerance 0\.00001$/),
    ])
    expect(strict.result.data[0].parity?.maxAbsDiff).toBeCloseTo(1e-3, 5)

    const loose = await validateJson([], manifestDir({ path: BC40 }, { 'reference-predictions': { path: reference, tolerance: 1e-2 } }))
    expect(loose.code).toBe(0)
    expect(loose.result.checks.find((c) => c.id === 'parity/slice')).toMatchObject({ status: 'pass', value: 0 })
  })
})

describe('ZipMap', () => {
  it('bypasses the ZipMap of logreg-zipmap.onnx, says so, and gives the plain model metrics', async () => {
    const args = (model: string) => [
      '--model',
      path.join(MODELS, model),
      '--data',
      path.join(FIX, 'logreg-data.csv'),
      '--label',
      'label',
      '--features',
      'f0,f1,f2',
    ]
    const plain = await validateJson(args('logreg.onnx'))
    const zipmap = await validateJson(args('logreg-zipmap.onnx'))
    expect([plain.code, zipmap.code]).toEqual([0, 0])
    expect(zipmap.result.model.notes?.join('\n')).toMatch(/ZipMap output '[^']+' bypassed: probabilities read from tensor '[^']+'/)
    expect(plain.result.model.notes?.join('\n')).not.toContain('ZipMap')
    expect(qualityMetrics(zipmap.result)).toEqual(qualityMetrics(plain.result))
    // And those are the model's: LOGREG of scripts/fixtures/onnx-fixture-models.ts, in float32.
    const data = readNumericCsv(path.join(FIX, 'logreg-data.csv'))
    const p1 = data.rows.map((r) =>
      sigmoid(LOGREG.intercept + LOGREG.coef.reduce((s, c, j) => s + (c * (r[j] - LOGREG.mean[j])) / LOGREG.scale[j], 0)),
    )
    const expected = binaryExpected(data.col('label'), p1)
    expect(zipmap.result.metrics.accuracy).toBeCloseTo(expected.accuracy, 12)
    expect(zipmap.result.metrics.log_loss).toBeCloseTo(expected.log_loss, 5)
    expect(zipmap.result.metrics.brier).toBeCloseTo(expected.brier, 5)
  })
})
