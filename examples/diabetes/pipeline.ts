/**
 * The diabetes example's training pipeline, as pure functions so that a test can check that it
 * reproduces the committed files byte for byte. train.ts writes the files.
 *
 * Deterministic: a seeded 70/30 split, and ordinary least squares on standardised features solved
 * from the normal equations (Cholesky), all in float64.
 */
import { exportLinearRegression } from '../../tools/onnx-export.js'
import { mulberry32, parseTable, standardiser } from '../breast-cancer/pipeline.js'

export const SEED = 20261126
export const TRAIN_FRACTION = 0.7
/** The baseline's features: the three strongest single predictors (body mass index, blood pressure, log triglycerides). */
export const BASELINE_FEATURES = ['bmi', 'bp', 's5']

/** A seeded shuffle of the row indices; the first `fraction` go to train. Row order is kept within each part. */
export function randomSplit(n: number, fraction: number, seed: number): { train: number[]; test: number[] } {
  const random = mulberry32(seed)
  const idx = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[idx[i], idx[j]] = [idx[j] as number, idx[i] as number]
  }
  const cut = Math.round(n * fraction)
  const byIndex = (a: number, b: number) => a - b
  return { train: idx.slice(0, cut).sort(byIndex), test: idx.slice(cut).sort(byIndex) }
}

/** Solves A·x = b for a symmetric positive definite A: A = L·Lᵀ, then two triangular solves. */
export function choleskySolve(a: number[][], b: number[]): number[] {
  const n = b.length
  const l = Array.from({ length: n }, () => new Float64Array(n))
  for (let i = 0; i < n; i++) {
    const li = l[i] as Float64Array
    for (let j = 0; j <= i; j++) {
      const lj = l[j] as Float64Array
      let s = (a[i] as number[])[j] as number
      for (let k = 0; k < j; k++) s -= (li[k] as number) * (lj[k] as number)
      if (i === j && !(s > 0)) throw new Error(`the normal equations are singular (pivot ${i} is ${s})`)
      li[j] = i === j ? Math.sqrt(s) : s / (lj[j] as number)
    }
  }
  const z = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let s = b[i] as number
    for (let k = 0; k < i; k++) s -= ((l[i] as Float64Array)[k] as number) * (z[k] as number)
    z[i] = s / ((l[i] as Float64Array)[i] as number)
  }
  const x = new Array<number>(n).fill(0)
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i] as number
    for (let k = i + 1; k < n; k++) s -= ((l[k] as Float64Array)[i] as number) * (x[k] as number)
    x[i] = s / ((l[i] as Float64Array)[i] as number)
  }
  return x
}

export interface LinearFit {
  /** One per feature, on the standardised features; 0 for the features not used. */
  coef: number[]
  intercept: number
}

/** Ordinary least squares with an intercept on the columns in `use`: XᵀX·w = Xᵀy. */
export function fitOls(z: number[][], y: number[], use: boolean[]): LinearFit {
  const cols = use.flatMap((u, j) => (u ? [j] : []))
  const p = cols.length + 1
  const xtx = Array.from({ length: p }, () => new Array<number>(p).fill(0))
  const xty = new Array<number>(p).fill(0)
  z.forEach((row, i) => {
    const xi = [...cols.map((j) => row[j] as number), 1]
    for (let a = 0; a < p; a++) {
      xty[a] = (xty[a] as number) + (xi[a] as number) * (y[i] as number)
      const ra = xtx[a] as number[]
      for (let b = 0; b <= a; b++) ra[b] = (ra[b] as number) + (xi[a] as number) * (xi[b] as number)
    }
  })
  for (let a = 0; a < p; a++) for (let b = a + 1; b < p; b++) (xtx[a] as number[])[b] = (xtx[b] as number[])[a] as number
  const w = choleskySolve(xtx, xty)
  const coef = new Array<number>(use.length).fill(0)
  cols.forEach((j, k) => (coef[j] = w[k] as number))
  return { coef, intercept: w[p - 1] as number }
}

export const predictOne = (fit: LinearFit, zRow: number[]): number =>
  zRow.reduce((s, v, j) => s + v * (fit.coef[j] as number), fit.intercept)

export interface RegressionMetrics {
  r2: number
  rmse: number
  mae: number
}

/** scikit-learn's r2_score, mean_squared_error(squared=False) and mean_absolute_error. */
export function regressionMetrics(y: number[], pred: number[]): RegressionMetrics {
  const n = y.length
  const mean = y.reduce((s, v) => s + v, 0) / n
  let sse = 0
  let sst = 0
  let sae = 0
  y.forEach((v, i) => {
    const e = v - (pred[i] as number)
    sse += e * e
    sae += Math.abs(e)
    sst += (v - mean) ** 2
  })
  return { r2: 1 - sse / sst, rmse: Math.sqrt(sse / n), mae: sae / n }
}

export interface ExampleOutput {
  /** Relative path (inside examples/diabetes) → content. */
  files: Record<string, string | Uint8Array>
  summary: { train: number; test: number; model: RegressionMetrics; baseline: RegressionMetrics }
}

/** Everything the example commits, from the source data set's text. */
export function buildExample(sourceCsv: string): ExampleOutput {
  const table = parseTable(sourceCsv)
  const features = table.header.slice(0, -1)
  const { train, test } = randomSplit(table.y.length, TRAIN_FRACTION, SEED)
  const pick = (idx: number[]) => ({ x: idx.map((i) => table.x[i] as number[]), y: idx.map((i) => table.y[i] as number) })
  const tr = pick(train)
  const te = pick(test)
  const { mean, scale } = standardiser(tr.x)
  const standardise = (row: number[]) => row.map((v, j) => (v - (mean[j] as number)) / (scale[j] as number))
  const zTrain = tr.x.map(standardise)
  const zTest = te.x.map(standardise)

  const model = fitOls(
    zTrain,
    tr.y,
    features.map(() => true),
  )
  // The "previous version": the same pipeline on three features only; it still takes all ten.
  const baseline = fitOls(
    zTrain,
    tr.y,
    features.map((f) => BASELINE_FEATURES.includes(f)),
  )

  const featureDoc = `input columns: ${features.join(',')}`
  const exportFit = (fit: LinearFit, name: string, doc: string) =>
    exportLinearRegression({ features, coef: fit.coef, intercept: fit.intercept, mean, scale, name, docString: `${doc}; ${featureDoc}` })

  const reference = zTest.map((row) => predictOne(model, row))
  const csv = (idx: number[]) => [table.header.join(','), ...idx.map((i) => table.lines[i] as string)].join('\n') + '\n'

  return {
    files: {
      'data/train.csv': csv(train),
      'data/test.csv': csv(test),
      'model.onnx': exportFit(model, 'diabetes_ols', 'ordinary least squares on 10 standardised features'),
      'baseline.onnx': exportFit(baseline, 'diabetes_ols_baseline', `ordinary least squares on ${BASELINE_FEATURES.join(', ')}`),
      'reference-predictions.csv': ['prediction', ...reference.map(String)].join('\n') + '\n',
    },
    summary: {
      train: train.length,
      test: test.length,
      model: regressionMetrics(te.y, reference),
      baseline: regressionMetrics(
        te.y,
        zTest.map((row) => predictOne(baseline, row)),
      ),
    },
  }
}
