import { EMPTY_POLICY, checkPromotion, checkStageName, type StagePolicy } from '../registry/policy.js'
import { existsSync, rmSync, rmdirSync } from 'node:fs'
import path from 'node:path'
import { UserError, errorText } from '../errors.js'
import { checkAlias } from '../registry/backends/mlflow.js'
import { resolveVersion } from '../registry/resolve.js'
import { GOLDEN_FILE, type GoldenRequests } from '../registry/golden.js'
import type { RegistryBackend, StageEvent, VersionRecord } from '../registry/types.js'
import { DeployFailure, type DeployTarget, type DeploymentLedger, type ServedVersion, type TrafficPlan } from './types.js'
import { verifyEndpoint, type VerifyResult, type VerifySpec } from './verify.js'

/*
 * deploy-model: resolve → policy → fetch and check the artifact → apply → ready → verify → canary
 * steps → promote → move the stage. Any failure after the first change rolls the environment back
 * to the last version that worked, verifies that too, and only then reports failure. Nothing about
 * the input is left to find out after a change: bad input fails before the environment is touched.
 */

export interface DeployRequest {
  name: string
  /** Exactly one of version and stage may be given; neither: the newest version. */
  version?: string
  stage?: string
  environment: string
  /** The registry stage that follows this environment (moved only after success). */
  envStage: string
  requiresStage?: string
  requiresEvidence: string[]
  canarySteps: number[]
  verify: Omit<VerifySpec, 'golden'>
  timeoutMs: number
  dryRun: boolean
  /** Commit the deployment is recorded against (GitHub Deployments' ref). */
  ref?: string
  logUrl?: string
  /** Where fetched artifacts are kept (verified against the registry). */
  workDir: string
  /** The manifest's registry policy (declared stages, promotion order, required evidence); none: any stage. */
  policy?: StagePolicy
}

export interface DeployStep {
  name: string
  status: 'pass' | 'fail' | 'skipped'
  message: string
  durationMs: number
  verify?: VerifyResult
}

export const DEPLOY_RESULT_SCHEMA = '1.0'

export interface DeployResult {
  schemaVersion: string
  action: 'deploy-model'
  name: string
  version: string
  digest: string
  environment: string
  target: { kind: string; description: string }
  status: 'success' | 'failure' | 'dry-run'
  rolledBack: boolean
  /** The version the environment was returned to, when it was. */
  rolledBackTo?: string
  previous?: { version: string; digest: string }
  url: string
  steps: DeployStep[]
  deployment?: { id: number; url?: string; attached: boolean }
  stage?: StageEvent
  files: string[]
  notes: string[]
}

export interface DeployDeps {
  backend: RegistryBackend
  target: DeployTarget
  ledger?: DeploymentLedger
  log: (line: string) => void
}

/** The `--registry` value that names `backend` again, for a command the note tells a person to run. */
function registryFlag(backend: RegistryBackend): string {
  if (backend.kind === 'local') return `local:${backend.location}`
  if (backend.kind === 'git') return `git:${backend.location}`
  return backend.kind === 'mlflow' && !backend.location.startsWith('mlflow+') ? `mlflow+${backend.location}` : backend.location
}

/** The deploy policy: evidence the environment requires, and a stage the version must have held. */
export async function checkDeployPolicy(backend: RegistryBackend, record: VersionRecord, req: DeployRequest): Promise<void> {
  for (const kind of req.requiresEvidence) {
    const reports = record.evidence.filter((e) => e.kind === kind)
    if (reports.length === 0) {
      throw new UserError(
        `${record.name} ${record.version} cannot be deployed to ${req.environment}: it has no ${kind} report as evidence`,
        {
          field: 'requires-evidence',
        },
      )
    }
    const failing = reports.find((e) => !e.passed)
    if (failing) {
      throw new UserError(
        `${record.name} ${record.version} cannot be deployed to ${req.environment}: its ${kind} report (${failing.file}) has status ${failing.status}`,
        { field: 'requires-evidence' },
      )
    }
  }
  if (req.requiresStage) {
    const held = (await backend.stages(record.name)).history.some(
      (h) => h.action === 'assign' && h.stage === req.requiresStage && h.version === record.version,
    )
    if (!held) {
      throw new UserError(
        `${record.name} ${record.version} cannot be deployed to ${req.environment}: it has never held stage ${req.requiresStage}`,
        { field: 'requires-stage' },
      )
    }
  }
}

/** The registry's own rules for a stage's name, stricter than modelgate's: an MLflow alias cannot be `latest` or `v<number>`. */
function checkRegistryStage(backend: RegistryBackend, stage: string, field: string): void {
  if (backend.kind !== 'mlflow') return
  try {
    checkAlias(stage)
  } catch (e) {
    throw new UserError(`${field}: ${errorText(e)}`, { field })
  }
}

/**
 * Fetches versions into the deploy's work folder, remembering the folders it made: a deploy refused
 * before it applied anything removes them again, so that it changes nothing.
 */
class Fetcher {
  /** Each fetch's folder, when it made it, and the folders above it it made (deepest first). */
  private readonly made: { dir: string; parents: string[] }[] = []

  constructor(
    private readonly backend: RegistryBackend,
    private readonly workDir: string,
  ) {}

  async fetch(record: VersionRecord): Promise<ServedVersion> {
    const dir = path.join(this.workDir, 'artifacts', record.version)
    if (!existsSync(dir)) {
      const parents: string[] = []
      for (let up = path.dirname(dir); up !== path.dirname(up) && !existsSync(up); up = path.dirname(up)) parents.push(up)
      this.made.push({ dir, parents })
    }
    const stored = await this.backend.get(record.name, record.version)
    const artifactPath = await this.backend.fetch(record.name, record.version, dir)
    return { name: record.name, version: record.version, digest: record.digest, uri: stored?.uri ?? '', artifactPath }
  }

  /** Removes what the fetches made: each version's folder, then the folders above it, only while they are empty. */
  removeMade(): void {
    for (const { dir, parents } of this.made.splice(0).reverse()) {
      try {
        rmSync(dir, { recursive: true, force: true })
        // Another run may have put something in a parent meanwhile: rmdir leaves a folder that is not empty.
        for (const p of parents) rmdirSync(p)
      } catch {
        // Left behind: a folder that is not empty any more, or one that cannot be removed.
      }
    }
  }
}

async function readGolden(backend: RegistryBackend, record: VersionRecord): Promise<GoldenRequests | undefined> {
  if (!record.evidence.some((e) => e.file === GOLDEN_FILE)) return undefined
  return JSON.parse((await backend.readEvidence(record.name, record.version, GOLDEN_FILE)).toString('utf8')) as GoldenRequests
}

/** Deploys one version to one environment. Throws UserError for bad input (nothing changed); otherwise returns the outcome. */
export async function deployModel(req: DeployRequest, deps: DeployDeps): Promise<DeployResult> {
  const { backend, target, log } = deps
  // Checked before anything changes: a stage that cannot be assigned must not surface after a verified rollout.
  const stageField = `deploy.environments.${req.environment}.stage`
  const policy = req.policy ?? EMPTY_POLICY
  checkStageName(req.envStage, policy, stageField)
  checkRegistryStage(backend, req.envStage, stageField)
  const record = await resolveVersion(backend, req.name, req.version, req.stage)
  await checkDeployPolicy(backend, record, req)
  // The stage moves after a verified rollout: what `registry promote` would refuse is refused now, before any change.
  checkPromotion(policy, record, req.envStage, await backend.stages(req.name))
  // What the target can tell is wrong (a program not on PATH, a damaged state file) is refused before anything is fetched.
  await target.check?.()
  log(`${req.name} ${record.version} (${record.digest}) → ${req.environment} on ${target.description}`)
  const fetcher = new Fetcher(backend, req.workDir)
  // Until the environment is changed, a refusal or a failure takes the fetched artifacts back with it.
  let applying = false
  try {
    return await deployFetched(req, deps, record, fetcher, () => (applying = true))
  } catch (e) {
    if (!applying) fetcher.removeMade()
    throw e
  }
}

async function deployFetched(
  req: DeployRequest,
  deps: DeployDeps,
  record: VersionRecord,
  fetcher: Fetcher,
  applying: () => void,
): Promise<DeployResult> {
  const { backend, target, log } = deps
  // Fetching checks every file against the registered digest: a tampered or truncated artifact stops here.
  const candidate = await fetcher.fetch(record)
  const golden = await readGolden(backend, record)
  const spec: VerifySpec = { ...req.verify, golden }

  const result: DeployResult = {
    schemaVersion: DEPLOY_RESULT_SCHEMA,
    action: 'deploy-model',
    name: req.name,
    version: record.version,
    digest: record.digest,
    environment: req.environment,
    target: { kind: target.kind, description: target.description },
    status: 'failure',
    rolledBack: false,
    url: '',
    steps: [],
    files: [],
    notes: golden ? [] : ['this version has no golden requests: the served model is checked by its metadata and the burst only'],
  }
  const release = req.dryRun ? async () => {} : await target.lock()
  try {
    const previous = await lastKnownGood(req, deps, record, fetcher)
    if (previous) result.previous = { version: previous.version, digest: previous.digest }
    const plans = planSteps(candidate, previous, req.canarySteps)
    if (req.dryRun) {
      for (const { label, plan } of plans) {
        const out = await target.apply(plan, { dryRun: true, log })
        result.files.push(...out.files)
        result.steps.push({ name: label, status: 'skipped', message: `dry run: ${out.notes.join('; ') || 'rendered'}`, durationMs: 0 })
      }
      result.status = 'dry-run'
      return result
    }
    const deployment = await deps.ledger?.start({
      environment: req.environment,
      ref: req.ref ?? record.git?.commit ?? 'HEAD',
      description: `${req.name} ${record.version}`,
      payload: { name: req.name, version: record.version, digest: record.digest, uri: candidate.uri },
      logUrl: req.logUrl,
    })
    if (deployment) result.deployment = deployment
    applying()
    try {
      return await runDeployment(req, deps, { record, candidate, previous, plans, spec, result, deployment })
    } catch (e) {
      // Whatever stopped the deploy, the deployment record must not stay "in progress" forever.
      if (deployment) {
        await deps
          .ledger!.finish(deployment.id, {
            state: 'error',
            logUrl: req.logUrl,
            description: `${req.name} ${record.version}: ${errorText(e)}`,
          })
          .catch(() => {})
      }
      throw e
    }
  } finally {
    await release()
  }
}

async function runDeployment(
  req: DeployRequest,
  deps: DeployDeps,
  ctx: {
    record: VersionRecord
    candidate: ServedVersion
    previous?: ServedVersion
    plans: { label: string; plan: TrafficPlan }[]
    spec: VerifySpec
    result: DeployResult
    deployment?: { id: number }
  },
): Promise<DeployResult> {
  const { backend, target, log } = deps
  const { record, candidate, previous, plans, spec, result, deployment } = ctx
  let failed: string | undefined
  for (const { label, plan } of plans) {
    failed = await runStep(label, plan, req, deps, spec, result, candidate)
    if (failed) break
  }
  if (!failed) {
    result.status = 'success'
    result.url = target.endpoint()?.url ?? ''
    try {
      result.stage = await backend.assign(req.name, record.version, req.envStage, () => {})
      log(`${req.name}: stage ${req.envStage} → ${record.version}`)
    } catch (e) {
      // The environment serves the verified version: that is the outcome; the pointer is bookkeeping.
      result.notes.push(
        `${record.version} is deployed and verified, but the registry's stage ${req.envStage} could not be moved to it (${errorText(e)}); move it with modelgate registry promote ${record.version} ${req.envStage} --registry ${registryFlag(backend)} (and --token when the registry needs one)`,
      )
      log(`warning: stage ${req.envStage} not moved: ${errorText(e)}`)
    }
  } else if (previous) {
    await rollBack(previous, req, deps, result)
  } else {
    result.notes.push('there is no earlier version of this environment to roll back to: the failed version was left as applied')
  }
  if (deployment) {
    // The outcome before the reason: GitHub keeps 140 characters of a description, and a long reason must not cut off the rollback.
    const outcome = result.rolledBack
      ? `, rolled back to ${result.rolledBackTo}`
      : previous
        ? `; the rollback to ${previous.version} did not verify`
        : ''
    await deps.ledger!.finish(deployment.id, {
      state: result.status === 'success' ? 'success' : 'failure',
      environmentUrl: result.url || undefined,
      logUrl: req.logUrl,
      description:
        result.status === 'success'
          ? `${req.name} ${record.version} deployed and verified`
          : `${req.name} ${record.version} failed${outcome}: ${failed}`,
    })
  }
  return result
}

function planSteps(candidate: ServedVersion, previous: ServedVersion | undefined, steps: number[]): { label: string; plan: TrafficPlan }[] {
  // A canary needs something to split traffic with; a first deploy, or a re-deploy of the same version, goes straight to 100%.
  if (!previous || previous.version === candidate.version) return [{ label: 'deploy 100%', plan: { stable: candidate } }]
  return [
    ...steps.map((percent) => ({ label: `canary ${percent}%`, plan: { stable: previous, canary: { ...candidate, percent } } })),
    { label: steps.length ? 'promote 100%' : 'deploy 100%', plan: { stable: candidate } },
  ]
}

/** Applies one plan, waits for it, and verifies it; returns why it failed, or undefined. */
async function runStep(
  label: string,
  plan: TrafficPlan,
  req: DeployRequest,
  deps: DeployDeps,
  spec: VerifySpec,
  result: DeployResult,
  candidate: ServedVersion,
): Promise<string | undefined> {
  const { target, log } = deps
  const start = performance.now()
  const step = (status: DeployStep['status'], message: string, verify?: VerifyResult) =>
    result.steps.push({ name: label, status, message, durationMs: Math.round(performance.now() - start), ...(verify ? { verify } : {}) })
  try {
    const out = await target.apply(plan, { dryRun: false, log })
    result.files.push(...out.files)
    for (const n of out.notes) log(n)
    await target.waitReady(plan, req.timeoutMs)
    // The candidate answers alone where the target can address it; otherwise through the split.
    const own = plan.canary ? target.endpoint(candidate.version) : undefined
    const endpoint = own ?? target.endpoint()
    if (!endpoint) throw new DeployFailure(`${target.description} gives no endpoint to verify`, 'verify')
    const splitWith = plan.canary && !own ? plan.stable.version : undefined
    const verify = await verifyEndpoint(endpoint, { version: candidate.version, digest: candidate.digest }, spec, splitWith)
    if (plan.canary && verify.passed) {
      const stable = target.endpoint(plan.stable.version)
      if (stable) {
        const base = await verifyEndpoint(stable, { version: plan.stable.version, digest: plan.stable.digest }, spec)
        const worse = canaryWorse(verify, base, spec)
        if (worse) {
          step('fail', worse, verify)
          return worse
        }
      }
    }
    const failedCheck = verify.checks.find((c) => c.status === 'fail')
    if (failedCheck) {
      step('fail', `${failedCheck.id}: ${failedCheck.message}`, verify)
      return `${label}: ${failedCheck.id}: ${failedCheck.message}`
    }
    step('pass', verify.checks.map((c) => `${c.id} ${c.status}`).join(', '), verify)
    log(`${label}: verified`)
    return undefined
  } catch (e) {
    if (e instanceof UserError && !(e instanceof DeployFailure)) throw e
    const message = errorText(e)
    step('fail', message)
    return `${label}: ${message}`
  }
}

/** The candidate against the version it would replace, between canary steps: more errors, or slower beyond the budget. */
export function canaryWorse(candidate: VerifyResult, stable: VerifyResult, spec: VerifySpec): string | undefined {
  const c = candidate.burst
  const s = stable.burst
  if (!c || !s) return undefined
  if (c.errorRate > s.errorRate + spec.maxErrorRate) {
    return `the candidate failed ${c.errors} of ${c.requests} requests, the current version ${s.errors} of ${s.requests}`
  }
  if (c.p95Ms > spec.p95LatencyMs)
    return `the candidate's p95 latency ${c.p95Ms.toFixed(1)} ms exceeds ${spec.p95LatencyMs} ms (current version: ${s.p95Ms.toFixed(1)} ms)`
  return undefined
}

/**
 * The last version that worked in this environment: what the target serves as stable now, else the
 * last successful deployment in the ledger, else the registry stage that follows the environment.
 */
async function lastKnownGood(
  req: DeployRequest,
  deps: DeployDeps,
  candidate: VersionRecord,
  fetcher: Fetcher,
): Promise<ServedVersion | undefined> {
  const current = await deps.target.current()
  if (current?.stable && current.stable.version !== candidate.version) {
    const rec = await deps.backend.get(req.name, current.stable.version)
    if (rec && rec.record.digest === current.stable.digest) return fetcher.fetch(rec.record)
  }
  if (current?.stable?.version === candidate.version) return undefined
  const fromLedger = await deps.ledger?.lastSuccessful(req.environment, req.name).catch(() => undefined)
  const fromStage = (await deps.backend.stages(req.name)).current[req.envStage]
  for (const version of [fromLedger?.version, fromStage]) {
    if (!version || version === candidate.version) continue
    const rec = await deps.backend.get(req.name, version)
    if (rec && !rec.record.deprecated) return fetcher.fetch(rec.record)
  }
  return undefined
}

async function rollBack(previous: ServedVersion, req: DeployRequest, deps: DeployDeps, result: DeployResult): Promise<void> {
  const { target, log } = deps
  const start = performance.now()
  const plan: TrafficPlan = { stable: previous }
  log(`rolling back ${req.environment} to ${previous.version}`)
  try {
    await target.apply(plan, { dryRun: false, log, rollback: true })
    await target.waitReady(plan, req.timeoutMs)
    const endpoint = target.endpoint()
    const golden = await readGolden(deps.backend, (await deps.backend.get(req.name, previous.version))!.record)
    const verify = endpoint ? await verifyEndpoint(endpoint, previous, { ...req.verify, golden }) : undefined
    const ok = verify?.passed ?? false
    result.steps.push({
      name: `roll back to ${previous.version}`,
      status: ok ? 'pass' : 'fail',
      message: ok
        ? 'the previous version serves and is verified'
        : `the rollback did not verify: ${verify?.checks.find((c) => c.status === 'fail')?.message ?? 'no endpoint'}`,
      durationMs: Math.round(performance.now() - start),
      ...(verify ? { verify } : {}),
    })
    result.rolledBack = ok
    if (ok) {
      result.rolledBackTo = previous.version
      result.url = endpoint?.url ?? ''
    }
  } catch (e) {
    result.steps.push({
      name: `roll back to ${previous.version}`,
      status: 'fail',
      message: errorText(e),
      durationMs: Math.round(performance.now() - start),
    })
  }
}
