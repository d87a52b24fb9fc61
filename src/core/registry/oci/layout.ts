import type { StageEvent } from '../stages.js'
import type { VersionRecord } from '../types.js'
import { EMPTY_DESCRIPTOR, manifestBytes, type Descriptor } from './spec.js'

/*
 * What modelgate stores in an OCI repository (one repository per model):
 *
 *   v1.2.3            a CNCF ModelPack manifest: one raw weight layer per artifact file, the model
 *                     card and the version record as doc layers, a ModelPack config
 *   sha256-<hex>      the referrers fallback index of a version: its evidence manifests
 *   <stage>           the version manifest a stage points at (or an "unassigned" placeholder)
 *   modelgate-events  stage history and deprecations (a JSON layer)
 *   modelgate-lock    the write lock (see lock.ts)
 */

export const MODELPACK = {
  artifactType: 'application/vnd.cncf.model.manifest.v1+json',
  config: 'application/vnd.cncf.model.config.v1+json',
  weight: 'application/vnd.cncf.model.weight.v1.raw',
  doc: 'application/vnd.cncf.model.doc.v1.raw',
} as const

export const MODELGATE = {
  evidence: 'application/vnd.modelgate.evidence.v1+json',
  events: 'application/vnd.modelgate.events.v1+json',
  stage: 'application/vnd.modelgate.stage.v1+json',
} as const

export const ANNOTATION = {
  filepath: 'org.cncf.model.filepath',
  title: 'org.opencontainers.image.title',
  version: 'org.opencontainers.image.version',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
  created: 'org.opencontainers.image.created',
  description: 'org.opencontainers.image.description',
  modelDigest: 'io.modelgate.model.digest',
  /** Which part of a version a layer is: `artifact`, `card` or `record`. */
  role: 'io.modelgate.role',
  evidenceKind: 'io.modelgate.evidence.kind',
  evidenceStatus: 'io.modelgate.evidence.status',
  stage: 'io.modelgate.stage',
} as const

export const EVENTS_TAG = 'modelgate-events'
export const CARD_FILE = 'MODEL_CARD.md'
export const RECORD_FILE = 'modelgate-version.json'

/** `v1.2.3`, `v1.2.3-rc.1`: the tags that are versions. */
export const VERSION_TAG = /^v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/

export interface EventLog {
  schemaVersion: '1.0'
  name: string
  stages: StageEvent[]
  deprecated: { version: string; at: string }[]
}

export function emptyLog(name: string): EventLog {
  return { schemaVersion: '1.0', name, stages: [], deprecated: [] }
}

export type Role = 'artifact' | 'card' | 'record'

export function artifactLayer(file: { path: string; digest: string; size: number }): Descriptor {
  return layer(MODELPACK.weight, file.digest, file.size, file.path, 'artifact')
}

/** A doc layer; its path moves under `.modelgate/` if the model folder has a file of that name. */
export function docLayer(bytes: { digest: string; size: number }, file: string, role: Role, taken: string[]): Descriptor {
  return layer(MODELPACK.doc, bytes.digest, bytes.size, taken.includes(file) ? `.modelgate/${file}` : file, role)
}

function layer(mediaType: string, digest: string, size: number, filepath: string, role: Role): Descriptor {
  return {
    mediaType,
    digest,
    size,
    annotations: { [ANNOTATION.filepath]: filepath, [ANNOTATION.title]: filepath, [ANNOTATION.role]: role },
  }
}

/**
 * The ModelPack config (modelpack/model-spec `docs/config.md`): what a model server reads to pick a
 * runtime. DiffIDs of raw layers are their digests.
 */
export function modelConfig(record: VersionRecord, layers: Descriptor[]): Buffer {
  const descriptor: Record<string, unknown> = { name: record.name, version: record.version, createdAt: record.createdAt }
  if (record.description) descriptor.description = record.description
  if (record.git?.commit) descriptor.revision = record.git.commit
  const source = sourceUrl(record)
  if (source) descriptor.sourceURL = source
  const config: Record<string, unknown> = {}
  if (record.format && record.format !== 'directory') config.format = record.format
  return Buffer.from(JSON.stringify({ descriptor, config, modelfs: { type: 'layers', diffIds: layers.map((l) => l.digest) } }))
}

export function versionManifest(record: VersionRecord, config: Descriptor, layers: Descriptor[]): Buffer {
  const annotations: Record<string, string> = {
    [ANNOTATION.title]: record.name,
    [ANNOTATION.version]: record.version,
    [ANNOTATION.created]: record.createdAt,
    [ANNOTATION.modelDigest]: record.digest,
  }
  if (record.git?.commit) annotations[ANNOTATION.revision] = record.git.commit
  const source = sourceUrl(record)
  // GHCR links a package to its repository through this annotation.
  if (source) annotations[ANNOTATION.source] = source
  if (record.description) annotations[ANNOTATION.description] = record.description
  return manifestBytes({ artifactType: MODELPACK.artifactType, config, layers, annotations })
}

export function evidenceManifest(subject: Descriptor, file: Descriptor, annotations: Record<string, string>): Buffer {
  return manifestBytes({ artifactType: MODELGATE.evidence, layers: [file], subject, annotations })
}

export function eventsManifest(log: Descriptor): Buffer {
  return manifestBytes({ artifactType: MODELGATE.events, layers: [log], annotations: { [ANNOTATION.created]: new Date().toISOString() } })
}

/** What a stage tag points at once unassigned: registries without tag deletion (distribution 2.8, GHCR) keep the tag. */
export function unassignedManifest(stage: string): Buffer {
  const annotations = { [ANNOTATION.stage]: stage, [ANNOTATION.description]: `no version is assigned to stage ${stage}` }
  return manifestBytes({ artifactType: MODELGATE.stage, layers: [EMPTY_DESCRIPTOR], annotations })
}

/** The evidence layer's type from its file name: reports are JSON, anything else is opaque bytes. */
export function evidenceMediaType(file: string): string {
  if (/\.json$/i.test(file)) return 'application/json'
  if (/\.(md|markdown)$/i.test(file)) return 'text/markdown'
  if (/\.html?$/i.test(file)) return 'text/html'
  return 'application/octet-stream'
}

/**
 * The source repository as a URL: as given when it is one, else `owner/repo` on the server of the
 * run URL (GitHub Enterprise too), else on github.com.
 */
export function sourceUrl(record: VersionRecord): string | undefined {
  const repo = record.git?.repository
  if (!repo) return undefined
  if (/^https?:\/\//.test(repo)) return repo
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) return undefined
  const runUrl = record.run?.url
  const at = runUrl ? runUrl.indexOf(`/${repo}/`) : -1
  const server = runUrl && at > 0 && /^https?:\/\//.test(runUrl) ? runUrl.slice(0, at) : 'https://github.com'
  return `${server}/${repo}`
}
