import { runOnGitHub } from '../github.js'
import { runRobustnessAction } from './main.js'

/** The test-robustness action's entry. */
export function runTestRobustness(): Promise<void> {
  return runOnGitHub(runRobustnessAction)
}
