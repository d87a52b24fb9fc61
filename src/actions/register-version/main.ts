import path from 'node:path'
import { writeFileAtomic } from '../../core/files.js'
import { parseBoolean } from '../../core/options.js'
import { ALLOW_OUTSIDE_WORKSPACE } from '../../core/workspace.js'
import { registerModel } from '../../core/registry/register.js'
import { checkRegisterOutput, readRegisterOptions, registerRequest, resolveRegistrySettings } from '../../core/registry/settings.js'
import { registryToken } from '../../core/registry/token.js'
import { openRegistry } from '../../core/registry/open.js'
import { renderRegisterSummary } from '../../core/report/register.js'
import { actionWorkspace, inputSource, reportActionError, type ActionDeps, appendSummaryOrWarn } from '../shared.js'

export const ACTION = 'register-version'

/** register-version as a step: inputs → hash, evidence, policy → the registry → outputs and summary. */
export async function runRegisterAction(deps: ActionDeps): Promise<number> {
  const { io } = deps
  try {
    const src = inputSource(io)
    for (const secret of [src.value('token'), src.value('github-token')]) if (secret) io.setSecret(secret)
    const allowOutside = parseBoolean(src.value(ALLOW_OUTSIDE_WORKSPACE), `input ${ALLOW_OUTSIDE_WORKSPACE}`) ?? false
    const settings = resolveRegistrySettings(src, deps.workspace, actionWorkspace(deps.workspace, allowOutside))
    const token = registryToken(settings.registry, src.value('token'), src.value('github-token'))
    const opts = readRegisterOptions(src, settings)
    const reportPath = path.resolve(deps.workspace, src.value('report-path') ?? 'modelgate-register.json')
    checkRegisterOutput(reportPath, 'input report-path', settings, opts)
    const backend = await openRegistry(settings.registry, { token, username: src.value('username'), onWarning: (m) => io.warning(m) })
    const result = await registerModel(registerRequest(settings, opts, deps.context, deps.runnerEnv), backend, (line) => io.info(line))
    writeFileAtomic(reportPath, `${JSON.stringify(result, null, 2)}\n`)
    for (const w of result.warnings) io.warning(w)
    await appendSummaryOrWarn(io, renderRegisterSummary(result))
    io.setOutput('version', result.version)
    io.setOutput('digest', result.digest)
    io.setOutput('uri', result.uri)
    io.setOutput('tag', result.tag)
    io.setOutput('created', String(result.created))
    io.setOutput('stage', result.stage?.stage ?? '')
    io.setOutput('report-path', reportPath)
    return 0
  } catch (e) {
    return reportActionError(io, ACTION, e)
  }
}
