import { completeFeatures } from '../evaluation/features.js'
import type { WorkspacePolicy } from '../workspace.js'
import { UserError } from '../errors.js'
import { digestFile, openTable } from '../data/open.js'
import { cellAt, type Cell } from '../data/types.js'
import { createRunner, type RunnerEnvironment } from '../runners/index.js'
import { type Settings } from '../settings/index.js'
import { displayPath } from '../workspace.js'

/*
 * Golden requests: rows of the evaluation data with what the registered model answered, stored with
 * the version. deploy-model sends them to the serving endpoint and compares: the proof that the
 * server runs this very model, not merely a model with the same name.
 */

export const GOLDEN_FILE = 'golden-requests.json'
export const GOLDEN_KIND = 'golden-requests'

/**
 * How an evidence entry reads: `validate-model:pass`. Golden requests are stored answers, not a check
 * that passed, so they read `golden-requests:stored` (their summary's `pass` only keeps old readers working).
 */
export function evidenceState(e: { kind: string; status: string }): string {
  return e.kind === GOLDEN_KIND ? 'stored' : e.status
}

export interface GoldenRequests {
  schemaVersion: string
  /** The model digest the expected outputs came from. */
  modelDigest: string
  source: { data: string; digest: string }
  features: string[]
  rows: Cell[][]
  expected: {
    labels?: (number | string)[]
    /** Row-major, one array per row, columns in `classes` order. */
    probabilities?: number[][]
    classes?: (number | string)[]
    values?: number[]
  }
  /** Largest absolute difference of a probability or value that still counts as the same answer. */
  tolerance: number
}

/** Scores the first `count` rows of the primary data set with the model and records the answers. */
export async function makeGoldenRequests(
  settings: Settings,
  modelDigest: string,
  env: RunnerEnvironment = {},
  count = 20,
  tolerance = 1e-5,
): Promise<GoldenRequests> {
  const data = settings.data[0]
  if (!data) throw new UserError('golden requests need a data set', { field: 'data' })
  // The same inference as validate's, so a manifest without features registers what it validated.
  settings = (await completeFeatures(settings)).settings
  const features = settings.model.features
  const table = openTable(data.path, data.format)
  const rows: Cell[][] = []
  const columns: Cell[][] = features.map(() => [])
  for await (const batch of table.batches({ batchSize: count, columns: features })) {
    for (let i = 0; i < batch.length && rows.length < count; i++) {
      rows.push(features.map((f) => cellAt(batch.columns[f]!, i)))
      features.forEach((f, j) => columns[j]!.push(cellAt(batch.columns[f]!, i)))
    }
    if (rows.length >= count) break
  }
  if (rows.length === 0) throw new UserError(`${data.path}: no rows to make golden requests from`, { file: data.path })
  const runner = await createRunner(settings.model, env, { task: settings.task, classes: settings.classes })
  try {
    const out = await runner.predict({ offset: 0, length: rows.length, features, columns })
    const k = out.classes?.length ?? 0
    const probabilities = out.probabilities
      ? Array.from({ length: out.length }, (_, i) => Array.from(out.probabilities!.subarray(i * k, (i + 1) * k)))
      : undefined
    return {
      schemaVersion: '1.0',
      modelDigest,
      source: { data: displayPath(data.path, settings.workspace), digest: await digestFile(data.path) },
      features,
      rows,
      expected: {
        ...(out.labels ? { labels: out.labels } : {}),
        ...(probabilities ? { probabilities, classes: out.classes } : {}),
        ...(out.values ? { values: Array.from(out.values) } : {}),
      },
      tolerance,
    }
  } finally {
    await runner.close()
  }
}

/**
 * Golden requests for a registration, when the manifest says how to run the model on data: the
 * model must be an ONNX file (run in-process here). Returns a note instead when they cannot be made.
 */
export async function goldenForRegistration(
  opts: { manifest?: string; modelPath: string; workspace: string; digest: string; confine?: WorkspacePolicy },
  resolve: (overrides: { config: string; model: string; runner: 'onnx'; workspace?: WorkspacePolicy }, cwd: string) => Settings,
  env: RunnerEnvironment = {},
): Promise<{ golden?: GoldenRequests; note?: string }> {
  if (!opts.manifest) return { note: 'no golden requests: no manifest names the data to make them from' }
  if (!opts.modelPath.toLowerCase().endsWith('.onnx')) return { note: 'no golden requests: only an ONNX model can be run at registration' }
  try {
    const settings = resolve({ config: opts.manifest, model: opts.modelPath, runner: 'onnx', workspace: opts.confine }, opts.workspace)
    return { golden: await makeGoldenRequests(settings, opts.digest, env) }
  } catch (e) {
    if (e instanceof UserError) return { note: `no golden requests: ${e.message}` }
    throw e
  }
}
