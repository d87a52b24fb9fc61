import { UserError } from '../../errors.js'
import { safeSegment } from '../record.js'
import type { StageEvent } from '../stages.js'

/*
 * What modelgate stores in an MLflow Model Registry (REST API 2.x: https://mlflow.org/docs/latest/rest-api.html):
 *
 *   a modelgate version   = a model version of the registered model `<name>`; MLflow numbers it (1, 2, 3…),
 *                           the SemVer is its tag `modelgate.version`, the artifact digest `modelgate.digest`
 *   its files             = artifacts behind the tracking server's artifact proxy (`mlflow server
 *                           --serve-artifacts`, the default since 2.0), under `modelgate/<name>/<digest hex>/`:
 *                           artifact/<model file or folder>, record.json, MODEL_CARD.md, evidence/<file>;
 *                           the version's `source` is `mlflow-artifacts:/modelgate/<name>/<hex>`
 *   stages                = aliases (`models:/<name>@<stage>`), with their history in registered-model
 *                           tags `modelgate.stage.<n>` (one tag per event: a tag write is atomic, a file rewrite is not)
 *   deprecation           = the model-version tag `modelgate.deprecated=true`
 *   the lock              = a registered model `<name>.modelgate-lock` (see lock.ts)
 */

export const TAG = {
  version: 'modelgate.version',
  digest: 'modelgate.digest',
  record: 'modelgate.record',
  evidence: 'modelgate.evidence',
  deprecated: 'modelgate.deprecated',
  commit: 'modelgate.git.commit',
  stagePrefix: 'modelgate.stage.',
  lockOwner: 'modelgate.lock.owner',
  lockExpires: 'modelgate.lock.expires',
} as const
/** MLflow's limit on a model-registry tag value (MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH). */
export const TAG_VALUE_MAX = 5000
export const LOCK_SUFFIX = '.modelgate-lock'

export interface TagJson {
  key: string
  value: string
}

/** `ModelVersion` as the REST API answers it (empty fields are left out). */
export interface ModelVersionJson {
  name: string
  version: string
  source?: string
  status?: string
  status_message?: string
  tags?: TagJson[]
}

/** `RegisteredModel` as the REST API answers it. */
export interface RegisteredModelJson {
  name: string
  creation_timestamp?: number
  tags?: TagJson[]
}

/** A model version that carries a modelgate version. */
export interface Entry {
  mlflowVersion: string
  version: string
  digest: string
  tags: Record<string, string>
  /** Artifact path of its folder behind the proxy: `modelgate/<name>/<hex>`. */
  prefix: string
}

/** `models:/<name>/<MLflow version>`: what `mlflow.pyfunc.load_model` and MLflow's deploy tools take. */
export function modelUri(name: string, mlflowVersion: string): string {
  return `models:/${name}/${mlflowVersion}`
}

/** The artifact folder of a version: content-addressed, so an upload that is repeated lands in the same place. */
export function versionPrefix(name: string, digest: string): string {
  return `modelgate/${name}/${digest.replace(/^sha256:/, '')}`
}

/** Where a model file lies under its version's folder. */
export function artifactPath(kind: 'file' | 'directory', name: string, file: string): string {
  const root = `artifact/${safeSegment(name)}`
  return kind === 'file' ? root : `${root}/${file.split('/').map(safeSegment).join('/')}`
}

/** MLflow's alias grammar (mlflow/utils/validation.py `_validate_model_alias_name`), ASCII only. */
export function checkAlias(stage: string): string {
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(stage) || stage.toLowerCase() === 'latest' || /^[vV]\d+$/.test(stage)) {
    throw new UserError(`stage '${stage}' cannot be an MLflow alias (letters, digits, _ and -; not 'latest' and not v<number>)`, {
      field: 'stage',
    })
  }
  return stage
}

export function tagMap(tags: TagJson[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.key, t.value]))
}

export function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** The stage history in a registered model's tags, in the order of their numbers. */
export function stageEvents(name: string, tags: TagJson[] | undefined): StageEvent[] {
  return (tags ?? [])
    .filter((t) => t.key.startsWith(TAG.stagePrefix) && /^\d+$/.test(t.key.slice(TAG.stagePrefix.length)))
    .map((t) => ({ n: Number(t.key.slice(TAG.stagePrefix.length)), event: parseEvent(t.value, `${name} tag ${t.key}`) }))
    .sort((a, b) => a.n - b.n)
    .map((e) => e.event)
}

/** The tag that records stage event number `n` (1-based), zero-padded so that tags sort by number. */
export function stageTag(n: number): string {
  return `${TAG.stagePrefix}${String(n).padStart(6, '0')}`
}

function parseEvent(text: string, where: string): StageEvent {
  const v = parseJsonObject(text)
  if (typeof v.stage !== 'string' || (v.action !== 'assign' && v.action !== 'unassign') || typeof v.at !== 'string') {
    throw new UserError(`${where}: not a stage event: ${text.slice(0, 200)}`, { field: 'stage' })
  }
  return v as unknown as StageEvent
}
