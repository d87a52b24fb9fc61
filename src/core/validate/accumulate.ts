import { performance } from 'node:perf_hooks'
import type { Cell } from '../data/types.js'
import type { FloatArray, Label } from '../metrics/index.js'
import type { PredictionBatch } from '../runners/types.js'
import { ProbabilityGuard, type ProbabilityAdjustment } from './probabilities.js'

/**
 * Numbers appended batch by batch into a typed array that grows by doubling, so a million rows cost a
 * few copies, not a million pushes of boxed numbers. `narrow` (probabilities): float32 while every value
 * appended is one exactly (an ONNX model's outputs, widened to doubles by the runner), float64 from the
 * first value that is not (predictions files, servers' JSON). A float32 widens to a double exactly, so
 * the metrics read the same numbers from half the memory: a million binary rows hold 8 MB instead of 16,
 * and the doublings copy half as much.
 */
export class GrowableFloats {
  protected data: FloatArray
  length = 0
  constructor(narrow = true, initial = 4096) {
    this.data = narrow ? new Float32Array(initial) : new Float64Array(initial)
  }
  append(values: ArrayLike<number>): void {
    if (this.data instanceof Float32Array && !allFloat32(values)) {
      const wide = new Float64Array(this.data.length)
      wide.set(this.data.subarray(0, this.length))
      this.data = wide
    }
    if (this.length + values.length > this.data.length) {
      let size = this.data.length * 2
      while (size < this.length + values.length) size *= 2
      const next = this.data instanceof Float32Array ? new Float32Array(size) : new Float64Array(size)
      next.set(this.data.subarray(0, this.length))
      this.data = next
    }
    this.data.set(values, this.length)
    this.length += values.length
  }
  view(): FloatArray {
    return this.data.subarray(0, this.length)
  }
}

/** GrowableFloats that is float64 throughout (regression values, row indices). */
export class GrowableFloat64 extends GrowableFloats {
  constructor(initial = 4096) {
    super(false, initial)
  }
  override view(): Float64Array {
    return this.data.subarray(0, this.length) as Float64Array
  }
}

/** Whether float32 holds every value unchanged (NaN is not held: it widens the buffer, and is refused later). */
function allFloat32(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (Math.fround(values[i]) !== values[i]) return false
  return true
}

/** A batch smaller than this joins the list's tail row by row rather than stand as a part of its own. */
const MIN_PART = 1024

/**
 * Labels gathered a batch at a time and joined once, when first read. Pushed one by one, a million
 * labels grow one array some thirty times and leave about twice its size in dead copies on the JS heap
 * until a major GC (at 1M rows, two such arrays held ~30 MB of the peak); a copy of each batch costs no
 * regrowth, and `concat` builds the whole at its exact size.
 */
export class LabelList {
  private parts: Label[][] = []
  private tail: Label[] = []
  private joined?: Label[]
  private count = 0

  get length(): number {
    return this.count
  }

  /** Appends a batch's labels (copied: the caller's array may be reused). */
  addAll(batch: readonly Label[]): void {
    this.joined = undefined
    this.count += batch.length
    if (batch.length < MIN_PART) {
      for (const v of batch) this.tail.push(v)
      return
    }
    this.flushTail()
    this.parts.push(batch.slice())
  }

  add(value: Label): void {
    this.joined = undefined
    this.count++
    this.tail.push(value)
  }

  /** Every label in order, as one array (built on the first read after a change, then kept). */
  array(): Label[] {
    if (this.joined === undefined) {
      this.flushTail()
      // Spread in groups: a call takes a bounded number of arguments.
      let all: Label[] = this.parts.length === 1 ? this.parts[0] : []
      for (let i = 0; this.parts.length > 1 && i < this.parts.length; i += 4096) all = all.concat(...this.parts.slice(i, i + 4096))
      this.parts = all.length > 0 ? [all] : []
      this.joined = all
    }
    return this.joined
  }

  private flushTail(): void {
    if (this.tail.length === 0) return
    this.parts.push(this.tail)
    this.tail = []
  }
}

/**
 * Collects a model's predictions over all batches, keeping only rows whose label is present
 * (a row with no label cannot be scored, it is counted instead).
 */
export class PredictionAccumulator {
  private readonly trueList = new LabelList()
  private readonly labelList = new LabelList()
  readonly probabilities = new GrowableFloats()
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

  /** The label column's value of each kept row (booleans as 0/1). */
  get yTrue(): Label[] {
    return this.trueList.array()
  }

  /** The model's label of each kept row, when it gives labels. */
  get labels(): Label[] {
    return this.labelList.array()
  }

  /** Rows kept (those with a label). */
  get rows(): number {
    return this.trueList.length
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
      const booleans = labelColumn.some((y) => typeof y === 'boolean')
      this.trueList.addAll(
        booleans ? labelColumn.map((y) => (typeof y === 'boolean' ? Number(y) : (y as Label))) : (labelColumn as Label[]),
      )
      if (this.hasLabels) this.labelList.addAll(pred.labels!)
      if (this.hasProbabilities) this.probabilities.append(pred.probabilities!)
      if (this.hasValues) this.values.append(pred.values!)
      if (this.rowIndex) for (let i = 0; i < pred.length; i++) this.rowIndex.append([offset + i])
      return
    }
    this.skipped += missing
    for (let i = 0; i < pred.length; i++) {
      const y = labelColumn[i]
      if (y === null || y === undefined) continue
      this.trueList.add(typeof y === 'boolean' ? Number(y) : y)
      if (this.hasLabels) this.labelList.add(pred.labels![i])
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
      acc.trueList.add(p.yTrue[i])
      if (acc.hasLabels) acc.labelList.add(p.labels[i])
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
  probabilities: FloatArray
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
