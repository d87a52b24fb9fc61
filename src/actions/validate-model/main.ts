import { mergeValidation, validate, validateShard } from '../../core/validate/run.js'
import { TOOL, VERSION } from '../../version.js'
import { runAction, type ActionDeps } from '../frame.js'
import { shardSpec } from '../shard.js'
import { validationSpec, type ValidationAction } from '../validation.js'
import { readValidateInputs, type ValidateInputs } from './inputs.js'

export const ACTION = 'validate-model'

const validateAction: ValidationAction<ValidateInputs> = {
  name: ACTION,
  readInputs: readValidateInputs,
  writesPredictions: true,
  run: (settings, opts) => validate(settings, opts),
  merge: (settings, files, opts) => mergeValidation(settings, files, opts),
  shard: (settings, opts) => validateShard(settings, { ...opts, tool: { name: TOOL, version: VERSION } }),
  outputs: (result) => ({ metrics: JSON.stringify(result.metrics) }),
}

/** validate-model: inputs → validate → every sink. */
export const validateSpec = validationSpec(validateAction)

/** validate-model as one shard of a matrix (input shard): its state, as an artifact, and no verdict. */
export const validateShardSpec = shardSpec(validateAction)

/** validate-model as a step. Returns the exit code. */
export function runValidateAction(deps: ActionDeps): Promise<number> {
  // Read raw to pick the shape of the step; the spec parses and checks the input itself.
  return deps.io.getInput('shard').trim() ? runAction(deps, validateShardSpec) : runAction(deps, validateSpec)
}
