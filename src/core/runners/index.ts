import type { ResolvedModel } from '../settings/index.js'
import type { ModelRunner } from './types.js'
import type { Task } from '../result/types.js'
import { createOnnxRunner } from './onnx.js'
import { createCommandRunner } from './command.js'
import { createHttpRunner } from './http.js'
import { createPredictionsRunner } from './predictions.js'

/** What the adapters know that the core does not: where the ONNX runtime's WASM lives, how to mask secrets. */
export interface RunnerEnvironment {
  wasmDir?: string
  mask?: (secret: string) => void
}

/** What the manifest says about the outputs, for runners whose replies cannot tell labels from values (JSON). */
export interface OutputHints {
  task?: Task
  classes?: (number | string)[]
}

/** The one place a runner kind maps to its implementation. */
export async function createRunner(model: ResolvedModel, env: RunnerEnvironment = {}, hints: OutputHints = {}): Promise<ModelRunner> {
  const task = hints.task === undefined ? undefined : hints.task === 'regression' ? 'regression' : 'classification'
  switch (model.runner) {
    case 'onnx':
      return createOnnxRunner({
        path: model.path!,
        labelOutput: model.labelOutput,
        probabilityOutput: model.probabilityOutput,
        wasmDir: env.wasmDir,
      })
    case 'command':
      return createCommandRunner({
        command: model.command!,
        cwd: model.cwd,
        timeoutSeconds: model.timeoutSeconds,
        features: model.features,
      })
    case 'http':
      return createHttpRunner({
        url: model.url!,
        protocol: model.protocol,
        headers: model.headers,
        timeoutSeconds: model.timeoutSeconds,
        retries: model.retries,
        features: model.features,
        mask: env.mask,
        task,
        classes: hints.classes,
      })
    case 'predictions':
      return createPredictionsRunner({ path: model.path!, task, classes: hints.classes })
  }
}
