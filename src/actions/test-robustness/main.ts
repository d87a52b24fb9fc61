import { mergeRobustness, robustnessShard, runRobustness } from '../../core/robustness/run.js'
import { TOOL, VERSION } from '../../version.js'
import { shardSpec } from '../shard.js'
import { withRobustnessOverrides } from '../../core/settings/index.js'
import { worstFlipTest } from '../../core/report/robustness.js'
import type { ValidationResult } from '../../core/result/types.js'
import { runAction, type ActionDeps } from '../frame.js'
import { validationSpec, type ValidationAction } from '../validation.js'
import { readRobustnessInputs, type RobustnessInputs } from './inputs.js'

export const ACTION = 'test-robustness'

const robustnessAction: ValidationAction<RobustnessInputs> = {
  name: ACTION,
  readInputs: readRobustnessInputs,
  settings: (settings, inputs) => withRobustnessOverrides(settings, inputs.robustness),
  run: (settings, opts) => runRobustness(settings, opts),
  merge: (settings, files, opts) => mergeRobustness(settings, files, opts),
  shard: (settings, opts) => robustnessShard(settings, { ...opts, tool: { name: TOOL, version: VERSION } }),
  outputs: (result) => ({ 'flip-rate': flipRateOutput(result) }),
}

/** test-robustness: inputs → the robustness tests → every sink. */
export const robustnessSpec = validationSpec(robustnessAction)

/** test-robustness as one shard of a matrix (input shard): its share of the tests, as an artifact, and no verdict. */
export const robustnessShardSpec = shardSpec(robustnessAction)

/** test-robustness as a step. Returns the exit code. */
export function runRobustnessAction(deps: ActionDeps): Promise<number> {
  // Read raw to pick the shape of the step; the spec parses and checks the input itself.
  return deps.io.getInput('shard').trim() ? runAction(deps, robustnessShardSpec) : runAction(deps, robustnessSpec)
}

/** The worst flip rate as a number string, or empty when no test measured one. */
export function flipRateOutput(result: ValidationResult): string {
  const worst = result.robustness ? worstFlipTest(result.robustness) : undefined
  return worst?.flipRate === undefined ? '' : String(worst.flipRate)
}
