import type { VersionRecord } from './types.js'

/*
 * What a stage is, the same in every registry: an append-only history of assignments and
 * unassignments, from which the current pointers follow (the latest assignment wins). The backends
 * store the history each in its own way (a file, tags, an event log); how it is read is here, once.
 */

/** A stage assigned to (or taken from) a version. */
export interface StageEvent {
  stage: string
  /** The version assigned; undefined for an unassignment. */
  version?: string
  action: 'assign' | 'unassign'
  at: string
  /** Backend-specific reference: a tag name, an OCI digest, a sequence number. */
  ref?: string
}

export interface StageState {
  /** The version each stage points at now. */
  current: Record<string, string>
  /** Every assignment and unassignment, oldest first. */
  history: StageEvent[]
}

/** The promotion policy, asked by `assign` under the backend's lock; it throws (a UserError) to refuse. */
export type StageCheck = (state: StageState, record: VersionRecord) => void

/** The current stage pointers from the history: the latest assignment wins, an unassignment clears. */
export function stageState(history: StageEvent[]): StageState {
  const current: Record<string, string> = {}
  for (const e of history) {
    if (e.action === 'assign' && e.version) current[e.stage] = e.version
    else delete current[e.stage]
  }
  return { current, history }
}
