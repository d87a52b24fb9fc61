import { validate } from '../../core/validate/run.js'
import { runModelgateAction, type ActionDeps } from '../shared.js'
import { readValidateInputs } from './inputs.js'

export const ACTION = 'validate-model'

export type ValidateActionDeps = ActionDeps

/** validate-model as a step: inputs → validate → every sink. Returns the exit code. */
export function runValidateAction(deps: ValidateActionDeps): Promise<number> {
  return runModelgateAction(deps, {
    name: ACTION,
    readInputs: readValidateInputs,
    writesPredictions: true,
    run: (settings, opts) => validate(settings, opts),
    outputs: (result) => ({ metrics: JSON.stringify(result.metrics) }),
  })
}
