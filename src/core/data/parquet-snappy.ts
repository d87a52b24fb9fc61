/*
 * Snappy decompression for Parquet pages, in two parts:
 * - `uncompressInto`, the reference: hyparquet's own decoder (snappyjs, MIT, Copyright (c) 2016 Zhipeng
 *   Jia) with one change: long literals and long non-overlapping copies move with TypedArray.set /
 *   copyWithin (a memcpy) instead of one byte at a time. Same output and the same errors for every input.
 * - `snappy.wat`, the fast path every page tries first: a WebAssembly decoder of valid streams only. It
 *   hands any stream it would not decode exactly as the reference does (an error, or the reference's own
 *   oddities) back to the reference, which then gives that stream's output or error, so the result is
 *   the reference's for every input. Pages of floating-point numbers are mostly elements of a dozen bytes
 *   or fewer, and in JavaScript each costs a byte loop or a subarray's allocation: on the benchmark's
 *   pages the reference decodes about 240 MB/s, the WebAssembly several times that (npm run bench).
 */
import { SNAPPY_WASM_BASE64 } from './snappy-wasm.js'

const WORD_MASK = [0, 0xff, 0xffff, 0xffffff, 0xffffffff]

/** Elements at least this long are moved in one call; shorter ones byte by byte, which is faster for them. */
const BULK = 32

/**
 * Decompresses a snappy block of `outputLength` bytes (the signature of a hyparquet decompressor).
 * `reuse`: bytes the caller no longer needs, written over (a subarray of it returned) when the kernel
 * decodes the block and it is long enough. At 1M rows the pages' fresh buffers cost more than their
 * decoding: each is new memory the system must fault in and zero.
 */
export function snappyUncompress(input: Uint8Array, outputLength: number, reuse?: Uint8Array): Uint8Array {
  const fast = snappyFast(input, outputLength, reuse)
  if (fast) return fast
  const output = new Uint8Array(outputLength)
  uncompressInto(input, output)
  return output
}

interface SnappyKernel {
  /** WebAssembly.Memory, as far as this file uses it (the type Node's declarations give lacks `grow`). */
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number }
  /** See snappy.wat: 0 when memory[out, out + outLen) is the page, 1 when the reference must decode it. */
  uncompress(input: number, inputLength: number, output: number, outputLength: number): number
}

let kernel: SnappyKernel | null | undefined

/** The WebAssembly decoder; null where this runtime cannot run it (then every page takes the reference). */
function snappyKernel(): SnappyKernel | null {
  if (kernel === undefined) {
    try {
      const module = new WebAssembly.Module(Buffer.from(SNAPPY_WASM_BASE64, 'base64'))
      kernel = new WebAssembly.Instance(module).exports as unknown as SnappyKernel
    } catch {
      kernel = null
    }
  }
  return kernel
}

/** The kernel's 16-byte moves may write this far past the page; the stream is read as far past its end. */
const SLACK = 64
/** A page needing more kernel memory than this takes the reference: WebAssembly memory never shrinks. */
const KERNEL_MAX_BYTES = 64 * 1024 * 1024
const WASM_PAGE = 65536

/** A valid stream decoded by the kernel; undefined when the reference must decode it (exported for tests). */
export function snappyFast(input: Uint8Array, outputLength: number, reuse?: Uint8Array): Uint8Array | undefined {
  const k = snappyKernel()
  // A length the reference refuses with its own error (a negative or fractional page size in a damaged header).
  if (k === null || !Number.isSafeInteger(outputLength) || outputLength < 0) return undefined
  // The stream first, then the page: the kernel's over-long writes land after the stream, never in it.
  const at = (input.byteLength + SLACK + 15) & ~15
  const need = at + outputLength + SLACK
  if (need > KERNEL_MAX_BYTES) return undefined
  const have = k.memory.buffer.byteLength
  if (need > have) k.memory.grow(Math.ceil((need - have) / WASM_PAGE))
  const heap = new Uint8Array(k.memory.buffer)
  heap.set(input, 0)
  if (k.uncompress(0, input.byteLength, at, outputLength) !== 0) return undefined
  const page = heap.subarray(at, at + outputLength)
  if (reuse === undefined || reuse.byteLength < outputLength) return page.slice()
  const out = reuse.subarray(0, outputLength)
  out.set(page)
  return out
}

function uncompressInto(input: Uint8Array, output: Uint8Array): void {
  const inputLength = input.byteLength
  const outputLength = output.byteLength
  let pos = 0
  let outPos = 0

  // skip preamble (contains uncompressed length as varint)
  while (pos < inputLength) {
    const c = input[pos]
    pos++
    if (c < 128) break
  }
  if (outputLength && pos >= inputLength) throw new Error('invalid snappy length header')

  while (pos < inputLength) {
    const c = input[pos]
    let len = 0
    pos++
    if (pos >= inputLength) throw new Error('missing eof marker')

    // There are two types of elements, literals and copies (back references)
    if ((c & 0x3) === 0) {
      // Literals are uncompressed data stored directly in the byte stream
      len = (c >>> 2) + 1
      // Longer literal length is encoded in multiple bytes
      if (len > 60) {
        if (pos + 3 >= inputLength) throw new Error('snappy error literal pos + 3 >= inputLength')
        const lengthSize = len - 60 // length bytes - 1
        len = input[pos] + (input[pos + 1] << 8) + (input[pos + 2] << 16) + (input[pos + 3] << 24)
        len = (len & WORD_MASK[lengthSize]) + 1
        pos += lengthSize
      }
      if (pos + len > inputLength) throw new Error('snappy error literal exceeds input length')
      if (len >= BULK && outPos + len <= outputLength) output.set(input.subarray(pos, pos + len), outPos)
      else for (let i = 0; i < len; i++) output[outPos + i] = input[pos + i]
      pos += len
      outPos += len
    } else {
      // Copy elements
      let offset = 0 // offset back from current position to read
      switch (c & 0x3) {
        case 1:
          // Copy with 1-byte offset
          len = ((c >>> 2) & 0x7) + 4
          offset = input[pos] + ((c >>> 5) << 8)
          pos++
          break
        case 2:
          // Copy with 2-byte offset
          if (inputLength <= pos + 1) throw new Error('snappy error end of input')
          len = (c >>> 2) + 1
          offset = input[pos] + (input[pos + 1] << 8)
          pos += 2
          break
        case 3:
          // Copy with 4-byte offset
          if (inputLength <= pos + 3) throw new Error('snappy error end of input')
          len = (c >>> 2) + 1
          offset = input[pos] + (input[pos + 1] << 8) + (input[pos + 2] << 16) + (input[pos + 3] << 24)
          pos += 4
          break
        default:
          break
      }
      if (offset === 0 || isNaN(offset)) throw new Error(`invalid offset ${offset} pos ${pos} inputLength ${inputLength}`)
      if (offset > outPos) throw new Error('cannot copy from before start of buffer')
      // An overlapping copy repeats what it has just written: byte by byte, as the format means it.
      if (len >= BULK && offset >= len && outPos + len <= outputLength) output.copyWithin(outPos, outPos - offset, outPos - offset + len)
      else for (let i = 0; i < len; i++) output[outPos + i] = output[outPos - offset + i]
      outPos += len
    }
  }

  if (outPos !== outputLength) throw new Error('premature end of input')
}
