/**
 * Typed arrays in shared memory, for the per-row columns the fused bootstrap's worker threads read
 * (workers.ts): a job's arrays on a SharedArrayBuffer reach a worker as views of the same memory, where
 * ordinary ones are copied into each worker by the structured clone. At 10M rows a binary comparison's
 * columns (two models' log-loss and Brier terms, cell codes, two score orders) are about 450 MB, copied
 * once per worker before this; shared, a 10M-row comparison's peak RSS went from 2,362 to 1,895 MB
 * (single runs, 2026-12-04).
 */
type TypedArrayOf<T> = { new (buffer: SharedArrayBuffer): T; readonly BYTES_PER_ELEMENT: number }

export function sharedArray<T>(Type: TypedArrayOf<T>, n: number): T {
  return new Type(new SharedArrayBuffer(n * Type.BYTES_PER_ELEMENT))
}
