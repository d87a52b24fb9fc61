import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { UserError } from '../errors.js'
import type { Task } from '../result/types.js'
import { chooseVersion, type Step } from './bump.js'
import { renderModelCard } from './card.js'
import { digestArtifact, sha256Bytes } from './digest.js'
import { GOLDEN_FILE, GOLDEN_KIND, type GoldenRequests } from './golden.js'
import { evidenceDatasets, loadEvidence, type LoadedEvidence } from './evidence.js'
import { checkModelName } from './names.js'
import { checkPromotion, checkStageName, type StagePolicy } from './policy.js'
import { onnxSignature } from './signature.js'
import {
  VERSION_RECORD_SCHEMA,
  type ArtifactDigest,
  type RegistryBackend,
  type Signature,
  type StageEvent,
  type VersionRecord,
} from './types.js'

/** Everything one registration needs, resolved once from the inputs/flags and the manifest. */
export interface RegisterRequest {
  name: string
  /** Absolute path of the model file or folder. */
  modelPath: string
  version?: string
  bump: 'auto' | Step
  stage?: string
  evidence: string[]
  labels: Record<string, string>
  description?: string
  task?: Task
  policy: StagePolicy
  /** Rows with the model's answers, stored with the version for deploy-model to check the server against. */
  golden?: (digest: string) => Promise<{ golden?: GoldenRequests; note?: string }>
  context: { commit?: string; ref?: string; repository?: string; runId?: string; runUrl?: string }
}

export const REGISTER_RESULT_SCHEMA = '1.0'

/** The result JSON of register-version; its top level carries the action's outputs. */
export interface RegisterResult {
  schemaVersion: string
  action: 'register-version'
  name: string
  version: string
  digest: string
  uri: string
  tag: string
  created: boolean
  registry: { kind: string; location: string }
  stage?: StageEvent
  warnings: string[]
  record: VersionRecord
}

/**
 * Registers a model: hashes it, reads its signature and evidence, checks a requested stage against
 * the policy before anything is written, then lets the backend allocate the version (under its lock)
 * and assigns the stage. Bad input fails before the registry is touched.
 */
export async function registerModel(
  req: RegisterRequest,
  backend: RegistryBackend,
  log: (line: string) => void = () => {},
): Promise<RegisterResult> {
  checkModelName(req.name)
  if (req.stage) checkStageName(req.stage, req.policy)
  const artifact = await digestArtifact(req.modelPath)
  const format = artifact.kind === 'directory' ? 'directory' : path.extname(artifact.name).slice(1).toLowerCase() || 'file'
  const signature: Signature | undefined = format === 'onnx' ? onnxSignature(req.modelPath) : undefined
  const evidence = loadEvidence(req.evidence, artifact.digest)
  const warnings: string[] = []
  const made = req.golden ? await req.golden(artifact.digest) : {}
  if (made.note) warnings.push(made.note)
  const scratch = made.golden ? mkdtempSync(path.join(tmpdir(), 'modelgate-golden-')) : undefined
  if (made.golden && scratch) {
    const text = `${JSON.stringify(made.golden)}\n`
    const file = path.join(scratch, GOLDEN_FILE)
    writeFileSync(file, text)
    evidence.push({
      summary: {
        kind: GOLDEN_KIND,
        file: GOLDEN_FILE,
        digest: sha256Bytes(text),
        size: Buffer.byteLength(text),
        status: 'pass',
        passed: true,
        metrics: {},
      },
      path: file,
      report: {},
    })
    log(`golden requests: ${made.golden.rows.length} rows of ${made.golden.source.data} with the model's answers`)
  }
  try {
    return await registerWith(req, backend, log, { artifact, format, signature, evidence, warnings })
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true })
  }
}

async function registerWith(
  req: RegisterRequest,
  backend: RegistryBackend,
  log: (line: string) => void,
  prepared: { artifact: ArtifactDigest; format: string; signature?: Signature; evidence: LoadedEvidence[]; warnings: string[] },
): Promise<RegisterResult> {
  const { artifact, format, signature, evidence, warnings } = prepared
  const validateReport = evidence.find((e) => e.summary.kind === 'validate-model')?.report
  const task = req.task ?? (validateReport?.task as Task | undefined) ?? (evidence[0]?.report.task as Task | undefined)
  log(`model ${artifact.name}: ${artifact.digest} (${artifact.size} bytes, ${format})`)
  const draft = (existing: VersionRecord[]) => {
    const choice = chooseVersion(existing, { signature, format }, { version: req.version, bump: req.bump })
    const record: VersionRecord = {
      schemaVersion: VERSION_RECORD_SCHEMA,
      name: req.name,
      version: choice.version,
      digest: artifact.digest,
      size: artifact.size,
      artifact,
      format,
      ...(signature ? { signature } : {}),
      ...(task ? { task } : {}),
      metrics: validateReport?.metrics ?? {},
      evidence: evidence.map((e) => e.summary),
      datasets: evidenceDatasets(evidence),
      ...(req.context.commit || req.context.repository
        ? { git: { commit: req.context.commit, ref: req.context.ref, repository: req.context.repository } }
        : {}),
      ...(req.context.runUrl || req.context.runId ? { run: { id: req.context.runId, url: req.context.runUrl } } : {}),
      ...(choice.parent ? { parent: choice.parent } : {}),
      bump: { kind: choice.kind, reasons: choice.reasons },
      labels: req.labels,
      ...(req.description ? { description: req.description } : {}),
      createdAt: new Date().toISOString(),
    }
    return { record, warnings: choice.warnings }
  }

  // A stage the policy refuses must leave the registry unchanged: check it on the would-be record first.
  if (req.stage) {
    const existing = await backend.list(req.name)
    const known = existing.find((r) => r.digest === artifact.digest)
    const state = await backend.stages(req.name)
    checkPromotion(req.policy, known ?? draft(existing).record, req.stage, state)
  }

  // The plan may run more than once (a lost race re-reads the registry): keep the last attempt's warnings.
  let choiceWarnings: string[] = []
  const outcome = await backend.register(req.name, (existing) => {
    const known = existing.find((r) => r.digest === artifact.digest)
    if (known) return { kind: 'existing', record: known }
    const { record, warnings: w } = draft(existing)
    choiceWarnings = w
    return {
      kind: 'new',
      record,
      payload: {
        artifactPath: req.modelPath,
        evidence: evidence.map((e) => ({ file: e.summary.file, path: e.path })),
        card: renderModelCard(record),
      },
    }
  })
  warnings.push(...choiceWarnings)
  if (!outcome.created) {
    log(`${req.name}: digest already registered as ${outcome.record.version}; nothing written`)
    if (req.version && req.version !== outcome.record.version) {
      warnings.push(`version ${req.version} was asked for, but this model is already registered as ${outcome.record.version}`)
    }
  } else log(`${req.name} ${outcome.record.version} registered (${outcome.record.bump.kind}: ${outcome.record.bump.reasons.join('; ')})`)

  let stage: StageEvent | undefined
  if (req.stage) {
    const target = req.stage
    const current = (await backend.stages(req.name)).current[target]
    if (current === outcome.record.version) log(`${req.name}: ${target} already points at ${current}`)
    else {
      stage = await backend.assign(req.name, outcome.record.version, target, (state, record) =>
        checkPromotion(req.policy, record, target, state),
      )
      log(`${req.name}: ${target} → ${outcome.record.version}`)
    }
  }
  return {
    schemaVersion: REGISTER_RESULT_SCHEMA,
    action: 'register-version',
    name: req.name,
    version: outcome.record.version,
    digest: outcome.record.digest,
    uri: outcome.uri,
    tag: outcome.tag,
    created: outcome.created,
    registry: { kind: backend.kind, location: backend.location },
    ...(stage ? { stage } : {}),
    warnings,
    record: outcome.record,
  }
}

/** Assigns a stage to a registered version under the policy (`modelgate registry promote`). */
export async function promoteVersion(
  backend: RegistryBackend,
  name: string,
  version: string,
  stage: string,
  policy: StagePolicy,
): Promise<StageEvent> {
  checkModelName(name)
  checkStageName(stage, policy)
  const found = await backend.get(name, version)
  if (!found) throw new UserError(`${backend.location}: ${name} has no version ${version}`, { field: 'version' })
  return backend.assign(name, version, stage, (state, record) => checkPromotion(policy, record, stage, state))
}
