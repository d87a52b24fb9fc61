import path from 'node:path'
import { registerModel } from '../../core/registry/register.js'
import { checkRegisterOutput, readRegisterOptions, registerRequest, resolveRegistrySettings } from '../../core/settings/index.js'
import { registryToken } from '../../core/registry/token.js'
import { openRegistry } from '../../core/registry/open.js'
import type { RegisterResult } from '../../core/registry/register.js'
import { renderRegisterSummary } from '../../core/report/register.js'
import { runAction, type ActionDeps, type ActionSpec } from '../frame.js'
import { readRegisterInputs, type RegisterInputs } from './inputs.js'

export const ACTION = 'register-version'

/** register-version: inputs → hash, evidence, policy → the registry → outputs and summary. */
export const registerSpec: ActionSpec<RegisterInputs, { result: RegisterResult; reportPath: string }> = {
  name: ACTION,
  readInputs: readRegisterInputs,
  async run(inputs, { deps, io, policy, staged, log }) {
    const settings = resolveRegistrySettings(inputs.options, deps.workspace, policy)
    const opts = readRegisterOptions(inputs.options, settings)
    const reportPath = path.resolve(deps.workspace, inputs.reportPath)
    checkRegisterOutput(reportPath, 'input report-path', settings, opts)
    const backend = await openRegistry(settings.registry, {
      token: registryToken(settings.registry, inputs.token, inputs.githubToken),
      username: inputs.username,
      onWarning: (m) => io.warning(m),
    })
    const result = await registerModel(registerRequest(settings, opts, deps.context, deps.runnerEnv), backend, log)
    staged.write(reportPath, `${JSON.stringify(result, null, 2)}\n`)
    return { result, reportPath }
  },
  summary: ({ result }) => renderRegisterSummary(result),
  notices: ({ result }, { io }) => result.warnings.forEach((w) => io.warning(w)),
  outputs: ({ result, reportPath }) => ({
    version: result.version,
    digest: result.digest,
    uri: result.uri,
    tag: result.tag,
    created: String(result.created),
    stage: result.stage?.stage ?? '',
    'report-path': reportPath,
  }),
  failure: () => undefined,
}

/** register-version as a step. Returns the exit code. */
export function runRegisterAction(deps: ActionDeps): Promise<number> {
  return runAction(deps, registerSpec)
}
