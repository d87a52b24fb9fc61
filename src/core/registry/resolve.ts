import { UserError } from '../errors.js'
import { latestLive, parseVersion } from './bump.js'
import type { RegistryBackend, VersionRecord } from './types.js'

/**
 * Which registered version a run means, as people write it: `stage:prod`, `version:1.2.0`, or
 * `production` (the last stage of the manifest's promotion order). One home for the words, used by
 * baselines (validate, robustness), `registry pull` and deploy.
 */
export type VersionRef = { stage: string } | { version: string } | { production: true }

/** `stage:<name>`, `version:<x.y.z>` or `production`; undefined for anything else (a path, a URL). */
export function parseVersionRef(text: string, where = 'baseline'): VersionRef | undefined {
  const t = text.trim()
  if (t === 'production') return { production: true }
  const m = /^(stage|version):(.*)$/.exec(t)
  if (!m) return undefined
  const value = m[2]!.trim()
  if (!value)
    throw new UserError(`${where}: '${t}' names no ${m[1]}; e.g. ${m[1] === 'stage' ? 'stage:prod' : 'version:1.2.0'}`, { field: where })
  return m[1] === 'stage' ? { stage: value } : { version: parseVersion(value, where) }
}

/** The ref as people read it: `stage prod`, `version 1.2.0`, `production (stage prod)`. */
export function describeRef(ref: VersionRef, stage?: string): string {
  if ('production' in ref) return `production${stage ? ` (stage ${stage})` : ''}`
  return 'stage' in ref ? `stage ${ref.stage}` : `version ${ref.version}`
}

/**
 * The stage a ref names: its own, or for `production` the last stage of the promotion order (the
 * manifest's `registry.promotion`), which must then be declared.
 */
export function refStage(ref: VersionRef, promotion: string[], where: { file?: string; field: string }): string | undefined {
  if ('stage' in ref) return ref.stage
  if (!('production' in ref)) return undefined
  const last = promotion.at(-1)
  if (!last)
    throw new UserError(
      `${where.file ? `${where.file}: ` : ''}${where.field}: production means the last stage of registry.promotion, and the manifest declares no promotion order; write stage:<name> instead, or declare registry.promotion (e.g. [staging, prod])`,
      { file: where.file, field: where.field },
    )
  return last
}

/** Which version: by number, by stage, or the newest one not deprecated. `purpose` ends the refusal of a deprecated one. */
export async function resolveVersion(
  backend: RegistryBackend,
  name: string,
  version?: string,
  stage?: string,
  purpose = 'deployed',
): Promise<VersionRecord> {
  if (version && stage) throw new UserError('give a version or a stage, not both', { field: 'version' })
  let wanted = version
  if (stage) {
    wanted = (await backend.stages(name)).current[stage]
    if (!wanted) throw new UserError(`${backend.location}: no version of ${name} holds stage ${stage}`, { field: 'stage' })
  }
  if (wanted) {
    const found = await backend.get(name, wanted)
    if (!found) throw new UserError(`${backend.location}: ${name} has no version ${wanted}`, { field: 'version' })
    if (found.record.deprecated) throw new UserError(`${name} ${wanted} is deprecated and cannot be ${purpose}`, { field: 'version' })
    return found.record
  }
  const newest = latestLive(await backend.list(name))
  if (!newest) throw new UserError(`${backend.location}: ${name} has no versions; register one first`, { field: 'name' })
  return newest
}
