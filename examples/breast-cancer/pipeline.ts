/**
 * The breast-cancer example's training pipeline, as pure functions so that a test can check
 * that it reproduces the committed files byte for byte. train.ts writes the files.
 *
 * Deterministic: a seeded stratified split, and Newton's method (no randomness) for an
 * L2-regularised logistic regression on standardised features, all in float64.
 */
import { exportLogisticRegression } from '../../tools/onnx-export.js'

export const SEED = 20240613
export const TRAIN_FRACTION = 0.7
/** Inverse regularisation strength, as sklearn's LogisticRegression(C=...): the penalty is ||w||² / (2C). */
export const C_MODEL = 1
export const C_BASELINE = 1
export const TARGET = 'target'

export interface Table {
  header: string[]
  /** Data lines exactly as read, so that the split files keep the source's number formatting. */
  lines: string[]
  x: number[][]
  y: number[]
}

export function parseTable(text: string): Table {
  const [headerLine, ...rest] = text.split(/\r?\n/).filter((l) => l.trim() !== '')
  if (headerLine === undefined) throw new Error('empty CSV')
  const header = headerLine.split(',')
  const target = header.indexOf(TARGET)
  if (target !== header.length - 1) throw new Error(`expected '${TARGET}' as the last column`)
  const x: number[][] = []
  const y: number[] = []
  rest.forEach((line, i) => {
    const values = line.split(',').map(Number)
    if (values.length !== header.length || values.some((v) => !Number.isFinite(v))) {
      throw new Error(`line ${i + 2}: expected ${header.length} numbers`)
    }
    y.push(values.pop() as number)
    x.push(values)
  })
  return { header, lines: rest, x, y }
}

/** mulberry32: a small seeded PRNG, enough for a reproducible shuffle. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Stratified split: each class is shuffled and 70 % of it goes to train. Row order is kept within each part. */
export function stratifiedSplit(y: number[], fraction: number, seed: number): { train: number[]; test: number[] } {
  const random = mulberry32(seed)
  const train: number[] = []
  const test: number[] = []
  for (const cls of [...new Set(y)].sort((a, b) => a - b)) {
    const idx = y.flatMap((v, i) => (v === cls ? [i] : []))
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[idx[i], idx[j]] = [idx[j] as number, idx[i] as number]
    }
    const cut = Math.round(idx.length * fraction)
    train.push(...idx.slice(0, cut))
    test.push(...idx.slice(cut))
  }
  const byIndex = (a: number, b: number) => a - b
  return { train: train.sort(byIndex), test: test.sort(byIndex) }
}

/** sklearn StandardScaler: population standard deviation, and a scale of 1 for constant columns. */
export function standardiser(x: number[][]): { mean: number[]; scale: number[] } {
  const n = x.length
  const f = x[0]?.length ?? 0
  const mean = new Array<number>(f).fill(0)
  const scale = new Array<number>(f).fill(0)
  for (const row of x) row.forEach((v, j) => (mean[j] = (mean[j] as number) + v / n))
  for (const row of x) row.forEach((v, j) => (scale[j] = (scale[j] as number) + (v - (mean[j] as number)) ** 2 / n))
  return { mean, scale: scale.map((v) => (v === 0 ? 1 : Math.sqrt(v))) }
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)))

/** Solves A·x = b for a symmetric positive definite A (Cholesky). */
function solveSpd(a: number[][], b: number[]): number[] {
  const n = b.length
  const l = a.map(() => new Array<number>(n).fill(0))
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = (a[i] as number[])[j] as number
      for (let k = 0; k < j; k++) s -= ((l[i] as number[])[k] as number) * ((l[j] as number[])[k] as number)
      ;(l[i] as number[])[j] = i === j ? Math.sqrt(s) : s / ((l[j] as number[])[j] as number)
    }
  }
  const z = new Array<number>(n).fill(0)
  for (let i = 0; i < n; i++) {
    let s = b[i] as number
    for (let k = 0; k < i; k++) s -= ((l[i] as number[])[k] as number) * (z[k] as number)
    z[i] = s / ((l[i] as number[])[i] as number)
  }
  const x = new Array<number>(n).fill(0)
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i] as number
    for (let k = i + 1; k < n; k++) s -= ((l[k] as number[])[i] as number) * (x[k] as number)
    x[i] = s / ((l[i] as number[])[i] as number)
  }
  return x
}

export interface LogisticFit {
  coef: number[]
  intercept: number
  iterations: number
}

/**
 * Minimises Σ log-loss + ||w||² / (2C) (intercept not penalised) by Newton's method, on
 * already-standardised features. Only the columns in `use` get weights; the rest stay 0.
 */
export function fitLogistic(z: number[][], y: number[], c: number, use: boolean[]): LogisticFit {
  const cols = use.flatMap((u, j) => (u ? [j] : []))
  const p = cols.length + 1
  let w = new Array<number>(p).fill(0)
  let iterations = 0
  for (; iterations < 100; iterations++) {
    const grad = new Array<number>(p).fill(0)
    const hess = Array.from({ length: p }, () => new Array<number>(p).fill(0))
    z.forEach((row, i) => {
      const xi = [...cols.map((j) => row[j] as number), 1]
      const m = sigmoid(xi.reduce((s, v, k) => s + v * (w[k] as number), 0))
      const r = m - (y[i] as number)
      const h = m * (1 - m)
      for (let a = 0; a < p; a++) {
        grad[a] = (grad[a] as number) + r * (xi[a] as number)
        const ha = hess[a] as number[]
        for (let b = 0; b <= a; b++) ha[b] = (ha[b] as number) + h * (xi[a] as number) * (xi[b] as number)
      }
    })
    for (let a = 0; a < p; a++) {
      for (let b = a + 1; b < p; b++) (hess[a] as number[])[b] = (hess[b] as number[])[a] as number
      if (a < p - 1) {
        grad[a] = (grad[a] as number) + (w[a] as number) / c
        ;(hess[a] as number[])[a] = ((hess[a] as number[])[a] as number) + 1 / c
      }
    }
    const step = solveSpd(hess, grad)
    w = w.map((v, k) => v - (step[k] as number))
    if (Math.max(...step.map(Math.abs)) < 1e-12) {
      iterations++
      break
    }
  }
  const coef = new Array<number>(use.length).fill(0)
  cols.forEach((j, k) => (coef[j] = w[k] as number))
  return { coef, intercept: w[p - 1] as number, iterations }
}

export function probabilityOf(fit: LogisticFit, zRow: number[]): number {
  return sigmoid(zRow.reduce((s, v, j) => s + v * (fit.coef[j] as number), fit.intercept))
}

export interface ExampleOutput {
  /** Relative path (inside examples/breast-cancer) → content. */
  files: Record<string, string | Uint8Array>
  summary: {
    train: number
    test: number
    modelIterations: number
    baselineIterations: number
    modelAccuracy: number
    baselineAccuracy: number
  }
}

/** Everything the example commits, from the source data set's text. */
export function buildExample(sourceCsv: string): ExampleOutput {
  const table = parseTable(sourceCsv)
  const features = table.header.slice(0, -1)
  const { train, test } = stratifiedSplit(table.y, TRAIN_FRACTION, SEED)
  const pick = (idx: number[]) => ({ x: idx.map((i) => table.x[i] as number[]), y: idx.map((i) => table.y[i] as number) })
  const tr = pick(train)
  const te = pick(test)
  const { mean, scale } = standardiser(tr.x)
  const standardise = (row: number[]) => row.map((v, j) => (v - (mean[j] as number)) / (scale[j] as number))
  const zTrain = tr.x.map(standardise)
  const zTest = te.x.map(standardise)

  const model = fitLogistic(
    zTrain,
    tr.y,
    C_MODEL,
    features.map(() => true),
  )
  // The "previous version": the same pipeline on the ten mean_* measurements only.
  const baseline = fitLogistic(
    zTrain,
    tr.y,
    C_BASELINE,
    features.map((f) => f.startsWith('mean_')),
  )

  const exportFit = (fit: LogisticFit, name: string, doc: string) =>
    exportLogisticRegression({ features, coef: fit.coef, intercept: fit.intercept, mean, scale, classes: [0, 1], name, docString: doc })
  const featureDoc = `input columns: ${features.join(',')}`

  const reference = zTest.map((row) => probabilityOf(model, row))
  const accuracy = (fit: LogisticFit) =>
    zTest.reduce((s, row, i) => s + ((probabilityOf(fit, row) >= 0.5 ? 1 : 0) === te.y[i] ? 1 : 0), 0) / zTest.length

  const csv = (idx: number[]) => [table.header.join(','), ...idx.map((i) => table.lines[i] as string)].join('\n') + '\n'
  const referenceCsv =
    ['label,probability_0,probability_1', ...reference.map((p1) => `${p1 >= 0.5 ? 1 : 0},${1 - p1},${p1}`)].join('\n') + '\n'

  return {
    files: {
      'data/train.csv': csv(train),
      'data/test.csv': csv(test),
      'model.onnx': exportFit(
        model,
        'breast_cancer_logreg',
        `L2 logistic regression (C=${C_MODEL}) on 30 standardised features; ${featureDoc}`,
      ),
      'baseline.onnx': exportFit(
        baseline,
        'breast_cancer_logreg_baseline',
        `L2 logistic regression (C=${C_BASELINE}) on the 10 mean_* features; ${featureDoc}`,
      ),
      'reference-predictions.csv': referenceCsv,
    },
    summary: {
      train: train.length,
      test: test.length,
      modelIterations: model.iterations,
      baselineIterations: baseline.iterations,
      modelAccuracy: accuracy(model),
      baselineAccuracy: accuracy(baseline),
    },
  }
}
