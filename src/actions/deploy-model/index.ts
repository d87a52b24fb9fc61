import { runOnGitHub } from '../github.js'
import { runDeployAction } from './main.js'

/** The deploy-model action's entry. */
export function runDeployModel(): Promise<void> {
  return runOnGitHub(runDeployAction)
}

/** `run()`: the entry convention GitHub's @github/local-action calls. */
export const run = runDeployModel
