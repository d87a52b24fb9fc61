import { describe, it, expect, afterAll } from '@jest/globals'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createOnnxRunner } from '../../src/core/runners/onnx.js'
import type { ModelRunner } from '../../src/core/runners/types.js'
import { UserError } from '../../src/core/errors.js'
import { LINREG, LOGREG } from '../../scripts/fixtures/onnx-fixture-models.js'
import { batchOf, fixture, sigmoid, EXAMPLE_DIR } from './helpers.js'

const opened: ModelRunner[] = []
async function open(name: string, opts: { labelOutput?: string; probabilityOutput?: string } = {}): Promise<ModelRunner> {
  const runner = await createOnnxRunner({ path: fixture(name), ...opts })
  opened.push(runner)
  return runner
}
afterAll(async () => {
  for (const r of opened) await r.close()
})

/** The exporter's pipeline, in float64. */
function logregP1(x: number[]): number {
  const z = x.reduce(
    (s, v, j) => s + (LOGREG.coef[j] as number) * ((v - (LOGREG.mean[j] as number)) / (LOGREG.scale[j] as number)),
    LOGREG.intercept,
  )
  return sigmoid(z)
}

async function rejection(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(UserError)
  return e as UserError
}

const LOGREG_ROWS = [
  [10, 0.5, -3],
  [14, 0.25, -1],
  [6, 1, -5],
  [12.5, 0.4, -2.2],
]

describe('ONNX runner: signature', () => {
  it('reads inputs, outputs, digest, size and notes from the model file', async () => {
    const runner = await open('logreg.onnx')
    const info = await runner.describe()
    const bytes = readFileSync(fixture('logreg.onnx'))
    expect(info.runner).toBe('onnx')
    expect(info.source).toBe(fixture('logreg.onnx'))
    expect(info.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`)
    expect(info.sizeBytes).toBe(bytes.byteLength)
    expect(info.inputs).toEqual([{ name: 'input', dtype: 'float', shape: ['N', 3], kind: 'tensor' }])
    expect(info.outputs).toEqual([
      { name: 'label', dtype: 'int64', shape: ['N'], kind: 'tensor' },
      { name: 'probabilities', dtype: 'float', shape: ['N', 2], kind: 'tensor' },
    ])
    expect(info.notes).toEqual([
      'IR version 8',
      'opsets: ai.onnx 17, ai.onnx.ml 3',
      'producer: modelgate 0.1.0',
      "outputs used: labels from 'label', probabilities from 'probabilities'",
    ])
  })

  it('leaves out initializers that an IR 3 model lists as graph inputs', async () => {
    const runner = await open('ir3-initializers.onnx')
    const info = await runner.describe()
    expect(info.inputs).toEqual([{ name: 'X', dtype: 'float', shape: ['N', 3], kind: 'tensor' }])
    expect(info.notes[0]).toBe('IR version 3')
    const out = await runner.predict(
      batchOf(
        ['x0', 'x1', 'x2'],
        [
          [1, 2, 3],
          [-2, 0.5, 0],
        ],
      ),
    )
    expect(out.sources).toEqual({ values: 'y' })
    expect(Array.from(out.values ?? [])).toEqual([0.5 - 2 + 6 + 0.25, -1 - 0.5 + 0.25])
    expect(out.labels).toBeUndefined()
  })
})

describe('ONNX runner: classifiers', () => {
  it('feeds a 2-D input in feature order and returns labels and N×C probabilities', async () => {
    const runner = await open('logreg.onnx')
    const out = await runner.predict(batchOf(LOGREG.features, LOGREG_ROWS))
    const p1 = LOGREG_ROWS.map(logregP1)
    expect(out.length).toBe(4)
    expect(out.classes).toEqual([0, 1])
    expect(out.labels).toEqual(p1.map((p) => (p >= 0.5 ? 1 : 0)))
    expect(out.labels).toEqual([0, 1, 0, 1])
    expect(out.sources).toEqual({ labels: 'label', probabilities: 'probabilities' })
    const probs = out.probabilities ?? new Float64Array()
    expect(probs.length).toBe(8)
    p1.forEach((p, i) => {
      expect(probs[2 * i + 1]).toBeCloseTo(p, 6)
      expect(probs[2 * i]).toBeCloseTo(1 - p, 6)
    })
  })

  it('bypasses a ZipMap and gives the same probabilities as the plain model', async () => {
    const plain = await (await open('logreg.onnx')).predict(batchOf(LOGREG.features, LOGREG_ROWS))
    const runner = await open('logreg-zipmap.onnx')
    const zipped = await runner.predict(batchOf(LOGREG.features, LOGREG_ROWS))
    expect(Array.from(zipped.probabilities ?? [])).toEqual(Array.from(plain.probabilities ?? []))
    expect(zipped.labels).toEqual(plain.labels)
    expect(zipped.classes).toEqual([0, 1])
    const info = await runner.describe()
    expect(info.notes).toContain("ZipMap output 'output_probability' bypassed: probabilities read from tensor 'probabilities'")
    expect(info.outputs.map((o) => o.name)).toEqual(['label', 'probabilities'])
  })

  it('fails with re-export instructions when a ZipMap cannot be bypassed', async () => {
    const e = await rejection(createOnnxRunner({ path: fixture('zipmap-unbypassable.onnx') }))
    expect(e.message).toContain(fixture('zipmap-unbypassable.onnx'))
    expect(e.message).toContain("options={id(model): {'zipmap': False}}")
  })

  it('reads a TreeEnsembleClassifier: summed leaf weights and class labels from the node', async () => {
    const runner = await open('trees.onnx')
    const out = await runner.predict(
      batchOf(
        ['f0', 'f1'],
        [
          [0.2, 0.5],
          [1, 1.5],
          [1, 3],
          [0.5, 1],
        ],
      ),
    )
    expect(out.classes).toEqual([0, 1, 2])
    expect(out.labels).toEqual([0, 1, 2, 0])
    const expected = [0.8, 0.2, 0, 0, 0.75, 0.25, 0, 0.35, 0.65, 0.8, 0.2, 0]
    Array.from(out.probabilities ?? []).forEach((p, i) => expect(p).toBeCloseTo(expected[i] as number, 6))
  })

  it('reads string class labels', async () => {
    const runner = await open('string-labels.onnx')
    const out = await runner.predict(batchOf(['x'], [[3], [-1]]))
    expect(out.classes).toEqual(['benign', 'malignant'])
    expect(out.labels).toEqual(['malignant', 'benign'])
    const probs = Array.from(out.probabilities ?? [])
    ;[sigmoid(-2), sigmoid(2), sigmoid(2), sigmoid(-2)].forEach((p, i) => expect(probs[i]).toBeCloseTo(p, 6))
  })

  it('uses only the outputs named by labelOutput/probabilityOutput, and rejects unknown names', async () => {
    const e = await rejection(createOnnxRunner({ path: fixture('logreg.onnx'), probabilityOutput: 'scores' }))
    expect(e.message).toBe(
      `${fixture('logreg.onnx')}: probabilityOutput 'scores' is not an output of the model; outputs: label, probabilities`,
    )
    const runner = await open('logreg.onnx', { labelOutput: 'label', probabilityOutput: 'probabilities' })
    expect((await runner.predict(batchOf(LOGREG.features, LOGREG_ROWS))).sources).toEqual({
      labels: 'label',
      probabilities: 'probabilities',
    })
  })
})

describe('ONNX runner: regressors and per-column inputs', () => {
  it('reads a LinearRegressor output as values', async () => {
    const runner = await open('linreg.onnx')
    const out = await runner.predict(
      batchOf(LINREG.features, [
        [1, 100],
        [2, 80],
        [0.5, 130],
      ]),
    )
    expect(out.sources).toEqual({ values: 'prediction' })
    expect(out.values?.length).toBe(3)
    ;[3, 7.5, 0.25].forEach((v, i) => expect(out.values?.[i]).toBeCloseTo(v, 5))
    expect(out.probabilities).toBeUndefined()
  })

  it('maps one input per column by name, whatever the column order, including int64 inputs', async () => {
    const runner = await open('per-column.onnx')
    const info = await runner.describe()
    expect(info.inputs.map((i) => `${i.name}:${i.dtype}[${i.shape.join(',')}]`)).toEqual(['a:float[N,1]', 'b:float[N,1]', 'c:int64[N]'])
    const out = await runner.predict(
      batchOf(
        ['c', 'a', 'b'],
        [
          [1, 0.5, 2],
          [-2, 10, 0],
        ],
      ),
    )
    expect(Array.from(out.values ?? [])).toEqual([0.5 + 4 + 3 + 0.5, 10 - 6 + 0.5])
  })

  it('lists the inputs that match no feature column', async () => {
    const runner = await open('per-column.onnx')
    const e = await rejection(runner.predict(batchOf(['a', 'b', 'd'], [[1, 2, 3]])))
    expect(e.message).toBe(`${fixture('per-column.onnx')}: the model's inputs 'c' match no feature column; features given: a, b, d`)
  })

  it('rejects a missing value for an integer input, naming the column and row', async () => {
    const runner = await open('per-column.onnx')
    const e = await rejection(
      runner.predict(
        batchOf(
          ['a', 'b', 'c'],
          [
            [1, 2, 3],
            [1, 2, null],
          ],
          100,
        ),
      ),
    )
    expect(e.message).toBe(`${fixture('per-column.onnx')}: column 'c', data row 102: missing value, but the model's input is int64`)
    expect(e.field).toBe('c')
  })
})

describe('ONNX runner: feature errors', () => {
  it('turns missing cells into NaN for float inputs', async () => {
    const runner = await open('linreg.onnx')
    const out = await runner.predict(
      batchOf(LINREG.features, [
        [null, 100],
        [1, 100],
      ]),
    )
    expect(Number.isNaN(out.values?.[0])).toBe(true)
    expect(out.values?.[1]).toBe(3)
  })

  it('rejects a text cell in a float input, naming the column and row', async () => {
    const runner = await open('logreg.onnx')
    const e = await rejection(
      runner.predict(
        batchOf(
          LOGREG.features,
          [
            [1, 2, 3],
            [1, 'abc', 3],
          ],
          40,
        ),
      ),
    )
    expect(e.message).toBe(`${fixture('logreg.onnx')}: column 'f1', data row 42: text value "abc" where the model expects float numbers`)
  })

  it('rejects a batch with the wrong number of features for a 2-D input', async () => {
    const path = `${EXAMPLE_DIR}model.onnx`
    const runner = await createOnnxRunner({ path })
    opened.push(runner)
    const features = Array.from({ length: 29 }, (_, i) => `f${i}`)
    const e = await rejection(runner.predict(batchOf(features, [features.map(() => 1)])))
    expect(e.message).toBe(`${path}: input 'input' takes 30 features per row but 29 were given (${features.join(', ')})`)
  })
})

describe('ONNX runner: unreadable models', () => {
  it('names a missing file', async () => {
    const e = await rejection(createOnnxRunner({ path: fixture('does-not-exist.onnx') }))
    expect(e.message).toBe(`cannot read ONNX model ${fixture('does-not-exist.onnx')}: file not found`)
    expect(e.file).toBe(fixture('does-not-exist.onnx'))
  })

  it.each(['random-bytes.onnx', 'csv-renamed.onnx'])('says %s is not an ONNX model', async (name) => {
    const e = await rejection(createOnnxRunner({ path: fixture(name) }))
    expect(e.message.startsWith(`${fixture(name)} is not an ONNX model (`)).toBe(true)
    expect(e.message).not.toContain('    at ')
  })

  it('passes on the runtime message for a model it rejects', async () => {
    const e = await rejection(createOnnxRunner({ path: fixture('unknown-op.onnx') }))
    expect(e.message.startsWith(`onnxruntime could not load ${fixture('unknown-op.onnx')}: `)).toBe(true)
    expect(e.message).toContain('NoSuchOperator')
  })
})
