import type { ActionIO } from '../../ports/io.js'
import { readRobustnessOverrides, type RobustnessOverrides } from '../../core/overrides.js'
import { inputSource, readActionInputs, type ActionInputs } from '../shared.js'

/** test-robustness's inputs: the common ones, and the row sample and time it may take. */
export interface RobustnessInputs extends ActionInputs {
  robustness: RobustnessOverrides
}

export function readRobustnessInputs(io: ActionIO): RobustnessInputs {
  return { ...readActionInputs(io), robustness: readRobustnessOverrides(inputSource(io)) }
}
