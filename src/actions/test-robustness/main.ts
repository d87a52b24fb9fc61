import { runRobustness } from '../../core/robustness/run.js'
import { withRobustnessOverrides } from '../../core/overrides.js'
import { worstFlipTest } from '../../core/report/robustness.js'
import type { ValidationResult } from '../../core/result/types.js'
import { runModelgateAction, type ActionDeps } from '../shared.js'
import { readRobustnessInputs } from './inputs.js'

export const ACTION = 'test-robustness'

/** test-robustness as a step: inputs → the robustness tests → every sink. Returns the exit code. */
export function runRobustnessAction(deps: ActionDeps): Promise<number> {
  return runModelgateAction(deps, {
    name: ACTION,
    readInputs: readRobustnessInputs,
    settings: (settings, inputs) => withRobustnessOverrides(settings, inputs.robustness),
    run: (settings, opts) => runRobustness(settings, opts),
    outputs: (result) => ({ 'flip-rate': flipRateOutput(result) }),
  })
}

/** The worst flip rate as a number string, or empty when no test measured one. */
export function flipRateOutput(result: ValidationResult): string {
  const worst = result.robustness ? worstFlipTest(result.robustness) : undefined
  return worst?.flipRate === undefined ? '' : String(worst.flipRate)
}
