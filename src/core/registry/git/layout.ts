import semver from '../semver.js'
import { UserError } from '../../errors.js'
import { directoryDigest } from '../digest.js'
import { MODEL_NAME } from '../names.js'
import { checkVersionRecord } from '../record.js'
import { stageState as fromHistory, type StageEvent, type StageState } from '../stages.js'
import { VERSION_RECORD_SCHEMA, type VersionRecord } from '../types.js'
import type { NewRef } from './repo.js'

/*
 * What a git registry stores, in git tags that GTO (iterative/gto) reads as its own:
 *
 *   name@v1.2.3      annotated tag on the commit holding the model; its message is the VersionRecord JSON
 *   name#stage#N     stage assignment on the version's commit; N = max counter over the model's tags + 1
 *   name#stage!#N    stage unassignment
 *   name@v1.2.3!     deregistration (our `deprecate`)
 *   refs/modelgate/name/v1.2.3   a parentless commit: record.json, MODEL_CARD.md, evidence/<file>
 *   refs/modelgate/name/counter.N  the claim on counter N, pushed with the counted tag
 *
 * and how a model's state is read back from them, the way GTO reads it.
 */

/** GTO's tag grammar, from iterative/gto `gto/constants.py` (`tag_re`), in JavaScript syntax. */
const GTO_NAME = '[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?'
const GTO_SEMVER = String.raw`(?<major>0|[1-9]\d*)\.(?<minor>0|[1-9]\d*)\.(?<patch>0|[1-9]\d*)(?:-(?<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+(?<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?`
export const GTO_TAG = new RegExp(
  `^(?<artifact>(?<dirname>[a-zA-Z0-9-_./]+=)?(?<name>${GTO_NAME}))(((#(?<stage>${GTO_NAME})|@(?<version>v${GTO_SEMVER}))(?<cancel>!?))|@((?<deprecated>deprecated)|(?<created>created)))(#(?<counter>[0-9]+))?$`,
)

/** An annotated tag of the model, parsed with GTO's grammar. */
export interface ModelTag {
  tag: string
  object: string
  commit: string
  at: string
  message: string
  version?: string
  stage?: string
  cancel: boolean
  counter?: number
}

export interface ModelState {
  tags: ModelTag[]
  versions: Map<string, { ref: ModelTag; record: VersionRecord }>
  deregistered: Set<string>
  /** The highest GTO counter over all the model's tags (0 when none). */
  counter: number
  /** Every tag name of the model, lightweight ones included: a name GTO ignores is still taken in git. */
  taken: Set<string>
}

/** The `for-each-ref --format` that `parseState` reads: NUL-separated fields, a record ending in NUL NUL. */
export const TAG_FORMAT = `${[
  '%(refname:strip=2)',
  '%(objecttype)',
  '%(objectname)',
  '%(*objecttype)',
  '%(*objectname)',
  '%(taggerdate:unix)',
  '%(contents)',
].join('%00')}%00%00`

/** The state of model `name` from the repository's tags, listed with TAG_FORMAT. */
export function parseState(listing: string, name: string, location: string): ModelState {
  const tags: ModelTag[] = []
  const taken = new Set<string>()
  let counter = 0
  for (const chunk of listing.split('\0\0\n')) {
    const [tag, type, object, peeledType, commit, unix, ...rest] = chunk.split('\0')
    const m = GTO_TAG.exec(tag)
    if (!m?.groups || m.groups.artifact !== name) continue
    const g = m.groups
    taken.add(tag)
    if (g.counter !== undefined) counter = Math.max(counter, Number(g.counter))
    // GTO ignores lightweight tags, and artifact-level events (`name@deprecated`) only count towards the counter.
    if (type !== 'tag' || peeledType !== 'commit' || g.deprecated || g.created) continue
    tags.push({
      tag,
      object,
      commit,
      at: new Date(Number(unix) * 1000).toISOString(),
      message: rest.join('\0'),
      version: g.version?.slice(1),
      stage: g.stage,
      cancel: g.cancel === '!',
      counter: g.counter === undefined ? undefined : Number(g.counter),
    })
  }
  const versions = new Map<string, { ref: ModelTag; record: VersionRecord }>()
  const deregistered = new Set<string>()
  for (const t of tags) {
    if (!t.version) continue
    if (t.cancel) deregistered.add(t.version)
    else if (!versions.has(t.version)) versions.set(t.version, { ref: t, record: recordFromTag(t, name, t.version, location) })
  }
  return { tags, versions, deregistered, counter, taken }
}

export function records(state: ModelState): VersionRecord[] {
  return [...state.versions.values()]
    .map(({ record }) => (state.deregistered.has(record.version) ? { ...record, deprecated: true } : record))
    .sort((a, b) => semver.compare(a.version, b.version))
}

/** GTO's default reading: stage events in counter order, the latest assignment wins, an unassignment clears. */
export function stageState(state: ModelState): StageState {
  const history: StageEvent[] = []
  const ordered = state.tags.filter((t) => t.stage !== undefined).sort(byCounter)
  for (const t of ordered) {
    const stage = t.stage!
    if (t.cancel) history.push({ stage, action: 'unassign', at: t.at, ref: t.tag })
    else {
      const version = stageVersion(t, state)
      if (version) history.push({ stage, version, action: 'assign', at: t.at, ref: t.tag })
    }
  }
  return fromHistory(history)
}

function byCounter(a: ModelTag, b: ModelTag): number {
  return (a.counter ?? 0) - (b.counter ?? 0) || a.at.localeCompare(b.at) || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0)
}

/** The version a stage tag assigns: named in our message, else (a tag made by GTO) the live version on its commit. */
function stageVersion(t: ModelTag, state: ModelState): string | undefined {
  const named = parseJson(t.message) as { version?: unknown } | undefined
  if (typeof named?.version === 'string' && state.versions.get(named.version)?.ref.commit === t.commit) return named.version
  const onCommit = [...state.versions.values()]
    .filter((v) => v.ref.commit === t.commit)
    .sort(
      (a, b) =>
        Number(state.deregistered.has(b.record.version)) - Number(state.deregistered.has(a.record.version)) ||
        semver.compare(a.record.version, b.record.version),
    )
  return onCommit.at(-1)?.record.version
}

/**
 * The record in a version tag's message. A tag made by other tools (`gto register`) still takes its
 * version number, so it is listed with what git knows about it; it cannot be fetched.
 */
function recordFromTag(t: ModelTag, name: string, version: string, location: string): VersionRecord {
  const parsed = parseJson(t.message)
  // A message that is a JSON object with a schemaVersion claims to be our record: checked, and refused naming the tag if it is not one.
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && 'schemaVersion' in parsed) {
    const { deprecated: _deprecated, ...record } = checkVersionRecord(parsed, `${location}: tag ${t.tag}`, { expected: { name, version } })
    return record
  }
  return {
    schemaVersion: VERSION_RECORD_SCHEMA,
    name,
    version,
    digest: '',
    size: 0,
    artifact: { kind: 'file', name: '', digest: '', size: 0, files: [] },
    format: 'unknown',
    metrics: {},
    evidence: [],
    datasets: [],
    git: { commit: t.commit },
    bump: { kind: 'explicit', reasons: [`registered outside modelgate: the message of ${t.tag} holds no version record`] },
    labels: {},
    createdAt: t.at,
  }
}

function parseJson(message: string): unknown {
  // A signed tag's contents end with its signature block.
  const text = message.replace(/-----BEGIN [A-Z ]*(SIGNATURE|SIGNED MESSAGE)-----[\s\S]*$/, '')
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** A record read from a tag is not trusted to name safe paths or to be consistent before it is written to disk. */
export function checkRecordFiles(record: VersionRecord, tag: string): void {
  const a = record.artifact
  const safe = (p: string) => p.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\\'))
  const consistent =
    isPlainFileName(a.name) &&
    a.files.length > 0 &&
    a.files.every((f) => safe(f.path)) &&
    record.digest === a.digest &&
    (a.kind === 'file' ? a.files.length === 1 && a.files[0].digest === a.digest : directoryDigest(a.files) === a.digest)
  if (!consistent)
    throw new UserError(`${tag}: the version record's file list does not match its digest or names unsafe paths`, { field: 'digest' })
}

export function isPlainFileName(file: string): boolean {
  // eslint-disable-next-line no-control-regex
  return file !== '' && file !== '.' && file !== '..' && !/[/\\\x00-\x1f]/.test(file)
}

export function checkStage(stage: string): void {
  if (!MODEL_NAME.test(stage) || stage.includes('//')) {
    throw new UserError(
      `stage: '${stage}' is not a valid stage name (letters, digits, -, _ and /; starting and ending with a letter or digit)`,
      {
        field: 'stage',
      },
    )
  }
}

/**
 * A counted tag with its claim on the counter. Two stage tags with the same counter but different
 * stages are different refs, so the tags alone would not collide; `counter.<N>` does. (Its last
 * component has a dot, which no model name has, so it cannot clash with the refs of a `name/sub` model.)
 */
export function counted(name: string, tag: string, counter: number, object: string): NewRef[] {
  return [
    { ref: `refs/tags/${tag}`, sha: object },
    { ref: `refs/modelgate/${name}/counter.${counter}`, sha: object },
  ]
}

export function evidenceRef(name: string, version: string): string {
  return `refs/modelgate/${name}/v${version}`
}
