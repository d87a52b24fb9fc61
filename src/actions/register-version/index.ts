import { runOnGitHub } from '../github.js'
import { runRegisterAction } from './main.js'

/** The register-version action's entry. */
export function runRegisterVersion(): Promise<void> {
  return runOnGitHub(runRegisterAction)
}

/** `run()`: the entry convention GitHub's @github/local-action calls. */
export const run = runRegisterVersion
