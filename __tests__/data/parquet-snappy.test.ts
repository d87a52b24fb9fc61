import { describe, expect, it } from '@jest/globals'
import { parquetMetadata, snappyUncompress as hyparquetSnappy } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { snappyUncompress } from '../../src/core/data/parquet-snappy.js'

// The reader's snappy decoder moves long elements in bulk; it must give hyparquet's output, and its
// errors, for every input.

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

function expectSame(input: Uint8Array, length: number): void {
  const ours = decode(() => snappyUncompress(input, length))
  const theirs = decode(() => {
    const out = new Uint8Array(length)
    hyparquetSnappy(input, out)
    return out
  })
  expect(ours).toEqual(theirs)
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

  it('decodes what hyparquet decodes, byte for byte', () => {
    expect(pages.length).toBeGreaterThan(30)
    for (const { input, length } of pages) {
      expectSame(input, length)
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
