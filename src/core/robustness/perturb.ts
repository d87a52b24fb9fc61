import { columnCells, type Cell, type Column } from '../data/types.js'
import { isOpenRng } from './stream.js'
import { typedColumn, type CopyTarget } from './tests/common.js'
import { groupBounds, groupsOf, listNames } from './profile.js'
import { CASE_MODES, dropPunctuation, jitterWhitespace, recase, stripAccents, typo } from './text.js'
import type { FeatureProfile, PerturbationKind, PerturbationSpec, PerturbFn, Rng } from './types.js'

/*
 * The perturbation library. Every perturbation keeps to the feature's domain as profiled: numbers are
 * clipped to [min, max] and rounded when the feature is integer, categories come from the vocabulary,
 * missing values stay missing (only `missing` creates them). Randomness is drawn feature by feature,
 * row by row, from the given rng, so one seed gives one output on every machine.
 */

// Module-level bindings: inside a vm context (jest) each global `Math` lookup in a hot loop is slow.
const { abs, ceil, cos, floor, imul, log, PI, round, sqrt } = Math

const NUMERIC_KINDS = new Set<PerturbationKind>(['gaussian_noise', 'shift', 'drift', 'quantize'])
const TEXT_ONLY_KINDS = new Set<PerturbationKind>(['typo', 'punctuation'])
/** Input-normalisation perturbations: also meaningful for string categories ("Paris " vs "paris"). */
const STRING_KINDS = new Set<PerturbationKind>(['case', 'whitespace', 'accents'])
const TENSOR_KINDS = new Set<PerturbationKind>(['tensor_noise', 'brightness', 'contrast'])

/** The string that stands for a category never seen; extended with underscores if the data has it. */
export const UNSEEN_CATEGORY = '__unseen__'

/**
 * Perturbs a batch (see PerturbFn). Features not named in `spec.features`, immutable ones and those of
 * a kind the perturbation does not apply to come back as the same array; the others as new arrays.
 * A numeric feature held as a Float64Array is written into `target(j)` when given (else a new one), in
 * one pass with the very draws and arithmetic of the cell path, so both give the same values (a missing
 * value is NaN there, null here). A severity of 0 returns the input columns themselves, bit for bit.
 */
export const perturb: PerturbFn = <C extends Column>(
  columns: C[],
  profiles: FeatureProfile[],
  spec: PerturbationSpec,
  rng: Rng,
  target?: CopyTarget,
): C[] => perturbColumns(columns, profiles, spec, rng, target) as C[]

function perturbColumns(columns: Column[], profiles: FeatureProfile[], spec: PerturbationSpec, rng: Rng, target?: CopyTarget): Column[] {
  if (columns.length !== profiles.length) {
    throw new Error(`perturb: ${columns.length} columns for ${profiles.length} feature profiles`)
  }
  if (!Number.isFinite(spec.severity)) throw new Error(`perturb ${spec.kind}: severity ${spec.severity} is not a finite number`)
  if (spec.severity === 0) return columns.slice()
  if (TENSOR_KINDS.has(spec.kind)) return perturbGroup(columns, profiles, spec, rng, target)
  const chosen = new Set(spec.features)
  return columns.map((cells, j) => {
    const p = profiles[j]
    if (!chosen.has(p.name) || p.immutable || !applies(spec.kind, p)) return cells
    if (!(cells instanceof Float64Array)) return perturbColumn(cells, p, spec, rng)
    if (NUMERIC_KINDS.has(spec.kind) || spec.kind === 'missing') return perturbTyped(cells, p, spec, rng, target?.(j))
    // A category coded as numbers: the cell path, its numbers (a code, or missing) held typed again.
    return typedColumn(perturbColumn(columnCells(cells), p, spec, rng))
  })
}

/** A typed numeric column, perturbed into `out` (a new array when not given): see perturbColumn for each kind. */
function perturbTyped(cells: Float64Array, p: FeatureProfile, spec: PerturbationSpec, rng: Rng, out?: Float64Array): Float64Array {
  const s = spec.severity
  switch (spec.kind) {
    case 'gaussian_noise':
      return noiseInto(cells, p, s * (p.std ?? 0), rng, out)
    case 'shift':
      return affineInto(cells, p, 0, 1 + s, out)
    case 'drift':
      return affineInto(cells, p, p.mean ?? 0, 1 + s, out)
    case 'quantize': {
      const step = abs(s) * (p.std ?? 0)
      if (step === 0) return cells
      const into = out ?? new Float64Array(cells.length)
      const { lo, hi } = boundsOf(p)
      for (let i = 0; i < cells.length; i++) {
        const x = cells[i]
        into[i] = x - x === 0 ? finish(tidy(round(x / step) * step), p.integer, lo, hi) : x
      }
      return into
    }
    case 'missing': {
      const into = out ?? new Float64Array(cells.length)
      for (let i = 0; i < cells.length; i++) into[i] = rng() < s ? NaN : cells[i]
      return into
    }
    default:
      throw new Error(`perturb: ${spec.kind} is not a numeric perturbation`)
  }
}

/** x + sigma·N(0, 1) for each finite x, drawn row by row (Box–Muller as `normal`, inlined), then clipped and rounded. */
function noiseInto(cells: Float64Array, p: FeatureProfile, sigma: number, rng: Rng, out?: Float64Array): Float64Array {
  const into = out ?? new Float64Array(cells.length)
  const { lo, hi } = boundsOf(p)
  if (isOpenRng(rng)) {
    noiseOpen(cells, into, p.integer, lo, hi, sigma, rng.state)
    return into
  }
  const integer = p.integer
  const n = cells.length
  for (let i = 0; i < n; i++) {
    const x = cells[i]
    // Non-finite (NaN: missing, or ±Infinity) passes through with no draw, as in mapNumbers.
    if (x - x !== 0) {
      into[i] = x
      continue
    }
    const u = 1 - rng()
    const v = rng()
    let y = x + sigma * (sqrt(-2 * log(u)) * cos(2 * PI * v))
    if (integer) y = round(y)
    if (y < lo) y = lo
    if (y > hi) y = hi
    into[i] = y === 0 ? 0 : y
  }
  return into
}

/**
 * noiseInto's loop with the stream's state in local variables: each uniform is createRng's (two
 * xoshiro128** outputs, 53 bits), the state stored back at the end. Same draws, same arithmetic.
 */
function noiseOpen(
  cells: Float64Array,
  into: Float64Array,
  integer: boolean,
  lo: number,
  hi: number,
  sigma: number,
  state: Int32Array,
): void {
  let s0 = state[0]
  let s1 = state[1]
  let s2 = state[2]
  let s3 = state[3]
  const n = cells.length
  for (let i = 0; i < n; i++) {
    const x = cells[i]
    if (x - x !== 0) {
      into[i] = x
      continue
    }
    let u = 0
    let v = 0
    for (let h = 0; h < 2; h++) {
      let m = imul(s1, 5)
      const a = imul((m << 7) | (m >>> 25), 9) >>> 0
      let t = s1 << 9
      s2 ^= s0
      s3 ^= s1
      s1 ^= s2
      s0 ^= s3
      s2 ^= t
      s3 = (s3 << 11) | (s3 >>> 21)
      m = imul(s1, 5)
      const b = imul((m << 7) | (m >>> 25), 9) >>> 0
      t = s1 << 9
      s2 ^= s0
      s3 ^= s1
      s1 ^= s2
      s0 ^= s3
      s2 ^= t
      s3 = (s3 << 11) | (s3 >>> 21)
      const w = ((a >>> 5) * 67108864 + (b >>> 6)) / 9007199254740992
      if (h === 0) u = 1 - w
      else v = w
    }
    let y = x + sigma * (sqrt(-2 * log(u)) * cos(2 * PI * v))
    if (integer) y = round(y)
    if (y < lo) y = lo
    if (y > hi) y = hi
    into[i] = y === 0 ? 0 : y
  }
  state[0] = s0
  state[1] = s1
  state[2] = s2
  state[3] = s3
}

/** centre + (x − centre)·factor for each finite x (shift: centre 0, which is x·factor exactly), then clipped and rounded. */
function affineInto(cells: Float64Array, p: FeatureProfile, centre: number, factor: number, out?: Float64Array): Float64Array {
  const into = out ?? new Float64Array(cells.length)
  const { lo, hi } = boundsOf(p)
  const n = cells.length
  for (let i = 0; i < n; i++) {
    const x = cells[i]
    if (x - x !== 0) into[i] = x
    else into[i] = finish(centre === 0 ? x * factor : centre + (x - centre) * factor, p.integer, lo, hi)
  }
  return into
}

/** The bounds mapNumbers clips to, with ±Infinity for none (a comparison with them never clips). */
function boundsOf(p: FeatureProfile): { lo: number; hi: number } {
  const lo = p.integer && p.min !== undefined ? ceil(p.min) : p.min
  const hi = p.integer && p.max !== undefined ? floor(p.max) : p.max
  return { lo: lo ?? -Infinity, hi: hi ?? Infinity }
}

/** Rounded when integer, clipped, and never −0: mapNumbers' last steps. */
function finish(x: number, integer: boolean, lo: number, hi: number): number {
  if (integer) x = round(x)
  if (x < lo) x = lo
  if (x > hi) x = hi
  return x === 0 ? 0 : x
}

/** Whether a perturbation kind acts on a feature of this profile. */
export function applies(kind: PerturbationKind, p: FeatureProfile): boolean {
  if (NUMERIC_KINDS.has(kind) || TENSOR_KINDS.has(kind)) return p.kind === 'numeric'
  if (TEXT_ONLY_KINDS.has(kind)) return p.kind === 'text'
  if (STRING_KINDS.has(kind)) return p.kind === 'text' || p.kind === 'categorical'
  if (kind === 'missing') return p.missingAllowed
  if (kind === 'category_swap') return p.kind === 'categorical' && (p.vocabulary?.length ?? 0) >= 2
  return p.kind === 'categorical' // unseen_category
}

function perturbColumn(cells: Cell[], p: FeatureProfile, spec: PerturbationSpec, rng: Rng): Cell[] {
  const s = spec.severity
  switch (spec.kind) {
    // x + N(0, (s·sd)²), clipped and rounded: measurement noise relative to the feature's spread.
    case 'gaussian_noise': {
      const sigma = s * (p.std ?? 0)
      return mapNumbers(cells, p, (x) => x + sigma * normal(rng))
    }
    // x·(1 + s): a multiplicative change of unit or calibration (s = 0.01 is +1%, −0.1 is −10%).
    case 'shift':
      return mapNumbers(cells, p, (x) => x * (1 + s))
    // mean + (x − mean)·(1 + s): the spread drifts while the centre stays, unlike `shift`, which moves both.
    case 'drift': {
      const mean = p.mean ?? 0
      return mapNumbers(cells, p, (x) => mean + (x - mean) * (1 + s))
    }
    // Rounded to the nearest multiple of s·sd (a grid anchored at 0): coarser instruments or binned inputs.
    case 'quantize': {
      const step = abs(s) * (p.std ?? 0)
      if (step === 0) return cells
      return mapNumbers(cells, p, (x) => tidy(round(x / step) * step))
    }
    // Each cell becomes missing with probability s.
    case 'missing':
      return cells.map((c) => (rng() < s ? null : c))
    // With probability s, another value of the vocabulary, uniformly among the others.
    case 'category_swap':
      return mapPresent(cells, (c) => (rng() < s ? swapCategory(c, p.vocabulary ?? [], rng) : c))
    // With probability s, a value outside the vocabulary.
    case 'unseen_category': {
      const unseen = unseenValue(p.vocabulary ?? [])
      return mapPresent(cells, (c) => (rng() < s ? unseen : c))
    }
    // Each letter of words of 4+ letters gets a typo with probability s (see text.ts).
    case 'typo':
      return mapStrings(cells, (t) => typo(t, s, rng))
    // With probability s per value, re-cased to upper, lower or title case (drawn uniformly).
    case 'case':
      return mapStrings(cells, (t) => (rng() < s ? recase(t, CASE_MODES[floor(rng() * CASE_MODES.length)]) : t))
    // Each punctuation mark removed with probability s.
    case 'punctuation':
      return mapStrings(cells, (t) => dropPunctuation(t, s, rng))
    // Leading/trailing spaces and doubled spaces or tabs, each with probability s (see text.ts).
    case 'whitespace':
      return mapStrings(cells, (t) => jitterWhitespace(t, s, rng))
    // With probability s per value, accents stripped ("Crème" → "Creme").
    case 'accents':
      return mapStrings(cells, (t) => (rng() < s ? stripAccents(t) : t))
    default:
      throw new Error(`perturb: ${spec.kind} is not a per-feature perturbation`)
  }
}

/**
 * Tensor perturbations act on the members of `spec.group` (that are also in `spec.features`) on the
 * group's shared scale: bounds are the group's lowest min and highest max, range = max − min.
 * - tensor_noise: each element + N(0, (s·range)²);
 * - brightness: each element + s·range;
 * - contrast: each element scaled by (1 + s) around its row's mean over the whole group.
 * Then clipped to the group's bounds; integer members (pixels 0–255) stay integers.
 */
function perturbGroup(columns: Column[], profiles: FeatureProfile[], spec: PerturbationSpec, rng: Rng, target?: CopyTarget): Column[] {
  if (spec.group === undefined) throw new Error(`perturb ${spec.kind}: the spec names no tensor group`)
  const members = groupsOf(profiles).get(spec.group) ?? []
  const indices = profiles.map((p, j) => (p.group === spec.group ? j : -1)).filter((j) => j >= 0)
  const chosen = new Set(spec.features)
  const { min, max } = groupBounds(members)
  if (min === undefined || max === undefined) return columns.slice()
  const range = max - min
  const s = spec.severity
  const bounded = (p: FeatureProfile): FeatureProfile => ({ ...p, min, max })
  const rowMeans = spec.kind === 'contrast' ? groupRowMeans(columns, indices) : undefined
  return columns.map((cells, j) => {
    const p = profiles[j]
    if (p.group !== spec.group || !chosen.has(p.name) || p.immutable || !applies(spec.kind, p)) return cells
    if (cells instanceof Float64Array) return groupTyped(cells, bounded(p), spec.kind, s, range, rng, rowMeans, target?.(j))
    if (spec.kind === 'tensor_noise') return mapNumbers(cells, bounded(p), (x) => x + s * range * normal(rng))
    if (spec.kind === 'brightness') return mapNumbers(cells, bounded(p), (x) => x + s * range)
    return mapNumbers(cells, bounded(p), (x, i) => {
      const m = rowMeans![i]
      return Number.isNaN(m) ? x : m + (x - m) * (1 + s)
    })
  })
}

/** perturbGroup on a typed column, with the same arithmetic. */
function groupTyped(
  cells: Float64Array,
  p: FeatureProfile,
  kind: PerturbationKind,
  s: number,
  range: number,
  rng: Rng,
  rowMeans: Float64Array | undefined,
  out?: Float64Array,
): Float64Array {
  if (kind === 'tensor_noise') return noiseInto(cells, p, s * range, rng, out)
  const into = out ?? new Float64Array(cells.length)
  const { lo, hi } = boundsOf(p)
  const step = s * range
  for (let i = 0; i < cells.length; i++) {
    const x = cells[i]
    if (x - x !== 0) {
      into[i] = x
      continue
    }
    let y: number
    if (kind === 'brightness') y = x + step
    else {
      const m = rowMeans![i]
      y = Number.isNaN(m) ? x : m + (x - m) * (1 + s)
    }
    into[i] = finish(y, p.integer, lo, hi)
  }
  return into
}

/** Per row, the mean of the group's numeric cells (NaN when it has none). */
function groupRowMeans(columns: Column[], indices: number[]): Float64Array {
  const rows = columns[indices[0]]?.length ?? 0
  const means = new Float64Array(rows)
  for (let i = 0; i < rows; i++) {
    let sum = 0
    let n = 0
    for (const j of indices) {
      const c = columns[j][i]
      if (typeof c === 'number' && Number.isFinite(c)) {
        sum += c
        n++
      }
    }
    means[i] = n === 0 ? NaN : sum / n
  }
  return means
}

/**
 * Applies `f` to the finite numbers of a column, then clips to [min, max] and rounds integer features
 * (to whole numbers inside the bounds). Missing, non-numeric and non-finite cells pass through.
 */
function mapNumbers(cells: Cell[], p: FeatureProfile, f: (x: number, row: number) => number): Cell[] {
  const lo = p.integer && p.min !== undefined ? ceil(p.min) : p.min
  const hi = p.integer && p.max !== undefined ? floor(p.max) : p.max
  return cells.map((c, i) => {
    if (typeof c !== 'number' || !Number.isFinite(c)) return c
    let x = f(c, i)
    if (p.integer) x = round(x)
    if (lo !== undefined && x < lo) x = lo
    if (hi !== undefined && x > hi) x = hi
    return x === 0 ? 0 : x // no −0: it prints as "-0" in some serialisers
  })
}

function mapPresent(cells: Cell[], f: (c: Cell) => Cell): Cell[] {
  return cells.map((c) => (c === null ? c : f(c)))
}

function mapStrings(cells: Cell[], f: (t: string) => string): Cell[] {
  return cells.map((c) => (typeof c === 'string' ? f(c) : c))
}

/** A standard normal draw (Box–Muller, cosine branch): two uniforms per draw, so the stream stays aligned. */
function normal(rng: Rng): number {
  const u = 1 - rng() // (0, 1]: log(0) is never taken
  const v = rng()
  return sqrt(-2 * log(u)) * cos(2 * PI * v)
}

/** Drops the floating-point dust of k·step (0.30000000000000004 → 0.3). */
function tidy(x: number): number {
  return Number(x.toPrecision(15))
}

/** Vocabulary entries hold booleans as "true"/"false"; a boolean cell stays boolean. */
function sameCategory(c: Cell, v: string | number): boolean {
  return typeof c === 'boolean' ? String(c) === v : c === v
}

/** Uniform over the vocabulary's other values; a value outside the vocabulary may become any of them. */
function swapCategory(c: Cell, vocabulary: (string | number)[], rng: Rng): Cell {
  const at = vocabulary.findIndex((v) => sameCategory(c, v))
  const others = at < 0 ? vocabulary.length : vocabulary.length - 1
  let k = floor(rng() * others)
  if (at >= 0 && k >= at) k++
  const v = vocabulary[k]
  return typeof c === 'boolean' ? v === 'true' : v
}

/**
 * A category never seen: for numeric codes, one past the largest (so it has the column's type);
 * otherwise `__unseen__`.
 */
export function unseenValue(vocabulary: (string | number)[]): string | number {
  if (vocabulary.length > 0 && vocabulary.every((v) => typeof v === 'number')) {
    return floor(Math.max(...(vocabulary as number[]))) + 1
  }
  let unseen = UNSEEN_CATEGORY
  while (vocabulary.includes(unseen)) unseen = `_${unseen}_`
  return unseen
}

/** Noise severities, in units of each feature's sd. */
export const DEFAULT_NOISE = [0.05, 0.1, 0.25]
/** Multiplicative shifts: ±1% and ±10%. */
export const DEFAULT_SHIFTS = [-0.1, -0.01, 0.01, 0.1]
export const DEFAULT_MISSING_RATE = 0.1
export const DEFAULT_SWAP_RATE = 0.1
export const DEFAULT_TYPO_RATE = 0.05
export const DEFAULT_TENSOR_NOISE = 0.05
export const DEFAULT_TENSOR_CHANGE = 0.1

/**
 * The default suite: each perturbation at each severity on all eligible features at once. Grouped
 * (tensor) features get the group perturbations instead of per-feature noise and shifts, since a
 * pixel's own sd says little about the image. Perturbations with no eligible feature are left out.
 */
export function defaultPerturbations(profiles: FeatureProfile[]): PerturbationSpec[] {
  const mutable = profiles.filter((p) => !p.immutable)
  const names = (kind: PerturbationKind, extra: (p: FeatureProfile) => boolean = () => true) =>
    mutable.filter((p) => applies(kind, p) && extra(p)).map((p) => p.name)
  const ungrouped = (p: FeatureProfile) => p.group === undefined
  const specs: PerturbationSpec[] = []
  const add = (kind: PerturbationKind, severity: number, features: string[], group?: string) => {
    if (features.length > 0) specs.push(group === undefined ? { kind, severity, features } : { kind, severity, features, group })
  }
  const noisy = names('gaussian_noise', (p) => ungrouped(p) && (p.std ?? 0) > 0)
  for (const s of DEFAULT_NOISE) add('gaussian_noise', s, noisy)
  for (const s of DEFAULT_SHIFTS) add('shift', s, names('shift', ungrouped))
  add('missing', DEFAULT_MISSING_RATE, names('missing'))
  add('category_swap', DEFAULT_SWAP_RATE, names('category_swap'))
  add('typo', DEFAULT_TYPO_RATE, names('typo'))
  add(
    'case',
    1,
    names('case', (p) => p.kind === 'text'),
  )
  for (const [group, members] of groupsOf(mutable)) {
    const features = members.filter((p) => p.kind === 'numeric').map((p) => p.name)
    add('tensor_noise', DEFAULT_TENSOR_NOISE, features, group)
    add('brightness', DEFAULT_TENSOR_CHANGE, features, group)
    add('contrast', DEFAULT_TENSOR_CHANGE, features, group)
  }
  return specs
}

/** One line for reports, e.g. `gaussian noise σ = 0.1·sd on 30 features`. */
export function describePerturbation(spec: PerturbationSpec): string {
  const s = spec.severity
  const what = ((): string => {
    switch (spec.kind) {
      case 'gaussian_noise':
        return `gaussian noise σ = ${num(s)}·sd`
      case 'shift':
        return `shift ${signedPercent(s)}`
      case 'drift':
        return `spread drift ${signedPercent(s)} around the mean`
      case 'quantize':
        return `quantized to a grid of ${num(abs(s))}·sd`
      case 'missing':
        return `${percent(s)} missing values`
      case 'category_swap':
        return `${percent(s)} of categories swapped`
      case 'unseen_category':
        return `${percent(s)} unseen categories`
      case 'typo':
        return `typos in ${percent(s)} of letters`
      case 'case':
        return `case changed in ${percent(s)} of values`
      case 'punctuation':
        return `${percent(s)} of punctuation removed`
      case 'whitespace':
        return `whitespace altered at rate ${percent(s)}`
      case 'accents':
        return `accents stripped in ${percent(s)} of values`
      case 'tensor_noise':
        return `tensor noise σ = ${num(s)}·range`
      case 'brightness':
        return `brightness ${signedPercent(s)} of range`
      case 'contrast':
        return `contrast ${signedPercent(s)}`
    }
  })()
  const n = spec.features.length
  const on =
    spec.group !== undefined
      ? `group ${spec.group} (${n} feature${n === 1 ? '' : 's'})`
      : n === 1
        ? spec.features[0]
        : n <= 3
          ? listNames(spec.features)
          : `${n} features`
  return `${what} on ${on}`
}

function num(x: number): string {
  return String(Number(x.toPrecision(12)))
}

function percent(x: number): string {
  return `${num(x * 100)}%`
}

function signedPercent(x: number): string {
  return `${x > 0 ? '+' : x < 0 ? '−' : ''}${num(abs(x) * 100)}%`
}

/**
 * Values that break naive pipelines, for the stress tests: non-finite and extreme numbers, zero, an
 * empty string, a value of the wrong type and a missing value. Numeric codes (numeric features and
 * categories coded as numbers) get the numeric set; string features the string set.
 */
export function stressValues(profile: FeatureProfile): { label: string; value: Cell }[] {
  const numericCodes =
    profile.kind === 'numeric' ||
    (profile.kind === 'categorical' && (profile.vocabulary?.length ?? 0) > 0 && profile.vocabulary!.every((v) => typeof v === 'number'))
  if (numericCodes) {
    const scale = Math.max(abs(profile.min ?? 0), abs(profile.max ?? 0), ...numbersOf(profile.vocabulary)) + 1
    const huge = 1e6 * scale
    return [
      { label: 'nan', value: NaN },
      { label: 'inf', value: Infinity },
      { label: '-inf', value: -Infinity },
      { label: 'max', value: 1e308 },
      { label: '-max', value: -1e308 },
      { label: 'huge', value: huge },
      { label: '-huge', value: -huge },
      { label: 'zero', value: 0 },
      { label: 'empty', value: '' },
      { label: 'wrong-type', value: 'not a number' },
      { label: 'missing', value: null },
    ]
  }
  return [
    { label: 'empty', value: '' },
    { label: 'blank', value: '   ' },
    { label: 'long', value: 'x'.repeat(10_000) },
    { label: 'unicode', value: 'Zoë 😀 中文 \u202e' },
    { label: 'wrong-type', value: 0 },
    { label: 'nan', value: NaN },
    { label: 'missing', value: null },
  ]
}

function numbersOf(vocabulary: (string | number)[] | undefined): number[] {
  return (vocabulary ?? []).map((v) => (typeof v === 'number' ? abs(v) : 0))
}
