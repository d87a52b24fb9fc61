import semver from './semver.js'
import { UserError } from '../errors.js'
import type { BumpKind, Signature, SignatureTensor, VersionRecord } from './types.js'

/*
 * Which SemVer step a new model is, read from its signature against its parent's: what a caller of
 * the old model would see. A change that can break a caller (an input removed or renamed, a new
 * required input, a dtype changed, a shape narrowed, an output removed or changed) is major; one
 * that cannot (an optional input or an output added, a shape widened) is minor; anything else patch.
 */

export type Step = 'major' | 'minor' | 'patch'

export interface BumpDecision {
  step: Step
  reasons: string[]
}

const RANK: Record<Step, number> = { patch: 0, minor: 1, major: 2 }

export function signatureBump(prev: Signature | undefined, next: Signature | undefined, formats?: [string, string]): BumpDecision {
  if (formats && formats[0] !== formats[1]) return { step: 'major', reasons: [`model format changed: ${formats[0]} → ${formats[1]}`] }
  if (!prev || !next) {
    return { step: 'patch', reasons: [`signature unknown (${!next ? 'this model' : 'the parent'} has none that can be read): patch`] }
  }
  const major: string[] = []
  const minor: string[] = []
  compareInputs(prev.inputs, next.inputs, major, minor)
  compareOutputs(prev.outputs, next.outputs, major, minor)
  if (major.length > 0) return { step: 'major', reasons: [...major, ...minor] }
  if (minor.length > 0) return { step: 'minor', reasons: minor }
  return { step: 'patch', reasons: ['signature unchanged'] }
}

function compareInputs(prev: SignatureTensor[], next: SignatureTensor[], major: string[], minor: string[]): void {
  const nextByName = new Map(next.map((t) => [t.name, t]))
  const prevNames = new Set(prev.map((t) => t.name))
  const removed = prev.filter((t) => !nextByName.has(t.name))
  const added = next.filter((t) => !prevNames.has(t.name))
  // Same position, new name: a rename, which breaks callers exactly as a removal does.
  for (const r of removed) {
    const at = prev.indexOf(r)
    const candidate = next[at]
    if (candidate && added.includes(candidate)) {
      major.push(`input '${r.name}' renamed to '${candidate.name}'`)
      added.splice(added.indexOf(candidate), 1)
    } else major.push(`input '${r.name}' removed`)
  }
  for (const a of added) {
    if (a.optional) minor.push(`optional input '${a.name}' added`)
    else major.push(`required input '${a.name}' added`)
  }
  for (const p of prev) {
    const n = nextByName.get(p.name)
    if (!n) continue
    if (p.dtype !== n.dtype) major.push(`input '${p.name}': dtype ${p.dtype} → ${n.dtype}`)
    if (p.optional && !n.optional) major.push(`input '${p.name}' is now required`)
    if (!p.optional && n.optional) minor.push(`input '${p.name}' is now optional`)
    const change = shapeChange(p.shape, n.shape)
    if (change === 'incompatible' || change === 'narrowed')
      major.push(`input '${p.name}': shape ${fmt(p.shape)} → ${fmt(n.shape)} (${change})`)
    else if (change === 'widened') minor.push(`input '${p.name}': shape ${fmt(p.shape)} → ${fmt(n.shape)} (widened)`)
  }
}

function compareOutputs(prev: SignatureTensor[], next: SignatureTensor[], major: string[], minor: string[]): void {
  const nextByName = new Map(next.map((t) => [t.name, t]))
  const prevNames = new Set(prev.map((t) => t.name))
  for (const p of prev) {
    const n = nextByName.get(p.name)
    if (!n) {
      major.push(`output '${p.name}' removed`)
      continue
    }
    if (p.dtype !== n.dtype) major.push(`output '${p.name}': dtype ${p.dtype} → ${n.dtype}`)
    const change = shapeChange(p.shape, n.shape)
    // For outputs the caller is the reader: a narrower output is still what it can read; any other change is not.
    if (change === 'incompatible' || change === 'widened') major.push(`output '${p.name}': shape ${fmt(p.shape)} → ${fmt(n.shape)}`)
  }
  for (const n of next) if (!prevNames.has(n.name)) minor.push(`output '${n.name}' added`)
}

type ShapeChange = 'same' | 'widened' | 'narrowed' | 'incompatible'

const symbolic = (d: number | string) => typeof d === 'string' || d < 0

/** How the set of accepted shapes changed: a symbolic dimension accepts any size, a number only itself. */
export function shapeChange(prev: (number | string)[], next: (number | string)[]): ShapeChange {
  if (prev.length !== next.length) return 'incompatible'
  let widened = false
  let narrowed = false
  for (let i = 0; i < prev.length; i++) {
    const a = prev[i]!
    const b = next[i]!
    if (symbolic(a) && symbolic(b)) continue
    if (symbolic(a)) narrowed = true
    else if (symbolic(b)) widened = true
    else if (a !== b) return 'incompatible'
  }
  if (widened && narrowed) return 'incompatible'
  return widened ? 'widened' : narrowed ? 'narrowed' : 'same'
}

const fmt = (shape: (number | string)[]) => `[${shape.map((d) => (symbolic(d) ? (typeof d === 'string' ? d : '?') : d)).join(', ')}]`

/** A version as the user wrote it (`v1.2.3` or `1.2.3`), checked and without the `v`. */
export function parseVersion(text: string, where: string): string {
  const v = semver.valid(text.trim().replace(/^v/, ''))
  if (!v) throw new UserError(`${where}: '${text}' is not a SemVer version (e.g. 1.4.0)`, { field: where })
  return v
}

/** The newest version that is not deprecated: the parent of the next one. */
export function latestLive(existing: VersionRecord[]): VersionRecord | undefined {
  return [...existing]
    .filter((r) => !r.deprecated)
    .sort((a, b) => semver.compare(a.version, b.version))
    .at(-1)
}

export interface VersionChoice {
  version: string
  parent?: string
  kind: BumpKind
  reasons: string[]
  /** Said to the user: an explicit version smaller than what the signature change calls for. */
  warnings: string[]
}

/**
 * The next version: explicit, a forced step, or the step the signature calls for (`auto`). Never a
 * number already taken (deprecated versions keep theirs) and never below the newest existing one.
 */
export function chooseVersion(
  existing: VersionRecord[],
  next: { signature?: Signature; format: string },
  request: { version?: string; bump: 'auto' | Step },
): VersionChoice {
  const parent = latestLive(existing)
  const decision = parent
    ? signatureBump(parent.signature, next.signature, [parent.format, next.format])
    : { step: 'major' as Step, reasons: ['first version'] }
  const highest = [...existing].sort((a, b) => semver.compare(a.version, b.version)).at(-1)?.version
  if (request.version) {
    const taken = existing.find((r) => r.version === request.version)
    if (taken) {
      throw new UserError(
        `version ${request.version} is already registered${taken.deprecated ? ' (deprecated)' : ''} with digest ${taken.digest}; choose another version or bump`,
        { field: 'version' },
      )
    }
    const warnings: string[] = []
    if (parent) {
      const step = stepBetween(parent.version, request.version)
      if (step && RANK[step] < RANK[decision.step]) {
        warnings.push(
          `version ${request.version} is a ${step} step from ${parent.version}, but the signature change calls for ${decision.step}`,
        )
      }
    }
    return { version: request.version, parent: parent?.version, kind: 'explicit', reasons: decision.reasons, warnings }
  }
  if (!parent || !highest) return { version: '1.0.0', kind: 'initial', reasons: ['first version'], warnings: [] }
  const step = request.bump === 'auto' ? decision.step : request.bump
  // From the highest number ever given, so a deprecated version's number is never reused.
  const version = semver.inc(highest, step)!
  const reasons = request.bump === 'auto' ? decision.reasons : [`${step} bump requested`, ...decision.reasons]
  const warnings =
    request.bump !== 'auto' && RANK[step] < RANK[decision.step]
      ? [`a ${step} bump was requested, but the signature change calls for ${decision.step}`]
      : []
  return { version, parent: parent.version, kind: step, reasons, warnings }
}

function stepBetween(from: string, to: string): Step | undefined {
  const d = semver.diff(from, to)
  if (!d || semver.lt(to, from)) return undefined
  return d.endsWith('major') ? 'major' : d.endsWith('minor') ? 'minor' : 'patch'
}
