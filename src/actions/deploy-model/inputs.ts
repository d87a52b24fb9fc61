import type { ActionIO } from '../../ports/io.js'
import { parseBoolean } from '../../core/settings/index.js'
import { readRegistryInputs, type RegistryInputs } from '../registry-inputs.js'

/** deploy-model's inputs: environment, version or stage, target, canary steps, verification limits, dry-run; and its ledger. */
export interface DeployInputs extends RegistryInputs {
  /** Record the deploy as a GitHub Deployment (needs github-token). */
  deployment: boolean
}

export function readDeployInputs(io: ActionIO): DeployInputs {
  const inputs = readRegistryInputs(io, 'modelgate-deploy.json')
  return { ...inputs, deployment: parseBoolean(inputs.options.value('deployment'), 'input deployment') ?? true }
}
