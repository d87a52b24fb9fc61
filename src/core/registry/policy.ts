import { UserError } from '../errors.js'
import { refuseDeprecated } from './refusals.js'
import type { StageState, VersionRecord } from './types.js'

/*
 * Promotion policy as code: which stages exist, in which order a version climbs them, and what
 * evidence a stage demands. GTO leaves the order to convention (iterative/gto#321); here it is enforced
 * under the registry's lock, so two promotions cannot both slip past it.
 */

export interface StagePolicy {
  /** Declared stages; empty: any stage name is allowed. */
  stages: string[]
  /** Promotion order, e.g. dev → staging → prod: a stage needs the one before it held first. */
  order: string[]
  /** Per stage: the evidence kinds (validate-model, test-robustness) that must be attached and passing. */
  require: Record<string, string[]>
}

export const EMPTY_POLICY: StagePolicy = { stages: [], order: [], require: {} }

const STAGE_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-_]*[a-zA-Z0-9])?$/

export function checkStageName(stage: string, policy: StagePolicy, where = 'stage'): void {
  if (!STAGE_NAME.test(stage)) {
    throw new UserError(`${where}: '${stage}' is not a valid stage name (letters, digits, - and _; e.g. staging)`, { field: where })
  }
  const declared = policy.stages.length > 0 ? policy.stages : policy.order
  if (declared.length > 0 && !declared.includes(stage)) {
    throw new UserError(`${where}: unknown stage '${stage}'; the manifest declares ${declared.join(', ')}`, { field: where })
  }
}

/** Throws when `record` may not take `stage` now: a stage before it in the order never held, or evidence missing. */
export function checkPromotion(policy: StagePolicy, record: VersionRecord, stage: string, state: StageState): void {
  refuseDeprecated(record, record.name, record.version, 'stage')
  const at = policy.order.indexOf(stage)
  if (at > 0) {
    const before = policy.order[at - 1]!
    const held = state.history.some((h) => h.action === 'assign' && h.stage === before && h.version === record.version)
    if (!held) {
      throw new UserError(
        `${record.name} ${record.version} cannot reach ${stage}: the promotion order ${policy.order.join(' → ')} requires it to have held ${before} first`,
        { field: 'stage' },
      )
    }
  }
  for (const kind of policy.require[stage] ?? []) {
    const reports = record.evidence.filter((e) => e.kind === kind)
    if (reports.length === 0) {
      throw new UserError(`${record.name} ${record.version} cannot reach ${stage}: it needs a ${kind} report as evidence, and has none`, {
        field: 'stage',
      })
    }
    const failing = reports.find((e) => !e.passed)
    if (failing) {
      throw new UserError(
        `${record.name} ${record.version} cannot reach ${stage}: its ${kind} report (${failing.file}) has status ${failing.status}`,
        {
          field: 'stage',
        },
      )
    }
  }
}
