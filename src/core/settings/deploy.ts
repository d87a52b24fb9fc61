/*
 * deploy-model's settings: the registry's (settings/registry.ts), the environment from the manifest's
 * `deploy:` key, and the inputs/flags over it, checked before anything is fetched or touched.
 */
import path from 'node:path'
import { UserError } from '../errors.js'
import type { DeployConfig } from '../manifest/schema.js'
import { parseBoolean, parseEnum, parseList, type OptionSource } from './options.js'
import { parseVersion } from '../registry/bump.js'
import { resolveRegistrySettings, type RegistrySettings } from './registry.js'
import type { DeployRequest } from '../deploy/run.js'
import type { TargetKind } from '../deploy/types.js'
import { checkOutputs, checkOutputsOutside, registryFolders, type WorkspacePolicy } from '../workspace.js'
import { checkOutputPath } from '../files.js'

type EnvironmentConfig = DeployConfig['environments'][string]

export const TARGETS = ['local', 'kserve', 'webhook', 'command'] as const

export interface DeploySettings {
  registry: RegistrySettings
  request: DeployRequest
  targetKind: TargetKind
  env: EnvironmentConfig
}

/** An environment's name: a folder under .modelgate/environments and a registry stage, so the stage-name grammar. */
const ENVIRONMENT_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-_]*[a-zA-Z0-9])?$/

const DEFAULT_ENV: EnvironmentConfig = { target: 'local', 'requires-evidence': [], canary: [], port: 0, protocol: 'v2' }

/** Steps like `10,50` or `10,50,100` (100 is the promotion itself and is dropped). */
export function parseCanarySteps(text: string | undefined, where: string): number[] | undefined {
  const items = parseList(text)
  if (!items) return undefined
  const steps = items.map((s) => Number(s.replace(/%$/, '')))
  for (const [i, n] of steps.entries()) {
    if (!Number.isInteger(n) || n < 1 || n > 100)
      throw new UserError(`${where}: '${items[i]}' is not a percentage from 1 to 100`, { field: where })
    if (i > 0 && n <= steps[i - 1]!) throw new UserError(`${where}: steps must increase (${items.join(', ')})`, { field: where })
  }
  return steps.filter((n) => n < 100)
}

/** Inputs/flags over the manifest's `deploy:` key, checked before anything is touched. */
export function resolveDeploySettings(
  src: OptionSource,
  workspace: string,
  workDir: string,
  workspacePolicy?: WorkspacePolicy,
): DeploySettings {
  const registry = resolveRegistrySettings(src, workspace, workspacePolicy)
  const environment = src.value('environment')
  if (!environment) throw new UserError(`${src.label('environment')} is required (e.g. staging)`, { field: 'environment' })
  // Before it names a manifest key or a folder: `../../escape` is neither.
  if (!ENVIRONMENT_NAME.test(environment)) {
    throw new UserError(
      `${src.label('environment')}: '${environment}' is not a valid environment name (letters, digits, - and _; e.g. staging)`,
      { field: 'environment' },
    )
  }
  const config = registry.manifest?.deploy
  const declared = Object.keys(config?.environments ?? {})
  // A manifest that names its environments is the list: a typo must not deploy to a default local server.
  if (declared.length > 0 && !declared.includes(environment)) {
    throw new UserError(
      `${src.label('environment')}: unknown environment '${environment}'; ${registry.manifestPath} declares ${declared.join(', ')} (deploy.environments)`,
      { file: registry.manifestPath, field: 'deploy.environments' },
    )
  }
  const env: EnvironmentConfig = config?.environments[environment] ?? DEFAULT_ENV
  const targetKind = parseEnum(src.value('target'), TARGETS, src.label('target')) ?? env.target
  const version = src.value('version')
  const stage = src.value('stage')
  if (version && stage)
    throw new UserError(`${src.label('version')} and ${src.label('stage')} both given: deploy one or the other`, { field: 'version' })
  const verify = config?.verify
  const number = (name: string, fallback: number) => {
    const v = src.value(name)
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw new UserError(`${src.label(name)}: '${v}' is not a non-negative number`, { field: name })
    return n
  }
  const maxErrorRate = number('max-error-rate', verify?.['max-error-rate'] ?? 0)
  if (maxErrorRate > 1) throw new UserError(`${src.label('max-error-rate')}: a share from 0 to 1`, { field: 'max-error-rate' })
  const request: DeployRequest = {
    name: registry.name,
    ...(version ? { version: parseVersion(version, src.label('version')) } : {}),
    ...(stage ? { stage } : {}),
    environment,
    envStage: env.stage ?? environment,
    ...(env['requires-stage'] ? { requiresStage: env['requires-stage'] } : {}),
    requiresEvidence: env['requires-evidence'],
    canarySteps: parseCanarySteps(src.value('canary-steps'), src.label('canary-steps')) ?? env.canary,
    verify: {
      burst: Math.round(number('burst', verify?.burst ?? 50)) || 1,
      concurrency: verify?.concurrency ?? 4,
      maxErrorRate,
      p95LatencyMs: number('p95-latency-ms', verify?.['p95-latency-ms'] ?? 1000),
      timeoutSeconds: verify?.['request-timeout'] ?? 10,
    },
    timeoutMs: number('timeout', config?.timeout ?? 300) * 1000,
    dryRun: parseBoolean(src.value('dry-run'), src.label('dry-run')) ?? false,
    workDir,
    policy: registry.policy,
  }
  return { registry, request, targetKind, env }
}

/** The environment's folder: its state and server (local target) or its rendered manifests (kserve). */
export function environmentDir(workspace: string, name: string, environment: string): string {
  return path.join(workspace, '.modelgate', 'environments', ...name.split('/'), environment)
}

/**
 * The deploy's result JSON checked before anything changes (call it once request.workDir is set):
 * inside the workspace, not over a file the deploy reads (the manifest, the command target's scripts),
 * and not inside a folder it reads and writes (the registry's, the environment's, the fetched artifacts').
 */
export function checkDeployOutput(report: string | undefined, label: string, s: DeploySettings): void {
  const r = s.registry
  const inputs = r.manifestPath ? [{ path: path.resolve(r.workspace, r.manifestPath), what: 'the manifest' }] : []
  if (s.targetKind === 'command') {
    const key = `deploy.environments.${s.request.environment}`
    for (const [argv, field] of [
      [s.env.command, 'command'],
      [s.env['ready-command'], 'ready-command'],
    ] as const) {
      const program = argv?.[0]
      if (program && (program.includes('/') || program.includes(path.sep)))
        inputs.push({ path: path.resolve(r.baseDir, program), what: `the program of ${key}.${field}` })
    }
  }
  const envDir = environmentDir(r.workspace, s.request.name, s.request.environment)
  const folders = [
    ...registryFolders(r.registry, r.name, r.workspace),
    { path: envDir, what: `${envDir}, the folder of environment ${s.request.environment}` },
    ...(s.request.workDir ? [{ path: s.request.workDir, what: `${s.request.workDir}, the folder the deploy fetches artifacts to` }] : []),
  ]
  const outputs = [{ path: report, label }]
  checkOutputs(outputs, inputs, r.confinement, r.workspace)
  checkOutputsOutside(outputs, folders, r.workspace)
  if (report) checkOutputPath(report, label)
}
