import type { ActionIO } from '../../ports/io.js'
import { readRegistryInputs, type RegistryInputs } from '../registry-inputs.js'

/** register-version's inputs: name, registry, model, version or bump, stage, evidence, labels, description, config. */
export type RegisterInputs = RegistryInputs

export function readRegisterInputs(io: ActionIO): RegisterInputs {
  return readRegistryInputs(io, 'modelgate-register.json')
}
