import { runOnGitHub } from '../github.js'
import { runValidateAction } from './main.js'

/** The validate-model action's entry. */
export function runValidateModel(): Promise<void> {
  return runOnGitHub(runValidateAction)
}

/** `run()`: the entry convention GitHub's @github/local-action calls. */
export const run = runValidateModel
