import { runOnGitHub } from '../github.js'
import { runRobustnessAction } from './main.js'

/** The test-robustness action's entry. */
export function runTestRobustness(): Promise<void> {
  return runOnGitHub(runRobustnessAction)
}

/** `run()`: the entry convention GitHub's @github/local-action calls. */
export const run = runTestRobustness
