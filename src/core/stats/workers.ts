/**
 * The fused kernel's resamples split across worker threads, synchronously (the bootstrap's callers are).
 *
 * Workers run `fusedStates` from its source text (`new Worker(source, { eval: true })`), as the CSV
 * workers run their parser (src/core/data/csv-workers.ts): nothing to resolve, so the same code runs from
 * the TypeScript sources (jest) and from the ncc bundle, and a self-test first checks that the text runs
 * on its own (a coverage tool's counters would not). Each worker gets its job (the columns, a range of
 * resamples) as workerData, writes its states into a SharedArrayBuffer and sets a flag the main thread
 * waits on with `Atomics.wait`, while the main thread computes the first range itself. A worker that
 * cannot start, throws or is late has its range computed on the main thread: a resample's state depends
 * only on (seed, resample, rows), so the replicates are the same for any number of threads.
 */
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import { fusedKernel, fusedStates, fusedStride, type FusedJob } from './fused.js'
import { POISSON1_THRESHOLDS } from './random.js'

/** Below this many row-resamples (n·B) the work stays on this thread: a worker costs ~30 ms to start. */
export const THREAD_MIN_WORK = 20_000_000

function kernelSource(): string {
  return `(() => { const __name = (f) => f; return (${fusedStates.toString()}) })()`
}

let usable: boolean | undefined

/** Whether fusedStates runs from its source text alone, compiled in the global scope and tried on a small job. */
export function workersUsable(): boolean {
  if (usable === undefined) {
    try {
      const run = new Function(`return ${kernelSource()}`)() as typeof fusedStates
      const job: FusedJob = {
        n: 3,
        key: 12345,
        bStart: 0,
        bEnd: 4,
        rowStart: 0,
        rowEnd: 3,
        code: Uint8Array.of(0, 3, 5),
        terms: [Float64Array.of(0.5, 0.25, 2)],
        rankings: [{ order: Int32Array.of(2, 0, 1), truth: Uint8Array.of(1, 0, 1), groupEnd: Uint8Array.of(1, 0, 1) }],
        thresholds: POISSON1_THRESHOLDS,
        kernel: fusedKernel(),
      }
      const a = run(job)
      const b = fusedStates(job)
      usable = a.length === b.length && a.every((v, k) => Object.is(v, b[k]))
    } catch {
      usable = false
    }
  }
  return usable
}

const WORKER_PROGRAM = (kernel: string) => `'use strict'
const fusedStates = ${kernel}
const { workerData } = require('node:worker_threads')
const flag = new Int32Array(workerData.flag)
try {
  new Float64Array(workerData.out).set(fusedStates(workerData.job))
  Atomics.store(flag, workerData.slot, 1)
} catch (e) {
  Atomics.store(flag, workerData.slot, 2)
}
Atomics.notify(flag, workerData.slot)
`

let program: string | undefined

/** The threads to use by default: the machine's. */
export function defaultThreads(): number {
  return os.availableParallelism()
}

/**
 * The states of resamples [0, B) of `job`, on up to `threads` threads (1: this thread only). Equal, number
 * for number, to `fusedStates({ ...job, bStart: 0, bEnd: B })`.
 */
export function parallelStates(job: Omit<FusedJob, 'bStart' | 'bEnd'>, B: number, threads: number): Float64Array {
  const stride = fusedStride(job.terms.length, job.rankings.length)
  const work = (job.rowEnd - job.rowStart) * B
  const t = Math.max(1, Math.min(Math.floor(threads), B, work < THREAD_MIN_WORK ? 1 : Infinity))
  if (t === 1 || !workersUsable()) return fusedStates({ ...job, bStart: 0, bEnd: B })
  const bounds = Array.from({ length: t + 1 }, (_, k) => Math.floor((k * B) / t))
  const flag = new SharedArrayBuffer(4 * t)
  const flags = new Int32Array(flag)
  program ??= WORKER_PROGRAM(kernelSource())
  const workers: { worker?: Worker; out: SharedArrayBuffer; from: number; to: number }[] = []
  for (let k = 1; k < t; k++) {
    const [from, to] = [bounds[k], bounds[k + 1]]
    const out = new SharedArrayBuffer(8 * (to - from) * stride)
    let worker: Worker | undefined
    try {
      worker = new Worker(program, { eval: true, workerData: { job: { ...job, bStart: from, bEnd: to }, out, flag, slot: k } })
      worker.unref()
      worker.on('error', () => undefined)
    } catch {
      worker = undefined
    }
    workers.push({ worker, out, from, to })
  }
  const states = new Float64Array(B * stride)
  const started = performance.now()
  states.set(fusedStates({ ...job, bStart: bounds[0], bEnd: bounds[1] }), 0)
  const own = performance.now() - started
  // A worker's share takes about as long as this thread's; one far later than that (or failed) is done here.
  const deadline = performance.now() + 3 * own + 5000
  for (const [k, w] of workers.entries()) {
    const slot = k + 1
    if (w.worker) {
      for (;;) {
        const left = deadline - performance.now()
        if (Atomics.load(flags, slot) !== 0 || left <= 0) break
        Atomics.wait(flags, slot, 0, left)
      }
    }
    if (Atomics.load(flags, slot) === 1) states.set(new Float64Array(w.out), w.from * stride)
    else states.set(fusedStates({ ...job, bStart: w.from, bEnd: w.to }), w.from * stride)
    void w.worker?.terminate().catch(() => undefined)
  }
  return states
}
