import type { Batch, Column } from '../data/types.js'
import type { PredictionBatch } from '../runners/types.js'
import { createRng, type Rng } from '../stats/random.js'

/*
 * One side of a drift comparison (the reference, or one evaluation data set), collected as its rows
 * stream: per column, its values on at most `maxRows` rows. Beyond that, a seeded uniform sample of rows
 * (reservoir sampling, Algorithm R, the same rows for every column), so memory is bounded by maxRows ×
 * columns whatever the file's size, and the statistics are exact on the files they are tested on.
 */

/** The pseudo-columns of the model's answers and of the label, beside the data's own. */
export const PREDICTION_COLUMN = '(prediction)'
export const LABEL_COLUMN = '(label)'
/** The baseline model's answers on the data set's own rows (the candidate's are PREDICTION_COLUMN). */
export const BASELINE_COLUMN = '(baseline prediction)'

interface Kept {
  /** Numbers (NaN: missing or text). */
  numbers: Float64Array
  /** Text values where there were any (null elsewhere); created at the first text value. */
  text?: (string | null)[]
}

export class DriftSide {
  /** Rows seen (all of them, sampled or not). */
  rows = 0
  private readonly kept = new Map<string, Kept>()
  private readonly rng: Rng
  /** Slots filled so far (≤ maxRows). */
  private filled = 0

  constructor(
    readonly columns: string[],
    private readonly maxRows: number,
    seed: number,
  ) {
    this.rng = createRng(seed)
    for (const c of [...columns, PREDICTION_COLUMN, LABEL_COLUMN, BASELINE_COLUMN])
      this.kept.set(c, { numbers: new Float64Array(Math.min(maxRows, 4096)).fill(NaN) })
  }

  /** True when the side holds a sample of its rows rather than all of them. */
  get sampled(): boolean {
    return this.rows > this.maxRows
  }

  /** Rows kept: the statistics' sample size. */
  get size(): number {
    return this.filled
  }

  /**
   * Adds a batch: the data's columns, and the model's answers (`prediction`: one value per row, a number or
   * a class), the labels and the baseline model's answers when given.
   */
  add(
    batch: Batch,
    prediction?: (number | string | null)[] | Float64Array,
    label?: Column,
    baseline?: (number | string | null)[] | Float64Array,
  ): void {
    // Each row's slot first (−1: not kept), so that the rows are drawn in order whatever the columns.
    const slots = new Int32Array(batch.length)
    for (let i = 0; i < batch.length; i++) {
      const seen = this.rows++
      const slot = seen < this.maxRows ? seen : Math.floor(this.rng() * (seen + 1))
      slots[i] = slot < this.maxRows ? slot : -1
      if (slot < this.maxRows && slot >= this.filled) this.filled = slot + 1
    }
    for (const c of this.columns) this.putColumn(c, batch.columns[c], slots)
    if (prediction) this.putColumn(PREDICTION_COLUMN, prediction, slots)
    if (label) this.putColumn(LABEL_COLUMN, label, slots)
    if (baseline) this.putColumn(BASELINE_COLUMN, baseline, slots)
  }

  private putColumn(column: string, values: ArrayLike<unknown> | undefined, slots: Int32Array): void {
    const k = this.kept.get(column)!
    if (this.filled > k.numbers.length) {
      let size = k.numbers.length
      while (size < this.filled) size *= 2
      const grown = new Float64Array(Math.min(this.maxRows, size)).fill(NaN)
      grown.set(k.numbers)
      k.numbers = grown
    }
    if (values === undefined) {
      for (const s of slots) if (s >= 0) this.put(k, s, null)
    } else if (values instanceof Float64Array) {
      // Typed numbers (NaN: missing): copied as they are, the common case.
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i]
        if (s < 0) continue
        k.numbers[s] = values[i]
        if (k.text) k.text[s] = null
      }
    } else for (let i = 0; i < slots.length; i++) if (slots[i] >= 0) this.put(k, slots[i], values[i])
  }

  private put(k: Kept, slot: number, value: unknown): void {
    if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) {
      k.numbers[slot] = NaN
      if (k.text) k.text[slot] = null
    } else if (typeof value === 'number') {
      k.numbers[slot] = value
      if (k.text) k.text[slot] = null
    } else {
      k.numbers[slot] = NaN
      k.text ??= []
      k.text[slot] = String(value)
    }
  }

  /** A column's kept values: the numbers, the text values, and how many were missing. */
  values(column: string): { numbers: Float64Array; text: string[]; missing: number } {
    const k = this.kept.get(column)
    if (!k) return { numbers: new Float64Array(0), text: [], missing: 0 }
    const numbers: number[] = []
    const text: string[] = []
    let missing = 0
    for (let s = 0; s < this.filled; s++) {
      const t = k.text?.[s]
      if (t !== undefined && t !== null) text.push(t)
      // A column never given (no baseline model) keeps its first allocation: slots past it are missing.
      else if (s < k.numbers.length && !Number.isNaN(k.numbers[s])) numbers.push(k.numbers[s])
      else missing++
    }
    return { numbers: Float64Array.from(numbers), text, missing }
  }

  /** Whether a column had any value at all on this side (a prediction or label column may have none). */
  has(column: string): boolean {
    const v = this.values(column)
    return v.numbers.length > 0 || v.text.length > 0
  }
}

/** The model's answer per row, as drift compares it: a binary classifier's positive-class probability, else its class, or a regressor's value. */
export function predictionValues(pred: PredictionBatch, positiveIndex: number | undefined): (number | string | null)[] | Float64Array {
  if (pred.values) return pred.values
  const k = pred.classes?.length ?? 0
  if (pred.probabilities && k === 2 && positiveIndex !== undefined) {
    const out = new Float64Array(pred.length)
    for (let i = 0; i < pred.length; i++) out[i] = pred.probabilities[i * k + positiveIndex]
    return out
  }
  if (pred.labels) return pred.labels.map((l) => (l === null || l === undefined ? null : String(l)))
  if (pred.probabilities && pred.classes) {
    const out: string[] = []
    for (let i = 0; i < pred.length; i++) {
      let best = 0
      for (let j = 1; j < k; j++) if (pred.probabilities[i * k + j] > pred.probabilities[i * k + best]) best = j
      out.push(String(pred.classes[best]))
    }
    return out
  }
  return new Float64Array(pred.length).fill(NaN)
}
