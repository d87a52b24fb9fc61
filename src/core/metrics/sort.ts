/**
 * Ascending sort of float64 values by LSD radix sort on their IEEE-754 bits: four 16-bit passes, each
 * skipped when every key shares that digit. V8's built-in `Float64Array.prototype.sort` takes ~0.4 s per
 * million values on Node 20; this takes a few tens of milliseconds, which is what keeps ROC AUC on a million
 * rows (and one-vs-rest AUC on ten columns of them) fast. NaN is not expected (callers validate finiteness).
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const DIGIT_BITS = 16
const DIGITS = 1 << DIGIT_BITS

/** A sorted copy of `values`. */
export function sortedFloat64(values: ArrayLike<number>): Float64Array {
  return sortFloat64(Float64Array.from(values))
}

/**
 * `values` sorted, in their own buffer where the sort ends there (an even number of passes), else in a
 * buffer of the same size: for a caller that owns the array and needs no copy (a million rows: 8 MB less).
 * The input is used up: afterwards it holds either the result or scratch, so read only what is returned.
 */
export function sortFloat64(sorted: Float64Array): Float64Array {
  if (!LITTLE_ENDIAN || sorted.length < 512) return sorted.sort()
  const n = sorted.length
  // Word order inside each float: [low, high] on little-endian hosts.
  let words: Uint32Array = new Uint32Array(sorted.buffer, sorted.byteOffset, 2 * n)
  let spare: Uint32Array = new Uint32Array(2 * n)
  toSortableKeys(words, n)
  const counts = new Uint32Array(DIGITS)
  for (let pass = 0; pass < 4; pass++) {
    const word = pass >> 1
    const shift = (pass & 1) * DIGIT_BITS
    counts.fill(0)
    countDigits(words, counts, n, word, shift)
    if (counts[(words[word] >>> shift) & (DIGITS - 1)] === n) continue
    let offset = 0
    for (let d = 0; d < DIGITS; d++) {
      const c = counts[d]
      counts[d] = offset
      offset += c
    }
    scatter(words, spare, counts, n, word, shift)
    ;[words, spare] = [spare, words]
  }
  fromSortableKeys(words, n)
  return new Float64Array(words.buffer, words.byteOffset, n)
}

// The passes are separate small functions because V8 optimises a hot function sooner than a long loop
// inside a function that runs once.

/** Order-preserving map to unsigned keys: negative floats flip all bits, the others only the sign bit. */
function toSortableKeys(words: Uint32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const high = words[2 * i + 1]
    if (high & 0x80000000) {
      words[2 * i] = ~words[2 * i]
      words[2 * i + 1] = ~high
    } else {
      words[2 * i + 1] = high | 0x80000000
    }
  }
}

function fromSortableKeys(words: Uint32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const high = words[2 * i + 1]
    if (high & 0x80000000) {
      words[2 * i + 1] = high & 0x7fffffff
    } else {
      words[2 * i] = ~words[2 * i]
      words[2 * i + 1] = ~high
    }
  }
}

function countDigits(words: Uint32Array, counts: Uint32Array, n: number, word: number, shift: number): void {
  for (let i = 0; i < n; i++) counts[(words[2 * i + word] >>> shift) & (DIGITS - 1)]++
}

function scatter(from: Uint32Array, to: Uint32Array, starts: Uint32Array, n: number, word: number, shift: number) {
  for (let i = 0; i < n; i++) {
    const at = 2 * starts[(from[2 * i + word] >>> shift) & (DIGITS - 1)]++
    to[at] = from[2 * i]
    to[at + 1] = from[2 * i + 1]
  }
}
