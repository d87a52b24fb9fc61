import path from 'node:path'
import { answeredHelp, cliWorkspace, flagSource, parseCommand } from './args.js'
import { writeFileAtomic } from '../core/files.js'
import { ALLOW_OUTSIDE_WORKSPACE } from '../core/workspace.js'
import { deployModel } from '../core/deploy/run.js'
import { checkDeployOutput, resolveDeploySettings } from '../core/settings/index.js'
import { createTarget } from '../core/deploy/targets/index.js'
import { openRegistry } from '../core/registry/open.js'
import { registryToken } from '../core/registry/token.js'
import { renderDeployText } from '../core/report/deploy.js'
import { bundledCliCommand } from '../adapters/wasm.js'
import type { CliIO } from './main.js'

export const DEPLOY_USAGE = `Usage: modelgate deploy --environment <env> [options]

Puts a registered version in an environment, proves the right model serves (readiness, served version
and digest, golden requests, an error and latency budget), steps a canary when asked, and rolls back to
the last version that worked when any step fails. Options override the manifest's deploy key.

  --environment <env>             the environment (deploy.environments.<env> in the manifest)
  --version <x.y.z> | --stage <s> what to deploy (default: the newest version)
  --target <local|kserve|webhook|command>
  --canary-steps <10,50>          canary traffic steps in percent before promotion
  --timeout <seconds>             readiness wait per step (default 300)
  --burst <n>                     verification requests per step (default 50)
  --max-error-rate <0..1>         failed share allowed in the burst (default 0)
  --p95-latency-ms <ms>           95th-percentile latency allowed (default 1000)
  --dry-run                       resolve, check and render everything; apply nothing
  --config <file>  --name <name>  --registry <uri>  --token <token>  --username <name>
  --report <file.json>            write the result JSON
  --allow-outside-workspace       allow paths outside the working directory and the manifest's folder
  --json, --quiet, --debug, -h, --help

Exit codes: 0 deployed and verified (or dry run), 1 the deploy failed (rolled back when possible), 2 invalid input (nothing changed).`

type Option = { type: 'string' | 'boolean'; short?: string }
const STRING_FLAGS = ['environment', 'version', 'stage', 'target', 'canary-steps', 'timeout', 'burst', 'max-error-rate', 'p95-latency-ms']
const SHARED_FLAGS = ['config', 'name', 'registry', 'token', 'username', 'report']
const DEPLOY_OPTIONS: Record<string, Option> = {
  ...Object.fromEntries([...STRING_FLAGS, ...SHARED_FLAGS].map((k) => [k, { type: 'string' }])),
  ...Object.fromEntries(['dry-run', 'json', 'quiet', 'debug', ALLOW_OUTSIDE_WORKSPACE].map((k) => [k, { type: 'boolean' }])),
  help: { type: 'boolean', short: 'h' },
}

/** `modelgate deploy`. */
export async function runDeploy(args: string[], io: CliIO, setDebug: (d: boolean) => void): Promise<number> {
  const values = parseCommand('deploy', args, DEPLOY_OPTIONS).values as Record<string, string | boolean | undefined>
  if (answeredHelp(values, DEPLOY_USAGE, io, setDebug)) return 0
  const src = flagSource(values)
  const settings = resolveDeploySettings(src, io.cwd, '', cliWorkspace(io.cwd, values[ALLOW_OUTSIDE_WORKSPACE] === true))
  settings.request.workDir = path.join(io.cwd, '.modelgate', 'artifacts', ...settings.request.name.split('/'))
  settings.request.ref = io.context?.sha
  const report = values.report ? path.resolve(io.cwd, values.report as string) : undefined
  checkDeployOutput(report, '--report', settings)
  const target = createTarget(settings, { workspace: io.cwd, cliCommand: bundledCliCommand(), env: process.env })
  const backend = await openRegistry(settings.registry.registry, {
    token: registryToken(
      settings.registry.registry,
      settings.registry.token ?? process.env.MODELGATE_REGISTRY_TOKEN,
      process.env.GITHUB_TOKEN,
    ),
    username: values.username as string | undefined,
  })
  const result = await deployModel(settings.request, {
    backend,
    target,
    log: values.quiet || values.json ? () => {} : (line) => io.stderr(line),
  })
  if (report) writeFileAtomic(report, `${JSON.stringify(result, null, 2)}\n`)
  if (values.json) io.stdout(JSON.stringify(result, null, 2))
  else if (!values.quiet) io.stdout(renderDeployText(result))
  return result.status === 'failure' ? 1 : 0
}
