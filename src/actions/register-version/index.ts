import { runOnGitHub } from '../github.js'
import { runRegisterAction } from './main.js'

/** The register-version action's entry. */
export function runRegisterVersion(): Promise<void> {
  return runOnGitHub(runRegisterAction)
}
