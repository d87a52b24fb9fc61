import { CellError, UserError, errorText } from '../../errors.js'
import { columnCells, type Cell, type Column } from '../../data/types.js'
import { clipRounding, probabilityTolerance } from '../../validate/probabilities.js'
import { computeMetrics, type MetricsResult } from '../../metrics/index.js'
import { describeLabel, type Label } from '../../metrics/labels.js'
import type { Task } from '../../result/types.js'
import type { ModelRunner, PredictionBatch } from '../../runners/types.js'
import { openRng } from '../stream.js'
import type { Interval } from '../../stats/types.js'
import type { FeatureProfile, RobustnessTest, Rng } from '../types.js'

/*
 * What every robustness test shares: a model session that counts its cost and survives a crashing
 * model, and a judge that reads outputs the same way for every test (decisions, flips, scores, metrics).
 */

/**
 * Columns in the model's order: `columns[j][i]` is feature j of row i. A numeric feature is a
 * Float64Array (NaN where a value is missing, as the data layer holds it: data/types.ts), so that
 * perturbed copies are written into typed arrays and go to the model without a cell looked at; any
 * other feature is an array of cells. Read a cell of either kind with `cellAt`.
 */
export type Columns = Column[]

export function rowCount(columns: Columns): number {
  return columns[0]?.length ?? 0
}

/**
 * The column as a Float64Array when every cell is a number or missing (null, NaN): the engine's
 * representation of a numeric feature. Other columns come back as they are.
 */
export function typedColumn(column: Column): Column {
  if (column instanceof Float64Array) return column
  const n = column.length
  for (let i = 0; i < n; i++) {
    const c = column[i]
    if (c !== null && typeof c !== 'number') return column
  }
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const c = column[i]
    out[i] = c === null ? NaN : (c as number)
  }
  return out
}

/** Every all-numeric column as a Float64Array (see typedColumn); the same columns when they already are. */
export function typedColumns(columns: Columns): Columns {
  return columns.every((c) => c instanceof Float64Array) ? columns : columns.map(typedColumn)
}

/** Rows [start, end): views of typed columns (no copy: columns are never written in place), copies of cells. */
export function sliceColumns(columns: Columns, start: number, end: number): Columns {
  return columns.map((c) => (c instanceof Float64Array ? c.subarray(start, end) : c.slice(start, end)))
}

export function pickRows(columns: Columns, rows: readonly number[]): Columns {
  return columns.map((c) => {
    if (!(c instanceof Float64Array)) return rows.map((i) => c[i])
    const out = new Float64Array(rows.length)
    for (let m = 0; m < rows.length; m++) out[m] = c[rows[m]]
    return out
  })
}

/**
 * The parts one after the other. A feature typed in every part is one Float64Array, with no copy when the
 * parts are already consecutive views of one buffer (perturbed copies written in place: scorePairedCopies);
 * otherwise cells (a missing number becomes null). Native concat for cells: flatMap over long columns is
 * several times slower.
 */
export function concatColumns(parts: Columns[]): Columns {
  if (parts.length === 1) return parts[0]
  return parts[0].map((_, j) => {
    const columns = parts.map((p) => p[j])
    if (!columns.every((c): c is Float64Array => c instanceof Float64Array)) {
      return ([] as Cell[]).concat(...columns.map(columnCells))
    }
    const first = columns[0]
    let contiguous = true
    let end = first.byteOffset + first.byteLength
    let length = first.length
    for (let m = 1; m < columns.length; m++) {
      const c = columns[m]
      if (c.buffer !== first.buffer || c.byteOffset !== end) contiguous = false
      end = c.byteOffset + c.byteLength
      length += c.length
    }
    if (contiguous) return new Float64Array(first.buffer, first.byteOffset, length)
    const out = new Float64Array(length)
    let at = 0
    for (const c of columns) {
      out.set(c, at)
      at += c.length
    }
    return out
  })
}

/** Rows [start, end) of a prediction batch. */
export function sliceOutputs(out: PredictionBatch, start: number, end: number): PredictionBatch {
  const k = out.classes?.length ?? 0
  return {
    length: end - start,
    labels: out.labels?.slice(start, end),
    probabilities: out.probabilities?.slice(start * k, end * k),
    classes: out.classes,
    values: out.values?.slice(start, end),
    sources: out.sources,
  }
}

export function concatOutputs(parts: PredictionBatch[]): PredictionBatch {
  const first = parts[0]
  const floats = (pick: (p: PredictionBatch) => Float64Array | undefined) => {
    if (pick(first) === undefined) return undefined
    const out = new Float64Array(parts.reduce((n, p) => n + (pick(p)?.length ?? 0), 0))
    let at = 0
    for (const p of parts) {
      out.set(pick(p)!, at)
      at += pick(p)!.length
    }
    return out
  }
  return {
    length: parts.reduce((n, p) => n + p.length, 0),
    labels: first.labels && ([] as (number | string)[]).concat(...parts.map((p) => p.labels ?? [])),
    probabilities: floats((p) => p.probabilities),
    classes: first.classes,
    values: floats((p) => p.values),
    sources: first.sources,
  }
}

/** FNV-1a: a stable 32-bit hash of a test id, so each test's random stream depends on the seed and its id only. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The random stream of one test: adding or removing other tests does not change it. */
export function rngFor(seed: number, id: string): Rng {
  // createRng's stream, its state open to the noise loop (stream.ts).
  return openRng((seed ^ fnv1a(id)) >>> 0)
}

/** A failed model call: `refused` when the runner named a value its input cannot take (a CellError). */
export interface CallFailure {
  error: unknown
  refused: boolean
  message: string
}

export type CallResult = { ok: true; out: PredictionBatch } | ({ ok: false } & CallFailure)

/**
 * The model under test, with the cost of every call counted. A model that dies (a crashed process) is
 * replaced by `reopen` when there is one; without it, `dead` says why later tests could not run.
 */
export class ModelSession {
  modelCalls = 0
  rowsScored = 0
  /** Probabilities outside [0, 1] by float32 rounding only, clipped as validate-model clips them. */
  clippedProbabilities = 0
  /** Times the model was started again after it stopped answering. */
  restarts = 0
  dead?: string

  constructor(
    private runner: ModelRunner,
    readonly features: string[],
    private readonly reopen?: () => Promise<ModelRunner>,
  ) {}

  /** Scores rows (`offset`: the first one's index in the sample); throws what the runner throws. A reply of the wrong length is a UserError. */
  async predict(columns: Columns, offset = 0): Promise<PredictionBatch> {
    if (this.dead !== undefined) throw new UserError(this.dead)
    const length = rowCount(columns)
    this.modelCalls++
    this.rowsScored += length
    const out = await this.runner.predict({ offset, length, features: this.features, columns })
    if (out.length !== length) throw new UserError(`the model returned ${out.length} predictions for ${length} rows`)
    if (out.probabilities) this.clippedProbabilities += clipRounding(out.probabilities, out.classes?.length ?? 0)
    return out
  }

  /**
   * Scores rows and reports a failure instead of throwing. After a failure that is not a refusal, the
   * model is probed with `probe` (rows it scored before) and reopened when it no longer answers.
   */
  async tryPredict(columns: Columns, probe: Columns): Promise<CallResult> {
    try {
      return { ok: true, out: await this.predict(columns) }
    } catch (error) {
      const refused = error instanceof CellError
      if (!refused && this.dead === undefined) await this.recover(probe, errorText(error))
      return { ok: false, error, refused, message: firstLine(errorText(error)) }
    }
  }

  private async recover(probe: Columns, why: string): Promise<void> {
    try {
      await this.predict(probe)
      return
    } catch {
      // The model no longer answers rows it scored before: it crashed.
    }
    if (this.reopen === undefined) {
      this.dead = `the model stopped answering after an error: ${firstLine(why)}`
      return
    }
    try {
      await this.runner.close().catch(() => {})
      // `reopen` belongs to the caller, which closes every runner it opened.
      this.runner = await this.reopen()
      this.restarts++
    } catch (e) {
      this.dead = `the model could not be restarted after an error: ${firstLine(errorText(e))}`
    }
  }
}

/** The first line of an error text (a model's stderr is quoted on it: runners/command.ts). */
export function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '') ?? text
}

/** 95% Wilson score interval of k successes in n trials. */
export function wilson(k: number, n: number, confidence = 0.95): Interval {
  if (n === 0) return { low: 0, high: 1, confidence, method: 'wilson' }
  const z = 1.959963984540054
  const p = k / n
  const z2 = z * z
  const centre = p + z2 / (2 * n)
  const half = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))
  const denom = 1 + z2 / n
  return { low: Math.max(0, (centre - half) / denom), high: Math.min(1, (centre + half) / denom), confidence, method: 'wilson' }
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** A number for messages: 4 significant digits, no exponent for everyday magnitudes. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x)
  if (Number.isInteger(x)) return String(x)
  return String(Number(x.toPrecision(4)))
}

export function percent(x: number): string {
  return `${Number((x * 100).toFixed(1))}%`
}

export function describeCell(c: Cell | undefined): string {
  if (c === null || c === undefined) return 'missing'
  if (typeof c === 'string') return c.length > 40 ? `${JSON.stringify(c.slice(0, 20))}… (${c.length} characters)` : JSON.stringify(c)
  if (typeof c === 'number') return fmt(c)
  return String(c)
}

/** The headline metric each task's degradation is reported on. */
export const HEADLINE_METRIC: Record<Task, string> = { binary: 'accuracy', multiclass: 'accuracy', regression: 'rmse' }

export interface JudgeOptions {
  task: Task
  /** True labels of the sample, as read. */
  yTrue: Cell[]
  /** Classes in probability-column order (the manifest's, else the model's, else the sorted labels). */
  classes?: Label[]
  positiveClass?: Label
  threshold: number
  /** Regression: outputs moving more than this flip (already in the label's units). */
  tolerance: number
  eceBins?: number
}

/** Distinct labels align remembers (a regression's values are not labels worth keeping). */
const ALIGN_MEMO = 1024

/**
 * Reads a model's outputs for every test alike. A decision is the predicted label (the model's own when it
 * gives labels, else the thresholded or most probable class), or the value for regression; a flip is a
 * changed decision, or a value moved by more than the tolerance.
 */
export class Judge {
  readonly task: Task
  readonly classes?: Label[]
  readonly positiveClass?: Label
  readonly yTrue: Label[]
  readonly threshold: number
  readonly tolerance: number
  private readonly eceBins?: number
  private readonly byText?: Map<string, Label>
  private readonly aligned = new Map<Label, Label>()

  constructor(o: JudgeOptions) {
    this.task = o.task
    this.classes = o.classes
    this.threshold = o.threshold
    this.tolerance = o.tolerance
    this.eceBins = o.eceBins
    this.byText = o.classes && new Map(o.classes.map((c) => [String(c), c]))
    this.positiveClass = o.task === 'binary' ? (o.positiveClass ?? o.classes?.[o.classes.length - 1]) : undefined
    this.yTrue = o.yTrue.map((y) => this.align(typeof y === 'boolean' ? Number(y) : (y as Label)))
  }

  /** A label read from a file may be `1` where the model says `"1"`: labels are matched to the classes by text. */
  align(label: Label): Label {
    if (this.byText === undefined) return label
    // Memoised by the label itself: String() of every row's label cost more than the flips' count.
    let aligned = this.aligned.get(label)
    if (aligned === undefined) {
      aligned = this.byText.get(String(label)) ?? label
      if (this.aligned.size < ALIGN_MEMO) this.aligned.set(label, aligned)
    }
    return aligned
  }

  /** One decision per row. */
  decisions(out: PredictionBatch): Label[] | Float64Array {
    if (this.task === 'regression') {
      if (out.values) return out.values
      if (out.labels) return Float64Array.from(out.labels, Number)
      throw new UserError('the task is regression but the model gives no numeric predictions')
    }
    if (out.labels) return out.labels.map((l) => this.align(l))
    const proba = out.probabilities
    const classes = out.classes ?? this.classes
    if (!proba || !classes) throw new UserError('the model gives neither labels nor probabilities with their classes')
    const k = classes.length
    const labels: Label[] = []
    for (let i = 0; i < out.length; i++) {
      if (this.task === 'binary' && k === 2) {
        const pos = classes.findIndex((c) => String(c) === String(this.positiveClass))
        labels.push(this.align(classes[proba[i * k + pos] >= this.threshold ? pos : 1 - pos]))
      } else {
        let best = 0
        for (let c = 1; c < k; c++) if (proba[i * k + c] > proba[i * k + best]) best = c
        labels.push(this.align(classes[best]))
      }
    }
    return labels
  }

  flipped(clean: Label[] | Float64Array, other: Label[] | Float64Array, i: number): boolean {
    return this.differs(clean[i], other[i])
  }

  /** Two decisions differ: another label, or values further apart than the tolerance. */
  differs(a: Label, b: Label): boolean {
    if (this.task === 'regression') return Math.abs((a as number) - (b as number)) > this.tolerance
    return a !== b
  }

  /**
   * The number a directional expectation is about: p(positive) for binary, the predicted value for
   * regression, the probability of `cleanDecision` (the clean predicted class) for multiclass. Without
   * probabilities, 1 when the decision is that class and 0 otherwise.
   */
  score(out: PredictionBatch, decisions: Label[] | Float64Array, i: number, cleanDecision: Label | number): number {
    if (this.task === 'regression') return decisions[i] as number
    const target = this.task === 'binary' ? this.positiveClass : cleanDecision
    const classes = out.classes ?? this.classes
    if (out.probabilities && classes) {
      const c = classes.findIndex((x) => String(x) === String(target))
      if (c >= 0) return out.probabilities[i * classes.length + c]
    }
    return String(decisions[i]) === String(target) ? 1 : 0
  }

  scoreName(cleanDecision?: Label | number): string {
    if (this.task === 'regression') return 'prediction'
    if (this.task === 'binary') return 'p'
    return `p(${cleanDecision === undefined ? 'clean class' : describeLabel(cleanDecision as Label)})`
  }

  /** Every metric the outputs allow; throws when they cannot be computed. */
  metrics(out: PredictionBatch): MetricsResult {
    if (this.task === 'regression') {
      const yTrue = this.yTrue.map(Number)
      return computeMetrics('regression', { yTrue, values: this.decisions(out) as Float64Array })
    }
    return computeMetrics(this.task, {
      yTrue: this.yTrue,
      yPred: out.labels?.map((l) => this.align(l)),
      proba: out.probabilities,
      classes: out.classes ?? this.classes,
      positiveClass: this.positiveClass,
      threshold: this.threshold,
      eceBins: this.eceBins,
    })
  }

  /**
   * Why the outputs are not valid predictions (the first problem found), or undefined: `row` is the
   * problem's position in the batch (0-based, absent when it concerns the whole batch); `problem` does
   * not name the row, so that a caller can name it in the data's own numbering.
   */
  invalid(out: PredictionBatch): { row?: number; problem: string } | undefined {
    if (out.labels) {
      const i = out.labels.findIndex((l) => l === null || l === undefined || (typeof l === 'number' && !Number.isFinite(l)))
      if (i >= 0) return { row: i, problem: `label ${String(out.labels[i])}` }
    }
    if (out.probabilities) {
      const k = out.classes?.length ?? 0
      // Rounding overshoots were clipped when the model answered (ModelSession.predict); sums get the same slack.
      const tol = Math.max(1e-6, probabilityTolerance(k))
      for (let i = 0; i < out.length; i++) {
        let sum = 0
        for (let c = 0; c < k; c++) {
          const p = out.probabilities[i * k + c]
          if (!(p >= 0 && p <= 1)) return { row: i, problem: `probability ${fmt(p)}` }
          sum += p
        }
        if (k > 0 && Math.abs(sum - 1) > tol) return { row: i, problem: `probabilities sum to ${fmt(sum)}` }
      }
    }
    if (out.values) {
      const i = out.values.findIndex((v) => !Number.isFinite(v))
      if (i >= 0) return { row: i, problem: `value ${fmt(out.values[i])}` }
    }
    if (!out.labels && !out.probabilities && !out.values) return { problem: 'no labels, probabilities or values' }
    return undefined
  }
}

/** What the tests share about one run: the model, the sample, the clean pass. */
export interface TestContext {
  session: ModelSession
  judge: Judge
  /** The sample, in the model's feature order. */
  columns: Columns
  profiles: FeatureProfile[]
  /** 1-based data row (in the file) of each sample row, for messages. */
  rowNumbers: number[]
  clean: PredictionBatch
  cleanDecisions: Label[] | Float64Array
  cleanMetrics: Record<string, number>
  batchSize: number
  seed: number
  /** A few rows the model scored cleanly: asking them again tells whether it is still alive. */
  probe: Columns
  /** A baseline model the invariance tests also score, on the same perturbed rows. */
  baseline?: BaselineContext
}

/** The baseline model as the invariance tests use it. */
export interface BaselineContext {
  session: ModelSession
  /** The baseline's input columns out of the candidate's (`columns[j]` is the candidate's feature j): the same values. */
  pick: (columns: Columns) => Columns
  /** Its decisions on the clean sample: a baseline row flips when its own decision changes. */
  cleanDecisions: Label[] | Float64Array
  /** How messages call it: `production`, `the baseline`, … */
  against: string
}

/**
 * Where a copy writes a numeric feature it changes: `target(j)` is a Float64Array of the chunk's length,
 * the copy's part of one buffer that holds feature j of every copy of the chunk, so that the copies go
 * to the model in one call without being concatenated. Written once per chunk and copy, never kept.
 */
export type CopyTarget = (j: number) => Float64Array

/** Makes a perturbed copy of a chunk of rows; `start` is the chunk's first row in the sample. */
export type Transform = (chunk: Columns, start: number, target?: CopyTarget) => Columns

export type CopyResult = { ok: true; out: PredictionBatch } | { ok: false; failure: CallFailure }

/**
 * Scores K transformed copies of the sample, chunk by chunk: one model call per chunk carries all K
 * copies, so K perturbations cost K clean passes in rows scored but only one pass in model calls.
 * When a combined call fails, the chunk's copies are retried one by one, so one bad perturbation
 * does not sink the others. Each transform sees the chunks in order (its random stream stays aligned).
 */
export async function scoreCopies(ctx: TestContext, transforms: Transform[]): Promise<CopyResult[]> {
  return (await scorePairedCopies(ctx, transforms)).candidate
}

/**
 * scoreCopies, with the baseline model (when there is one) fed the very copies the candidate got: each
 * perturbed chunk is made once, so both models see the same values whatever the transforms draw.
 * A copy whose candidate call failed is not made again, for either model: `baseline[k]` means something
 * only when `candidate[k]` is ok.
 */
export async function scorePairedCopies(
  ctx: TestContext,
  transforms: Transform[],
  baseline: BaselineContext | undefined = ctx.baseline,
): Promise<{ candidate: CopyResult[]; baseline?: CopyResult[] }> {
  const n = rowCount(ctx.columns)
  const candidate = new CopyScorer(ctx.session, ctx.probe, transforms.length)
  const base = baseline && new CopyScorer(baseline.session, baseline.pick(ctx.probe), transforms.length)
  for (let start = 0; start < n; start += ctx.batchSize) {
    const end = Math.min(n, start + ctx.batchSize)
    const chunk = sliceColumns(ctx.columns, start, end)
    const live = transforms.flatMap((_, k) => (candidate.failed(k) ? [] : [k]))
    if (live.length === 0) break
    const copies = makeCopies(
      chunk,
      start,
      live.map((k) => transforms[k]),
    )
    await candidate.score(live, copies, end - start)
    if (!base || !baseline) continue
    const paired = live.flatMap((k, m) => (candidate.failed(k) || base.failed(k) ? [] : [m]))
    await base.score(
      paired.map((m) => live[m]),
      paired.map((m) => baseline.pick(copies[m])),
      end - start,
    )
  }
  return { candidate: candidate.results(), ...(base ? { baseline: base.results() } : {}) }
}

/**
 * Copy m of a chunk by transforms[m], numeric features written into consecutive parts of one buffer a
 * feature (allocated when a copy first writes it); a copy that leaves such a feature as it was gets it
 * copied into its part, so that concatColumns finds every typed feature contiguous and copies nothing.
 */
function makeCopies(chunk: Columns, start: number, transforms: Transform[]): Columns[] {
  const length = rowCount(chunk)
  const count = transforms.length
  const buffers = new Array<Float64Array | undefined>(chunk.length)
  const part = (j: number, m: number) => {
    const buffer = (buffers[j] ??= new Float64Array(count * length))
    return buffer.subarray(m * length, (m + 1) * length)
  }
  const copies = transforms.map((transform, m) => transform(chunk, start, (j) => part(j, m)))
  if (count === 1) return copies
  return copies.map((copy, m) =>
    copy.map((column, j) => {
      const buffer = buffers[j]
      if (buffer === undefined || !(column instanceof Float64Array)) return column
      if (column.buffer === buffer.buffer && column.byteOffset === m * length * 8) return column
      const into = part(j, m)
      into.set(column)
      return into
    }),
  )
}

/** One model's outputs of the copies, chunk after chunk, and the copies it failed on. */
class CopyScorer {
  private readonly parts: PredictionBatch[][]
  private readonly failures: (CallFailure | undefined)[]

  constructor(
    private readonly session: ModelSession,
    private readonly probe: Columns,
    count: number,
  ) {
    this.parts = Array.from({ length: count }, () => [])
    this.failures = new Array<CallFailure | undefined>(count).fill(undefined)
  }

  failed(k: number): boolean {
    return this.failures[k] !== undefined
  }

  /** Copies `copies[m]` of transforms `ks[m]`, each `length` rows: in one call, else one by one. */
  async score(ks: number[], copies: Columns[], length: number): Promise<void> {
    if (ks.length === 0) return
    const combined = await this.session.tryPredict(concatColumns(copies), this.probe)
    if (combined.ok) {
      ks.forEach((k, m) => this.parts[k].push(sliceOutputs(combined.out, m * length, (m + 1) * length)))
      return
    }
    if (ks.length === 1) {
      this.failures[ks[0]] = combined
      return
    }
    for (let m = 0; m < ks.length; m++) {
      const alone = await this.session.tryPredict(copies[m], this.probe)
      if (alone.ok) this.parts[ks[m]].push(alone.out)
      else this.failures[ks[m]] = alone
    }
  }

  results(): CopyResult[] {
    return this.parts.map((parts, k) => {
      const failure = this.failures[k]
      return failure !== undefined ? { ok: false, failure } : { ok: true, out: concatOutputs(parts) }
    })
  }
}

/** The result of a test that could not run. */
export function skippedTest(
  base: Pick<RobustnessTest, 'id' | 'kind' | 'parameters'> & Partial<RobustnessTest>,
  why: string,
): RobustnessTest {
  return { rows: 0, ...base, status: 'skipped', message: `skipped: ${why}` }
}

/** A test whose model calls failed: a refusal (the runner named a value its input cannot take) skips it, anything else fails it. */
export function failedCallTest(
  base: Pick<RobustnessTest, 'id' | 'kind' | 'parameters'> & Partial<RobustnessTest>,
  failure: CallFailure,
  what: string,
): RobustnessTest {
  if (failure.refused) return skippedTest(base, `the model's inputs cannot hold ${what}: ${failure.message}`)
  return { rows: 0, ...base, status: 'fail', message: `the model failed on ${what}: ${failure.message}` }
}
