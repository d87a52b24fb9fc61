/*
 * The one place a target kind maps to its implementation, from the deploy's settings and the run's
 * facts (the workspace, the CLI to start, the environment the faces pass in).
 */
import { UserError } from '../../errors.js'
import { environmentDir, type DeploySettings } from '../../settings/deploy.js'
import type { Environment } from '../../settings/types.js'
import { CommandTarget } from './command.js'
import { KServeTarget } from './kserve.js'
import { LocalTarget } from './local.js'
import { WebhookTarget } from './webhook.js'
import type { DeployTarget, Protocol } from '../types.js'

export interface TargetContext {
  workspace: string
  /** argv that runs the bundled CLI (`modelgate serve` for the local target). */
  cliCommand: string[]
  /** The environment of the run: the webhook's secret is read from it, and kubectl and deploy scripts found on its PATH. */
  env: Environment
}

export function createTarget(s: DeploySettings, ctx: TargetContext): DeployTarget {
  const { env, request } = s
  const name = request.name
  const environment = request.environment
  const dir = environmentDir(ctx.workspace, name, environment)
  const endpoint = () => {
    if (!env.url)
      throw new UserError(`deploy.environments.${environment}.url: the ${s.targetKind} target needs the URL where the model answers`, {
        field: 'url',
      })
    return { url: env.url, protocol: env.protocol as Protocol, model: name }
  }
  switch (s.targetKind) {
    case 'local':
      return new LocalTarget({ name, environment, dir, port: env.port, serveCommand: ctx.cliCommand })
    case 'kserve':
      return new KServeTarget({
        name: env.kserve?.name ?? name.replace(/[^a-z0-9-]/gi, '-').toLowerCase(),
        namespace: env.kserve?.namespace,
        modelFormat: env.kserve?.['model-format'],
        runtime: env.kserve?.runtime,
        protocolVersion: env.protocol === 'v1' ? 'v1' : 'v2',
        kubectl: env.kserve?.kubectl,
        outDir: dir,
        url: env.url,
      })
    case 'webhook': {
      const hook = env.webhook
      if (!hook)
        throw new UserError(`deploy.environments.${environment}.webhook: the webhook target needs url (and status-url)`, {
          field: 'webhook',
        })
      const secret = ctx.env[hook['secret-env']]
      if (!secret)
        throw new UserError(`the webhook target signs with the secret in $${hook['secret-env']}, which is not set`, { field: 'secret-env' })
      return new WebhookTarget({
        url: hook.url,
        statusUrl: hook['status-url'],
        secret,
        endpoint: endpoint(),
        environment,
        timeoutMs: request.timeoutMs,
      })
    }
    case 'command': {
      if (!env.command)
        throw new UserError(`deploy.environments.${environment}.command: the command target needs the argv of your deploy script`, {
          field: 'command',
        })
      return new CommandTarget({
        command: env.command,
        cwd: s.registry.baseDir,
        endpoint: endpoint(),
        timeoutMs: request.timeoutMs,
        readyCommand: env['ready-command'],
        environment,
        settings: { file: s.registry.manifestPath, key: `deploy.environments.${environment}` },
      })
    }
  }
}
