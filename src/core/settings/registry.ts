/*
 * The registry commands' settings (register, list, promote, pull, deploy's source): the manifest when
 * there is one (the same finder as a validate run's), its `registry:` key, and the inputs/flags over it.
 */
import path from 'node:path'
import { UserError } from '../errors.js'
import { DEFAULT_MANIFEST } from '../manifest/load.js'
import type { Manifest } from '../manifest/schema.js'
import { parseEnum, type OptionSource } from './options.js'
import { resolveSettings } from './resolve.js'
import type { RunnerEnvironment } from '../runners/index.js'
import { goldenForRegistration } from '../registry/golden.js'
import type { RegisterRequest } from '../registry/register.js'
import type { Task } from '../result/types.js'
import { parseVersion, type Step } from '../registry/bump.js'
import { DEFAULT_REGISTRY, parseRegistryUri, type RegistryLocation } from '../registry/location.js'
import type { StagePolicy } from '../registry/policy.js'
import { checkOutputs, checkOutputsOutside, confine, registryFolders, type Confinement, type WorkspacePolicy } from '../workspace.js'
import { checkOutputPath } from '../files.js'
import { findManifest } from './manifest.js'

/** What every registry command shares: the manifest (optional), the registry, the model name and the policy. */
export interface RegistrySettings {
  workspace: string
  manifestPath?: string
  name: string
  registry: RegistryLocation
  policy: StagePolicy
  token?: string
  labels: Record<string, string>
  description?: string
  /** The manifest's model, when it names a file or folder. */
  modelPath?: string
  /** The parsed manifest, when there is one, and its folder. */
  manifest?: Manifest
  baseDir: string
  task?: Task
  /** Where the run's paths must resolve (core/workspace.ts); undefined: anywhere. */
  workspacePolicy?: WorkspacePolicy
  confinement?: Confinement
}

export const BUMPS = ['auto', 'major', 'minor', 'patch'] as const

/**
 * Reads the manifest when there is one (`config`, or modelgate.yml in the workspace) and lays the
 * inputs/flags over its `registry:` key. The manifest is optional: a registration can be all inputs.
 */
export function resolveRegistrySettings(src: OptionSource, workspace: string, workspacePolicy?: WorkspacePolicy): RegistrySettings {
  const {
    manifest,
    file: shown,
    baseDir,
    rule,
  } = findManifest({
    config: src.value('config'),
    cwd: workspace,
    policy: workspacePolicy,
    field: src.label('config'),
  })
  const reg = manifest?.registry

  const name = src.value('name') ?? reg?.name ?? manifest?.name
  if (!name)
    throw new UserError(`no model name: give ${src.label('name')} or a manifest (${DEFAULT_MANIFEST}) with name`, { field: 'name' })

  const registryInput = src.value('registry')
  const registry = registryInput
    ? parseRegistryUri(registryInput, workspace, src.label('registry'))
    : parseRegistryUri(
        reg?.uri ?? DEFAULT_REGISTRY,
        baseDir,
        manifest ? 'registry.uri' : src.label('registry'),
        manifest ? shown : undefined,
      )

  let modelPath: string | undefined
  if (manifest) {
    const m = manifest.model
    const p = typeof m === 'string' ? m : m.path
    if (p && !/^https?:\/\//i.test(p) && (typeof m === 'string' || !m.runner || m.runner === 'onnx')) modelPath = path.resolve(baseDir, p)
  }
  const labels = { ...(reg?.labels ?? {}), ...parseLabels(src.lines('labels'), src.label('labels')) }
  const registryWhere = registryInput ? { field: src.label('registry') } : { file: manifest ? shown : undefined, field: 'registry.uri' }
  if (registry.kind === 'local') confine(registry.root, rule, registryWhere)
  if (registry.kind === 'git') confine(registry.repoDir, rule, registryWhere)
  confine(modelPath, rule, { file: shown, field: 'model' })
  return {
    workspace,
    ...(manifest ? { manifestPath: shown } : {}),
    name,
    registry,
    policy: { stages: reg?.stages ?? [], order: reg?.promotion ?? [], require: reg?.require ?? {} },
    token: src.value('token'),
    labels,
    description: src.value('description') ?? reg?.description,
    modelPath,
    task: manifest?.task,
    ...(manifest ? { manifest } : {}),
    baseDir,
    workspacePolicy,
    confinement: rule,
  }
}

/** register-version's own options on top of the shared ones. */
export interface RegisterOptions {
  modelPath: string
  version?: string
  bump: 'auto' | Step
  stage?: string
  evidence: string[]
}

export function readRegisterOptions(src: OptionSource, settings: RegistrySettings): RegisterOptions {
  const model = src.value('model')
  const modelPath = model ? path.resolve(settings.workspace, model) : settings.modelPath
  if (model) confine(modelPath, settings.confinement, { field: src.label('model') })
  if (!modelPath) {
    throw new UserError(`no model to register: give ${src.label('model')} (a file or folder) or a manifest whose model is a file`, {
      field: 'model',
    })
  }
  const versionText = src.value('version')
  const bump = parseEnum(src.value('bump'), BUMPS, src.label('bump'))
  if (versionText && bump && bump !== 'auto') {
    throw new UserError(`${src.label('version')} and ${src.label('bump')} both given: use one (an explicit version, or a bump)`, {
      field: 'version',
    })
  }
  return {
    modelPath,
    version: versionText ? parseVersion(versionText, src.label('version')) : undefined,
    bump: bump ?? 'auto',
    stage: src.value('stage'),
    evidence: (src.lines('evidence') ?? []).map((e) => {
      const file = path.resolve(settings.workspace, e)
      confine(file, settings.confinement, { field: src.label('evidence') })
      return file
    }),
  }
}

/**
 * The registration's output (its result JSON) checked before anything is registered: inside the
 * workspace, not over the model, an evidence report or the manifest it reads, and not inside the
 * registry folder it writes (a version's record or model card).
 */
export function checkRegisterOutput(report: string | undefined, label: string, settings: RegistrySettings, opts: RegisterOptions): void {
  const inputs = [
    { path: opts.modelPath, what: 'the model' },
    ...opts.evidence.map((e) => ({ path: e, what: 'an evidence report' })),
    ...(settings.manifestPath ? [{ path: path.resolve(settings.workspace, settings.manifestPath), what: 'the manifest' }] : []),
  ]
  const outputs = [{ path: report, label }]
  checkOutputs(outputs, inputs, settings.confinement, settings.workspace)
  checkOutputsOutside(outputs, registryFolders(settings.registry, settings.name, settings.workspace), settings.workspace)
  if (report) checkOutputPath(path.resolve(settings.workspace, report), label)
}

/** `key=value` lines (or repeated flags). */
export function parseLabels(lines: string[] | undefined, where: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of lines ?? []) {
    const at = line.indexOf('=')
    if (at <= 0) throw new UserError(`${where}: '${line}' is not key=value`, { field: where })
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim()
  }
  return out
}

/** The registration request both faces build from the settings, the options and the run's facts. */
export function registerRequest(
  settings: RegistrySettings,
  opts: RegisterOptions,
  ctx: { sha?: string; ref?: string; repository?: string; runId?: string; runUrl?: string },
  runnerEnv?: RunnerEnvironment,
): RegisterRequest {
  return {
    name: settings.name,
    ...opts,
    labels: settings.labels,
    description: settings.description,
    task: settings.task,
    policy: settings.policy,
    golden: (digest) =>
      goldenForRegistration(
        {
          manifest: settings.manifestPath,
          modelPath: opts.modelPath,
          workspace: settings.workspace,
          digest,
          confine: settings.workspacePolicy,
        },
        resolveSettings,
        runnerEnv,
      ),
    context: { commit: ctx.sha, ref: ctx.ref, repository: ctx.repository, runId: ctx.runId, runUrl: ctx.runUrl },
  }
}
