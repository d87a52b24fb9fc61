import { performance } from 'node:perf_hooks'
import type { Cell } from '../data/types.js'
import type { PredictionBatch } from '../runners/types.js'
import { ProbabilityGuard } from './probabilities.js'

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
  /** Clips float32 overshoots of [0, 1] and counts them; set when the model gives probabilities. */
  guard?: ProbabilityGuard
  /** Scored rows whose label output is not the argmax of the probabilities, when the model gives both. */
  readonly disagreements: { count: number; rows: number[] } = { count: 0, rows: [] }
  /** Wall time of those comparisons. */
  consistencySeconds = 0
  private batches = 0

  /** `offset`: the batch's first row, 0-based in the data file. */
  add(labelColumn: Cell[], pred: PredictionBatch, where: string, offset = 0): void {
    const first = this.batches++ === 0
    if (first) {
      this.hasLabels = pred.labels !== undefined
      this.hasProbabilities = pred.probabilities !== undefined
      this.hasValues = pred.values !== undefined
      this.classes = pred.classes
      this.sources = pred.sources
      if (this.hasProbabilities)
        this.guard = new ProbabilityGuard(pred.classes?.length ?? 0, pred.sources.probabilities ?? 'probabilities', where)
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
    if (this.guard) this.guard.check(pred.probabilities!, offset + 1)
    if (this.hasLabels && this.hasProbabilities) this.compareOutputs(labelColumn, pred, k, offset)
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

  /** Argmax as numpy takes it (the first of equal maxima), compared by text: `1` and `"1"` are one class. */
  private compareOutputs(labelColumn: Cell[], pred: PredictionBatch, k: number, offset: number): void {
    const t = performance.now()
    const p = pred.probabilities!
    const raw = pred.classes!
    const classes = raw.map(String)
    const labels = pred.labels!
    for (let i = 0; i < pred.length; i++) {
      const y = labelColumn[i]
      if (y === null || y === undefined) continue
      let best = 0
      for (let j = 1; j < k; j++) if (p[i * k + j] > p[i * k + best]) best = j
      // Equal values need no text (String() of every row's label was most of this loop's time).
      const label = labels[i]
      if (label !== raw[best] && String(label) !== classes[best]) {
        this.disagreements.count++
        if (this.disagreements.rows.length < MAX_EXAMPLE_ROWS) this.disagreements.rows.push(offset + i + 1)
      }
    }
    this.consistencySeconds += (performance.now() - t) / 1000
  }
}

/** Row numbers kept as examples of a disagreement. */
const MAX_EXAMPLE_ROWS = 5
