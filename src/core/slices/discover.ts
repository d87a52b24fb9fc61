import type { Cell } from '../data/types.js'
import { UserError } from '../errors.js'
import type { ScoredRows } from '../evaluation/types.js'
import { METRIC_DIRECTIONS } from '../metrics/index.js'
import type { SliceResult } from '../result/types.js'
import type { BootstrapOptions } from '../stats/types.js'
import { hasWeightedMetric, metricKernel, weightedMetric } from '../stats/weighted.js'
import { bound, num } from './format.js'
import { formatValue } from './mask.js'
import { indicesOf, measure, subsetRows } from './measure.js'
import type { DiscoverConfig, SlicesConfig } from './schema.js'

/*
 * Weak-slice discovery: every quantile bin of a numeric feature, every common value of another, and (with
 * `pairs`) every two of those on different features, ranked by the metric, worst first.
 *
 * Guard rails: a candidate needs at least 5% of the rows (and `min-size`), the floor of Giskard's bias
 * scan ("keep only slices of size at least 5% of the dataset") and of Deepchecks' WeakSegmentsPerformance
 * (`segment_minimum_size_ratio = 0.05`), so that the worst of thousands of slices is not a handful of
 * unlucky rows; and at most 95% of them (our cap), since a slice that is nearly everything says nothing
 * about a subgroup. Discovered slices are never gated: the worst of many candidates is biased low (the
 * winner's curse), and their intervals do not correct for that selection.
 *
 * Speed: when the metric is a mean of a per-row loss (accuracy from the predicted class, mae, mse, rmse),
 * each feature and each pair is one O(n) pass accumulating counts and sums per cell (a cross-tabulation),
 * whatever the number of cells. Other metrics evaluate the weighted kernel once per candidate (O(n) each,
 * their sort orders prepared once). Intervals are bootstrapped only for the reported slices.
 */

const DEFAULT_DISCOVER: DiscoverConfig = { bins: 4, pairs: true, top: 5 }
/** The commonest values of a non-numeric feature that become candidate slices. */
export const MAX_CATEGORIES = 20

export interface Discovery {
  /** The worst slices, worst first (`source: 'discovered'`, never gated). */
  slices: SliceResult[]
  metric: string
  /** The metric on all rows, for context. */
  overall: number
  /** Candidate slices within the size limits that were ranked. */
  candidates: number
  minRows: number
  maxRows: number
  /** One line for the report's notes. */
  note: string
}

/** One feature's rows as cell codes: −1 is in no candidate (missing, or a rare value). */
interface Encoded {
  name: string
  codes: Int32Array
  /** Definition of each code's slice, e.g. `x in [0.5, 1.2)`, `c == "b"`. */
  labels: string[]
}

interface Candidate {
  definition: string
  /** [feature index, code] per condition. */
  parts: [number, number][]
  rows: number
  value: number
}

export function discoverWeakSlices(
  rows: ScoredRows,
  dataset: string,
  config: Pick<SlicesConfig, 'discover' | 'min-size'>,
  opts: BootstrapOptions,
  featureColumns: Record<string, Cell[]>,
): Discovery {
  const d = config.discover ?? DEFAULT_DISCOVER
  const metric = d.metric ?? (rows.task === 'regression' ? 'mae' : 'accuracy')
  if (!hasWeightedMetric(metric, rows, 'candidate')) {
    throw new UserError(`slices.discover.metric: the model's outputs do not give ${metric} for a ${rows.task} task`, {
      field: 'slices.discover.metric',
    })
  }
  const features = (d.features ?? Object.keys(featureColumns)).map((name) => {
    const cells = featureColumns[name]
    if (cells === undefined) throw new Error(`discovery feature "${name}" was not given`)
    if (cells.length !== rows.n) throw new Error(`discovery feature "${name}" has ${cells.length} rows, the scored rows ${rows.n}`)
    return encodeFeature(name, cells, d.bins)
  })
  // 5% and 95% of the rows.
  const minRows = Math.max(config['min-size'], Math.ceil(rows.n / 20))
  const maxRows = Math.floor((rows.n * 19) / 20)
  const candidates = rankedCandidates(rows, metric, features, d.pairs, minRows, maxRows)
  const slices = candidates.slice(0, d.top).map((c) => reportSlice(rows, dataset, c, features, metric, opts))
  const overall = weightedMetric(metric, rows, 'candidate', null)
  const note =
    `weak-slice discovery on "${dataset}": ${candidates.length} candidate slices of ${minRows}–${maxRows} rows ` +
    `from ${features.length} features (${d.bins} quantile bins or top ${MAX_CATEGORIES} values${d.pairs ? ', and pairs' : ''}); ` +
    `${metric} overall ${num(overall)}; the ${slices.length} worst are reported, not gated`
  return { slices, metric, overall, candidates: candidates.length, minRows, maxRows, note }
}

/** Every single-feature and (with `pairs`) two-feature cell of minRows…maxRows rows, worst first; ties by size, then text. */
function rankedCandidates(
  rows: ScoredRows,
  metric: string,
  features: Encoded[],
  pairs: boolean,
  minRows: number,
  maxRows: number,
): Candidate[] {
  const score = cellScorer(rows, metric)
  const candidates: Candidate[] = []
  const collect = (codes: Int32Array, cells: number, parts: (cell: number) => [number, number][]) => {
    for (const [cell, size, value] of score(codes, cells)) {
      if (size < minRows || size > maxRows || Number.isNaN(value)) continue
      const p = parts(cell)
      candidates.push({ definition: p.map(([f, code]) => features[f].labels[code]).join(' and '), parts: p, rows: size, value })
    }
  }
  features.forEach((f, i) => collect(f.codes, f.labels.length, (c) => [[i, c]]))
  if (pairs) {
    const pair = new Int32Array(rows.n)
    for (let i = 0; i < features.length; i++) {
      for (let j = i + 1; j < features.length; j++) {
        const a = features[i].codes
        const b = features[j].codes
        const kb = features[j].labels.length
        for (let r = 0; r < rows.n; r++) pair[r] = a[r] < 0 || b[r] < 0 ? -1 : a[r] * kb + b[r]
        collect(pair, features[i].labels.length * kb, (c) => [
          [i, Math.floor(c / kb)],
          [j, c % kb],
        ])
      }
    }
  }
  const higher = METRIC_DIRECTIONS[metric] === 'higher'
  return candidates.sort(
    (x, y) => (higher ? x.value - y.value : y.value - x.value) || y.rows - x.rows || compareText(x.definition, y.definition),
  )
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function reportSlice(
  rows: ScoredRows,
  dataset: string,
  c: Candidate,
  features: Encoded[],
  metric: string,
  opts: BootstrapOptions,
): SliceResult {
  const mask = new Uint8Array(rows.n)
  for (let r = 0; r < rows.n; r++) mask[r] = c.parts.every(([f, code]) => features[f].codes[r] === code) ? 1 : 0
  const measured = measure(subsetRows(rows, indicesOf(mask)), [metric], opts)
  return {
    dataset,
    name: c.definition,
    definition: c.definition,
    source: 'discovered',
    rows: c.rows,
    gated: false,
    metrics: measured.metrics,
    intervals: measured.intervals,
    ...(measured.baseline ? { baseline: measured.baseline } : {}),
  }
}

/** (codes, number of cells) → [cell, rows, metric] for each non-empty cell. */
type CellScorer = (codes: Int32Array, cells: number) => Iterable<[number, number, number]>

/** A per-row loss whose mean is the metric, when the metric is one; with the function from the mean. */
function perRowLoss(rows: ScoredRows, metric: string): { loss: Float64Array; finish: (mean: number) => number } | undefined {
  const n = rows.n
  const loss = new Float64Array(n)
  if (metric === 'accuracy' && rows.yTrue && rows.candidate.predIndex) {
    for (let i = 0; i < n; i++) loss[i] = rows.candidate.predIndex[i] === rows.yTrue[i] ? 1 : 0
    return { loss, finish: (m) => m }
  }
  const y = rows.yValue
  const v = rows.candidate.values
  if (!y || !v || !['mae', 'mse', 'rmse'].includes(metric)) return undefined
  for (let i = 0; i < n; i++) loss[i] = metric === 'mae' ? Math.abs(y[i] - v[i]) : (y[i] - v[i]) ** 2
  return { loss, finish: metric === 'rmse' ? Math.sqrt : (m) => m }
}

function cellScorer(rows: ScoredRows, metric: string): CellScorer {
  const additive = perRowLoss(rows, metric)
  if (additive) {
    const { loss, finish } = additive
    return function* (codes, cells) {
      const count = new Int32Array(cells)
      const sum = new Float64Array(cells)
      for (let r = 0; r < codes.length; r++) {
        const c = codes[r]
        if (c < 0) continue
        count[c]++
        sum[c] += loss[r]
      }
      for (let c = 0; c < cells; c++) if (count[c] > 0) yield [c, count[c], finish(sum[c] / count[c])]
    }
  }
  const kernel = metricKernel(metric, rows, 'candidate')
  const weights = new Int32Array(rows.n)
  return function* (codes, cells) {
    const count = new Int32Array(cells)
    for (let r = 0; r < codes.length; r++) if (codes[r] >= 0) count[codes[r]]++
    for (let c = 0; c < cells; c++) {
      if (count[c] === 0) continue
      for (let r = 0; r < codes.length; r++) weights[r] = codes[r] === c ? 1 : 0
      yield [c, count[c], kernel(weights)]
    }
  }
}

/** Quantile bins for a numeric feature with more distinct values than bins; its values otherwise. */
export function encodeFeature(name: string, cells: Cell[], bins: number): Encoded {
  const sorted = sortedNumbers(cells)
  if (sorted && distinctCount(sorted, bins + 1) > bins) return binFeature(name, cells as (number | null)[], sorted, bins)
  return categoryFeature(name, cells)
}

/** The non-missing values, sorted, when every one is a number. */
function sortedNumbers(cells: Cell[]): Float64Array | undefined {
  let count = 0
  for (const v of cells) {
    if (v === null) continue
    if (typeof v !== 'number') return undefined
    count++
  }
  const out = new Float64Array(count)
  let k = 0
  for (const v of cells) if (v !== null) out[k++] = v as number
  return out.sort()
}

/** Distinct values of a sorted array, counting no further than `enough`. */
function distinctCount(sorted: Float64Array, enough: number): number {
  let distinct = sorted.length > 0 ? 1 : 0
  for (let i = 1; i < sorted.length && distinct < enough; i++) if (sorted[i] !== sorted[i - 1]) distinct++
  return distinct
}

function binFeature(name: string, cells: (number | null)[], sorted: Float64Array, bins: number): Encoded {
  const edges = quantileEdges(sorted, bins)
  const last = edges.length - 2
  const labels = edges.slice(0, -1).map((low, k) => `${name} in [${bound(low)}, ${bound(edges[k + 1])}${k === last ? ']' : ')'}`)
  const codes = new Int32Array(cells.length)
  for (let r = 0; r < cells.length; r++) {
    const v = cells[r]
    codes[r] = v === null ? -1 : binOf(edges, v)
  }
  return { name, codes, labels }
}

/** The bin of x: [e₀, e₁), [e₁, e₂), …, [eₖ₋₁, eₖ] (the last one closed). */
function binOf(edges: number[], x: number): number {
  let lo = 0
  let hi = edges.length - 2
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (x >= edges[mid]) lo = mid
    else hi = mid - 1
  }
  return lo
}

/**
 * Bin edges: the quantiles k/bins (k = 0…bins) of the sorted values by numpy's default ("linear")
 * method, `np.quantile(x, [k / bins for k in range(bins + 1)])`, with repeated edges merged. Needs at
 * least two distinct values.
 */
export function quantileEdges(sorted: Float64Array, bins: number): number[] {
  const n = sorted.length
  const edges: number[] = []
  for (let k = 0; k <= bins; k++) {
    const q = numpyLinearQuantile(sorted, k / bins)
    if (edges.length === 0 || q !== edges[edges.length - 1]) edges.push(q)
  }
  if (edges.length < 2) throw new Error(`quantile bins need two distinct values; got ${n} values`)
  return edges
}

/** numpy ≥ 1.22's `quantile(method="linear")`: virtual index (n − 1)·q, then its two-sided lerp. */
export function numpyLinearQuantile(sorted: Float64Array, q: number): number {
  const n = sorted.length
  const virtual = (n - 1) * q
  const previous = Math.min(Math.max(Math.floor(virtual), 0), n - 1)
  const next = Math.min(previous + 1, n - 1)
  const gamma = virtual - previous
  const a = sorted[previous]
  const b = sorted[next]
  const diff = b - a
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma
}

function categoryFeature(name: string, cells: Cell[]): Encoded {
  const counts = new Map<Cell, number>()
  for (const v of cells) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1)
  const top = [...counts.entries()]
    .sort((x, y) => y[1] - x[1] || compareText(formatValue(x[0]), formatValue(y[0])))
    .slice(0, MAX_CATEGORIES)
    .map(([v]) => v)
  const codeOf = new Map(top.map((v, k) => [v, k]))
  const codes = new Int32Array(cells.length)
  cells.forEach((v, r) => {
    codes[r] = v === null ? -1 : (codeOf.get(v) ?? -1)
  })
  return { name, codes, labels: top.map((v) => `${name} == ${formatValue(v)}`) }
}
