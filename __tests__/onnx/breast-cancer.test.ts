import { describe, it, expect, afterAll } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { createOnnxRunner } from '../../src/core/runners/onnx.js'
import type { ModelRunner, PredictionBatch } from '../../src/core/runners/types.js'
import { buildExample } from '../../examples/breast-cancer/pipeline.js'
import { EXAMPLE_DIR, batchOf, readCsv } from './helpers.js'

const test = readCsv(`${EXAMPLE_DIR}data/test.csv`)
const features = test.header.slice(0, -1)
const truth = test.rows.map((r) => r[r.length - 1] as number)
const batch = batchOf(
  features,
  test.rows.map((r) => r.slice(0, -1)),
)

const runners: ModelRunner[] = []
async function predict(file: string): Promise<PredictionBatch> {
  const runner = await createOnnxRunner({ path: `${EXAMPLE_DIR}${file}` })
  runners.push(runner)
  return runner.predict(batch)
}
afterAll(async () => {
  for (const r of runners) await r.close()
})

const accuracy = (labels: (number | string)[]) => labels.reduce<number>((s, l, i) => s + (l === truth[i] ? 1 : 0), 0) / truth.length

/** ROC AUC as the Mann–Whitney statistic (ties count one half). */
function rocAuc(scores: number[]): number {
  let wins = 0
  let pairs = 0
  scores.forEach((sp, i) => {
    if (truth[i] !== 1) return
    scores.forEach((sn, j) => {
      if (truth[j] !== 0) return
      pairs++
      wins += sp > sn ? 1 : sp === sn ? 0.5 : 0
    })
  })
  return wins / pairs
}

const positive = (p: PredictionBatch) => Array.from({ length: p.length }, (_, i) => p.probabilities?.[2 * i + 1] as number)

describe('breast-cancer example', () => {
  it('training reproduces the committed split, models and reference predictions byte for byte', () => {
    const out = buildExample(readFileSync(`${EXAMPLE_DIR}data/breast_cancer.csv`, 'utf8'))
    expect(Object.keys(out.files).sort()).toEqual([
      'baseline.onnx',
      'data/test.csv',
      'data/train.csv',
      'model.onnx',
      'reference-predictions.csv',
    ])
    for (const [name, content] of Object.entries(out.files)) {
      expect([name, Buffer.from(readFileSync(`${EXAMPLE_DIR}${name}`)).equals(Buffer.from(content))]).toEqual([name, true])
    }
    expect(out.summary).toMatchObject({ train: 398, test: 171 })
  })

  it('the split is stratified 70/30', () => {
    const train = readCsv(`${EXAMPLE_DIR}data/train.csv`).rows.map((r) => r[r.length - 1])
    const count = (ys: (number | undefined)[], c: number) => ys.filter((y) => y === c).length
    // 212 malignant (0) and 357 benign (1) in the source.
    expect([count(train, 0), count(train, 1), count(truth, 0), count(truth, 1)]).toEqual([148, 250, 64, 107])
  })

  it('onnxruntime reproduces the float64 reference predictions of the training code', async () => {
    const reference = readCsv(`${EXAMPLE_DIR}reference-predictions.csv`)
    expect(reference.header).toEqual(['label', 'probability_0', 'probability_1'])
    const out = await predict('model.onnx')
    expect(out.labels).toEqual(reference.rows.map((r) => r[0]))
    const probs = out.probabilities ?? new Float64Array()
    const maxDiff = Math.max(
      ...reference.rows.flatMap((r, i) => [
        Math.abs((probs[2 * i] as number) - (r[1] as number)),
        Math.abs((probs[2 * i + 1] as number) - (r[2] as number)),
      ]),
    )
    expect(maxDiff).toBeLessThan(1e-5)
  })

  it('the model beats the baseline on the test split', async () => {
    const model = await predict('model.onnx')
    const baseline = await predict('baseline.onnx')
    expect(accuracy(model.labels ?? [])).toBeCloseTo(168 / 171, 12)
    expect(accuracy(baseline.labels ?? [])).toBeCloseTo(163 / 171, 12)
    // 107 benign × 64 malignant = 6848 pairs.
    expect(rocAuc(positive(model))).toBeCloseTo(6779 / 6848, 12)
    expect(rocAuc(positive(baseline))).toBeCloseTo(6771 / 6848, 12)
  })
})
