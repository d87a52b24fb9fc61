import type { Cell } from '../data/types.js'
import type { PredictionBatch } from '../runners/types.js'

/** A Float64Array that grows by doubling, so a million rows cost a few copies, not a million pushes of boxed numbers. */
export class GrowableFloat64 {
  private data: Float64Array
  length = 0
  constructor(initial = 4096) {
    this.data = new Float64Array(initial)
  }
  append(values: ArrayLike<number>): void {
    if (this.length + values.length > this.data.length) {
      let size = this.data.length * 2
      while (size < this.length + values.length) size *= 2
      const next = new Float64Array(size)
      next.set(this.data.subarray(0, this.length))
      this.data = next
    }
    for (let i = 0; i < values.length; i++) this.data[this.length + i] = values[i]
    this.length += values.length
  }
  view(): Float64Array {
    return this.data.subarray(0, this.length)
  }
}

/**
 * Collects a model's predictions over all batches, keeping only rows whose label is present
 * (a row with no label cannot be scored, it is counted instead).
 */
export class PredictionAccumulator {
  readonly yTrue: (number | string)[] = []
  readonly labels: (number | string)[] = []
  readonly probabilities = new GrowableFloat64()
  readonly values = new GrowableFloat64()
  classes?: (number | string)[]
  sources: PredictionBatch['sources'] = {}
  hasLabels = false
  hasProbabilities = false
  hasValues = false
  skipped = 0
  private batches = 0

  add(labelColumn: Cell[], pred: PredictionBatch, where: string): void {
    const first = this.batches++ === 0
    if (first) {
      this.hasLabels = pred.labels !== undefined
      this.hasProbabilities = pred.probabilities !== undefined
      this.hasValues = pred.values !== undefined
      this.classes = pred.classes
      this.sources = pred.sources
    } else if (
      this.hasLabels !== (pred.labels !== undefined) ||
      this.hasProbabilities !== (pred.probabilities !== undefined) ||
      this.hasValues !== (pred.values !== undefined)
    ) {
      throw new Error(`${where}: the model returned different outputs for different batches`)
    }
    const k = this.classes?.length ?? 0
    if (this.hasProbabilities && pred.probabilities!.length !== pred.length * k) {
      throw new Error(`${where}: ${pred.probabilities!.length} probabilities for ${pred.length} rows × ${k} classes`)
    }
    const missing = labelColumn.reduce<number>((n, y) => (y === null || y === undefined ? n + 1 : n), 0)
    if (missing === 0) {
      // The common case: every row is labelled, so whole batches are appended at once.
      for (const y of labelColumn) this.yTrue.push(typeof y === 'boolean' ? Number(y) : (y as number | string))
      if (this.hasLabels) for (const l of pred.labels!) this.labels.push(l)
      if (this.hasProbabilities) this.probabilities.append(pred.probabilities!)
      if (this.hasValues) this.values.append(pred.values!)
      return
    }
    this.skipped += missing
    for (let i = 0; i < pred.length; i++) {
      const y = labelColumn[i]
      if (y === null || y === undefined) continue
      this.yTrue.push(typeof y === 'boolean' ? Number(y) : y)
      if (this.hasLabels) this.labels.push(pred.labels![i])
      if (this.hasProbabilities) this.probabilities.append(pred.probabilities!.subarray(i * k, (i + 1) * k))
      if (this.hasValues) this.values.append([pred.values![i]])
    }
  }
}
