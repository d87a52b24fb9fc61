import { describe, expect, it } from '@jest/globals'
import { parquetMetadata, snappyUncompress as hyparquetSnappy } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { snappyFast, snappyUncompress } from '../../src/core/data/parquet-snappy.js'

// The reader's snappy decoder (a WebAssembly kernel for valid streams, the reference in JavaScript for
// the rest) must give hyparquet's output, and its errors, for every input; and the kernel must be what
// decodes valid pages, or the reader is no faster than before.

function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Result = { bytes: Uint8Array } | { error: string }

function decode(run: () => Uint8Array): Result {
  try {
    return { bytes: run() }
  } catch (e) {
    return { error: (e as Error).message }
  }
}

/** Also returns whether the kernel decoded it; when it did, hyparquet decodes the same bytes. */
function expectSame(input: Uint8Array, length: number): boolean {
  const ours = decode(() => snappyUncompress(input, length))
  const theirs = decode(() => {
    const out = new Uint8Array(length)
    hyparquetSnappy(input, out)
    return out
  })
  // Bytes compared as buffers: toEqual walks a typed array element by element, far slower.
  const text = (r: Result) => ('bytes' in r ? Buffer.from(r.bytes).toString('hex') : `error: ${r.error}`)
  expect(text(ours)).toBe(text(theirs))
  const fast = snappyFast(input, length)
  if (fast) expect(Buffer.from(fast).toString('hex')).toBe(text(theirs))
  return fast !== undefined
}

/** A snappy stream from elements: literal bytes, or [length, offset] copies in the given tag form. */
function stream(length: number, elements: (number[] | { copy: number; offset: number; tag: 1 | 2 | 3 })[]): Uint8Array {
  const out: number[] = []
  for (let n = length; ; n >>>= 7) {
    if (n < 128) {
      out.push(n)
      break
    }
    out.push((n & 127) | 128)
  }
  for (const e of elements) {
    if (Array.isArray(e)) {
      const len = e.length - 1
      if (len < 60) out.push(len << 2)
      else {
        const bytes = len < 1 << 8 ? 1 : len < 1 << 16 ? 2 : len < 1 << 24 ? 3 : 4
        out.push((59 + bytes) << 2)
        for (let b = 0; b < bytes; b++) out.push((len >>> (8 * b)) & 255)
      }
      out.push(...e)
    } else if (e.tag === 1) {
      out.push(1 | ((e.copy - 4) << 2) | ((e.offset >>> 8) << 5), e.offset & 255)
    } else {
      out.push(e.tag | ((e.copy - 1) << 2))
      for (let b = 0; b < (e.tag === 2 ? 2 : 4); b++) out.push((e.offset >>> (8 * b)) & 255)
    }
  }
  return Uint8Array.from(out)
}

/** Snappy streams as hyparquet-writer compresses pages, with their lengths: literals and copies, short and long, overlapping. */
function compressedPages(): { input: Uint8Array; length: number }[] {
  const rand = random(3)
  const n = 3000
  const columnData = [
    { name: 'noise', data: Float64Array.from({ length: n }, () => rand()), type: 'DOUBLE' as const },
    {
      name: 'digits',
      data: Float64Array.from({ length: n }, (_, i) => Number((Math.sin(i) * 100).toPrecision(6))),
      type: 'DOUBLE' as const,
    },
    { name: 'runs', data: Array.from({ length: n }, (_, i) => 'a'.repeat(1 + (i % 200)) + 'b'.repeat(i % 7)), type: 'STRING' as const },
    {
      name: 'words',
      data: Array.from({ length: n }, (_, i) => `${['alpha', 'beta', 'gamma'][i % 3]}-${Math.floor(rand() * 50)}`),
      type: 'STRING' as const,
    },
    { name: 'zeros', data: new Float64Array(n), type: 'DOUBLE' as const },
  ]
  const file = parquetWriteBuffer({ columnData, rowGroupSize: 1000, pageSize: 4096 })
  const metadata = parquetMetadata(file)
  const pages: { input: Uint8Array; length: number }[] = []
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const meta = chunk.meta_data!
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset)
      const end = start + Number(meta.total_compressed_size)
      const reader = { view: new DataView(file, start, end - start), offset: 0 }
      while (reader.offset < end - start - 1) {
        const header = parquetHeader(reader)
        const v2 = header.data_page_header_v2
        const levels = v2 ? v2.definition_levels_byte_length + v2.repetition_levels_byte_length : 0
        pages.push({
          input: new Uint8Array(file, start + reader.offset + levels, header.compressed_page_size - levels),
          length: header.uncompressed_page_size - levels,
        })
        reader.offset += header.compressed_page_size
      }
    }
  }
  return pages
}

describe('parquet snappyUncompress', () => {
  const pages = compressedPages()

  it('decodes what hyparquet decodes, byte for byte, every page in WebAssembly', () => {
    expect(pages.length).toBeGreaterThan(30)
    for (const { input, length } of pages) {
      expect(expectSame(input, length)).toBe(true)
      const hyparquetOutput = new Uint8Array(length)
      hyparquetSnappy(input, hyparquetOutput)
      expect(Buffer.from(snappyUncompress(input, length)).equals(Buffer.from(hyparquetOutput))).toBe(true)
    }
  })

  it('fails as hyparquet fails on damaged streams and wrong lengths', () => {
    const rand = random(11)
    for (const { input, length } of pages) {
      for (const wrong of [0, 1, length - 1, length + 1, length + 64]) expectSame(input, Math.max(0, wrong))
      for (let k = 0; k < 20; k++) {
        const damaged = new Uint8Array(input)
        for (let f = 0; f < 1 + Math.floor(rand() * 3); f++) damaged[Math.floor(rand() * damaged.length)] = Math.floor(rand() * 256)
        expectSame(damaged, length)
        expectSame(damaged.subarray(0, Math.floor(rand() * damaged.length)), length)
      }
    }
  })

  it('decodes every element form in WebAssembly: long literals, each copy tag, overlapping and distant copies', () => {
    const rand = random(17)
    const bytes = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 256))
    for (const literal of [1, 15, 16, 17, 60, 61, 255, 256, 300, 65535, 65536, 70000]) {
      const lit = bytes(literal)
      expect(expectSame(stream(literal, [lit]), literal)).toBe(true)
    }
    for (const tag of [1, 2, 3] as const) {
      for (const offset of [1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 100, 2047]) {
        for (const copy of tag === 1 ? [4, 7, 11] : [1, 4, 15, 16, 17, 33, 64]) {
          const head = bytes(Math.max(offset, 40))
          const elements = [head, { copy, offset, tag }, bytes(3), { copy, offset, tag }]
          const length = head.length + 2 * copy + 3
          expect(expectSame(stream(length, elements), length)).toBe(true)
        }
      }
    }
  })

  it("leaves the reference's oddities to the reference: lengths and offsets that read negative, sizes it refuses", () => {
    const head = Array.from({ length: 40 }, (_, i) => i)
    // A four-byte literal length with its top bit set, which the reference's 32-bit arithmetic makes negative.
    const negativeLength = Uint8Array.from([40, 63 << 2, 0xff, 0xff, 0xff, 0xff])
    expect(expectSame(negativeLength, 40)).toBe(false)
    const maxLength = Uint8Array.from([40, 63 << 2, 0xfe, 0xff, 0xff, 0x7f])
    expect(expectSame(maxLength, 40)).toBe(false)
    // A four-byte copy offset with its top bit set.
    const negativeOffset = stream(44, [head, { copy: 4, offset: 0x80000001, tag: 3 }])
    expect(expectSame(negativeOffset, 44)).toBe(false)
    // Copies from before the start, of offset 0, and past the page's end; a page size that is not one.
    expect(expectSame(stream(44, [head, { copy: 4, offset: 41, tag: 2 }]), 44)).toBe(false)
    expect(expectSame(stream(44, [head, { copy: 4, offset: 0, tag: 2 }]), 44)).toBe(false)
    expect(expectSame(stream(44, [head, { copy: 8, offset: 1, tag: 2 }]), 44)).toBe(false)
    expect(expectSame(stream(40, [head]), -1)).toBe(false)
    expect(expectSame(stream(40, [head]), 39.5)).toBe(false)
    // A page past the kernel's memory limit: the reference decodes it, the same bytes.
    const big = 1 + 64 * 2 ** 20
    const run = stream(big, [[7], ...Array.from({ length: 2 ** 20 }, () => ({ copy: 64, offset: 1, tag: 2 as const }))])
    expect(snappyFast(run, big)).toBeUndefined()
    const out = snappyUncompress(run, big)
    expect(out.length).toBe(big)
    expect(out.every((b) => b === 7)).toBe(true)
  })

  it('fails as hyparquet fails on bytes that are not snappy at all', () => {
    const rand = random(5)
    for (let k = 0; k < 300; k++) {
      const bytes = Uint8Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256))
      expectSame(bytes, Math.floor(rand() * 300))
    }
    expectSame(new Uint8Array(0), 0)
    expectSame(new Uint8Array(0), 5)
  })
})
