import type { ActionIO } from '../../ports/io.js'
import { readRobustnessOverrides, type RobustnessOverrides } from '../../core/settings/index.js'
import { inputSource } from '../frame.js'
import { readValidationInputs, type ValidationInputs } from '../validation.js'

/** test-robustness's inputs: the common ones, and the row sample and time it may take. */
export interface RobustnessInputs extends ValidationInputs {
  robustness: RobustnessOverrides
}

export function readRobustnessInputs(io: ActionIO): RobustnessInputs {
  const common = readValidationInputs(io)
  // Its own artifacts' default name: a workflow may shard validate-model and test-robustness in one run.
  const shardArtifact = io.getInput('shard-artifact').trim() || 'modelgate-robustness-shard'
  return { ...common, shardArtifact, robustness: readRobustnessOverrides(inputSource(io)) }
}
