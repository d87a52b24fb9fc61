import { validate } from '../../core/validate/run.js'
import { runAction, type ActionDeps } from '../frame.js'
import { validationSpec } from '../validation.js'
import { readValidateInputs } from './inputs.js'

export const ACTION = 'validate-model'

/** validate-model: inputs → validate → every sink. */
export const validateSpec = validationSpec({
  name: ACTION,
  readInputs: readValidateInputs,
  writesPredictions: true,
  run: (settings, opts) => validate(settings, opts),
  outputs: (result) => ({ metrics: JSON.stringify(result.metrics) }),
})

/** validate-model as a step. Returns the exit code. */
export function runValidateAction(deps: ActionDeps): Promise<number> {
  return runAction(deps, validateSpec)
}
