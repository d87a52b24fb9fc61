import { UserError } from '../errors.js'
import type { StageState } from './stages.js'

/*
 * The refusals every backend gives, under its lock or compare-and-swap, when a request names what
 * is not there or not allowed: no such version, a deprecated version given a stage, a stage that is
 * not assigned, no such evidence file. One copy, so that the four backends cannot drift apart in
 * what they allow or in what they say.
 */

/** What the backend found for `version`, or the refusal naming the registry when it found nothing. */
export function requireVersion<T>(found: T | undefined, location: string, name: string, version: string): T {
  if (!found) throw new UserError(`${location}: ${name} has no version ${version}`, { field: 'version' })
  return found
}

/**
 * Refuses a stage to a deprecated version: deprecation takes a version out of every stage's reach.
 * The backends check it themselves (field `version`) before the promotion policy runs (field `stage`).
 */
export function refuseDeprecated(record: { deprecated?: boolean }, name: string, version: string, field = 'version'): void {
  if (record.deprecated) throw new UserError(`${name} ${version} is deprecated and cannot be assigned a stage`, { field })
}

/** The version `stage` points at now, or the refusal to unassign a stage that points nowhere. */
export function requireAssigned(state: StageState, name: string, stage: string): string {
  const current = state.current[stage]
  if (!current) throw new UserError(`${name}: stage ${stage} is not assigned`, { field: 'stage' })
  return current
}

/** The refusal of an evidence file the version does not have. */
export function noEvidence(location: string, name: string, version: string, file: string): UserError {
  return new UserError(`${location}: ${name} ${version} has no evidence file ${file}`, { field: 'evidence' })
}
