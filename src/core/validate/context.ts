/*
 * The run's context as validate-model and test-robustness report it: the CI facts the caller passed, the
 * manifest the run read, and the wall time measured from the run's own start.
 */
import { performance } from 'node:perf_hooks'
import type { RunContext } from '../result/types.js'

/** What the caller knows of the run (repository, sha, run URL); the core reads no environment itself. */
export type CiContext = Omit<RunContext, 'startedAt' | 'durationSeconds'>

/** `t0`: performance.now() when the run started; the duration runs up to this call. */
export function runContext(context: CiContext, manifestPath: string | undefined, started: Date, t0: number): RunContext {
  return {
    ...context,
    ...(manifestPath ? { manifest: manifestPath } : {}),
    startedAt: started.toISOString(),
    durationSeconds: (performance.now() - t0) / 1000,
  }
}
