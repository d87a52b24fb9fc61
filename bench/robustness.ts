import { performance } from 'node:perf_hooks'
import { createOnnxRunner } from '../src/core/runners/onnx.js'
import type { ModelRunner } from '../src/core/runners/types.js'
import { sortedLabels, type Label } from '../src/core/metrics/labels.js'
import { buildJudge, ModelSession, runEngine, scoreClean } from '../src/core/robustness/engine.js'
import { profileFeatures } from '../src/core/robustness/profile.js'
import { readSample } from '../src/core/robustness/run.js'
import { robustnessDefaults } from '../src/core/robustness/schema.js'
import { decideTask } from '../src/core/evaluation/task.js'

/**
 * What K perturbations cost against one clean pass, on an ONNX model and a CSV file: the clean pass
 * (the median of three, after a warm-up pass), then K gaussian-noise invariance tests at distinct
 * severities batched as the engine batches them (one model call per chunk carries all K copies).
 * `ratioPerPerturbation` is the engine's wall time per perturbation over a clean pass; `modelSeconds`
 * is the part of it spent inside the model, so a cheap model's ratio can be read apart from the cost
 * of making the perturbed rows (which grows with rows × features, not with the model).
 */
export async function benchmarkRobustness(
  modelPath: string,
  csvPath: string,
  features: string[],
  label: string,
  k: number,
  rows: number,
  /** Where the ONNX runtime's .wasm is: the shipped one in dist/lib when run from the bench bundle. */
  wasmDir?: string,
): Promise<{
  cleanSeconds: number
  perturbedSeconds: number
  ratioPerPerturbation: number
  modelSeconds: number
  modelCalls: number
  rowsScored: number
}> {
  const batchSize = 1024
  const defaults = robustnessDefaults({
    rows,
    ...(k > 0
      ? { perturbations: [{ kind: 'gaussian_noise' as const, severity: Array.from({ length: k }, (_, i) => 0.05 * (i + 1)) }] }
      : {}),
    sensitivity: false,
    stress: false,
    determinism: false,
    'time-budget': 1e9,
  })
  // K = 0: no invariance test at all (the manifest's schema wants at least one perturbation when it lists them).
  const config = k > 0 ? defaults : { ...defaults, perturbations: [] }
  const sample = await readSample(csvPath, 'csv', features, label, rows, config.seed, batchSize)
  const runner = await createOnnxRunner({ path: modelPath, ...(wasmDir ? { wasmDir } : {}) })
  try {
    let modelSeconds = 0
    const timed: ModelRunner = {
      kind: runner.kind,
      describe: () => runner.describe(),
      close: () => runner.close(),
      predict: async (batch) => {
        const t = performance.now()
        const out = await runner.predict(batch)
        modelSeconds += (performance.now() - t) / 1000
        return out
      },
    }
    const session = new ModelSession(timed, features)
    const passes = []
    for (let i = 0; i < 4; i++) passes.push(await scoreClean(session, sample.columns, batchSize))
    const clean = passes.slice(1).sort((a, b) => a.seconds - b.seconds)[1]
    const classes = clean.outputs.classes ?? sortedLabels({ labels: sample.labels as Label[] })
    const out = clean.outputs
    const task = decideTask(undefined, classes, { values: !!out.values, labels: !!out.labels, probabilities: !!out.probabilities }, [])
    const judge = buildJudge({ task, labels: sample.labels, classes: task === 'regression' ? undefined : classes, threshold: 0.5, config })
    const profiles = profileFeatures(sample.columns, features)
    const before = { calls: session.modelCalls, rows: session.rowsScored }
    modelSeconds = 0
    const t0 = performance.now()
    await runEngine({
      session,
      columns: sample.columns,
      labels: sample.labels,
      rowNumbers: sample.rows.map((r) => r + 1),
      rowsAvailable: sample.available,
      profiles,
      config,
      judge,
      batchSize,
      clean,
      cleanMetrics: judge.metrics(clean.outputs).metrics,
      startedAt: t0,
    })
    const perturbedSeconds = (performance.now() - t0) / 1000
    return {
      cleanSeconds: clean.seconds,
      perturbedSeconds,
      ratioPerPerturbation: k === 0 ? 0 : perturbedSeconds / (k * clean.seconds),
      modelSeconds,
      modelCalls: session.modelCalls - before.calls,
      rowsScored: session.rowsScored - before.rows,
    }
  } finally {
    await runner.close()
  }
}
