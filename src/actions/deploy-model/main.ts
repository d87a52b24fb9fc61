import path from 'node:path'
import { deployModel, type DeployResult } from '../../core/deploy/run.js'
import { createTarget } from '../../core/deploy/targets/index.js'
import { checkDeployOutput, resolveDeploySettings } from '../../core/settings/index.js'
import { openRegistry } from '../../core/registry/open.js'
import { registryToken } from '../../core/registry/token.js'
import { renderDeploySummary } from '../../core/report/deploy.js'
import { runAction, type ActionDeps, type ActionSpec } from '../frame.js'
import { readDeployInputs, type DeployInputs } from './inputs.js'

export const ACTION = 'deploy-model'

/** deploy-model: resolve, check, apply, verify, canary, promote or roll back; the step fails (exit 1) when the deploy did. */
export const deploySpec: ActionSpec<DeployInputs, { result: DeployResult; reportPath: string }> = {
  name: ACTION,
  readInputs: readDeployInputs,
  async run(inputs, { deps, io, policy, staged, log }) {
    const workspace = deps.workspace
    const settings = resolveDeploySettings(inputs.options, workspace, '', policy)
    settings.request.workDir = path.join(workspace, '.modelgate', 'artifacts', ...settings.request.name.split('/'))
    settings.request.ref = deps.context.sha
    settings.request.logUrl = deps.context.runUrl
    const reportPath = path.resolve(workspace, inputs.reportPath)
    checkDeployOutput(reportPath, 'input report-path', settings)
    const target = createTarget(settings, {
      workspace,
      cliCommand: deps.cliCommand ?? [process.execPath, 'dist/cli/index.js'],
      env: deps.env ?? {},
    })
    const backend = await openRegistry(settings.registry.registry, {
      onWarning: (m) => io.warning(m),
      token: registryToken(settings.registry.registry, inputs.token, inputs.githubToken),
      username: inputs.username,
    })
    const ledger = inputs.deployment && inputs.githubToken && deps.deployments ? deps.deployments(inputs.githubToken) : undefined
    const result = await deployModel(settings.request, { backend, target, ledger, log })
    staged.write(reportPath, `${JSON.stringify(result, null, 2)}\n`)
    return { result, reportPath }
  },
  summary: ({ result }) => renderDeploySummary(result),
  outputs: ({ result, reportPath }) => ({
    version: result.version,
    digest: result.digest,
    url: result.url,
    status: result.status,
    'rolled-back': String(result.rolledBack),
    'report-path': reportPath,
  }),
  failure({ result }) {
    if (result.status !== 'failure') return undefined
    const failed = result.steps.find((s) => s.status === 'fail')
    return {
      code: 1,
      message:
        `${ACTION}: ${result.name} ${result.version} failed in ${result.environment} (${failed?.name}: ${failed?.message})` +
        (result.rolledBack ? `; rolled back to ${result.rolledBackTo}` : ''),
    }
  },
}

/** deploy-model as a step. Returns the exit code. */
export function runDeployAction(deps: ActionDeps): Promise<number> {
  return runAction(deps, deploySpec)
}
