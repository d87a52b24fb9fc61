import type { ActionIO } from '../../ports/io.js'
import { readValidationInputs, type ValidationInputs } from '../validation.js'

/** validate-model's inputs are the common ones: its gates and baseline come in through the overrides. */
export type ValidateInputs = ValidationInputs

export function readValidateInputs(io: ActionIO): ValidateInputs {
  return readValidationInputs(io)
}
