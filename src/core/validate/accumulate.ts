import { performance } from 'node:perf_hooks'
import type { Cell } from '../data/types.js'
import type { PredictionBatch } from '../runners/types.js'
import { ProbabilityGuard, type ProbabilityAdjustment } from './probabilities.js'

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
  /** The 0-based data row of each kept row, when asked for (a shard's rows are not all the file's). */
  readonly rowIndex?: GrowableFloat64
  private batches = 0

  constructor(opts: { rowIndex?: boolean } = {}) {
    if (opts.rowIndex) this.rowIndex = new GrowableFloat64()
  }

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
      if (this.rowIndex) for (let i = 0; i < pred.length; i++) this.rowIndex.append([offset + i])
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
      this.rowIndex?.append([offset + i])
    }
  }

  /** Everything the metrics read, for a shard's state file (shard/validate.ts); typed arrays stay typed. */
  state(): AccumulatorState {
    return {
      yTrue: this.yTrue,
      labels: this.labels,
      probabilities: this.probabilities.view(),
      values: this.values.view(),
      rowIndex: this.rowIndex?.view() ?? new Float64Array(0),
      classes: this.classes,
      sources: this.sources,
      hasLabels: this.hasLabels,
      hasProbabilities: this.hasProbabilities,
      hasValues: this.hasValues,
      skipped: this.skipped,
      guard: this.guard?.summary(),
      guardOutput: this.guard ? (this.sources.probabilities ?? 'probabilities') : undefined,
      disagreements: { count: this.disagreements.count, rows: [...this.disagreements.rows] },
      consistencySeconds: this.consistencySeconds,
    }
  }

  /**
   * The accumulator one pass over every row would have built, from shards' states: rows interleaved back
   * into file order by their row index, so that every metric, interval and example row is the unsharded one.
   */
  static merge(parts: AccumulatorState[], where: string): PredictionAccumulator {
    const acc = new PredictionAccumulator()
    const first = parts[0]
    acc.classes = first.classes
    acc.sources = first.sources
    acc.hasLabels = first.hasLabels
    acc.hasProbabilities = first.hasProbabilities
    acc.hasValues = first.hasValues
    acc.batches = 1
    const k = first.classes?.length ?? 0
    if (first.hasProbabilities) {
      acc.guard = new ProbabilityGuard(k, first.guardOutput ?? 'probabilities', where)
      for (const p of parts) acc.guard.absorb(p.guard)
    }
    const at = parts.map(() => 0)
    const total = parts.reduce((n, p) => n + p.rowIndex.length, 0)
    for (let done = 0; done < total; done++) {
      // The shard whose next row comes first in the file (few shards: a scan beats a heap).
      let s = -1
      for (let j = 0; j < parts.length; j++)
        if (at[j] < parts[j].rowIndex.length && (s < 0 || parts[j].rowIndex[at[j]] < parts[s].rowIndex[at[s]])) s = j
      const p = parts[s]
      const i = at[s]++
      acc.yTrue.push(p.yTrue[i])
      if (acc.hasLabels) acc.labels.push(p.labels[i])
      if (acc.hasProbabilities) acc.probabilities.append(p.probabilities.subarray(i * k, (i + 1) * k))
      if (acc.hasValues) acc.values.append([p.values[i]])
    }
    acc.skipped = parts.reduce((n, p) => n + p.skipped, 0)
    acc.disagreements.count = parts.reduce((n, p) => n + p.disagreements.count, 0)
    acc.disagreements.rows.push(
      ...parts
        .flatMap((p) => p.disagreements.rows)
        .sort((a, b) => a - b)
        .slice(0, MAX_EXAMPLE_ROWS),
    )
    acc.consistencySeconds = parts.reduce((n, p) => n + p.consistencySeconds, 0)
    return acc
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

/** A PredictionAccumulator's contents, as a shard hands them to the merge. */
export interface AccumulatorState {
  yTrue: (number | string)[]
  labels: (number | string)[]
  probabilities: Float64Array
  values: Float64Array
  /** The 0-based data row of each kept row, ascending. */
  rowIndex: Float64Array
  classes?: (number | string)[]
  sources: PredictionBatch['sources']
  hasLabels: boolean
  hasProbabilities: boolean
  hasValues: boolean
  skipped: number
  guard?: ProbabilityAdjustment
  /** The output the guard names in its notes. */
  guardOutput?: string
  disagreements: { count: number; rows: number[] }
  consistencySeconds: number
}

/** Row numbers kept as examples of a disagreement. */
const MAX_EXAMPLE_ROWS = 5
