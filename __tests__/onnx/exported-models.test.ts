/**
 * Models laid out as sklearn-onnx exports them (__tests__/fixtures/exported, made by
 * scripts/fixtures/exported-models.py): the ONNX runner scores each on its CSV, read with openTable, and must
 * give exactly the predictions onnxruntime-web gave the generator (<name>-predictions.csv, from which
 * scikit-learn's metrics in sklearn-metrics.json were computed). Also: a value the model cannot take is
 * reported naming the data file, column, row, value and expected type.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { PERFORMANCE_METRIC_NAMES, metricNames } from '../../src/core/metrics/index.js'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { runCli } from '../../src/cli/main.js'
import { outside } from '../helpers/workspace.js'
import { openTable } from '../../src/core/data/open.js'
import { CellError } from '../../src/core/errors.js'
import { createOnnxRunner } from '../../src/core/runners/onnx.js'
import type { ModelRunner, PredictionBatch } from '../../src/core/runners/types.js'

const DIR = path.resolve(import.meta.dirname, '../fixtures/exported')
const at = (name: string) => path.join(DIR, name)

interface Checks {
  label_argmax_disagreements: number
  label_argmax_disagreement_rows: number[]
  probabilities_above_1: number
  probabilities_above_1_rows: number[]
  probabilities_below_0: number
  probabilities_below_0_rows: number[]
  label_threshold_disagreement_rows?: number[]
  largest_excess: number
  sum_tolerance: number
  rows_sum_off: number
  rows_sum_not_exactly_1: number
  largest_sum_error: number
}
interface Frozen {
  model: string
  data: string
  predictions: string
  task: 'binary' | 'multiclass'
  classes: number[]
  outputs: { labels: string; probabilities: string }
  rows: number
  metrics: Record<string, number>
  checks: Checks
}
const FROZEN = JSON.parse(readFileSync(at('sklearn-metrics.json'), 'utf8')) as Record<string, Frozen>
const frozen = (name: string): Frozen => FROZEN[name] as Frozen

const runners: ModelRunner[] = []
afterAll(async () => {
  for (const r of runners) await r.close()
})

function header(file: string): string[] {
  return (parse(readFileSync(file, 'utf8'), { to: 1 }) as string[][])[0] ?? []
}

/** The frozen predictions: labels and the row-major probabilities, parsed to the doubles they spell. */
function readPredictions(file: string): { labels: number[]; probabilities: number[]; classes: number } {
  const [head, ...rows] = parse(readFileSync(at(file), 'utf8')) as string[][]
  return {
    labels: rows.map((r) => Number(r[0])),
    probabilities: rows.flatMap((r) => r.slice(1).map(Number)),
    classes: (head?.length ?? 1) - 1,
  }
}

/** Scores the whole file through the runner, in batches of `batchSize`, features fed by name. */
async function score(
  model: string,
  data: string,
  features: string[],
  batchSize = 50,
): Promise<Required<Pick<PredictionBatch, 'labels' | 'classes' | 'sources'>> & { probabilities: number[] }> {
  const runner = await createOnnxRunner({ path: at(model) })
  runners.push(runner)
  const labels: (number | string)[] = []
  const probabilities: number[] = []
  let classes: (number | string)[] = []
  let sources: PredictionBatch['sources'] = {}
  for await (const batch of openTable(at(data)).batches({ batchSize, columns: features })) {
    const out = await runner.predict({
      offset: batch.offset,
      length: batch.length,
      features,
      columns: features.map((f) => batch.columns[f] ?? []),
    })
    labels.push(...(out.labels ?? []))
    probabilities.push(...Array.from(out.probabilities ?? []))
    classes = out.classes ?? []
    sources = out.sources
  }
  return { labels, probabilities, classes, sources }
}

/** 0-based rows where `pred` holds: what sklearn-metrics.json records under `checks`. */
function rowsWhere(n: number, pred: (i: number) => boolean): number[] {
  return Array.from({ length: n }, (_, i) => i).filter(pred)
}

function expectChecks(name: string, labels: (number | string)[], p: number[], c: number): void {
  const checks = frozen(name).checks
  const n = labels.length
  const row = (i: number) => p.slice(i * c, (i + 1) * c)
  const argmax = (i: number) => row(i).reduce((best, v, j, r) => (v > (r[best] as number) ? j : best), 0)
  expect(rowsWhere(n, (i) => labels[i] !== frozen(name).classes[argmax(i)])).toEqual(checks.label_argmax_disagreement_rows)
  expect(checks.label_argmax_disagreements).toBe(checks.label_argmax_disagreement_rows.length)
  expect(rowsWhere(n, (i) => row(i).some((v) => v > 1))).toEqual(checks.probabilities_above_1_rows)
  expect(rowsWhere(n, (i) => row(i).some((v) => v < 0))).toEqual(checks.probabilities_below_0_rows)
  expect([p.filter((v) => v > 1).length, p.filter((v) => v < 0).length]).toEqual([
    checks.probabilities_above_1,
    checks.probabilities_below_0,
  ])
  expect(Math.max(0, ...p.map((v) => Math.max(v - 1, -v)))).toBe(checks.largest_excess)
  if (c === 2) {
    // modelgate's rule without labels (p(1) >= 0.5) against the model's own label output.
    expect(rowsWhere(n, (i) => labels[i] !== ((p[2 * i + 1] as number) >= 0.5 ? 1 : 0))).toEqual(checks.label_threshold_disagreement_rows)
    // Row sums, exact in float64 for two values whatever the order (numpy sums longer rows pairwise).
    const sums = Array.from({ length: n }, (_, i) => (p[2 * i] as number) + (p[2 * i + 1] as number))
    expect(sums.filter((s) => Math.abs(s - 1) > checks.sum_tolerance).length).toBe(checks.rows_sum_off)
    expect(sums.filter((s) => s !== 1).length).toBe(checks.rows_sum_not_exactly_1)
    expect(Math.max(...sums.map((s) => Math.abs(s - 1)))).toBe(checks.largest_sum_error)
  }
}

const BC_FEATURES = header(at('breast-cancer-test.csv')).filter((h) => h !== 'target')
const MIXED_FEATURES = header(at('mixed-test.csv')).filter((h) => h !== 'target')
const DIGITS_FEATURES = header(at('digits-test.csv')).filter((h) => h !== 'target')

describe('sklearn-onnx style models: the runner gives the frozen onnxruntime-web predictions', () => {
  it('rf.onnx (TreeEnsembleClassifier): labels and probabilities bit for bit, overshoots included', async () => {
    const f = frozen('rf')
    const expected = readPredictions(f.predictions)
    const out = await score(f.model, f.data, BC_FEATURES)
    expect(out.sources).toEqual({ labels: 'output_label', probabilities: 'output_probability' })
    expect(out.classes).toEqual([0, 1])
    expect(out.labels).toEqual(expected.labels)
    expect(out.probabilities).toEqual(expected.probabilities)
    expect(out.labels.length).toBe(f.rows)
    expectChecks('rf', out.labels, out.probabilities, 2)
    // The float32 artefacts the fixture exists for: ten 0.1f summed, and its complement.
    expect(f.checks.probabilities_above_1_rows.length).toBeGreaterThan(0)
    expect(out.probabilities[2 * (f.checks.probabilities_above_1_rows[0] as number) + 1]).toBe(1.0000001192092896)
    expect(out.probabilities[2 * (f.checks.probabilities_above_1_rows[0] as number)]).toBe(-1.1920928955078125e-7)
    expect(f.checks.label_threshold_disagreement_rows?.length).toBeGreaterThan(0)
  })

  it('rf-both-weights.onnx (both class weights per leaf): label 1 whenever p(1) > 0, against the argmax', async () => {
    const f = frozen('rf-both-weights')
    const expected = readPredictions(f.predictions)
    const out = await score(f.model, f.data, BC_FEATURES)
    expect(out.sources).toEqual({ labels: 'output_label', probabilities: 'output_probability' })
    expect(out.classes).toEqual([0, 1])
    expect(out.labels).toEqual(expected.labels)
    expect(out.probabilities).toEqual(expected.probabilities)
    expect(out.labels.length).toBe(f.rows)
    expectChecks('rf-both-weights', out.labels, out.probabilities, 2)
    const p = out.probabilities
    const n = out.labels.length
    // onnxruntime's rule for a two-class ensemble with both weights: 1 iff p(1) > 0, so the label output and
    // the argmax of the probabilities disagree wherever 0 < p(1) <= 0.5 (p(1) = 0.5 included: first maximum).
    expect(rowsWhere(n, (i) => out.labels[i] !== ((p[2 * i + 1] as number) > 0 ? 1 : 0))).toEqual([])
    expect(f.checks.label_argmax_disagreement_rows.length).toBeGreaterThan(0)
    // p(1) is rf.onnx's bit for bit; p(0) is the class-0 weights summed in float32, not 1 - p(1).
    const rf = readPredictions(frozen('rf').predictions)
    const column = (q: number[], j: number) => q.filter((_, k) => k % 2 === j)
    expect(column(p, 1)).toEqual(column(rf.probabilities, 1))
    expect(column(p, 0)).not.toEqual(column(rf.probabilities, 0))
    // Overshoot above 1 only: ten 0.1f summed in p(1) (rf.onnx's rows) and in p(0) (rows pure class 0 in
    // every tree); the weights are all >= 0, so nothing falls below 0.
    expect(f.checks.probabilities_below_0_rows).toEqual([])
    expect(f.checks.probabilities_above_1_rows).toEqual(expect.arrayContaining(frozen('rf').checks.probabilities_above_1_rows))
    const pure0 = f.checks.probabilities_above_1_rows.find((i) => !frozen('rf').checks.probabilities_above_1_rows.includes(i))
    expect(pure0).toBeDefined()
    expect([p[2 * (pure0 as number)], p[2 * (pure0 as number) + 1], out.labels[pure0 as number]]).toEqual([1.0000001192092896, 0, 0])
    // Same p(1), so the frozen probability metrics are rf.onnx's; the label metrics are not.
    for (const m of ['roc_auc', 'average_precision', 'log_loss', 'brier', 'ece', 'mce']) expect(f.metrics[m]).toBe(frozen('rf').metrics[m])
    expect(f.metrics.accuracy).toBeLessThan(frozen('rf').metrics.accuracy as number)
  })

  it('rf-zipmap.onnx: the ZipMap is bypassed and the probabilities are those of rf.onnx', async () => {
    const f = frozen('rf-zipmap')
    const expected = readPredictions(f.predictions)
    const runner = await createOnnxRunner({ path: at(f.model) })
    runners.push(runner)
    const info = await runner.describe()
    expect(info.notes).toContain("ZipMap output 'output_probability' bypassed: probabilities read from tensor 'probabilities'")
    const out = await score(f.model, f.data, BC_FEATURES)
    expect(out.sources).toEqual({ labels: 'output_label', probabilities: 'probabilities' })
    expect(out.classes).toEqual([0, 1])
    expect(out.labels).toEqual(expected.labels)
    expect(out.probabilities).toEqual(expected.probabilities)
  })

  it('mixed.onnx: one input per column, string and float, fed by name whatever the feature order', async () => {
    const f = frozen('mixed')
    const runner = await createOnnxRunner({ path: at(f.model) })
    runners.push(runner)
    const info = await runner.describe()
    // The batch dimension is left unset, as sklearn-onnx writes None: only the second one is checked.
    expect(info.inputs.map((i) => [i.name, i.dtype, i.shape.length, i.shape[1]])).toEqual(
      MIXED_FEATURES.map((name) => [name, name.endsWith('_band') ? 'string' : 'float', 2, 1]),
    )
    const expected = readPredictions(f.predictions)
    const out = await score(f.model, f.data, MIXED_FEATURES)
    expect(out.sources).toEqual({ labels: 'label', probabilities: 'probabilities' })
    expect(out.labels).toEqual(expected.labels)
    expect(out.probabilities).toEqual(expected.probabilities)
    expectChecks('mixed', out.labels, out.probabilities, 2)
    const reversed = await score(f.model, f.data, [...MIXED_FEATURES].reverse(), 64)
    expect(reversed.probabilities).toEqual(expected.probabilities)
    expect(reversed.labels).toEqual(expected.labels)
  })

  it('int64.onnx: an int64 N×64 input, ten classes', async () => {
    const f = frozen('int64')
    const runner = await createOnnxRunner({ path: at(f.model) })
    runners.push(runner)
    const inputs = (await runner.describe()).inputs
    expect(inputs.map((i) => [i.name, i.dtype, i.kind, i.shape.length, i.shape[1]])).toEqual([['input', 'int64', 'tensor', 2, 64]])
    const expected = readPredictions(f.predictions)
    expect(expected.classes).toBe(10)
    const out = await score(f.model, f.data, DIGITS_FEATURES)
    expect(out.classes).toEqual(f.classes)
    expect(out.labels).toEqual(expected.labels)
    expect(out.probabilities).toEqual(expected.probabilities)
    expectChecks('int64', out.labels, out.probabilities, 10)
  })

  it('sklearn-metrics.json names the metrics modelgate reports for each task', () => {
    // The quality metrics of each task, as modelgate's own catalogue lists them (latency and size are not frozen).
    const quality = (task: 'binary' | 'multiclass') => metricNames(task).filter((m) => !PERFORMANCE_METRIC_NAMES.includes(m))
    for (const name of ['rf', 'rf-zipmap', 'rf-both-weights', 'mixed']) expect(Object.keys(frozen(name).metrics)).toEqual(quality('binary'))
    expect(Object.keys(frozen('int64').metrics)).toEqual(quality('multiclass'))
  })
})

/** `file` with the cell at data row `row` (1-based) of `column` replaced by `value`, written to a fresh directory. */
function withCell(file: string, row: number, column: string, value: string): { dir: string; name: string } {
  const lines = readFileSync(at(file), 'utf8').split('\n')
  const j = (lines[0] ?? '').split(',').indexOf(column)
  lines[row] = (lines[row] ?? '')
    .split(',')
    .map((cell, k) => (k === j ? value : cell))
    .join(',')
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-exported-'))
  writeFileSync(path.join(dir, 'data.csv'), lines.join('\n'))
  return { dir, name: 'data.csv' }
}

/** `modelgate validate` on a bad copy of the data: exit 2 and the one-line message. */
async function validate(model: string, data: { dir: string; name: string }, features: string[]): Promise<{ code: number; error: string }> {
  const err: string[] = []
  const args = [
    'validate',
    '--report',
    'report.json',
    '--model',
    at(model),
    '--data',
    data.name,
    '--label',
    'target',
    '--features',
    features.join(','),
  ]
  const code = await runCli(outside(args), { stdout: () => {}, stderr: (t) => err.push(t), cwd: data.dir })
  const lines = err.join('\n').split('\n')
  const first = lines.findIndex((l) => l.startsWith('modelgate: '))
  return { code, error: first < 0 ? '' : lines.slice(first).join('\n') }
}

describe('values the model cannot take', () => {
  it('the runner names the column, the 1-based data row, the value and the input type', async () => {
    const runner = await createOnnxRunner({ path: at('int64.onnx') })
    runners.push(runner)
    const columns = DIGITS_FEATURES.map((f) => [3, 4, f === 'px_5' ? 'abc' : 7])
    const e = await runner.predict({ offset: 10, length: 3, features: DIGITS_FEATURES, columns }).then(
      () => undefined,
      (x: unknown) => x,
    )
    expect(e).toBeInstanceOf(CellError)
    const cell = e as CellError
    expect([cell.column, cell.row, cell.reason]).toEqual(['px_5', 13, 'text value "abc" where the model expects int64 numbers'])
  })

  it('"abc" in an int64 column: the data file, column, row, value and type', async () => {
    const r = await validate('int64.onnx', withCell('digits-test.csv', 3, 'px_5', 'abc'), DIGITS_FEATURES)
    expect(r.error).toBe(`modelgate: data.csv: column 'px_5', data row 3: text value "abc" where the model expects int64 numbers`)
    expect(r.code).toBe(2)
  })

  it('2.5 in an int64 column', async () => {
    const r = await validate('int64.onnx', withCell('digits-test.csv', 7, 'px_20', '2.5'), DIGITS_FEATURES)
    expect(r.error).toBe(`modelgate: data.csv: column 'px_20', data row 7: 2.5 is not an integer, but the model's input is int64`)
    expect(r.code).toBe(2)
  })

  it('a missing value in a string column', async () => {
    const r = await validate('mixed.onnx', withCell('mixed-test.csv', 5, 'size_band', ''), MIXED_FEATURES)
    expect(r.error).toBe(`modelgate: data.csv: column 'size_band', data row 5: missing value, but the model's input is string`)
    expect(r.code).toBe(2)
  })

  it('text in a float column of the mixed model', async () => {
    const r = await validate('mixed.onnx', withCell('mixed-test.csv', 9, 'worst_smoothness', 'high'), MIXED_FEATURES)
    expect(r.error).toBe(
      `modelgate: data.csv: column 'worst_smoothness', data row 9: text value "high" where the model expects float numbers`,
    )
    expect(r.code).toBe(2)
  })
})
