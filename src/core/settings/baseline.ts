/*
 * What a run compares with: a baseline model or report given by path, or a version named by its place
 * in the registry (`production`, `stage:prod`, `version:1.2.0`), fetched before the run
 * (registry/baseline.ts); and how the comparison is made (the manifest's `comparison:`).
 */
import path from 'node:path'
import type { Manifest } from '../manifest/schema.js'
import { DEFAULT_BOOTSTRAP } from '../stats/types.js'
import { confine, type Confinement } from '../workspace.js'
import { parseVersionRef, refStage } from '../registry/resolve.js'
import { parseVersion } from '../registry/bump.js'
import { DEFAULT_REGISTRY, parseRegistryUri } from '../registry/location.js'
import { nameOf } from './data.js'
import { modelSpecFromString, resolveModel } from './model.js'
import type { ComparisonSettings, Environment, Overrides, RegistryBaselineSpec, ResolvedModel, Settings } from './types.js'

export interface BaselineContext {
  manifest?: Manifest
  file?: string
  cwd: string
  baseDir: string
  features: string[]
  /** The model under test: a registered baseline's name falls back to its file name. */
  model: ResolvedModel
  rule?: Confinement
  origin: (name: string) => string
  env: Environment
}

export function resolveBaseline(
  overrides: Pick<Overrides, 'baseline' | 'registry' | 'registryToken' | 'githubToken'>,
  c: BaselineContext,
): { baseline?: Settings['baseline']; registryBaseline?: RegistryBaselineSpec } {
  const { manifest, file, cwd, baseDir, features, origin } = c
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
    if (location.kind === 'local') confine(location.root, c.rule, registryWhere)
    if (location.kind === 'git') confine(location.repoDir, c.rule, registryWhere)
    const registryBaseline: RegistryBaselineSpec = {
      ref,
      registry: location,
      name: reg?.name ?? manifest?.name ?? nameOf(c.model.path ?? c.model.url ?? 'model'),
      promotion: reg?.promotion ?? [],
      token: overrides.registryToken,
      githubToken: overrides.githubToken,
      where: baselineWhere,
    }
    // `production` needs a promotion order: said now, before any row is scored.
    refStage(ref, registryBaseline.promotion, baselineWhere)
    return { registryBaseline }
  }
  if (baselineSpec === undefined) return {}
  const dir = overrides.baseline ? cwd : baseDir
  if (typeof baselineSpec === 'string') {
    return {
      baseline: /\.json$/i.test(baselineSpec)
        ? { kind: 'report', path: path.resolve(dir, baselineSpec) }
        : {
            kind: 'model',
            model: resolveModel(modelSpecFromString(baselineSpec), dir, features, { file, field: 'baseline' }, c.env),
            source: baselineSpec,
          },
    }
  }
  if (baselineSpec.model !== undefined) {
    const spec = typeof baselineSpec.model === 'string' ? modelSpecFromString(baselineSpec.model) : baselineSpec.model
    return {
      baseline: {
        kind: 'model',
        model: resolveModel(spec, dir, features, { file, field: 'baseline.model' }, c.env),
        source: spec.path ?? spec.url ?? 'baseline',
      },
    }
  }
  if (baselineSpec.report !== undefined) return { baseline: { kind: 'report', path: path.resolve(dir, baselineSpec.report) } }
  return {}
}

export function comparisonSettings(c: Manifest['comparison']): ComparisonSettings {
  const bootstrap = c ? { resamples: c.resamples, confidence: c.confidence, method: c.method, seed: c.seed } : { ...DEFAULT_BOOTSTRAP }
  return {
    metrics: c?.metrics?.map((m) =>
      typeof m === 'string' ? { metric: m } : { metric: m.metric, superiority: m.superiority, nonInferiority: m['non-inferiority'] },
    ),
    bootstrap,
    inconclusive: c?.inconclusive ?? 'warn',
  }
}
