import path from 'node:path'
import semver from '../semver.js'
import { UserError } from '../../errors.js'
import { whyNotJson } from '../../files.js'
import { sha256Bytes, sha256File } from '../digest.js'
import { checkVersionRecord, safeSegment } from '../record.js'
import type { VersionPayload, VersionRecord } from '../types.js'
import type { MlflowClient } from './client.js'
import {
  TAG,
  TAG_VALUE_MAX,
  artifactPath,
  modelUri,
  tagMap,
  versionPrefix,
  type Entry,
  type ModelVersionJson,
  type TagJson,
} from './layout.js'

/*
 * A modelgate version's files and tags in MLflow, written and read back. Trust is anchored in the
 * tracking database: the tags hold the digests of record.json and of each evidence file, and
 * record.json holds the digests of the model's files, so a file changed in the artifact store is
 * refused when it is read. The model's files go up first; the documents whose digests the tags hold
 * go up last, just before the version (and its tags) is created.
 */

const SEARCH_PAGE = 1000

export class VersionStore {
  /** Records by model version and record digest: a model version's files never change. */
  private readonly records = new Map<string, VersionRecord>()

  constructor(private readonly client: MlflowClient) {}

  /** Every model version of `name` that carries a modelgate version, failed registrations left out. */
  async entries(name: string): Promise<Entry[]> {
    const out = new Map<string, Entry>()
    const versions = await this.searchVersions(name)
    versions.sort((a, b) => Number(a.version) - Number(b.version))
    for (const mv of versions) {
      const tags = tagMap(mv.tags)
      const version = tags[TAG.version]
      const digest = tags[TAG.digest]
      if (!version || !digest || !semver.valid(version) || mv.status === 'FAILED_REGISTRATION' || out.has(version)) continue
      out.set(version, { mlflowVersion: mv.version, version, digest, tags, prefix: sourcePrefix(name, mv) })
    }
    return [...out.values()]
  }

  private async searchVersions(name: string): Promise<ModelVersionJson[]> {
    const all: ModelVersionJson[] = []
    let token: string | undefined
    do {
      const query: Record<string, string> = { filter: `name='${name}'`, max_results: String(SEARCH_PAGE) }
      if (token) query.page_token = token
      const page = await this.client.call<{ model_versions?: ModelVersionJson[]; next_page_token?: string }>({
        method: 'GET',
        path: '/model-versions/search',
        query,
        need: 'READ',
        model: name,
      })
      all.push(...(page.model_versions ?? []).filter((mv) => mv.name === name))
      token = page.next_page_token || undefined
    } while (token)
    return all
  }

  async readRecord(name: string, entry: Entry): Promise<VersionRecord> {
    const uri = modelUri(name, entry.mlflowVersion)
    const key = `${name}\n${entry.mlflowVersion}\n${entry.tags[TAG.record] ?? ''}`
    let record = this.records.get(key)
    if (!record) {
      const bytes = await this.client.getBytes(`${entry.prefix}/record.json`)
      const expected = entry.tags[TAG.record]
      if (expected && sha256Bytes(bytes) !== expected) {
        throw new UserError(
          `${uri}: record.json has digest ${sha256Bytes(bytes)}, the version's tag says ${expected}: the stored record was changed`,
          {
            field: 'record',
          },
        )
      }
      const text = bytes.toString('utf8')
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (e) {
        throw new UserError(`${uri}: unreadable version record (${whyNotJson(text, e)})`, { field: 'record' })
      }
      record = checkVersionRecord(value, `${uri}: record.json`)
      if (record.name !== name || record.version !== entry.version || record.digest !== entry.digest) {
        throw new UserError(
          `${uri}: record.json (${record.name} ${record.version}) does not match the version's tags (${name} ${entry.version})`,
          {
            field: 'record',
          },
        )
      }
      this.records.set(key, record)
    }
    const out = structuredClone(record)
    if (entry.tags[TAG.deprecated] === 'true') out.deprecated = true
    else delete out.deprecated
    return out
  }

  /** The model's files, streamed from disk. */
  async uploadArtifact(name: string, record: VersionRecord, payload: VersionPayload): Promise<void> {
    const prefix = versionPrefix(name, record.digest)
    const { artifact } = record
    for (const f of artifact.files) {
      const file = artifact.kind === 'file' ? payload.artifactPath : path.join(payload.artifactPath, ...f.path.split('/'))
      await this.client.putFile(`${prefix}/${artifactPath(artifact.kind, artifact.name, f.path)}`, file)
    }
  }

  /** Evidence, card and record; returns the version's tags, which hold their digests. */
  async uploadDocuments(name: string, record: VersionRecord, payload: VersionPayload): Promise<TagJson[]> {
    const prefix = versionPrefix(name, record.digest)
    const evidence: Record<string, string> = {}
    for (const e of payload.evidence) {
      evidence[e.file] = (await sha256File(e.path)).digest
      await this.client.putFile(`${prefix}/evidence/${safeSegment(e.file)}`, e.path)
    }
    const recordBytes = Buffer.from(`${JSON.stringify(record, null, 2)}\n`)
    await this.client.putBytes(`${prefix}/MODEL_CARD.md`, Buffer.from(payload.card))
    await this.client.putBytes(`${prefix}/record.json`, recordBytes)
    const tags: TagJson[] = [
      { key: TAG.version, value: record.version },
      { key: TAG.digest, value: record.digest },
      { key: TAG.record, value: sha256Bytes(recordBytes) },
    ]
    if (payload.evidence.length > 0) {
      const value = JSON.stringify(evidence)
      if (value.length > TAG_VALUE_MAX) {
        throw new UserError(
          `${this.client.location}: too many evidence files for one MLflow tag (${value.length} > ${TAG_VALUE_MAX} characters)`,
          {
            field: 'evidence',
          },
        )
      }
      tags.push({ key: TAG.evidence, value })
    }
    if (record.git?.commit) tags.push({ key: TAG.commit, value: record.git.commit })
    return tags
  }
}

/** `mlflow-artifacts:/modelgate/…` (or `mlflow-artifacts://host/modelgate/…`) → `modelgate/…`. */
function sourcePrefix(name: string, mv: ModelVersionJson): string {
  const source = mv.source ?? ''
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/+(.+?)\/*$/.exec(source)
  if (!m || m[1].split('/').some((s) => s === '..' || s === '.')) {
    throw new UserError(
      `${modelUri(name, mv.version)}: source '${source}' is not an mlflow-artifacts: URI; modelgate versions live behind the artifact proxy`,
      { field: 'source' },
    )
  }
  return m[1]
}
