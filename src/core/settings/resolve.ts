/*
 * A validate or robustness run's settings: the manifest (if any) with the inputs/flags laid over it,
 * each part resolved by its own file, every path checked against the workspace before any is opened.
 * Nothing after this reads the environment or the manifest again.
 */
import { parseShard } from '../shard/spec.js'
import { driftSchema } from '../drift/schema.js'
import nodePath from 'node:path'
import { UserError } from '../errors.js'
import { DEFAULT_MANIFEST } from '../manifest/load.js'
import { confine } from '../workspace.js'
import { comparisonSettings, resolveBaseline } from './baseline.js'
import { nameOf, resolveData, resolveReferencePredictions } from './data.js'
import { resolveGates } from './gates.js'
import { findManifest } from './manifest.js'
import { modelSpecFromString, resolveModel, type Where } from './model.js'
import type { Overrides, ResolvedModel, Settings } from './types.js'

/**
 * Reads the manifest (if any) and lays the overrides over it.
 * `cwd` is where relative paths given as inputs/flags are resolved (the workspace).
 */
export function resolveSettings(overrides: Overrides, cwd: string = process.cwd()): Settings {
  const env = overrides.env ?? {}
  const found = findManifest({
    config: overrides.config,
    cwd,
    policy: overrides.workspace,
    field: overrides.origin?.('config') ?? 'input config',
    givenBy: overrides.origin?.('config'),
    ignore: overrides.ignoreManifest,
  })
  const { manifest, file, baseDir, rule } = found

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
  checkFeatures(
    features,
    [
      [label, 'the label'],
      [manifest?.id, 'the id column'],
    ],
    overrides.features ? { field: origin('features') } : { file, field: 'features' },
  )

  let model: ResolvedModel
  if (overrides.model) {
    const given =
      /^https?:\/\//i.test(overrides.model) || overrides.runner === 'command' ? overrides.model : nodePath.resolve(cwd, overrides.model)
    model = resolveModel(modelSpecFromString(given, overrides.runner), cwd, features, { field: 'model' }, env)
  } else if (manifest) {
    const spec = typeof manifest.model === 'string' ? modelSpecFromString(manifest.model) : manifest.model
    model = resolveModel(overrides.runner ? { ...spec, runner: overrides.runner } : spec, baseDir, features, { file, field: 'model' }, env)
  } else {
    throw missing('model', '--model / the model input')
  }
  if (overrides.headers) model.headers = { ...model.headers, ...overrides.headers }

  const data = resolveData(overrides.data, manifest, cwd, baseDir, file)
  if (!data) throw missing('data', '--data / the data input')
  const { gates, thresholdsFrom } = resolveGates(overrides.thresholds, manifest, file, origin)
  const { baseline, registryBaseline } = resolveBaseline(overrides, { manifest, file, cwd, baseDir, features, model, rule, origin, env })
  const referencePredictions = resolveReferencePredictions(overrides.referencePredictions, manifest, cwd, baseDir)

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
  const drift = overrides.driftReference
    ? {
        ...(manifest?.drift ?? driftSchema.parse({ reference: overrides.driftReference })),
        reference: overrides.driftReference,
        referencePath: nodePath.resolve(cwd, overrides.driftReference),
      }
    : manifest?.drift
      ? { ...manifest.drift, referencePath: nodePath.resolve(baseDir, manifest.drift.reference) }
      : undefined
  confine(drift?.referencePath, rule, overrides.driftReference ? { field: origin('drift-reference') } : { file, field: 'drift.reference' })
  const integritySpec = manifest?.integrity
  const integrity =
    integritySpec === undefined || integritySpec === false
      ? undefined
      : integritySpec === true
        ? { nearConstant: 0.95, leakage: true }
        : { nearConstant: integritySpec['near-constant'], leakage: integritySpec.leakage }

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
    ...(drift ? { drift } : {}),
    ...(integrity ? { integrity } : {}),
    ...(overrides.shard !== undefined && overrides.shard.trim() !== ''
      ? { shard: parseShard(overrides.shard, { field: origin('shard') }) }
      : {}),
  }
}

/** A feature fed twice leaves another unread, and the label (or the id) as a feature is leakage: both silent, so refused. */
function checkFeatures(features: string[], reserved: (readonly [string | undefined, string])[], where: Where): void {
  const named = `${where.file ? `${where.file}: ` : ''}${where.field}`
  const twice = features.find((f, i) => features.indexOf(f) !== i)
  if (twice !== undefined)
    throw new UserError(`${named}: "${twice}" is listed twice; each feature column is fed once, in the model's order`, where)
  for (const [column, what] of reserved) {
    if (column !== undefined && features.includes(column))
      throw new UserError(
        `${named}: "${column}" is ${what}; feeding it to the model would score it on the answer (leakage): leave it out of the features`,
        where,
      )
  }
}
