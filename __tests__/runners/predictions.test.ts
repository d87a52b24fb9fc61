import { describe, it, expect, afterEach } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPredictionsRunner, type PredictionsRunner, type PredictionsRunnerOptions } from '../../src/core/runners/predictions.js'
import { UserError } from '../../src/core/errors.js'
import { FIXTURES, featureBatch } from './helpers.js'

const open: PredictionsRunner[] = []
const temps: string[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()))
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true })
})

async function start(opts: PredictionsRunnerOptions): Promise<PredictionsRunner> {
  const runner = await createPredictionsRunner(opts)
  open.push(runner)
  return runner
}

/** A data batch of `length` rows at `offset`; the runner ignores feature values. */
const rows = (offset: number, length: number) =>
  featureBatch(
    ['x'],
    Array.from({ length }, (_, i) => [offset + i]),
    offset,
  )

async function rejection(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(e).toBeInstanceOf(UserError)
  return e as UserError
}

describe('predictions runner', () => {
  it('hands out labels in lockstep with the data batches', async () => {
    const path = `${FIXTURES}predictions_labels.csv`
    const runner = await start({ path })
    const first = await runner.predict(rows(0, 2))
    const second = await runner.predict(rows(2, 3))
    expect(first).toEqual({ length: 2, labels: [1, 0], sources: { labels: 'label' } })
    expect(second).toEqual({ length: 3, labels: [1, 1, 0], sources: { labels: 'label' } })
    expect(await runner.remainingRows()).toBe(0)
    await runner.checkRowCount(5)
  })

  it('reads probability columns with the classes named after them', async () => {
    const runner = await start({ path: `${FIXTURES}predictions_probabilities.csv` })
    const out = await runner.predict(rows(0, 3))
    expect(out.labels).toEqual(['setosa', 'virginica', 'versicolor'])
    expect(out.classes).toEqual(['setosa', 'versicolor', 'virginica'])
    expect(Array.from(out.probabilities!)).toEqual([0.875, 0.125, 0, 0.0625, 0.25, 0.6875, 0.125, 0.5, 0.375])
    expect(out.sources).toEqual({
      labels: 'prediction',
      probabilities: 'proba_setosa,proba_versicolor,proba_virginica',
      values: undefined,
    })
  })

  it('uses explicitly named columns and classes', async () => {
    const runner = await start({
      path: `${FIXTURES}predictions_probabilities.csv`,
      probabilityColumns: ['proba_virginica', 'proba_setosa'],
      classes: [2, 0],
    })
    const out = await runner.predict(rows(0, 2))
    expect(out.labels).toBeUndefined()
    expect(out.classes).toEqual([2, 0])
    expect(Array.from(out.probabilities!)).toEqual([0, 0.875, 0.6875, 0.0625])
  })

  it('reads regression values', async () => {
    const runner = await start({ path: `${FIXTURES}predictions_values.csv`, task: 'regression' })
    const out = await runner.predict(rows(0, 4))
    expect(Array.from(out.values!)).toEqual([12.5, -3.25, 0.125, 7])
    expect(out.sources).toEqual({ labels: undefined, probabilities: undefined, values: 'prediction' })
    const byName = await start({ path: `${FIXTURES}predictions_values.csv`, valueColumn: 'prediction' })
    expect(Array.from((await byName.predict(rows(0, 4))).values!)).toEqual([12.5, -3.25, 0.125, 7])
  })

  it('says both counts when the file has fewer rows than the data', async () => {
    const path = `${FIXTURES}predictions_labels.csv`
    const runner = await start({ path })
    await runner.predict(rows(0, 4))
    const e = await rejection(runner.predict(rows(4, 3)))
    expect(e.message).toBe(
      `${path}: the predictions file has 5 rows but the data has at least 7; it needs exactly one row per data row, in the same order`,
    )
    expect(e.file).toBe(path)
  })

  it('lets the caller detect a file with more rows than the data', async () => {
    const path = `${FIXTURES}predictions_labels.csv`
    const runner = await start({ path })
    await runner.predict(rows(0, 3))
    expect(await runner.remainingRows()).toBe(2)
    const other = await start({ path })
    await other.predict(rows(0, 3))
    const e = await rejection(other.checkRowCount(3))
    expect(e.message).toBe(
      `${path}: the predictions file has 5 rows but the data has 3; it needs exactly one row per data row, in the same order`,
    )
  })

  it('stays in step across the reader’s own batches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelgate-predictions-'))
    temps.push(dir)
    const path = join(dir, 'many.csv')
    const n = 10_000
    writeFileSync(path, `value\n${Array.from({ length: n }, (_, i) => `${i / 4}`).join('\n')}\n`)
    const runner = await start({ path })
    for (let offset = 0; offset < n; offset += 3000) {
      const length = Math.min(3000, n - offset)
      const out = await runner.predict(rows(offset, length))
      expect(Array.from(out.values!)).toEqual(Array.from({ length }, (_, i) => (offset + i) / 4))
    }
    await runner.checkRowCount(n)
  })

  it('reads past rows it is not asked for (a shard scores some blocks only), and refuses going back', async () => {
    const path = `${FIXTURES}predictions_labels.csv`
    const whole = await (await start({ path })).predict(rows(0, 4))
    const runner = await start({ path })
    const out = await runner.predict(rows(2, 2))
    expect(out.labels).toEqual(whole.labels!.slice(2, 4))
    const e = await rejection(runner.predict(rows(0, 2)))
    expect(e.message).toBe(`${path}: predictions are read in order; asked for row 0 but the next row is 4`)
  })

  it('names the file and the columns when none hold predictions', async () => {
    const path = `${FIXTURES}breast_cancer_head.csv`
    const e = await rejection(createPredictionsRunner({ path }))
    expect(e.message).toMatch(
      new RegExp(
        `^${path}: found no prediction columns among mean_radius, .*, target; expected one of label, prediction, predicted_label, output_label or probability_<class> / proba_<class> columns, or name them explicitly$`,
      ),
    )
    const missing = await rejection(createPredictionsRunner({ path: `${FIXTURES}predictions_labels.csv`, labelColumn: 'y' }))
    expect(missing.message).toBe(`${FIXTURES}predictions_labels.csv: labelColumn "y" is not a column; columns are id, label`)
  })

  it('reports a missing label with its row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelgate-predictions-'))
    temps.push(dir)
    const path = join(dir, 'gaps.csv')
    writeFileSync(path, 'label\n1\n\n0\nNA\n')
    const runner = await start({ path })
    const e = await rejection(runner.predict(rows(0, 3)))
    expect(e.message).toBe(`${path}: label of row 2 must be a number or a string, got null`)
  })

  it('describes the file with its digest and size', async () => {
    const path = `${FIXTURES}predictions_probabilities.csv`
    const runner = await start({ path })
    const info = await runner.describe()
    expect(info).toEqual({
      source: path,
      runner: 'predictions',
      digest: `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`,
      sizeBytes: statSync(path).size,
      inputs: [],
      outputs: ['prediction', 'proba_setosa', 'proba_versicolor', 'proba_virginica'].map((name) => ({
        name,
        dtype: 'unknown',
        shape: [-1],
        kind: 'column',
      })),
      notes: ['predictions made beforehand (csv); the features are not used', 'probability classes: setosa, versicolor, virginica'],
    })
  })
})
