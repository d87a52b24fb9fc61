import type { Task } from '../result/types.js'
import type { StageCheck, StageEvent, StageState } from './stages.js'

export type { StageCheck, StageEvent, StageState } from './stages.js'

/*
 * What a registered model version is, and the one interface every registry backend implements
 * (local folder, git tags, OCI registry, MLflow). The core decides what a version holds and which
 * number it gets; a backend only stores it, atomically, and serialises writers. (What a stage is
 * lives in stages.ts, with the rules about stages; it is re-exported here.)
 */

export const VERSION_RECORD_SCHEMA = '1.0'

/** One input or output of a model's signature. */
export interface SignatureTensor {
  name: string
  /** ONNX element type name (`float`, `int64`, `string`, …). */
  dtype: string
  /** Dimensions; a string or -1 is symbolic (any size). */
  shape: (number | string)[]
  /** An input with a default value (an ONNX initializer of the same name): callers may leave it out. */
  optional?: boolean
}

export interface Signature {
  inputs: SignatureTensor[]
  outputs: SignatureTensor[]
}

/** One file of the model artifact; `path` is POSIX, relative to the artifact root. */
export interface ArtifactFile {
  path: string
  /** `sha256:<hex>` */
  digest: string
  size: number
}

/** The model artifact as hashed: a single file, or a folder hashed file by file in canonical order. */
export interface ArtifactDigest {
  kind: 'file' | 'directory'
  /** Base name of the file or folder. */
  name: string
  /** `sha256:<hex>`: the file's own digest, or for a folder the digest of its canonical file list. */
  digest: string
  size: number
  files: ArtifactFile[]
}

/** A report attached to a version: its verdict, and the file itself stored with the version. */
export interface EvidenceSummary {
  /** Which action made it: `validate-model`, `test-robustness`, or `report` when unknown. */
  kind: string
  /** The stored file name (unique within the version). */
  file: string
  digest: string
  size: number
  status: 'pass' | 'warn' | 'fail' | 'error'
  passed: boolean
  /** Metrics of the report's primary data set. */
  metrics: Record<string, number>
  /** The model digest the report names, when it names one. */
  modelDigest?: string
  createdAt?: string
}

export interface DatasetDigest {
  name: string
  path: string
  digest?: string
  rows?: number
}

export type BumpKind = 'initial' | 'explicit' | 'major' | 'minor' | 'patch'

/** Everything needed to trust and reproduce a version. Stored whole by every backend. */
export interface VersionRecord {
  schemaVersion: string
  name: string
  /** SemVer without the `v`. */
  version: string
  /** Identity: `sha256:<hex>` of the artifact (see ArtifactDigest). */
  digest: string
  size: number
  artifact: ArtifactDigest
  /** `onnx`, or the file extension / `directory`. */
  format: string
  signature?: Signature
  task?: Task
  /** From the validate-model evidence, when given. */
  metrics: Record<string, number>
  evidence: EvidenceSummary[]
  datasets: DatasetDigest[]
  /** `path`: the artifact's POSIX path from the repository root at `commit` (git registry). */
  git?: { commit?: string; ref?: string; repository?: string; path?: string }
  run?: { id?: string; url?: string }
  /** The version this one was bumped from. */
  parent?: string
  bump: { kind: BumpKind; reasons: string[] }
  labels: Record<string, string>
  description?: string
  createdAt: string
  /** Deregistered: kept in history, never resolved as newest or assigned a stage. */
  deprecated?: boolean
}

/** The files a new version stores besides its record. */
export interface VersionPayload {
  /** Absolute path of the model file or folder. */
  artifactPath: string
  /** The reports, stored under their `EvidenceSummary.file` names. */
  evidence: { file: string; path: string }[]
  /** The generated model card (Markdown). */
  card: string
}

/**
 * What the core decides when it sees the registry's current versions: either the digest is already
 * registered (a no-op), or a new record with its files. Called by a backend inside its lock or
 * compare-and-swap loop, so it may run more than once; it must not have side effects.
 */
export type RegistrationPlan = { kind: 'existing'; record: VersionRecord } | { kind: 'new'; record: VersionRecord; payload: VersionPayload }

export interface StoredVersion {
  record: VersionRecord
  /** Where the version lives, for people and for deploy: a folder, a git tag reference, an OCI reference. */
  uri: string
  /** The version's tag: `name@v1.2.3` (git, local) or `v1.2.3` (OCI). */
  tag: string
}

export interface RegistrationOutcome extends StoredVersion {
  /** False when the digest was already registered and nothing was written. */
  created: boolean
}

export type BackendKind = 'local' | 'git' | 'oci' | 'mlflow'

/**
 * One interface for every registry. Every write is all-or-nothing and safe when several processes
 * write at once: a backend serialises `register`, `assign` and `deprecate` per model name (a lock,
 * or a compare-and-swap loop), and re-reads the state before each attempt.
 */
export interface RegistryBackend {
  readonly kind: BackendKind
  /** For messages: the folder, repository or registry reference. */
  readonly location: string
  /** Every version of `name`, deprecated ones included, in SemVer order (oldest first). */
  list(name: string): Promise<VersionRecord[]>
  /** One version with its uri and tag, or undefined. */
  get(name: string, version: string): Promise<StoredVersion | undefined>
  stages(name: string): Promise<StageState>
  /**
   * Registers a version: reads the current versions, asks `plan` what to do, and writes the result
   * atomically. If another writer took the chosen version number meanwhile, it re-reads and asks again.
   */
  register(name: string, plan: (existing: VersionRecord[]) => RegistrationPlan): Promise<RegistrationOutcome>
  /**
   * Points `stage` at `version`. `check` runs under the same lock with the current state and throws
   * (a UserError) to refuse: a promotion order or required evidence not met.
   */
  assign(name: string, version: string, stage: string, check: StageCheck): Promise<StageEvent>
  unassign(name: string, stage: string): Promise<StageEvent>
  /** Marks a version deprecated (GTO's deregistration); it stays in the history. */
  deprecate(name: string, version: string): Promise<void>
  /**
   * Materialises the artifact of `version` under `destDir` (the file, or the folder's files) and
   * returns its path. Every file's digest is checked against the record while it is written.
   */
  fetch(name: string, version: string, destDir: string): Promise<string>
  /** Reads one stored evidence file of a version. */
  readEvidence(name: string, version: string, file: string): Promise<Buffer>
}
