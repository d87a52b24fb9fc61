import type { Cell } from '../../src/core/data/types.js'
import type { ScoredRows } from '../../src/core/evaluation/types.js'

/** Binary scored rows over classes [0, 1] (positive 1), as the pipeline builds them. */
export function binaryRows(opts: {
  y: number[]
  pred: number[]
  baselinePred?: number[]
  score?: number[]
  eceBins?: number
  columns?: Record<string, Cell[]>
}): ScoredRows {
  const score = opts.score ? Float64Array.from(opts.score) : undefined
  return {
    n: opts.y.length,
    task: 'binary',
    classes: [0, 1],
    positiveIndex: 1,
    threshold: 0.5,
    eceBins: opts.eceBins ?? 10,
    yTrue: Int32Array.from(opts.y),
    candidate: {
      predIndex: Int32Array.from(opts.pred),
      score,
      proba: score ? Float64Array.from(opts.score!.flatMap((p) => [1 - p, p])) : undefined,
    },
    baseline: opts.baselinePred ? { predIndex: Int32Array.from(opts.baselinePred) } : undefined,
    columns: opts.columns ?? {},
  }
}

/** Rows of one group: `pos` positives of which `tp` predicted positive, `neg` negatives of which `fp`. */
export function groupRows(value: Cell, pos: number, tp: number, neg: number, fp: number): { g: Cell[]; y: number[]; pred: number[] } {
  const y = [...Array<number>(pos).fill(1), ...Array<number>(neg).fill(0)]
  const pred = [
    ...Array<number>(tp).fill(1),
    ...Array<number>(pos - tp).fill(0),
    ...Array<number>(fp).fill(1),
    ...Array<number>(neg - fp).fill(0),
  ]
  return { g: Array<Cell>(pos + neg).fill(value), y, pred }
}

export function concatGroups(parts: { g: Cell[]; y: number[]; pred: number[] }[]): { g: Cell[]; y: number[]; pred: number[] } {
  return { g: parts.flatMap((p) => p.g), y: parts.flatMap((p) => p.y), pred: parts.flatMap((p) => p.pred) }
}
