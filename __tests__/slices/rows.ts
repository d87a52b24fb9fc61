import type { Cell } from '../../src/core/data/types.js'
import type { ScoredRows } from '../../src/core/evaluation/types.js'

/** Binary scored rows over classes [0, 1] (positive 1), as the pipeline builds them. */
export function binaryRows(opts: {
  y: number[]
  pred?: number[]
  score?: number[]
  baselinePred?: number[]
  columns?: Record<string, Cell[]>
}): ScoredRows {
  const score = opts.score && Float64Array.from(opts.score)
  return {
    n: opts.y.length,
    task: 'binary',
    classes: [0, 1],
    positiveIndex: 1,
    threshold: 0.5,
    eceBins: 10,
    yTrue: Int32Array.from(opts.y),
    candidate: {
      predIndex: opts.pred && Int32Array.from(opts.pred),
      score,
      proba: score && Float64Array.from(opts.score!.flatMap((p) => [1 - p, p])),
    },
    baseline: opts.baselinePred ? { predIndex: Int32Array.from(opts.baselinePred) } : undefined,
    columns: opts.columns ?? {},
  }
}

export function regressionRows(opts: { y: number[]; values: number[]; columns?: Record<string, Cell[]> }): ScoredRows {
  return {
    n: opts.y.length,
    task: 'regression',
    yValue: Float64Array.from(opts.y),
    candidate: { values: Float64Array.from(opts.values) },
    columns: opts.columns ?? {},
  }
}

/** `count` rows of which the first `correct` are predicted right (labels alternate 0/1). */
export function block(count: number, correct: number): { y: number[]; pred: number[] } {
  const y = Array.from({ length: count }, (_, i) => i % 2)
  return { y, pred: y.map((v, i) => (i < correct ? v : 1 - v)) }
}
