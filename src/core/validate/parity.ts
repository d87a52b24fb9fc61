import type { PredictionBatch } from '../runners/types.js'
import type { DatasetResult } from '../result/types.js'

type Parity = NonNullable<DatasetResult['parity']>

/** What a shard's counter carries to the merge: its result and the rows that disagreed in any way. */
export type ParityState = Parity & { disagreeingRows: number }

/**
 * Conversion parity: rows where the model under test disagrees with the source framework's own
 * predictions (e.g. the scikit-learn model an ONNX file was exported from). Labels must be equal;
 * probabilities and regression values may differ by at most `tolerance` (float32 vs float64 rounding).
 */
export class ParityCounter {
  private rows = 0
  private labelMismatches = 0
  private probabilityMismatches = 0
  private maxAbsDiff = 0
  private disagreeingRows = 0
  private readonly examples: Parity['examples'] = []

  constructor(
    private readonly reference: string,
    private readonly tolerance: number,
  ) {}

  add(model: PredictionBatch, ref: PredictionBatch, offset: number): void {
    const columnMap = alignClasses(model.classes, ref.classes)
    const km = model.classes?.length ?? 0
    const kr = ref.classes?.length ?? 0
    for (let i = 0; i < model.length; i++) {
      const row = offset + i
      let disagrees = false
      if (model.labels && ref.labels && String(model.labels[i]) !== String(ref.labels[i])) {
        this.labelMismatches++
        disagrees = true
        this.example(row, `label ${String(model.labels[i])}, reference ${String(ref.labels[i])}`)
      }
      let worst = 0
      if (model.probabilities && ref.probabilities && columnMap) {
        for (let c = 0; c < columnMap.length; c++) {
          const d = Math.abs(model.probabilities[i * km + c] - ref.probabilities[i * kr + columnMap[c]])
          if (d > worst || Number.isNaN(d)) worst = Number.isNaN(d) ? Infinity : d
        }
      } else if (model.values && ref.values) {
        const d = Math.abs(model.values[i] - ref.values[i])
        worst = Number.isNaN(d) ? Infinity : d
      }
      if (worst > this.maxAbsDiff) this.maxAbsDiff = worst
      if (worst > this.tolerance) {
        this.probabilityMismatches++
        disagrees = true
        this.example(row, `largest difference ${worst.toExponential(3)} > tolerance ${this.tolerance}`)
      }
      if (disagrees) this.disagreeingRows++
    }
    this.rows += model.length
  }

  /** Adds a shard's counts; examples are kept in row order, the first five, as one pass over every row keeps them. */
  absorb(p: ParityState): void {
    this.rows += p.rows
    this.labelMismatches += p.labelMismatches
    this.probabilityMismatches += p.probabilityMismatches
    this.maxAbsDiff = Math.max(this.maxAbsDiff, p.maxAbsDiff)
    this.disagreeingRows += p.disagreeingRows
    this.examples.push(...p.examples)
    this.examples.sort((a, b) => a.row - b.row)
    this.examples.length = Math.min(this.examples.length, 5)
  }

  private example(row: number, message: string): void {
    // Rows are numbered from 1, as the contract's examples are.
    if (this.examples.length < 5) this.examples.push({ row: row + 1, message: `row ${row + 1}: ${message}` })
  }

  /** Rows that disagree on the label, beyond the tolerance, or both (each row once). */
  get mismatches(): number {
    return this.disagreeingRows
  }

  state(): ParityState {
    return { ...this.result(), examples: this.examples.map((e) => ({ ...e })), disagreeingRows: this.disagreeingRows }
  }

  result(): Parity {
    return {
      reference: this.reference,
      rows: this.rows,
      labelMismatches: this.labelMismatches,
      probabilityMismatches: this.probabilityMismatches,
      maxAbsDiff: this.maxAbsDiff,
      tolerance: this.tolerance,
      examples: this.examples,
    }
  }
}

/** For each of the model's probability columns, the reference column of the same class; undefined if they cannot be matched. */
function alignClasses(model?: (number | string)[], ref?: (number | string)[]): number[] | undefined {
  if (!model || !ref) return undefined
  const index = new Map(ref.map((c, i) => [String(c), i]))
  const map = model.map((c) => index.get(String(c)))
  return map.every((m) => m !== undefined) ? (map as number[]) : undefined
}
