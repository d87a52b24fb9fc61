/**
 * Data integrity checks of one evaluation data set, optionally against a reference (training) data set
 * (issue 17), computed as the data streams in batches.
 *
 * The numbers are pandas' (pandas 1.5.3; fixtures in __tests__/fixtures/drift/integrity, made by
 * scripts/fixtures/integrity.py) on a frame holding what the repository's readers give: numbers as float64,
 * text as str, missing as NaN/None.
 *
 * Values are compared after normalisation (rowhash.ts): a number is its float64 value (1, 1.0 and 1e0 are
 * equal, -0 equals 0), a text is itself (no trimming; the text "1" is not the number 1), every missing value
 * is the same token, a boolean is itself (pandas would take `True` for `1`; the readers only give booleans
 * from JSONL and Parquet, where a column mixing them with numbers is rare).
 *
 * Memory (see rowhash.ts for the tables' layout):
 * - duplicate rows: one 64-bit hash per distinct current row in an open-addressing table, 11.4–22.9 bytes a
 *   distinct row (8 bytes a slot, 35–70 % of the slots full);
 * - leakage: the same per distinct reference row (in the ReferenceProfile);
 * - per column: the exact count of each distinct value up to `maxDistinct` values (default 10,000; 23–46 bytes
 *   each), the reference's categories up to 10,000 strings, one 64-bit hash per distinct new category;
 * - per batch: 16 bytes a row of the batch for the row hashes (two 32-bit states, two 32-bit results), 16 more
 *   when the leakage columns are not the checked columns.
 * Duplicate columns are exact and keep nothing per row: the classes of columns equal so far are refined batch
 * by batch (split by a hash of each column's cells in the batch, then by comparing the cells), and after the
 * first batch almost no column is left in a class.
 */
import type { Batch, Cell, Column } from '../data/types.js'
import { batchColumn, BOOL_HI, EMPTY_HI, hashColumn, hashString, numberKey, RowHasher, Table64, textKey } from './rowhash.js'

export interface IntegrityOptions {
  /** Columns to check (features, label, others); the order of the report. */
  columns: string[]
  /**
   * A column is near-constant when its most frequent non-missing value covers at least this share of the
   * non-missing rows (default 0.95) and it is not constant.
   */
  nearConstant?: number
  /**
   * Distinct values per column counted exactly (default 10,000). Beyond it the values already seen are still
   * counted exactly, new ones only in total: `topShare` stays exact when the best counted value outnumbers all
   * the uncounted rows (always so when it covers half the rows), else a note says it is a lower bound.
   */
  maxDistinct?: number
}

export interface IntegrityColumn {
  name: string
  /** pandas `isna().sum()`. */
  missing: number
  /** `missing / rows` (0 for no rows). */
  missingShare: number
  /** pandas `nunique(dropna=True) <= 1` (so a column of missing values only is constant). */
  constant: boolean
  nearConstant: boolean
  /** The most frequent non-missing value's share of the non-missing rows (absent when there are none). */
  topShare?: number
  /** Both numbers and text (or booleans and either) among the non-missing values. */
  mixedTypes: boolean
  /** Numbers below the reference's least or above its greatest number (when the reference has numbers in the column). */
  outOfRange?: number
  /**
   * Texts not among the reference's texts of the column: how many distinct, how many rows have one, the first
   * 5 in order of appearance (when the reference or the current data has text in the column).
   */
  newCategories?: { count: number; rows: number; examples: string[] }
  /** What could not be checked, or is an estimate, and why. */
  notes?: string[]
}

export interface IntegrityResult {
  rows: number
  columns: IntegrityColumn[]
  /** pandas `df[columns].duplicated().sum()`: rows equal to an earlier row (missing equals missing). */
  duplicateRows: number
  /** Each column equal in every row to an earlier one, with the first it equals (pandas `df.T.duplicated()`). */
  duplicateColumns: [string, string][]
  /**
   * Current rows whose values over the reference's leakage columns equal those of some reference row,
   * counted with the multiplicity of the current rows (pandas
   * `current[cols].merge(reference[cols].drop_duplicates(), how='inner')`), and their share of the rows.
   */
  leakage?: { rows: number; share: number }
}

/** The most distinct texts per column the reference keeps; beyond it the column is not checked for new categories. */
export const MAX_REFERENCE_CATEGORIES = 10_000

const DEFAULT_NEAR_CONSTANT = 0.95
const DEFAULT_MAX_DISTINCT = 10_000
const EXAMPLES = 5

/** What the reference says of one column. */
export interface ReferenceColumn {
  numbers: number
  min: number
  max: number
  texts: number
  /** null once more than the profile's `maxCategories` distinct texts were seen. */
  categories: Set<string> | null
}

/** The reference's side: what the current data is compared with. Built by streaming the reference once. */
export class ReferenceProfile {
  readonly columns: readonly string[]
  readonly leakageColumns: readonly string[]
  rows = 0
  /** Distinct texts kept per column; beyond it the column is not checked for new categories. */
  readonly maxCategories: number
  private readonly profile = new Map<string, ReferenceColumn>()
  private readonly hasher: RowHasher
  private readonly rowHashes = new Table64(false, 1024)

  constructor(columns: string[], opts: { leakageColumns?: string[]; maxCategories?: number } = {}) {
    this.columns = [...columns]
    this.leakageColumns = [...(opts.leakageColumns ?? columns)]
    this.maxCategories = opts.maxCategories ?? MAX_REFERENCE_CATEGORIES
    for (const name of columns) this.profile.set(name, { numbers: 0, min: Infinity, max: -Infinity, texts: 0, categories: new Set() })
    this.hasher = new RowHasher(this.leakageColumns, 'reference profile')
  }

  add(batch: Batch): void {
    const n = batch.length
    for (const [name, p] of this.profile) {
      const column = batchColumn(batch, name, 'reference profile')
      let min = p.min
      let max = p.max
      if (column instanceof Float64Array) {
        for (let i = 0; i < n; i++) {
          const v = column[i]
          if (v !== v) continue
          p.numbers++
          if (v < min) min = v
          if (v > max) max = v
        }
      } else {
        for (let i = 0; i < n; i++) {
          const v = column[i]
          if (typeof v === 'number') {
            if (v !== v) continue
            p.numbers++
            if (v < min) min = v
            if (v > max) max = v
          } else if (typeof v === 'string') {
            p.texts++
            const categories = p.categories
            if (categories !== null && !categories.has(v)) {
              if (categories.size >= this.maxCategories) p.categories = null
              else categories.add(v)
            }
          }
        }
      }
      p.min = min
      p.max = max
    }
    if (this.leakageColumns.length > 0) {
      this.hasher.hash(batch)
      const { hi, lo } = this.hasher
      for (let i = 0; i < n; i++) this.rowHashes.insert(hi[i], lo[i])
    }
    this.rows += n
  }

  /** Distinct reference rows over the leakage columns (up to hash collisions). */
  get distinctRows(): number {
    return this.rowHashes.size
  }

  /** Bytes of the row-hash table. */
  get bytes(): number {
    return this.rowHashes.bytes
  }

  /** @internal */
  column(name: string): ReferenceColumn | undefined {
    return this.profile.get(name)
  }

  /** @internal whether some reference row has this hash over the leakage columns. */
  hasRow(hi: number, lo: number): boolean {
    return this.rowHashes.has(hi, lo)
  }
}

interface ColumnState {
  name: string
  missing: number
  numbers: number
  texts: number
  booleans: number
  values: Table64
  /** Non-missing rows whose value arrived after the distinct cap and was not counted individually. */
  uncounted: number
  capped: boolean
  ref: ReferenceColumn | undefined
  outOfRange: number
  newRows: number
  newSet: Table64
  examples: string[]
}

/** Integrity checks of the current data, fed batch by batch. */
export class IntegrityAccumulator {
  private readonly columns: ColumnState[]
  private readonly nearConstant: number
  private readonly maxDistinct: number
  private readonly reference: ReferenceProfile | undefined
  private rows = 0
  private readonly rowHasher: RowHasher
  private readonly rowHashes = new Table64(false, 1024)
  private duplicateRows = 0
  private readonly leakHasher: RowHasher | undefined
  private leaked = 0
  /** Classes (of column indexes, in column order) of columns equal in every row so far; only classes of 2 or more. */
  private columnClasses: number[][]
  private readonly key = new Uint32Array(2)

  constructor(opts: IntegrityOptions, reference?: ReferenceProfile) {
    this.nearConstant = opts.nearConstant ?? DEFAULT_NEAR_CONSTANT
    this.maxDistinct = opts.maxDistinct ?? DEFAULT_MAX_DISTINCT
    this.reference = reference
    this.columns = opts.columns.map((name) => ({
      name,
      missing: 0,
      numbers: 0,
      texts: 0,
      booleans: 0,
      values: new Table64(true),
      uncounted: 0,
      capped: false,
      ref: reference?.column(name),
      outOfRange: 0,
      newRows: 0,
      newSet: new Table64(false),
      examples: [],
    }))
    this.rowHasher = new RowHasher(opts.columns)
    if (reference !== undefined && reference.leakageColumns.length > 0) {
      const same =
        reference.leakageColumns.length === opts.columns.length && reference.leakageColumns.every((c, i) => c === opts.columns[i])
      this.leakHasher = same ? this.rowHasher : new RowHasher(reference.leakageColumns)
    }
    this.columnClasses = opts.columns.length > 1 ? [opts.columns.map((_, i) => i)] : []
  }

  add(batch: Batch): void {
    const n = batch.length
    if (n === 0) return
    const cols: Column[] = this.columns.map((c) => batchColumn(batch, c.name, 'integrity'))
    for (let c = 0; c < cols.length; c++) this.addColumn(this.columns[c], cols[c], n)

    this.rowHasher.hash(batch)
    const { hi, lo } = this.rowHasher
    for (let i = 0; i < n; i++) if (!this.rowHashes.insert(hi[i], lo[i])) this.duplicateRows++
    if (this.leakHasher !== undefined) {
      const reference = this.reference!
      if (this.leakHasher !== this.rowHasher) this.leakHasher.hash(batch)
      const h = this.leakHasher
      for (let i = 0; i < n; i++) if (reference.hasRow(h.hi[i], h.lo[i])) this.leaked++
    }

    if (this.columnClasses.length > 0) this.refineColumnClasses(cols, n)
    this.rows += n
  }

  private addColumn(s: ColumnState, column: Column, n: number): void {
    if (column instanceof Float64Array) this.addNumbers(s, column, n)
    else this.addCells(s, column, n)
  }

  /** The typed-column path: no closures nor calls per cell but a table probe per run of one value. */
  private addNumbers(s: ColumnState, column: Float64Array, n: number): void {
    const range = s.ref !== undefined && s.ref.numbers > 0 ? s.ref : undefined
    const min = range !== undefined ? range.min : -Infinity
    const max = range !== undefined ? range.max : Infinity
    let missing = 0
    let outOfRange = 0
    // Runs of one value (common in near-constant columns) are counted with one probe.
    let prev = NaN
    let run = 0
    for (let i = 0; i < n; i++) {
      const v = column[i]
      if (v !== v) {
        missing++
        continue
      }
      if (v < min || v > max) outOfRange++
      if (v === prev) {
        run++
        continue
      }
      if (run > 0) this.countNumber(s, prev, run)
      prev = v
      run = 1
    }
    if (run > 0) this.countNumber(s, prev, run)
    s.missing += missing
    s.numbers += n - missing
    if (range !== undefined) s.outOfRange += outOfRange
  }

  private countNumber(s: ColumnState, v: number, by: number): void {
    const key = this.key
    numberKey(v, key)
    this.countValue(s, key[0], key[1], by)
  }

  private addCells(s: ColumnState, column: Cell[], n: number): void {
    const range = s.ref !== undefined && s.ref.numbers > 0 ? s.ref : undefined
    let prev: Cell = null
    let run = 0
    for (let i = 0; i < n; i++) {
      const v = column[i]
      if (v === null || v === undefined || (typeof v === 'number' && v !== v)) {
        s.missing++
        continue
      }
      if (typeof v === 'number') {
        s.numbers++
        if (range !== undefined && (v < range.min || v > range.max)) s.outOfRange++
      } else if (typeof v === 'string') {
        s.texts++
        this.checkCategory(s, v)
      } else s.booleans++
      if (run > 0 && v === prev) {
        run++
        continue
      }
      if (run > 0) this.countCell(s, prev, run)
      prev = v
      run = 1
    }
    if (run > 0) this.countCell(s, prev, run)
  }

  private countCell(s: ColumnState, v: Cell, by: number): void {
    const key = this.key
    if (typeof v === 'number') numberKey(v, key)
    else if (typeof v === 'string') textKey(v, key)
    else {
      key[0] = BOOL_HI
      key[1] = v ? 1 : 0
    }
    this.countValue(s, key[0], key[1], by)
  }

  private countValue(s: ColumnState, hi: number, lo: number, by: number): void {
    if (!s.values.count(hi, lo, by, s.values.size < this.maxDistinct)) {
      if (!s.capped) s.values.freeze()
      s.capped = true
      s.uncounted += by
    }
  }

  private checkCategory(s: ColumnState, v: string): void {
    const ref = s.ref
    if (ref === undefined || ref.categories === null || ref.categories.has(v)) return
    s.newRows++
    // The full 64-bit hash: the set has no other kind of key to keep apart.
    const key = this.key
    hashString(v, key)
    if (key[0] === EMPTY_HI) key[0] = EMPTY_HI - 1
    if (s.newSet.insert(key[0], key[1]) && s.examples.length < EXAMPLES) s.examples.push(v)
  }

  /**
   * Splits each class of so-far-equal columns by comparing their cells in this batch. A class of more than
   * two columns is first split by a hash of each column's cells in the batch, so that many columns equal
   * over a long prefix (sparse, one-hot) cost one pass each rather than one per pair; the cells are then
   * compared all the same, so that a hash collision can never join two columns.
   */
  private refineColumnClasses(cols: Column[], n: number): void {
    const next: number[][] = []
    const key = this.key
    for (const cls of this.columnClasses) {
      let groups: number[][] = [cls]
      if (cls.length > 2) {
        const byHash = new Map<string, number[]>()
        for (const c of cls) {
          hashColumn(cols[c], n, key)
          const k = `${key[0]}:${key[1]}`
          const group = byHash.get(k)
          if (group) group.push(c)
          else byHash.set(k, [c])
        }
        groups = [...byHash.values()].filter((g) => g.length > 1)
      }
      for (const group of groups) {
        const subclasses: number[][] = []
        for (const c of group) {
          const home = subclasses.find((sub) => columnsEqual(cols[sub[0]], cols[c], n))
          if (home) home.push(c)
          else subclasses.push([c])
        }
        for (const sub of subclasses) if (sub.length > 1) next.push(sub)
      }
    }
    this.columnClasses = next
  }

  result(): IntegrityResult {
    const rows = this.rows
    const columns = this.columns.map((s) => this.columnResult(s, rows))
    const duplicateColumns: [string, string][] = []
    if (rows > 0) {
      const pairs: [number, number][] = []
      for (const cls of this.columnClasses) for (const c of cls.slice(1)) pairs.push([cls[0], c])
      pairs.sort((x, y) => x[1] - y[1])
      for (const [a, b] of pairs) duplicateColumns.push([this.columns[a].name, this.columns[b].name])
    }
    const result: IntegrityResult = { rows, columns, duplicateRows: this.duplicateRows, duplicateColumns }
    if (this.leakHasher !== undefined) result.leakage = { rows: this.leaked, share: rows > 0 ? this.leaked / rows : 0 }
    return result
  }

  private columnResult(s: ColumnState, rows: number): IntegrityColumn {
    const nonMissing = rows - s.missing
    const distinct = s.values.size + (s.capped ? 1 : 0)
    const constant = distinct <= 1
    const notes: string[] = []
    let topShare: number | undefined
    let nearConstant = false
    if (nonMissing > 0) {
      const top = s.values.maxCount()
      topShare = top / nonMissing
      nearConstant = !constant && topShare >= this.nearConstant
      if (s.capped && top < s.uncounted) {
        const upper = s.uncounted / nonMissing
        notes.push(
          `more than ${this.maxDistinct} distinct values: topShare is a lower bound (at most ${upper})` +
            (!nearConstant && upper >= this.nearConstant ? '; near-constant undecided' : ''),
        )
      }
    }
    const kinds = (s.numbers > 0 ? 1 : 0) + (s.texts > 0 ? 1 : 0) + (s.booleans > 0 ? 1 : 0)
    const out: IntegrityColumn = {
      name: s.name,
      missing: s.missing,
      missingShare: rows > 0 ? s.missing / rows : 0,
      constant,
      nearConstant,
      ...(topShare !== undefined ? { topShare } : {}),
      mixedTypes: kinds > 1,
    }
    if (this.reference !== undefined) {
      const ref = s.ref
      if (ref === undefined) notes.push('not in the reference profile: not compared with the reference')
      else {
        if (ref.numbers > 0) out.outOfRange = s.outOfRange
        if (ref.categories === null)
          notes.push(`the reference has more than ${this.reference.maxCategories} distinct texts: not checked for new categories`)
        else if (ref.texts > 0 || s.texts > 0) out.newCategories = { count: s.newSet.size, rows: s.newRows, examples: [...s.examples] }
      }
    }
    if (notes.length > 0) out.notes = notes
    return out
  }
}

/** Cells equal after normalisation (missing equals missing, -0 equals 0, no number equals a text). */
function columnsEqual(x: Column, y: Column, n: number): boolean {
  if (x instanceof Float64Array && y instanceof Float64Array) {
    for (let i = 0; i < n; i++) {
      const a = x[i]
      const b = y[i]
      if (a !== b && (a === a || b === b)) return false
    }
    return true
  }
  for (let i = 0; i < n; i++) {
    const a = normal(x[i])
    const b = normal(y[i])
    if (a !== b) return false
  }
  return true
}

function normal(v: Cell | undefined): Cell {
  return v === undefined || (typeof v === 'number' && v !== v) ? null : v
}
