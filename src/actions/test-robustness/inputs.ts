import type { ActionIO } from '../../ports/io.js'
import { readRobustnessOverrides, type RobustnessOverrides } from '../../core/settings/index.js'
import { inputSource } from '../frame.js'
import { readValidationInputs, type ValidationInputs } from '../validation.js'

/** test-robustness's inputs: the common ones, and the row sample and time it may take. */
export interface RobustnessInputs extends ValidationInputs {
  robustness: RobustnessOverrides
}

export function readRobustnessInputs(io: ActionIO): RobustnessInputs {
  return { ...readValidationInputs(io), robustness: readRobustnessOverrides(inputSource(io)) }
}
