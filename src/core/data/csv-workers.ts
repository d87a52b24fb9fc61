/**
 * CSV records parsed on worker threads, chunk by chunk, handed back in file order.
 *
 * Chunks. The file is read in blocks of `chunkBytes` and each block is cut after its last line end;
 * the bytes after that cut open the next block. A chunk thus starts at a record boundary unless the
 * cut line end was inside a quoted field (a field may hold line breaks). That is not guessed at
 * beforehand: every chunk is parsed as if it started a record, and checked afterwards, in file
 * order. A chunk whose parse ends exactly at its end (no record cut) vouches for the next chunk's
 * start; one that ends in a cut record does not, and the next chunk is parsed again on this thread,
 * from the cut record's first byte. So the records and their line numbers are those of one parse of
 * the whole file, whatever the cuts (tests cut at every byte).
 *
 * Threads. Workers run csv-chunk.ts's parseCsvChunk from its source text (`new Worker(source, { eval:
 * true })`): nothing to resolve, so the same code runs from the TypeScript sources and from the ncc
 * bundle (a self-test first checks that the text runs on its own: a coverage tool's counters would
 * not). A chunk's bytes are transferred to the worker and back with the typed arrays of its cells;
 * only text cells cross as strings. The main thread parses the first chunk itself while the workers
 * start, and any chunk held back for want of a free worker while it would otherwise wait.
 *
 * Memory. At most 3 × workers + 1 chunks are read ahead (2 per worker on the workers), so memory
 * stays flat while the consumer of the batches (inference, metrics) works on the chunks before.
 */
import type { FileHandle } from 'node:fs/promises'
import { Worker } from 'node:worker_threads'
import { ERROR_TOO_LONG, STOP_CUT, STOP_ERROR, parseCsvChunk, type CsvChunk } from './csv-chunk.js'

/** What a parse of records needs besides the bytes: see parseCsvChunk. */
export interface ChunkSpec {
  fields: number
  modes: Uint8Array
  slots: Int32Array
  width: number
  maxRecordBytes: number
}

export interface ParallelSettings {
  /** Worker threads. */
  workers: number
  /** Bytes read per chunk (a chunk grows past it only for a record longer than that). */
  chunkBytes: number
  /** Cut chunks at the end of each block rather than after a line end (tests). */
  splitAnywhere: boolean
}

/** The workers cannot do the work (one failed to start, threw or died): the caller reads on its own thread. */
export class ParallelFallback extends Error {}

interface Job {
  id: number
  buffer: ArrayBuffer
  end: number
  final: boolean
  fields: number
  modes: Uint8Array
  slots: Int32Array
  width: number
  maxRecordBytes: number
  capacity: number
}

interface Parsed {
  chunk: CsvChunk
  /** The job's bytes, back from the worker. */
  buffer: ArrayBuffer
}

/**
 * parseCsvChunk's source text as an expression, with what a compiler may have put in it. esbuild (tsx)
 * names inner functions with a `__name` helper; a coverage tool adds counters, which workersUsable() catches.
 */
function parserSource(): string {
  return `(() => { const __name = (f) => f; return (${parseCsvChunk.toString()}) })()`
}

let usable: boolean | undefined

/**
 * Whether parseCsvChunk runs from its source text alone: compiled in the global scope and tried on a
 * small CSV, as a worker would run it. When not, there are no workers and the main thread parses.
 */
export function workersUsable(): boolean {
  if (usable === undefined) {
    try {
      const parse = new Function(`return ${parserSource()}`)() as typeof parseCsvChunk
      const bytes = new TextEncoder().encode('1,"x""y"\n2.5,z\n ')
      const chunk = parse(bytes, 0, bytes.length - 1, true, 2, Uint8Array.of(1, 2), Int32Array.of(0, 1), 2, 100, 1, Infinity)
      usable = chunk.rows === 2 && chunk.values[0] === 1 && chunk.values[1] === 2.5 && chunk.strings.join() === 'x"y,z'
    } catch {
      usable = false
    }
  }
  return usable
}

let source: string | undefined

/** The workers' program: parseCsvChunk's own text and a message loop. */
function workerSource(): string {
  source ??= `'use strict'
const parseCsvChunk = ${parserSource()}
const { parentPort } = require('node:worker_threads')
parentPort.on('message', (job) => {
  let chunk
  try {
    chunk = parseCsvChunk(new Uint8Array(job.buffer), 0, job.end, job.final, job.fields, job.modes, job.slots, job.width, job.maxRecordBytes, job.capacity, Infinity)
  } catch (e) {
    parentPort.postMessage({ id: job.id, failure: String((e && e.stack) || e) })
    return
  }
  parentPort.postMessage({ id: job.id, chunk, buffer: job.buffer }, [chunk.values.buffer, chunk.kinds.buffer, job.buffer])
})
`
  return source
}

interface Slot {
  worker: Worker
  jobs: number
}

/** Worker threads running parseCsvChunk. A worker holds the process open only while it has work. */
class ChunkPool {
  private readonly slots: Slot[] = []
  private readonly pending = new Map<number, { resolve: (p: Parsed) => void; reject: (e: Error) => void; slot: Slot }>()
  private nextId = 0
  private failure: Error | undefined
  private closed = false

  constructor(size: number) {
    try {
      for (let k = 0; k < size; k++) this.slots.push(this.start())
    } catch (e) {
      this.fail(e)
    }
  }

  private start(): Slot {
    const worker = new Worker(workerSource(), { eval: true })
    const slot: Slot = { worker, jobs: 0 }
    worker.unref()
    worker.on('message', (m: { id: number; chunk?: CsvChunk; buffer?: ArrayBuffer; failure?: string }) => {
      const job = this.pending.get(m.id)
      if (job === undefined) return
      this.pending.delete(m.id)
      if (--slot.jobs === 0) worker.unref()
      if (m.chunk !== undefined && m.buffer !== undefined) job.resolve({ chunk: m.chunk, buffer: m.buffer })
      else job.reject(new ParallelFallback(`CSV worker: ${m.failure ?? 'no result'}`))
    })
    worker.on('error', (e) => this.fail(e))
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`CSV worker exited with code ${code}`))
    })
    return slot
  }

  private fail(e: unknown): void {
    this.failure ??= new ParallelFallback(`CSV workers: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
    for (const job of this.pending.values()) job.reject(this.failure)
    this.pending.clear()
  }

  /** Parses `job` on the least busy worker; its buffer is transferred there and back. */
  run(job: Omit<Job, 'id'>): Promise<Parsed> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    const slot = this.slots.reduce((a, b) => (b.jobs < a.jobs ? b : a))
    const id = this.nextId++
    return new Promise<Parsed>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot })
      if (slot.jobs++ === 0) slot.worker.ref()
      try {
        slot.worker.postMessage({ ...job, id }, [job.buffer])
      } catch (e) {
        this.fail(e)
      }
    })
  }

  async close(): Promise<void> {
    this.closed = true
    for (const job of this.pending.values()) job.reject(new ParallelFallback('CSV workers closed'))
    this.pending.clear()
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
  }
}

/** A chunk read: on a worker (`parsed`), parsed here (`local`), or not yet either. */
interface Pending {
  buffer: ArrayBuffer
  end: number
  final: boolean
  parsed?: Promise<Parsed>
  settled: boolean
  local?: CsvChunk
}

/**
 * The records of the file behind `handle` from byte `from` on, parsed by `settings.workers` threads,
 * as chunks in file order: each chunk's `lines` counts the line ends up to where the next one starts.
 * A chunk that stops on an error is the last. A record that reaches the bound on a record's bytes
 * (maxRecordBytes, or a line end that would take it there) stops as ERROR_TOO_LONG, with no claim on
 * what the exact message is: the caller reads such a file again on its own thread. Throws
 * ParallelFallback when the workers fail.
 */
export async function* parallelChunks(
  handle: FileHandle,
  from: number,
  spec: ChunkSpec,
  settings: ParallelSettings,
): AsyncGenerator<CsvChunk> {
  const pool = new ChunkPool(settings.workers)
  /** Chunks read ahead; at most `queued` of them on the workers at a time, the others held here. */
  const depth = 3 * settings.workers + 1
  const queued = 2 * settings.workers
  const inflight: Pending[] = []
  let sent = 0
  // A record of the bound exactly, then a CR cut from its LF, is too long for the main thread; such
  // records are left to it.
  const workerBound = spec.maxRecordBytes - 1
  const free: ArrayBuffer[] = []
  let position = from
  let tail = new Uint8Array(0)
  let eof = false
  /** Bytes per record so far, to size the parsers' arrays. */
  let rowBytes = 4 * spec.fields + 4

  const capacity = (bytes: number): number => Math.ceil(bytes / rowBytes) + 16
  const parseHere = (bytes: Uint8Array, end: number, final: boolean): CsvChunk =>
    parseCsvChunk(bytes, 0, end, final, spec.fields, spec.modes, spec.slots, spec.width, workerBound, capacity(end), Infinity)
  /** Keeps `b` for a later read; as many as are in flight at most. */
  const release = (b: ArrayBuffer): void => {
    if (free.length <= depth) free.push(b)
  }

  /** A buffer of at least `size` bytes, reused from the chunks done. */
  const buffer = (size: number): ArrayBuffer => {
    const k = free.findIndex((b) => b.byteLength >= size)
    return k >= 0 ? free.splice(k, 1)[0] : (Buffer.allocUnsafeSlow(Math.max(size, settings.chunkBytes + 1)).buffer as ArrayBuffer)
  }

  /** The next chunk: the bytes left from the last block and the next block's, up to its last line end. */
  const read = async (): Promise<{ buffer: ArrayBuffer; end: number; final: boolean }> => {
    let want = settings.chunkBytes
    for (;;) {
      const size = tail.length + want
      const block = buffer(size + 1)
      const bytes = new Uint8Array(block, 0, size + 1)
      bytes.set(tail)
      let filled = tail.length
      while (filled < size) {
        const { bytesRead } = await handle.read(bytes, filled, size - filled, position)
        if (bytesRead === 0) {
          eof = true
          break
        }
        filled += bytesRead
        position += bytesRead
      }
      if (eof) {
        tail = new Uint8Array(0)
        return { buffer: block, end: filled, final: true }
      }
      let end = filled
      if (!settings.splitAnywhere && filled > 0) {
        end = bytes.lastIndexOf(10, filled - 1) + 1
        // A block with no LF: after its last CR (old Mac line ends), which no LF follows then.
        if (end === 0 && filled >= 2) end = bytes.lastIndexOf(13, filled - 2) + 1
        if (end === 0 && size < 2 * spec.maxRecordBytes) {
          // No line end at all: one long record; read on (past the bound it is refused anyway).
          tail = bytes.slice(0, filled)
          release(block)
          want *= 2
          continue
        }
        if (end === 0) end = filled
      }
      tail = bytes.slice(end, filled)
      return { buffer: block, end, final: false }
    }
  }

  /** Hands `p` to the workers. */
  const send = (p: Pending): void => {
    sent++
    const parsed = pool.run({
      ...spec,
      maxRecordBytes: workerBound,
      buffer: p.buffer,
      end: p.end,
      final: p.final,
      capacity: capacity(p.end),
    })
    p.parsed = parsed.then(
      (done) => {
        sent--
        p.settled = true
        return done
      },
      (e: unknown) => {
        sent--
        p.settled = true
        throw e
      },
    )
    // Awaited in order below; a failure of a chunk never awaited (the consumer stopped) is no error.
    p.parsed.catch(() => undefined)
  }

  /** The bytes of a record cut by the end of the chunk before, with the chunk they belong to. */
  let carry: { bytes: Uint8Array; start: number; end: number } | undefined
  let first = true
  try {
    for (;;) {
      // Chunks held here go to the workers as they have room; then more are read.
      for (const p of inflight) if (p.parsed === undefined && p.local === undefined && sent < queued && p !== inflight[0]) send(p)
      while (!eof && inflight.length < depth) {
        const p: Pending = { ...(await read()), settled: false }
        inflight.push(p)
        // The first chunk is parsed here while the workers start.
        if (!first && sent < queued) send(p)
        first = false
      }
      const head = inflight[0]
      if (head === undefined) return
      if (head.parsed !== undefined && !head.settled) {
        // While the workers are at the head, this thread parses a chunk held here (and then looks again).
        const idle = inflight.find((p) => p.parsed === undefined && p.local === undefined)
        if (idle !== undefined) {
          idle.local = parseHere(new Uint8Array(idle.buffer), idle.end, idle.final)
          await new Promise((resolve) => setImmediate(resolve))
          continue
        }
      }
      inflight.shift()
      const parsed = head.parsed === undefined ? undefined : await head.parsed
      const own = parsed?.buffer ?? head.buffer
      let bytes = new Uint8Array(own)
      let end = head.end
      let chunk: CsvChunk
      if (carry !== undefined) {
        // The chunk starts inside the cut record: parse again from its first byte, on this thread.
        const carried = carry.end - carry.start
        const merged = new Uint8Array(carried + head.end + 1)
        merged.set(carry.bytes.subarray(carry.start, carry.end))
        merged.set(bytes.subarray(0, head.end), carried)
        if (carry.bytes.buffer !== own) release(carry.bytes.buffer as ArrayBuffer)
        release(own)
        bytes = merged
        end = carried + head.end
        chunk = parseHere(merged, end, head.final)
      } else {
        chunk = parsed?.chunk ?? head.local ?? parseHere(bytes, end, head.final)
      }
      carry = undefined
      if (chunk.rows > 16) rowBytes = Math.max(1, chunk.next / chunk.rows)
      if (chunk.stop === STOP_CUT && end - chunk.next >= workerBound) {
        chunk.stop = STOP_ERROR
        chunk.error = ERROR_TOO_LONG
      }
      // The bytes of a cut record are read again with the next chunk; others go back to the free list.
      if (chunk.stop === STOP_CUT) carry = { bytes, start: chunk.next, end }
      else if (bytes.buffer === own) release(own)
      yield chunk
      if (chunk.stop === STOP_ERROR) return
    }
  } finally {
    await pool.close()
  }
}
