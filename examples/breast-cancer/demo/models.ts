/**
 * The two models `npm run demo` needs besides the example's own, as pure functions so that a test can
 * check that make-models.ts reproduces the committed files byte for byte. Both start from the
 * example's fit (pipeline.ts), so they look like retrains of it:
 *   broken.onnx    a unit bug in the export: the Scaler is given 1/scale where the exporter wants
 *                  scale, so features are multiplied by their sd instead of divided by it
 *   unstable.onnx  the training-time noise augmentation left in the graph: N(0, 1) noise on the
 *                  logit on every call
 */
import { exportLogisticRegression } from '../../../tools/onnx-export.js'
import { DataType, encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeTensorValueInfo } from '../../../src/core/onnx/proto.js'
import { C_MODEL, SEED, TRAIN_FRACTION, fitLogistic, parseTable, standardiser, stratifiedSplit, type LogisticFit } from '../pipeline.js'

/** Standard deviation of the noise added to the logit of unstable.onnx. */
export const NOISE_SD = 1

interface Trained {
  features: string[]
  fit: LogisticFit
  mean: number[]
  scale: number[]
  test: { x: number[][]; y: number[] }
}

/** The example's model exactly as pipeline.ts trains it. */
function trainExample(sourceCsv: string): Trained {
  const table = parseTable(sourceCsv)
  const features = table.header.slice(0, -1)
  const { train, test } = stratifiedSplit(table.y, TRAIN_FRACTION, SEED)
  const trX = train.map((i) => table.x[i] as number[])
  const { mean, scale } = standardiser(trX)
  const z = trX.map((row) => row.map((v, j) => (v - (mean[j] as number)) / (scale[j] as number)))
  const fit = fitLogistic(
    z,
    train.map((i) => table.y[i] as number),
    C_MODEL,
    features.map(() => true),
  )
  return { features, fit, mean, scale, test: { x: test.map((i) => table.x[i] as number[]), y: test.map((i) => table.y[i] as number) } }
}

const doc = (features: string[], what: string) => `${what}; input columns: ${features.join(',')}`

/** The bug: the exporter inverts `scale` itself (Scaler multiplies), and this retrain inverted it too. */
function broken(t: Trained): Uint8Array {
  return exportLogisticRegression({
    features: t.features,
    coef: t.fit.coef,
    intercept: t.fit.intercept,
    mean: t.mean,
    scale: t.scale.map((s) => 1 / s),
    classes: [0, 1],
    name: 'breast_cancer_logreg',
    docString: doc(t.features, 'demo: L2 logistic regression with the Scaler scale inverted twice (features multiplied by their sd)'),
  })
}

/**
 * The same regression in plain ai.onnx operators, so that noise can be added to the logit:
 * z = ((x − mean) · 1/scale) · w + b, logits [0, z] + [0, ε], softmax → [1 − σ, σ], argmax → label.
 */
function unstable(t: Trained): Uint8Array {
  const f = t.features.length
  const w = new Array<number>(2 * f).fill(0)
  t.fit.coef.forEach((c, j) => (w[2 * j + 1] = c))
  const graph = makeGraph({
    name: 'breast_cancer_logreg',
    nodes: [
      makeNode('Sub', ['input', 'mean'], ['centred']),
      makeNode('Mul', ['centred', 'inv_scale'], ['standardised']),
      makeNode('MatMul', ['standardised', 'W'], ['xw']),
      makeNode('Add', ['xw', 'b'], ['logits']),
      // Left over from training-time augmentation: fresh noise on every call (no seed).
      makeNode('RandomNormalLike', ['logits'], ['noise'], { scale: { float: NOISE_SD } }),
      makeNode('Mul', ['noise', 'second_column'], ['noise_on_logit']),
      makeNode('Add', ['logits', 'noise_on_logit'], ['noisy']),
      makeNode('Softmax', ['noisy'], ['probabilities'], { axis: { int: 1 } }),
      makeNode('ArgMax', ['probabilities'], ['label'], { axis: { int: 1 }, keepdims: { int: 0 } }),
    ],
    inputs: [makeTensorValueInfo('input', DataType.FLOAT, ['N', f])],
    outputs: [makeTensorValueInfo('label', DataType.INT64, ['N']), makeTensorValueInfo('probabilities', DataType.FLOAT, ['N', 2])],
    initializers: [
      makeTensor('mean', DataType.FLOAT, [f], t.mean),
      makeTensor(
        'inv_scale',
        DataType.FLOAT,
        [f],
        t.scale.map((s) => 1 / s),
      ),
      makeTensor('W', DataType.FLOAT, [f, 2], w),
      makeTensor('b', DataType.FLOAT, [2], [0, t.fit.intercept]),
      makeTensor('second_column', DataType.FLOAT, [2], [0, 1]),
    ],
  })
  return encodeModel(
    makeModel({
      graph,
      opsets: { '': 17 },
      irVersion: 8,
      producerName: 'modelgate',
      producerVersion: '0.1.0',
      docString: doc(t.features, `demo: L2 logistic regression with N(0, ${NOISE_SD}) noise added to the logit on every call`),
    }),
  )
}

/** Test accuracy in float64 of p(benign) = σ(((x − mean) · k) · w + b), for the log line. */
function accuracy(t: Trained, k: (j: number) => number): number {
  const right = t.test.x.filter((row, i) => {
    const z = row.reduce((s, v, j) => s + (v - (t.mean[j] as number)) * k(j) * (t.fit.coef[j] as number), t.fit.intercept)
    return (z >= 0 ? 1 : 0) === t.test.y[i]
  }).length
  return right / t.test.x.length
}

export interface DemoModels {
  files: { 'broken.onnx': Uint8Array; 'unstable.onnx': Uint8Array }
  /** Test accuracy in float64: the broken export, and the unstable model without its noise. */
  summary: { brokenAccuracy: number; unstableAccuracy: number }
}

/** Both demo models from the source data set's text. */
export function buildDemoModels(sourceCsv: string): DemoModels {
  const t = trainExample(sourceCsv)
  return {
    files: { 'broken.onnx': broken(t), 'unstable.onnx': unstable(t) },
    summary: {
      brokenAccuracy: accuracy(t, (j) => t.scale[j] as number),
      unstableAccuracy: accuracy(t, (j) => 1 / (t.scale[j] as number)),
    },
  }
}
