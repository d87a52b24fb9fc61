import { UserError } from '../../errors.js'
import { notValidJson } from '../../files.js'

/*
 * What the OCI specs define, as data: media types, descriptors, image manifests and indexes
 * (opencontainers/image-spec), the referrers tag schema and the error body of a registry's answer
 * (opencontainers/distribution-spec). Kept apart from the client so that the layout, the lock and
 * the uploads can build and read these shapes without the client's HTTP machinery.
 */

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  empty: 'application/vnd.oci.empty.v1+json',
} as const

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  artifactType?: string
  annotations?: Record<string, string>
  data?: string
}

export interface ImageManifest {
  schemaVersion: 2
  mediaType: string
  artifactType?: string
  config: Descriptor
  layers: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

export interface ImageIndex {
  schemaVersion: 2
  mediaType: string
  manifests: Descriptor[]
  annotations?: Record<string, string>
}

/** The empty JSON blob `{}` and its descriptor (image-spec "empty descriptor"). */
export const EMPTY_JSON = Buffer.from('{}')
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: MEDIA.empty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30=',
}

/**
 * The bytes of a manifest. Unless given a config, it is an artifact manifest: `artifactType` says
 * what it is and the config is the empty descriptor, as the image-spec's artifact guidance has it.
 */
export function manifestBytes(m: {
  artifactType: string
  layers: Descriptor[]
  annotations: Record<string, string>
  subject?: Descriptor
  config?: Descriptor
}): Buffer {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    artifactType: m.artifactType,
    config: m.config ?? EMPTY_DESCRIPTOR,
    layers: m.layers,
    ...(m.subject ? { subject: m.subject } : {}),
    annotations: m.annotations,
  }
  return Buffer.from(JSON.stringify(manifest))
}

/** The referrers tag schema: `sha256:<hex>` → `sha256-<hex>` (truncated to the tag limit). */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-').slice(0, 128)
}

/** A registry's refusal, with its HTTP status and the spec's error codes (`MANIFEST_UNKNOWN`, …). */
export class RegistryError extends UserError {
  constructor(
    message: string,
    readonly status: number,
    readonly codes: string[],
  ) {
    super(message, { field: 'registry' })
    this.name = 'RegistryError'
  }
}

/** `{errors:[{code,message,detail}]}` → `MANIFEST_INVALID: manifest invalid; …`, or the raw text's start. */
export function describeErrors(text: string): { text: string; codes: string[] } {
  try {
    const json = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] }
    if (Array.isArray(json.errors) && json.errors.length > 0) {
      const parts = json.errors.map((e) => {
        const detail =
          e.detail === undefined || e.detail === null ? '' : ` (${typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail)})`
        return `${e.code ?? 'ERROR'}: ${e.message ?? ''}${detail}`.trim()
      })
      return { text: parts.join('; ').slice(0, 500), codes: json.errors.map((e) => e.code ?? 'ERROR') }
    }
  } catch {
    // Not the spec's error body.
  }
  return { text: text.trim().slice(0, 200), codes: [] }
}

export function parseJson(bytes: Buffer, what: string): unknown {
  const text = bytes.toString('utf8')
  try {
    return JSON.parse(text)
  } catch (e) {
    // Where, not what: JSON.parse's message quotes the bytes.
    throw new UserError(`${what}: ${notValidJson(text, e)}`)
  }
}
