/**
 * Hashing of cells and rows for the integrity checks (integrity.ts), and compact open-addressing tables
 * of 64-bit keys held in typed arrays.
 *
 * Every cell is first normalised, then written as a short sequence of 32-bit words:
 * - a number (not NaN): its float64 value, `-0` made `0`, as two words (high word first). So `1`, `1.0` and
 *   `1e0` (all the same double) are equal, and `-0` equals `0`;
 * - a missing value (`null`, NaN): the two words `MISSING_HI, 0`;
 * - a boolean: `BOOL_HI, 0 | 1`;
 * - a text: `TEXT_TAG`, then the two 32-bit halves of the string's 64-bit hash (text is not trimmed).
 * The tags are NaN bit patterns, which no normalised number has, and the first word of a cell says how many
 * words follow, so two different rows (over the same columns) give different word sequences: rows can collide
 * only through the hash functions.
 *
 * A row's hash is two independent 32-bit streams over those words (a Murmur3 block mix and an xxHash32 round,
 * each with its own finaliser), 64 bits in all. For n distinct rows the chance of any collision is about
 * n² / 2^65: 2.7e-6 for 10 million rows; for leakage, about (current rows × distinct reference rows) / 2^64:
 * 5.4e-6 for 10 million of each. A collision would make two different rows count as equal (one duplicate row
 * or one leaked row too many); it can never hide a true match. A text enters a row's hash as its own 64-bit
 * hash, so two different texts collide with the same odds (d² / 2^65 for d distinct texts in a column).
 */
import { UserError } from '../errors.js'
import type { Batch, Column } from '../data/types.js'

/** High word of a missing cell's key (a NaN pattern, so no number's). */
export const MISSING_HI = 0x7ff00001
/** High word of a boolean cell's key. */
export const BOOL_HI = 0x7ff00002
/** First word of a text cell in a row's word sequence. */
export const TEXT_TAG = 0x7ff00003
/** The high word that marks an empty slot in the tables (a NaN pattern that no key uses). */
export const EMPTY_HI = 0xffffffff

// Module-level, not `Math.imul` in the loops: under a vm context (jest) each global lookup is slow.
const imul = Math.imul

const SEED_A = 0x3c6ef372
const SEED_B = 0x9e3779b9 | 0

const F64 = new Float64Array(1)
const U32 = new Uint32Array(F64.buffer)
/** Which half of U32 is the double's high word (little-endian machines: 1). */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0
const LO = 1 - HI

/** One Murmur3 block step: `h` (32-bit state) absorbs word `w`. */
export function mixA(h: number, w: number): number {
  let k = imul(w, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  k = imul(k, 0x1b873593)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (imul(h, 5) + 0xe6546b64) | 0
}

/** One xxHash32 round: the second, independent stream. */
export function mixB(h: number, w: number): number {
  h = (h + imul(w, 0x85ebca77)) | 0
  h = (h << 13) | (h >>> 19)
  return imul(h, 0x9e3779b1)
}

/** Murmur3's finaliser (unsigned result). */
export function finalA(h: number): number {
  h ^= h >>> 16
  h = imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The "lowbias32" finaliser (unsigned result). */
export function finalB(h: number): number {
  h ^= h >>> 16
  h = imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = imul(h, 0x846ca68b)
  return (h ^ (h >>> 16)) >>> 0
}

/** The 64-bit hash of a string's UTF-16 code units, as `out[0]` (high) and `out[1]` (low). */
export function hashString(s: string, out: Uint32Array): void {
  let a = SEED_A
  let b = SEED_B
  const n = s.length
  let i = 0
  for (; i + 1 < n; i += 2) {
    const w = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)
    a = mixA(a, w)
    b = mixB(b, w)
  }
  if (i < n) {
    const w = s.charCodeAt(i)
    a = mixA(a, w)
    b = mixB(b, w)
  }
  out[0] = finalA(a ^ n)
  out[1] = finalB(b ^ n)
}

/**
 * The key of a non-missing cell in a per-column table (value counts, new categories): a number's own bits
 * (exact), a boolean's tag, a text's hash with its high word moved into NaN space (0x7ff8xxxx), so that it
 * can meet neither a number nor a tag: 51 bits of the string's hash. Written to `out`.
 */
export function numberKey(v: number, out: Uint32Array): void {
  F64[0] = v + 0 // -0 + 0 is +0
  out[0] = U32[HI]
  out[1] = U32[LO]
}

export function textKey(s: string, out: Uint32Array): void {
  hashString(s, out)
  out[0] = (0x7ff80000 | (out[0] >>> 13)) >>> 0
}

/**
 * A 64-bit key's slot among 2^(32 - shift): multiplicative (Fibonacci) hashing, top bits, so that keys such
 * as a number's bits, whose low words are often 0, spread too.
 */
function slotOf(hi: number, lo: number, shift: number): number {
  return imul(hi ^ imul(lo, 0x9e3779b1), 0x85ebca6b) >>> shift
}

const MAX_LOAD = 0.7

/**
 * A set of 64-bit keys (or a map from them to counts), open addressing with linear probing in typed arrays:
 * 8 bytes a slot for the keys (two Uint32 words, interleaved), plus 8 a slot for counts when counting. The
 * table doubles when 70 % full, so it holds between 35 % and 70 % of its slots: 11.4 to 22.9 bytes per key
 * (a set), 22.9 to 45.7 (with counts). A key's high word must not be `EMPTY_HI`.
 */
export class Table64 {
  private keys: Uint32Array
  private counts: Float64Array | undefined
  private mask: number
  private shift: number
  /** Once frozen: one bit per value of a key's top 16 hash bits, set for the keys in the table (a quick "absent"). */
  private filter: Uint32Array | undefined
  size = 0

  constructor(counting = false, initialSlots = 64) {
    let slots = 16
    while (slots < initialSlots) slots *= 2
    this.keys = new Uint32Array(slots * 2).fill(EMPTY_HI)
    this.counts = counting ? new Float64Array(slots) : undefined
    this.mask = slots - 1
    this.shift = Math.clz32(slots) + 1
  }

  /** Bytes the table's arrays take. */
  get bytes(): number {
    return this.keys.byteLength + (this.counts?.byteLength ?? 0)
  }

  /** Slot of the key, or -1 - (the empty slot where it would go). */
  private find(hi: number, lo: number): number {
    const keys = this.keys
    const mask = this.mask
    let s = slotOf(hi, lo, this.shift)
    for (;;) {
      const k = keys[2 * s]
      if (k === EMPTY_HI) return -1 - s
      if (k === hi && keys[2 * s + 1] === lo) return s
      s = (s + 1) & mask
    }
  }

  has(hi: number, lo: number): boolean {
    return this.find(hi, lo) >= 0
  }

  /** Adds the key; true when it was not there yet. */
  insert(hi: number, lo: number): boolean {
    const s = this.find(hi, lo)
    if (s >= 0) return false
    this.put(-1 - s, hi, lo, 0)
    return true
  }

  /**
   * No more keys will be inserted: lookups of absent keys are then answered mostly from an 8 KiB bitmap
   * (a cap of 10,000 keys sets about 14 % of its bits), not by probing.
   */
  freeze(): void {
    if (this.filter !== undefined) return
    const filter = new Uint32Array(2048)
    const keys = this.keys
    for (let s = 0; s < keys.length / 2; s++) {
      const hi = keys[2 * s]
      if (hi === EMPTY_HI) continue
      const f = slotOf(hi, keys[2 * s + 1], 16)
      filter[f >>> 5] |= 1 << (f & 31)
    }
    this.filter = filter
  }

  /**
   * Adds `by` to the key's count; a key not yet there is inserted only when `insert` is true (and the table
   * is not frozen). Returns whether the key is (now) in the table.
   */
  count(hi: number, lo: number, by: number, insert: boolean): boolean {
    const filter = this.filter
    if (filter !== undefined) {
      const f = slotOf(hi, lo, 16)
      if ((filter[f >>> 5] & (1 << (f & 31))) === 0) return false
      insert = false
    }
    const s = this.find(hi, lo)
    if (s >= 0) {
      this.counts![s] += by
      return true
    }
    if (!insert) return false
    this.put(-1 - s, hi, lo, by)
    return true
  }

  /** The largest count (0 when empty). */
  maxCount(): number {
    const counts = this.counts!
    let max = 0
    for (let s = 0; s < counts.length; s++) if (counts[s] > max) max = counts[s]
    return max
  }

  private put(slot: number, hi: number, lo: number, count: number): void {
    if ((this.size + 1) / (this.mask + 1) > MAX_LOAD) {
      this.grow()
      slot = -1 - this.find(hi, lo)
    }
    this.keys[2 * slot] = hi
    this.keys[2 * slot + 1] = lo
    if (this.counts) this.counts[slot] = count
    this.size++
  }

  private grow(): void {
    const oldKeys = this.keys
    const oldCounts = this.counts
    const slots = (this.mask + 1) * 2
    this.keys = new Uint32Array(slots * 2).fill(EMPTY_HI)
    this.counts = oldCounts ? new Float64Array(slots) : undefined
    this.mask = slots - 1
    this.shift = Math.clz32(slots) + 1
    for (let s = 0; s < oldKeys.length / 2; s++) {
      const hi = oldKeys[2 * s]
      if (hi === EMPTY_HI) continue
      const lo = oldKeys[2 * s + 1]
      const t = -1 - this.find(hi, lo)
      this.keys[2 * t] = hi
      this.keys[2 * t + 1] = lo
      if (this.counts) this.counts[t] = oldCounts![s]
    }
  }
}

/** A batch's column, or a UserError naming what the batch has. */
export function batchColumn(batch: Batch, name: string, what: string): Column {
  const column = batch.columns[name]
  if (column === undefined) {
    throw new UserError(
      `${what}: column "${name}" is not in the data (rows ${batch.offset}–${batch.offset + batch.length - 1} have: ${Object.keys(batch.columns).join(', ')})`,
      { field: name },
    )
  }
  return column
}

/**
 * 64-bit hashes of the rows of a batch over fixed columns (in that order). `hash(batch)` fills `hi` and `lo`
 * (reused between batches: read them before the next call) for rows 0 … batch.length - 1.
 */
export class RowHasher {
  hi = new Uint32Array(0)
  lo = new Uint32Array(0)
  private a = new Int32Array(0)
  private b = new Int32Array(0)
  private readonly scratch = new Uint32Array(2)

  constructor(
    readonly columns: readonly string[],
    private readonly what = 'integrity',
  ) {}

  hash(batch: Batch): void {
    const n = batch.length
    if (this.a.length < n) {
      this.a = new Int32Array(n)
      this.b = new Int32Array(n)
      this.hi = new Uint32Array(n)
      this.lo = new Uint32Array(n)
    }
    const a = this.a
    const b = this.b
    a.fill(SEED_A, 0, n)
    b.fill(SEED_B, 0, n)
    for (const name of this.columns) {
      const column = batchColumn(batch, name, this.what)
      if (column instanceof Float64Array) hashNumbers(column, n, a, b)
      else this.hashCells(column, n, a, b)
    }
    const hi = this.hi
    const lo = this.lo
    for (let i = 0; i < n; i++) {
      const h = finalA(a[i])
      hi[i] = h === EMPTY_HI ? EMPTY_HI - 1 : h
      lo[i] = finalB(b[i])
    }
  }

  private hashCells(column: Column, n: number, a: Int32Array, b: Int32Array): void {
    const out = this.scratch
    for (let i = 0; i < n; i++) {
      const v = column[i]
      let w0: number
      let w1: number
      if (typeof v === 'number') {
        if (v !== v) {
          w0 = MISSING_HI
          w1 = 0
        } else {
          F64[0] = v + 0
          w0 = U32[HI]
          w1 = U32[LO]
        }
      } else if (typeof v === 'string') {
        hashString(v, out)
        a[i] = mixA(a[i], TEXT_TAG)
        b[i] = mixB(b[i], TEXT_TAG)
        w0 = out[0]
        w1 = out[1]
      } else if (typeof v === 'boolean') {
        w0 = BOOL_HI
        w1 = v ? 1 : 0
      } else {
        w0 = MISSING_HI
        w1 = 0
      }
      a[i] = mixA(mixA(a[i], w0), w1)
      b[i] = mixB(mixB(b[i], w0), w1)
    }
  }
}

function hashNumbers(column: Float64Array, n: number, a: Int32Array, b: Int32Array): void {
  for (let i = 0; i < n; i++) {
    const v = column[i]
    let w0: number
    let w1: number
    if (v !== v) {
      w0 = MISSING_HI
      w1 = 0
    } else {
      F64[0] = v + 0
      w0 = U32[HI]
      w1 = U32[LO]
    }
    a[i] = mixA(mixA(a[i], w0), w1)
    b[i] = mixB(mixB(b[i], w0), w1)
  }
}

const STRING_HASH = new Uint32Array(2)

/**
 * The 64-bit hash of a column's first `n` cells, normalised as for rows (missing equals missing, -0 equals 0,
 * no number equals a text), into `out` (high, low). Used to split many candidate duplicate columns at once.
 */
export function hashColumn(column: Column, n: number, out: Uint32Array): void {
  let a = SEED_A
  let b = SEED_B
  for (let i = 0; i < n; i++) {
    const v = column[i]
    let w0: number
    let w1: number
    if (typeof v === 'number' && v === v) {
      F64[0] = v + 0
      w0 = U32[HI]
      w1 = U32[LO]
    } else if (typeof v === 'string') {
      hashString(v, STRING_HASH)
      a = mixA(a, TEXT_TAG)
      b = mixB(b, TEXT_TAG)
      w0 = STRING_HASH[0]
      w1 = STRING_HASH[1]
    } else if (typeof v === 'boolean') {
      w0 = BOOL_HI
      w1 = v ? 1 : 0
    } else {
      w0 = MISSING_HI
      w1 = 0
    }
    a = mixA(mixA(a, w0), w1)
    b = mixB(mixB(b, w0), w1)
  }
  out[0] = finalA(a)
  out[1] = finalB(b)
}
