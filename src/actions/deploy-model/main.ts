import path from 'node:path'
import { writeFileAtomic } from '../../core/files.js'
import { ALLOW_OUTSIDE_WORKSPACE } from '../../core/workspace.js'
import { parseBoolean } from '../../core/options.js'
import { deployModel } from '../../core/deploy/run.js'
import { checkDeployOutput, createTarget, resolveDeploySettings } from '../../core/deploy/settings.js'
import { openRegistry } from '../../core/registry/open.js'
import { registryToken } from '../../core/registry/token.js'
import { renderDeploySummary } from '../../core/report/deploy.js'
import { actionWorkspace, inputSource, reportActionError, type ActionDeps, appendSummaryOrWarn } from '../shared.js'

export const ACTION = 'deploy-model'

/** deploy-model as a step: resolve, check, apply, verify, canary, promote or roll back; exit 1 when the deploy failed. */
export async function runDeployAction(deps: ActionDeps): Promise<number> {
  const { io } = deps
  try {
    const src = inputSource(io)
    for (const secret of [src.value('token'), src.value('github-token')]) if (secret) io.setSecret(secret)
    const workspace = deps.workspace
    const allowOutside = parseBoolean(src.value(ALLOW_OUTSIDE_WORKSPACE), `input ${ALLOW_OUTSIDE_WORKSPACE}`) ?? false
    const settings = resolveDeploySettings(src, workspace, '', actionWorkspace(workspace, allowOutside))
    settings.request.workDir = path.join(workspace, '.modelgate', 'artifacts', ...settings.request.name.split('/'))
    settings.request.ref = deps.context.sha
    settings.request.logUrl = deps.context.runUrl
    const reportPath = path.resolve(workspace, src.value('report-path') ?? 'modelgate-deploy.json')
    checkDeployOutput(reportPath, 'input report-path', settings)
    const target = createTarget(settings, {
      workspace,
      cliCommand: deps.cliCommand ?? [process.execPath, 'dist/cli/index.js'],
      env: process.env,
    })
    const backend = await openRegistry(settings.registry.registry, {
      onWarning: (m) => io.warning(m),
      token: registryToken(settings.registry.registry, src.value('token'), src.value('github-token')),
      username: src.value('username'),
    })
    const githubToken = src.value('github-token')
    const record = parseBoolean(src.value('deployment'), 'input deployment') ?? true
    const ledger = record && githubToken && deps.deployments ? deps.deployments(githubToken) : undefined
    const result = await deployModel(settings.request, { backend, target, ledger, log: (line) => io.info(line) })
    writeFileAtomic(reportPath, `${JSON.stringify(result, null, 2)}\n`)
    await appendSummaryOrWarn(io, renderDeploySummary(result))
    io.setOutput('version', result.version)
    io.setOutput('digest', result.digest)
    io.setOutput('url', result.url)
    io.setOutput('status', result.status)
    io.setOutput('rolled-back', String(result.rolledBack))
    io.setOutput('report-path', reportPath)
    if (result.status === 'failure') {
      const failed = result.steps.find((s) => s.status === 'fail')
      io.setFailed(
        `${ACTION}: ${result.name} ${result.version} failed in ${result.environment} (${failed?.name}: ${failed?.message})` +
          (result.rolledBack ? `; rolled back to ${result.rolledBackTo}` : ''),
        1,
      )
      return 1
    }
    return 0
  } catch (e) {
    return reportActionError(io, ACTION, e)
  }
}
