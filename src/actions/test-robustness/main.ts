import { runRobustness } from '../../core/robustness/run.js'
import { withRobustnessOverrides } from '../../core/settings/index.js'
import { worstFlipTest } from '../../core/report/robustness.js'
import type { ValidationResult } from '../../core/result/types.js'
import { runAction, type ActionDeps } from '../frame.js'
import { validationSpec } from '../validation.js'
import { readRobustnessInputs } from './inputs.js'

export const ACTION = 'test-robustness'

/** test-robustness: inputs → the robustness tests → every sink. */
export const robustnessSpec = validationSpec({
  name: ACTION,
  readInputs: readRobustnessInputs,
  settings: (settings, inputs) => withRobustnessOverrides(settings, inputs.robustness),
  run: (settings, opts) => runRobustness(settings, opts),
  outputs: (result) => ({ 'flip-rate': flipRateOutput(result) }),
})

/** test-robustness as a step. Returns the exit code. */
export function runRobustnessAction(deps: ActionDeps): Promise<number> {
  return runAction(deps, robustnessSpec)
}

/** The worst flip rate as a number string, or empty when no test measured one. */
export function flipRateOutput(result: ValidationResult): string {
  const worst = result.robustness ? worstFlipTest(result.robustness) : undefined
  return worst?.flipRate === undefined ? '' : String(worst.flipRate)
}
