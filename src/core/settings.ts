import { existsSync } from 'node:fs'
import path from 'node:path'
import { UserError } from './errors.js'
import { redactUrl, secrets } from './secrets.js'
import { formatGate, parseGate, type GateSpec } from './gates/expression.js'
import { DEFAULT_MANIFEST, loadManifest } from './manifest/load.js'
import type { Manifest, ModelSpec } from './manifest/schema.js'
import type { RunnerKind } from './runners/types.js'
import type { Task } from './result/types.js'
import { DEFAULT_BOOTSTRAP, type BootstrapOptions } from './stats/types.js'
import type { SlicesConfig } from './slices/schema.js'
import type { FairnessConfig } from './fairness/schema.js'
import type { RobustnessConfig } from './robustness/schema.js'
import { confine, confinementFor, type Confinement, type WorkspacePolicy } from './workspace.js'
import { parseVersionRef, refStage, type VersionRef } from './registry/resolve.js'
import { parseVersion } from './registry/bump.js'
import { DEFAULT_REGISTRY, parseRegistryUri, type RegistryLocation } from './registry/location.js'

/**
 * Everything one validate run needs, resolved once: manifest fields with inputs/flags laid over them,
 * paths made absolute. Adapters build `Overrides` from action inputs or CLI flags; nothing after this
 * reads the environment or the manifest again.
 */
export interface Overrides {
  config?: string
  model?: string
  runner?: RunnerKind
  data?: string
  label?: string
  features?: string[]
  task?: Task
  thresholds?: string[]
  baseline?: string
  /** The registry a `stage:`/`version:`/`production` baseline is fetched from, over the manifest's `registry.uri`. */
  registry?: string
  /** Its token (else $MODELGATE_REGISTRY_TOKEN in the CLI; the job token for ghcr.io). */
  registryToken?: string
  githubToken?: string
  referencePredictions?: string
  failOn?: FailOn
  batchSize?: number
  /** HTTP headers for an http model (e.g. Authorization), laid over the manifest's. */
  headers?: Record<string, string>
  /** Read no manifest even if modelgate.yml exists (modelgate init). */
  ignoreManifest?: boolean
  /** How messages name an option where it was given (`--threshold`, `input thresholds`); default: the input name. */
  origin?: (name: string) => string
  /** Where paths may point (workspace.ts); undefined: anywhere (library callers and unit tests). */
  workspace?: WorkspacePolicy
}

export type FailOn = 'fail' | 'warn' | 'never'

export interface ResolvedModel {
  runner: RunnerKind
  /** Absolute path (onnx, predictions), URL (http) or undefined (command). */
  path?: string
  url?: string
  command?: string[]
  protocol?: 'v2' | 'v1' | 'mlflow'
  headers?: Record<string, string>
  timeoutSeconds: number
  retries: number
  labelOutput?: string
  probabilityOutput?: string
  features: string[]
  /** Directory commands run in: the manifest's. */
  cwd: string
}

export interface ResolvedData {
  name: string
  path: string
  format?: 'csv' | 'jsonl' | 'parquet'
  contract?: string
}

export interface Settings {
  /** Where relative inputs were resolved (the workspace); paths in reports and messages are shown relative to it. */
  workspace: string
  /** Where the run's paths, outputs included, must resolve; undefined: anywhere. */
  confinement?: Confinement
  /** The manifest file, when one was read, as messages name it (relative to the workspace when inside it). */
  manifestPath?: string
  name: string
  task?: Task
  model: ResolvedModel
  /** Empty when neither the manifest nor a flag lists them: inferred from the model and the data (evaluation/features.ts). */
  features: string[]
  label: string
  /** A column identifying rows (manifest `id:`): kept out of inferred features and written with the predictions. */
  idColumn?: string
  /** Severity of the check that a classifier's label output is the argmax of its probabilities; `off` skips it. */
  outputConsistency: 'warn' | 'fail' | 'off'
  /** Where the gates came from, as messages name it: `modelgate.yml: thresholds`, `--threshold`, `input thresholds`. */
  thresholdsFrom: string
  classes?: (number | string)[]
  positiveClass?: number | string
  decisionThreshold: number
  data: ResolvedData[]
  gates: GateSpec[]
  baseline?: { kind: 'model'; model: ResolvedModel; source: string } | { kind: 'report'; path: string }
  /** A baseline named by its place in the registry; resolved into `baseline` before the run (registry/baseline.ts). */
  registryBaseline?: RegistryBaselineSpec
  /** Where a registry baseline came from, once resolved: for the report, the summary and the notes. */
  baselineFrom?: BaselineOrigin
  /** The registered version's own validate report (fetched with it), for the reproducibility check. */
  baselineEvidence?: string
  /** What the reader must know of how the registered baseline is used (a report in place of a model). */
  baselineNote?: string
  referencePredictions?: { path: string; tolerance: number; maxMismatches: number }
  failOn: FailOn
  batchSize: number
  eceBins: number
  comparison: ComparisonSettings
  slices?: SlicesConfig
  fairness?: FairnessConfig
  calibration: boolean
  /** test-robustness's configuration (the manifest's `robustness:` key); undefined: all defaults. */
  robustness?: RobustnessConfig
}

export interface RegistryBaselineSpec {
  ref: VersionRef
  registry: RegistryLocation
  /** The registered model's name: registry.name, else the manifest's name. */
  name: string
  promotion: string[]
  token?: string
  githubToken?: string
  /** Where it was given, for messages. */
  where: { file?: string; field: string }
}

/** The registered version a run compared with, or the stage nobody holds yet. */
export interface BaselineOrigin {
  name: string
  registry: string
  /** How it was named: `production`, `stage:prod`, `version:1.2.0`. */
  ref: string
  stage?: string
  /** Undefined when no version holds the stage yet. */
  version?: string
  digest?: string
}

export interface ComparisonSettings {
  /** Undefined: the task's headline metrics, report-only. */
  metrics?: { metric: string; superiority?: number; nonInferiority?: number }[]
  bootstrap: BootstrapOptions
  inconclusive: 'warn' | 'fail' | 'pass'
}

const TABLE_EXT = /\.(csv|jsonl|ndjson|parquet)$/i

export function inferRunner(spec: ModelSpec): RunnerKind | undefined {
  if (spec.runner) return spec.runner
  if (spec.command) return 'command'
  if (spec.url) return 'http'
  if (spec.path && /\.onnx$/i.test(spec.path)) return 'onnx'
  if (spec.path && TABLE_EXT.test(spec.path)) return 'predictions'
  return undefined
}

/** A model given as one string: a URL, an .onnx file, or a predictions file. */
export function modelSpecFromString(s: string, runner?: RunnerKind): ModelSpec {
  if (/^https?:\/\//i.test(s)) return { url: s, runner: runner ?? 'http' }
  if (runner === 'command') return { command: splitCommand(s), runner }
  return { path: s, runner }
}

function splitCommand(s: string): string[] {
  return s.split(/\s+/).filter(Boolean)
}

export function resolveModel(spec: ModelSpec, baseDir: string, features: string[], where: { file?: string; field: string }): ResolvedModel {
  const runner = inferRunner(spec)
  if (!runner) {
    throw new UserError(
      `${where.file ? `${where.file}: ` : ''}${where.field}: cannot tell how to run the model; set runner (onnx, command, http or predictions) or give a .onnx path, a URL, or a command`,
      { file: where.file, field: where.field },
    )
  }
  const need = (key: 'path' | 'url' | 'command') => {
    if (spec[key] === undefined) {
      throw new UserError(`${where.file ? `${where.file}: ` : ''}${where.field}.${key}: required for the ${runner} runner`, {
        file: where.file,
        field: `${where.field}.${key}`,
      })
    }
  }
  if (runner === 'onnx' || runner === 'predictions') need('path')
  if (runner === 'http') need('url')
  if (runner === 'command') need('command')
  return {
    runner,
    path: spec.path ? path.resolve(baseDir, spec.path) : undefined,
    url: spec.url,
    command: typeof spec.command === 'string' ? splitCommand(spec.command) : spec.command,
    protocol: spec.protocol,
    headers: spec.headers ? expandHeaders(spec.headers, where) : undefined,
    timeoutSeconds: spec.timeout ?? 60,
    retries: spec.retries ?? 3,
    labelOutput: spec['label-output'],
    probabilityOutput: spec['probability-output'],
    features: spec.features ?? features,
    cwd: baseDir,
  }
}

/**
 * `${VAR}` in header values comes from the environment so that secrets stay out of the manifest. Each
 * substituted value and every credential part of the result are registered as secrets (core/secrets.ts).
 */
function expandHeaders(headers: Record<string, string>, where: { file?: string; field: string }): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    out[k] = v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const value = process.env[name] ?? ''
      // Sent empty, the request would fail later with the server's 401, which never says why.
      if (!value)
        throw new UserError(
          `${where.file ? `${where.file}: ` : ''}${where.field}.headers.${k}: $${name} is not set (or empty) in the environment; set it (e.g. env: ${name}: \${{ secrets.${name} }} on the step) or correct its name`,
          { file: where.file, field: `${where.field}.headers` },
        )
      secrets.add(value)
      return value
    })
    secrets.addHeader(out[k])
  }
  return out
}

/** A message with the workspace's absolute prefix removed, so paths read as the user wrote them. */
export function stripWorkspace(text: string, workspace: string): string {
  return text.split(`${path.resolve(workspace)}${path.sep}`).join('')
}

/** Paths in messages: relative to the workspace when inside it, so they read like the user wrote them. */
export function displayPath(p: string, cwd: string): string {
  // A URL is not a path: path.relative would fold its `//` into `http:/host`. Shown without credentials.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) return redactUrl(p)
  const rel = path.relative(cwd, p)
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p
}

function nameOf(p: string): string {
  return path.basename(p).replace(/\.[^.]+$/, '')
}

/**
 * Reads the manifest (if any) and lays the overrides over it.
 * `cwd` is where relative paths given as inputs/flags are resolved (the workspace).
 */
export function resolveSettings(overrides: Overrides, cwd: string = process.cwd()): Settings {
  const explicit = overrides.config !== undefined && overrides.config !== ''
  const manifestPath = path.resolve(cwd, explicit ? overrides.config! : DEFAULT_MANIFEST)
  const shown = displayPath(manifestPath, cwd)
  const rule = overrides.workspace && confinementFor(overrides.workspace, explicit ? manifestPath : undefined)
  if (explicit) confine(manifestPath, rule, { field: overrides.origin?.('config') ?? 'input config' })
  let manifest: Manifest | undefined
  if (!overrides.ignoreManifest && (explicit || existsSync(manifestPath)))
    manifest = loadManifest(manifestPath, shown, explicit ? overrides.origin?.('config') : undefined)
  const file = manifest ? shown : undefined
  const baseDir = manifest ? path.dirname(manifestPath) : cwd
  const fromInput = (p: string) => path.resolve(cwd, p)

  const origin = overrides.origin ?? ((name: string) => `input ${name}`)
  // Empty: inferred from the model and the data before the run (evaluation/features.ts).
  const features = overrides.features ?? manifest?.features ?? []
  const label = overrides.label ?? manifest?.label
  const nothingGiven = !manifest && !overrides.model && !overrides.data && !overrides.label && !overrides.features
  const missing = (what: string, flag: string) =>
    new UserError(
      manifest
        ? `${file}: ${what} is required (set it in the manifest or with ${flag})`
        : nothingGiven
          ? `no manifest: ${DEFAULT_MANIFEST} is not in ${cwd}. Point to yours with --config (the config input), or write one with modelgate init --model <model.onnx> --data <data.csv> --label <column>, or give --model, --data and --label`
          : `no manifest (${DEFAULT_MANIFEST}) found and no ${flag} given: ${what} is required`,
      { file, field: what },
    )
  if (!label) throw missing('label', '--label / the label input')
  // A feature fed twice leaves another unread, and the label (or the id) as a feature is leakage: both silent, so refused.
  const featuresWhere = overrides.features ? { field: origin('features') } : { file, field: 'features' }
  const named = (w: { file?: string; field: string }) => `${w.file ? `${w.file}: ` : ''}${w.field}`
  const twice = features.find((f, i) => features.indexOf(f) !== i)
  if (twice !== undefined)
    throw new UserError(
      `${named(featuresWhere)}: "${twice}" is listed twice; each feature column is fed once, in the model's order`,
      featuresWhere,
    )
  for (const [column, what] of [
    [label, 'the label'],
    [manifest?.id, 'the id column'],
  ] as const) {
    if (column !== undefined && features.includes(column))
      throw new UserError(
        `${named(featuresWhere)}: "${column}" is ${what}; feeding it to the model would score it on the answer (leakage): leave it out of the features`,
        featuresWhere,
      )
  }

  let model: ResolvedModel
  if (overrides.model) {
    const given = /^https?:\/\//i.test(overrides.model) || overrides.runner === 'command' ? overrides.model : fromInput(overrides.model)
    model = resolveModel(modelSpecFromString(given, overrides.runner), cwd, features, { field: 'model' })
  } else if (manifest) {
    const spec = typeof manifest.model === 'string' ? modelSpecFromString(manifest.model) : manifest.model
    model = resolveModel(overrides.runner ? { ...spec, runner: overrides.runner } : spec, baseDir, features, { file, field: 'model' })
  } else {
    throw missing('model', '--model / the model input')
  }

  if (overrides.headers) model.headers = { ...model.headers, ...overrides.headers }

  let data: ResolvedData[]
  if (overrides.data) {
    const p = fromInput(overrides.data)
    data = [{ name: nameOf(p), path: p }]
  } else if (manifest) {
    const entries = typeof manifest.data === 'string' ? [manifest.data] : manifest.data
    data = entries.map((d) => {
      const spec = typeof d === 'string' ? { path: d } : d
      const p = path.resolve(baseDir, spec.path)
      return {
        name: 'name' in spec && spec.name ? spec.name : nameOf(p),
        path: p,
        format: 'format' in spec ? spec.format : undefined,
        contract: 'contract' in spec && spec.contract ? path.resolve(baseDir, spec.contract) : undefined,
      }
    })
  } else {
    throw missing('data', '--data / the data input')
  }
  const names = new Set<string>()
  for (const d of data) {
    if (names.has(d.name))
      throw new UserError(`${file}: data: two data sets are named "${d.name}"; give each a distinct name`, { file, field: 'data' })
    names.add(d.name)
  }

  const thresholdsFrom = overrides.thresholds ? origin('thresholds') : `${file ?? DEFAULT_MANIFEST}: thresholds`
  const gates = overrides.thresholds
    ? overrides.thresholds.map((line, i) => {
        const g = parseGate(line)
        if (typeof g === 'string') throw new UserError(`${thresholdsFrom}, line ${i + 1}: ${g}`, { field: 'thresholds' })
        return g
      })
    : (manifest?.thresholds ?? []).map((t) => gateFromManifest(t))

  let baseline: Settings['baseline']
  let registryBaseline: RegistryBaselineSpec | undefined
  const baselineSpec = overrides.baseline ?? manifest?.baseline
  const baselineWhere = overrides.baseline ? { field: origin('baseline') } : { file, field: 'baseline' }
  const ref =
    typeof baselineSpec === 'string'
      ? parseVersionRef(baselineSpec, baselineWhere.file ? `${baselineWhere.file}: baseline` : baselineWhere.field)
      : baselineSpec?.stage !== undefined
        ? { stage: baselineSpec.stage }
        : baselineSpec?.version !== undefined
          ? { version: parseVersion(baselineSpec.version, `${file}: baseline.version`) }
          : undefined
  if (ref) {
    const reg = manifest?.registry
    const location = overrides.registry
      ? parseRegistryUri(overrides.registry, cwd, origin('registry'))
      : parseRegistryUri(reg?.uri ?? DEFAULT_REGISTRY, baseDir, manifest ? 'registry.uri' : origin('registry'), file)
    const registryWhere = overrides.registry ? { field: origin('registry') } : { file, field: 'registry.uri' }
    if (location.kind === 'local') confine(location.root, rule, registryWhere)
    if (location.kind === 'git') confine(location.repoDir, rule, registryWhere)
    registryBaseline = {
      ref,
      registry: location,
      name: reg?.name ?? manifest?.name ?? nameOf(model.path ?? model.url ?? 'model'),
      promotion: reg?.promotion ?? [],
      token: overrides.registryToken,
      githubToken: overrides.githubToken,
      where: baselineWhere,
    }
    // `production` needs a promotion order: said now, before any row is scored.
    refStage(ref, registryBaseline.promotion, baselineWhere)
  } else if (baselineSpec !== undefined) {
    const dir = overrides.baseline ? cwd : baseDir
    if (typeof baselineSpec === 'string') {
      baseline = /\.json$/i.test(baselineSpec)
        ? { kind: 'report', path: path.resolve(dir, baselineSpec) }
        : {
            kind: 'model',
            model: resolveModel(modelSpecFromString(baselineSpec), dir, features, { file, field: 'baseline' }),
            source: baselineSpec,
          }
    } else if (baselineSpec.model !== undefined) {
      const spec = typeof baselineSpec.model === 'string' ? modelSpecFromString(baselineSpec.model) : baselineSpec.model
      baseline = {
        kind: 'model',
        model: resolveModel(spec, dir, features, { file, field: 'baseline.model' }),
        source: spec.path ?? spec.url ?? 'baseline',
      }
    } else if (baselineSpec.report !== undefined) {
      baseline = { kind: 'report', path: path.resolve(dir, baselineSpec.report) }
    }
  }

  let referencePredictions: Settings['referencePredictions']
  if (overrides.referencePredictions) {
    referencePredictions = { path: fromInput(overrides.referencePredictions), tolerance: 1e-5, maxMismatches: 0 }
  } else if (manifest?.['reference-predictions'] !== undefined) {
    const r = manifest['reference-predictions']
    referencePredictions =
      typeof r === 'string'
        ? { path: path.resolve(baseDir, r), tolerance: 1e-5, maxMismatches: 0 }
        : { path: path.resolve(baseDir, r.path), tolerance: r.tolerance, maxMismatches: r['max-mismatches'] }
  }

  // Every path the run will read, checked before any of them is opened.
  const at = (given: boolean, key: string) => (given ? { field: origin(key) } : { file, field: key })
  confine(model.path, rule, at(overrides.model !== undefined, 'model'))
  for (const d of data) {
    confine(d.path, rule, at(overrides.data !== undefined, 'data'))
    confine(d.contract, rule, { file, field: 'data.contract' })
  }
  if (baseline)
    confine(baseline.kind === 'model' ? baseline.model.path : baseline.path, rule, at(overrides.baseline !== undefined, 'baseline'))
  confine(referencePredictions?.path, rule, at(overrides.referencePredictions !== undefined, 'reference-predictions'))

  return {
    workspace: cwd,
    confinement: rule,
    manifestPath: file,
    name: manifest?.name ?? nameOf(model.path ?? model.url ?? 'model'),
    task: overrides.task ?? manifest?.task,
    model,
    features,
    label,
    idColumn: manifest?.id,
    outputConsistency: manifest?.['output-consistency'] ?? 'warn',
    thresholdsFrom,
    classes: manifest?.classes,
    positiveClass: manifest?.['positive-class'],
    decisionThreshold: manifest?.['decision-threshold'] ?? 0.5,
    data,
    gates,
    baseline,
    ...(registryBaseline ? { registryBaseline } : {}),
    referencePredictions,
    failOn: overrides.failOn ?? manifest?.['fail-on'] ?? 'fail',
    batchSize: overrides.batchSize ?? manifest?.['batch-size'] ?? 1024,
    eceBins: manifest?.['ece-bins'] ?? 10,
    comparison: comparisonSettings(manifest?.comparison),
    slices: manifest?.slices,
    fairness: manifest?.fairness,
    calibration: manifest?.calibration ?? false,
    robustness: manifest?.robustness,
  }
}

function comparisonSettings(c: Manifest['comparison']): ComparisonSettings {
  const bootstrap = c ? { resamples: c.resamples, confidence: c.confidence, method: c.method, seed: c.seed } : { ...DEFAULT_BOOTSTRAP }
  return {
    metrics: c?.metrics?.map((m) =>
      typeof m === 'string' ? { metric: m } : { metric: m.metric, superiority: m.superiority, nonInferiority: m['non-inferiority'] },
    ),
    bootstrap,
    inconclusive: c?.inconclusive ?? 'warn',
  }
}

function gateFromManifest(t: Manifest['thresholds'][number]): GateSpec {
  if (typeof t === 'string') return parseGate(t) as GateSpec // the schema has already checked the line
  const bound: GateSpec['bound'] =
    t.value !== undefined
      ? { kind: 'absolute', value: t.value }
      : typeof t.change === 'string'
        ? { kind: 'change', delta: Number(t.change.replace('%', '')) / 100, relative: true }
        : { kind: 'change', delta: t.change ?? 0, relative: false }
  const gate = { metric: t.metric, op: t.op, bound }
  return { ...gate, severity: t.severity, expression: formatGate(gate) }
}
