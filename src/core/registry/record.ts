import semver from './semver.js'
import { z } from 'zod'
import { UserError } from '../errors.js'
import { formatPath } from '../manifest/load.js'
import { VERSION_RECORD_SCHEMA, type StageEvent, type VersionRecord } from './types.js'

/*
 * What a registry read must hold before it is used. A version record or a stage history is a file
 * (or a tag message, a blob) anyone with write access can edit: one that is JSON but not the right
 * shape (`{}`, `[]`, a field of the wrong type) is refused naming the file and its first bad field,
 * rather than crashing later in whatever reads `record.digest.slice`. One check for every backend.
 *
 * Loose objects: a key this version does not know (written by a newer one) is kept, not refused.
 */

const text = z.string()
const count = z.number().int().min(0)
const metrics = z.record(z.string(), z.number().nullable())

const tensor = z.looseObject({
  name: text,
  dtype: text,
  shape: z.array(z.union([z.number(), z.string()])),
  optional: z.boolean().optional(),
})

export const versionRecordSchema = z.looseObject({
  schemaVersion: text.refine((v) => v.split('.')[0] === VERSION_RECORD_SCHEMA.split('.')[0], {
    message: `expected ${VERSION_RECORD_SCHEMA.split('.')[0]}.x (this version reads version records ${VERSION_RECORD_SCHEMA})`,
  }),
  name: text.min(1),
  version: text.refine((v) => semver.valid(v) === v, { message: 'expected a SemVer version (e.g. 1.4.0)' }),
  digest: text,
  size: count,
  artifact: z.looseObject({
    kind: z.enum(['file', 'directory']),
    name: text,
    digest: text,
    size: count,
    files: z.array(z.looseObject({ path: text, digest: text, size: count })),
  }),
  format: text,
  signature: z.looseObject({ inputs: z.array(tensor), outputs: z.array(tensor) }).optional(),
  task: z.enum(['binary', 'multiclass', 'regression']).optional(),
  metrics,
  evidence: z.array(
    z.looseObject({
      kind: text,
      file: text,
      digest: text,
      size: count,
      status: z.enum(['pass', 'warn', 'fail', 'error']),
      passed: z.boolean(),
      metrics,
      modelDigest: text.optional(),
      createdAt: text.optional(),
    }),
  ),
  datasets: z.array(z.looseObject({ name: text, path: text, digest: text.optional(), rows: z.number().optional() })),
  git: z.looseObject({ commit: text.optional(), ref: text.optional(), repository: text.optional(), path: text.optional() }).optional(),
  run: z.looseObject({ id: text.optional(), url: text.optional() }).optional(),
  parent: text.optional(),
  bump: z.looseObject({ kind: z.enum(['initial', 'explicit', 'major', 'minor', 'patch']), reasons: z.array(text) }),
  labels: z.record(z.string(), z.string()),
  description: text.optional(),
  createdAt: text,
  deprecated: z.boolean().optional(),
})

export const stageEventSchema = z.looseObject({
  stage: text.min(1),
  version: text.optional(),
  action: z.enum(['assign', 'unassign']),
  at: text,
  ref: text.optional(),
})

/** The local registry's `stages.json`. */
export const stageHistorySchema = z.looseObject({ events: z.array(stageEventSchema) })

/** An OCI registry's event log (the stage assignments and deprecations of a model). */
export const eventLogSchema = z.looseObject({
  stages: z.array(stageEventSchema).optional(),
  deprecated: z.array(z.looseObject({ version: text, at: text })).optional(),
})

/**
 * `value` as a version record, or a UserError `<where>: invalid version record: <field>: <problem>`.
 * With `expected`, the record must also be the one of that name and version (the folder or tag it
 * was read from): a record copied to another version's place is refused, not served as that version.
 */
export function checkVersionRecord(
  value: unknown,
  where: string,
  opts: { file?: string; expected?: { name: string; version: string } } = {},
): VersionRecord {
  const record = checkShape(versionRecordSchema, value, where, 'version record', opts.file) as unknown as VersionRecord
  const expected = opts.expected
  if (expected) {
    for (const key of ['name', 'version'] as const) {
      if (record[key] !== expected[key])
        throw new UserError(
          `${where}: invalid version record: ${key}: '${record[key]}', but it is stored as ${expected.name} ${expected.version}`,
          { file: opts.file, field: key },
        )
    }
  }
  return record
}

/** The events of a local `stages.json`, or a UserError naming the first bad field. */
export function checkStageHistory(value: unknown, where: string, file?: string): StageEvent[] {
  return (checkShape(stageHistorySchema, value, where, 'stage history', file) as { events: StageEvent[] }).events
}

/** `value` if it has the schema's shape; else a UserError naming the first bad field, as a path (`artifact.files[0].digest`). */
export function checkShape<T>(schema: z.ZodType<T>, value: unknown, where: string, what: string, file?: string): T {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const field = formatPath(issue.path)
  const found = valueAt(value, issue.path)
  const problem =
    issue.code === 'invalid_type' && found === undefined
      ? 'missing'
      : issue.message.replace(/^Invalid input: /, '').replace(/^Invalid option: /, '')
  throw new UserError(`${where}: invalid ${what}: ${field || '(top level)'}: ${oneLine(problem)}`, {
    file,
    field: field || undefined,
  })
}

function valueAt(value: unknown, at: readonly PropertyKey[]): unknown {
  let v = value
  for (const k of at) {
    if (typeof v !== 'object' || v === null) return undefined
    v = (v as Record<PropertyKey, unknown>)[k]
  }
  return v
}

function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 300)
}

/** A name from a stored record, as one segment of a path to write: never a separator, `.` or `..`. */
export function safeSegment(segment: string): string {
  if (!segment || segment === '.' || segment === '..' || /[\\/]/.test(segment)) {
    throw new UserError(`the stored version names an unsafe path segment '${segment}': refused`, { field: 'artifact' })
  }
  return segment
}
