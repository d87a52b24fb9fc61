import type { ActionIO } from '../../ports/io.js'
import { readActionInputs, type ActionInputs } from '../shared.js'

/** validate-model's inputs are the common ones: its gates and baseline come in through the overrides. */
export type ValidateInputs = ActionInputs

export function readValidateInputs(io: ActionIO): ValidateInputs {
  return readActionInputs(io)
}
