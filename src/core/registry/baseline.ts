import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { UserError, errorText } from '../errors.js'
import { resolveModel, type Settings } from '../settings/index.js'
import { digestArtifact } from './digest.js'
import { openRegistry } from './open.js'
import { describeRef, refStage, resolveVersion } from './resolve.js'
import { registryToken } from './token.js'
import type { RegistryBackend, VersionRecord } from './types.js'
import { describeLocation } from './location.js'

/** The registered validate report a version carries as evidence, by kind. */
export const VALIDATE_EVIDENCE = 'validate-model'

/**
 * A baseline named by its place in the registry (`stage:prod`, `version:1.2.0`, `production`) turned
 * into one the run can use: the version's artifact fetched into `.modelgate/cache/<name>/<version>/`
 * and verified against its registered digest (a tampered or truncated artifact is refused, exit 2);
 * an ONNX file runs as the baseline model on the same rows; anything else (a command model's weights)
 * is compared through the version's registered validate report. When no version holds the stage yet,
 * the run has no baseline and says so, as a first run does.
 */
export async function resolveRegistryBaseline(
  settings: Settings,
  log: (line: string) => void = () => {},
  open: typeof openRegistry = openRegistry,
): Promise<Settings> {
  const spec = settings.registryBaseline
  if (!spec || settings.baselineFrom) return settings
  const { ref, name, where } = spec
  const backend = await open(spec.registry, { token: registryToken(spec.registry, spec.token, spec.githubToken) })
  const stage = refStage(ref, spec.promotion, where)
  const origin = { name, registry: describeLocation(spec.registry), ref: describeRef(ref, stage), ...(stage ? { stage } : {}) }
  let record: VersionRecord
  if (stage) {
    const version = (await backend.stages(name)).current[stage]
    if (!version) {
      log(`baseline: no version of ${name} holds stage ${stage} yet`)
      return { ...settings, baseline: undefined, baselineFrom: origin }
    }
    record = await resolveVersion(backend, name, version, undefined, 'compared with')
  } else {
    record = await resolveVersion(backend, name, 'version' in ref ? ref.version : undefined, undefined, 'compared with')
  }
  const from = { ...origin, version: record.version, digest: record.digest }
  const dir = path.join(settings.workspace, '.modelgate', 'cache', ...name.split('/'), record.version)
  const artifact = await fetchVerified(backend, record, dir)
  log(`baseline: ${name} ${record.version}${stage ? ` (stage ${stage})` : ''}, ${record.digest}, from ${backend.location}`)
  const evidence = record.evidence.find((e) => e.kind === VALIDATE_EVIDENCE)
  const report = path.join(dir, `${VALIDATE_EVIDENCE}.json`)
  if (evidence) writeFileSync(report, await backend.readEvidence(name, record.version, evidence.file))
  if (/\.onnx$/i.test(artifact)) {
    const model = resolveModel({ path: artifact, runner: 'onnx' }, settings.model.cwd, settings.features, where)
    return {
      ...settings,
      baseline: { kind: 'model', model, source: `${name} ${record.version}` },
      baselineFrom: from,
      ...(evidence ? { baselineEvidence: report } : {}),
    }
  }
  if (!evidence)
    throw new UserError(
      `${where.file ? `${where.file}: ` : ''}${where.field}: ${name} ${record.version} is not an ONNX file modelgate can run itself, and carries no validate-model report to compare with; register it with --evidence <validate report>`,
      { file: where.file, field: where.field },
    )
  return {
    ...settings,
    baseline: { kind: 'report', path: report },
    baselineFrom: from,
    baselineNote: `${name} ${record.version} is not an ONNX file modelgate can run itself: compared through its registered validate report; intervals and tests need a runnable baseline (an ONNX artifact).`,
  }
}

/**
 * The version's artifact under `dir`: reused when what is there has the registered digest, else fetched
 * anew. Fetching is the check: every backend verifies each file against the record while writing it
 * (RegistryBackend.fetch) and refuses a mismatch, naming both digests.
 */
async function fetchVerified(backend: RegistryBackend, record: VersionRecord, dir: string): Promise<string> {
  const at = path.join(dir, 'artifact')
  const cached = path.join(at, record.artifact.name)
  if (existsSync(cached)) {
    try {
      if ((await digestArtifact(cached)).digest === record.digest) return cached
    } catch {
      // Unreadable: fetched again below.
    }
  }
  rmSync(at, { recursive: true, force: true })
  mkdirSync(at, { recursive: true })
  try {
    return await backend.fetch(record.name, record.version, at)
  } catch (e) {
    rmSync(at, { recursive: true, force: true })
    throw e instanceof UserError
      ? new UserError(`baseline ${record.name} ${record.version}: ${e.message}`, { field: 'baseline' })
      : new UserError(`baseline ${record.name} ${record.version}: cannot fetch it from ${backend.location} (${errorText(e)})`, {
          field: 'baseline',
        })
  }
}
