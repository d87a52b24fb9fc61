import { runOnGitHub } from '../github.js'
import { runValidateAction } from './main.js'

/** The validate-model action's entry. */
export function runValidateModel(): Promise<void> {
  return runOnGitHub(runValidateAction)
}
