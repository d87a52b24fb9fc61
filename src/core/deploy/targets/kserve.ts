/*
 * deploy-model's KServe target: renders one InferenceService (serving.kserve.io/v1beta1) per traffic
 * plan, applies it with kubectl and reads readiness and the traffic split back from its status.
 *
 * Canary (Serverless/Knative mode): KServe splits traffic between the revision being rolled out and
 * the last revision that had 100% (LatestRolledoutRevision). A canary plan renders the candidate's
 * storageUri with `canaryTrafficPercent`; promotion renders the candidate without the field.
 *
 * Rollback. KServe's own rollback is `canaryTrafficPercent: 0` on the candidate's spec: all traffic
 * goes back to the last rolled-out revision at once, but the object keeps naming the candidate, so a
 * later edit that drops the field (a promotion, `current()`, a person) would bring it back. This
 * target renders the previous stable's storageUri, so the object names what is served. When the live
 * object is mid-canary over that same stable it also renders `canaryTrafficPercent: 0`: without the
 * field Knative routes 100% to the latest *ready* revision (the failed candidate) until the stable's
 * new revision is up. After a promotion the last rolled-out revision is the candidate itself, so 0%
 * would keep it serving: that rollback is a plain blue-green one (no field).
 *
 * RawDeployment canaries (`spec.canary`, v0.20) are not rendered; waitReady fails a canary plan whose
 * status has no traffic split, which is what RawDeployment mode reports.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { Document } from 'yaml'
import { UserError, errorText } from '../../errors.js'
import { onPath } from './command.js'
import { DeployFailure, type ApplyOutcome, type DeployTarget, type Endpoint, type ServedVersion, type TrafficPlan } from '../types.js'

export type Quantity = string | number

export interface KServeResources {
  requests?: Record<string, Quantity>
  limits?: Record<string, Quantity>
}

export interface KServeTargetOptions {
  /** The InferenceService's name: a DNS-1035 label (KServe wants a leading letter), at most 63 characters. */
  name: string
  namespace?: string
  /** `spec.predictor.model.modelFormat.name`; default 'onnx'. */
  modelFormat?: string
  /** A ServingRuntime to pin; absent, KServe picks one for the format. */
  runtime?: string
  /** Default 'v2' (Open Inference Protocol). */
  protocolVersion?: 'v2' | 'v1'
  /** Where the cluster fetches a version; default: the version's registry URI when KServe can fetch it. */
  storageUri?: (v: ServedVersion) => string
  /** The kubectl command and its fixed arguments, e.g. ['kubectl', '--context', 'prod']; absent: render only. */
  kubectl?: string[]
  /** Where rendered manifests are written. */
  outDir: string
  /** The URL verification uses; absent: `status.url` once the service is Ready. */
  url?: string
  resources?: KServeResources
  minReplicas?: number
  maxReplicas?: number
  annotations?: Record<string, string>
  labels?: Record<string, string>
  /** Sets `serving.kserve.io/enable-tag-routing`, so `endpoint(version)` can use the latest-/prev- URLs. */
  tagRouting?: boolean
}

export interface InferenceServiceManifest {
  apiVersion: 'serving.kserve.io/v1beta1'
  kind: 'InferenceService'
  metadata: { name: string; namespace?: string; labels: Record<string, string>; annotations: Record<string, string> }
  spec: {
    predictor: {
      canaryTrafficPercent?: number
      minReplicas?: number
      maxReplicas?: number
      model: {
        modelFormat: { name: string }
        runtime?: string
        protocolVersion: 'v2' | 'v1'
        storageUri: string
        resources?: KServeResources
      }
    }
  }
}

interface Condition {
  type: string
  status: string
  reason?: string
  message?: string
}

interface TrafficTarget {
  tag?: string
  revisionName?: string
  latestRevision?: boolean
  percent?: number
  url?: string
}

/** The parts of a live InferenceService this target reads. */
interface LiveInferenceService {
  metadata?: { generation?: number; annotations?: Record<string, string> }
  spec?: { predictor?: { canaryTrafficPercent?: number } }
  status?: {
    url?: string
    observedGeneration?: number
    conditions?: Condition[]
    components?: { predictor?: { url?: string; traffic?: TrafficTarget[] } }
    modelStatus?: { transitionStatus?: string; lastFailureInfo?: { reason?: string; message?: string } }
  }
}

const PREFIX = 'modelgate.io/'
const TAG_ROUTING = 'serving.kserve.io/enable-tag-routing'
/** Schemes KServe's storage initializer (or modelcar) fetches; `file://` is a path inside the pod, not on this machine. */
const SERVABLE_SCHEMES = ['gs', 's3', 'pvc', 'http', 'https', 'hdfs', 'webhdfs', 'hf', 'oci', 'oci+native', 'oci+fetch', 'modelscope']
const COMMAND_TIMEOUT_MS = 120_000
const WAIT_GRACE_MS = 30_000
const STALE_POLL_MS = 1_000
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/
const QUALIFIED_KEY = /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/

const execFileAsync = promisify(execFile)

class KubectlError extends Error {
  constructor(readonly detail: string) {
    super(detail)
    this.name = 'KubectlError'
  }
}

export class KServeTarget implements DeployTarget {
  readonly kind = 'kserve' as const
  readonly description: string
  private readonly command?: string[]
  private generation = 0
  /** The last plan applied (or rendered in a dry run) and the canaryTrafficPercent it rendered. */
  private applied?: { plan: TrafficPlan; percent?: number; live: boolean }
  private status?: LiveInferenceService['status']

  constructor(private readonly opts: KServeTargetOptions) {
    checkOptions(opts)
    this.command = opts.kubectl
    this.description = `kserve inferenceservice/${opts.name}${opts.namespace ? ` in namespace ${opts.namespace}` : ''}`
  }

  private get ref(): string {
    return `inferenceservice/${this.opts.name}`
  }

  private get protocol(): 'v2' | 'v1' {
    return this.opts.protocolVersion ?? 'v2'
  }

  // KServe has no lock of its own: workflows serialise deploys to one environment with `concurrency:`.
  async lock(): Promise<() => Promise<void>> {
    return async () => {}
  }

  /** The InferenceService for `plan`; `previous` is the plan in force, which decides how a rollback is rendered. */
  manifest(plan: TrafficPlan, previous?: TrafficPlan): InferenceServiceManifest {
    const served = plan.canary ?? plan.stable
    const percent = plan.canary ? checkPercent(plan.canary.percent) : pinnedRollback(plan, previous) ? 0 : undefined
    const o = this.opts
    const model: InferenceServiceManifest['spec']['predictor']['model'] = {
      modelFormat: { name: o.modelFormat ?? 'onnx' },
      ...(o.runtime ? { runtime: o.runtime } : {}),
      protocolVersion: this.protocol,
      storageUri: this.storageUri(served),
      ...(o.resources ? { resources: o.resources } : {}),
    }
    return {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: {
        name: o.name,
        ...(o.namespace ? { namespace: o.namespace } : {}),
        labels: { ...o.labels, ...versionLabels(served) },
        annotations: { ...o.annotations, ...(o.tagRouting ? { [TAG_ROUTING]: 'true' } : {}), ...versionAnnotations(plan) },
      },
      spec: {
        predictor: {
          ...(percent !== undefined ? { canaryTrafficPercent: percent } : {}),
          ...(o.minReplicas !== undefined ? { minReplicas: o.minReplicas } : {}),
          ...(o.maxReplicas !== undefined ? { maxReplicas: o.maxReplicas } : {}),
          model,
        },
      },
    }
  }

  /** The manifest as YAML text, headed by a comment naming the plan. */
  render(plan: TrafficPlan, previous?: TrafficPlan): string {
    const doc = new Document(this.manifest(plan, previous))
    doc.commentBefore = ` rendered by modelgate: ${describePlan(plan)}`
    return doc.toString({ lineWidth: 0 })
  }

  async apply(plan: TrafficPlan, opts: { dryRun: boolean; log: (line: string) => void }): Promise<ApplyOutcome> {
    const live = this.command !== undefined && !opts.dryRun
    // Only a rollback needs the plan in force; a fresh process (a rollback job) asks the cluster.
    const previous = this.applied?.plan ?? (live && !plan.canary ? await this.current() : undefined)
    const manifest = this.manifest(plan, previous)
    const file = path.join(this.opts.outDir, `${this.opts.name}-${++this.generation}.yaml`)
    await mkdir(this.opts.outDir, { recursive: true })
    await writeFile(file, this.render(plan, previous))
    const percent = manifest.spec.predictor.canaryTrafficPercent
    const notes: string[] = []
    if (percent === 0 && !plan.canary)
      notes.push(`${this.ref}: canaryTrafficPercent 0 sends all traffic back to the last rolled-out revision at once`)
    if (!live) {
      notes.push(this.command ? `dry run: ${file} rendered, kubectl not run` : `no kubectl configured: ${file} rendered, not applied`)
      opts.log(notes[notes.length - 1]!)
      this.applied = { plan, percent, live: false }
      return { files: [file], notes }
    }
    await this.kubectl(['apply', '-f', file]).catch(failure('apply', `kubectl apply -f ${file}`))
    this.applied = { plan, percent, live: true }
    this.status = undefined
    opts.log(`${this.ref}: applied ${file} (${describePlan(plan)})`)
    return { files: [file], notes }
  }

  async waitReady(plan: TrafficPlan, timeoutMs: number): Promise<void> {
    if (!this.command || this.applied?.live === false) return
    const percent = this.applied ? this.applied.percent : plan.canary?.percent
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const seconds = Math.max(1, Math.ceil((deadline - Date.now()) / 1000))
      const waitArgs = ['wait', '--for=condition=Ready', this.ref, `--timeout=${seconds}s`]
      const waited = await this.kubectl(waitArgs, seconds * 1000 + WAIT_GRACE_MS).then(
        () => undefined,
        (e: unknown) => (e instanceof KubectlError ? e : Promise.reject(e)),
      )
      const obj = await this.getLive('ready')
      if (!obj) throw new DeployFailure(`${this.ref} does not exist`, 'ready')
      if (waited) throw new DeployFailure(`${this.ref} is not Ready after ${seconds}s: ${notReadyReason(obj, waited.detail)}`, 'ready')
      // Right after an apply the status may still describe the previous spec, with its Ready=True.
      if (isStale(obj)) {
        if (Date.now() >= deadline) throw new DeployFailure(`${this.ref}: the controller has not reconciled the new spec in time`, 'ready')
        await sleep(STALE_POLL_MS)
        continue
      }
      if (readyCondition(obj)?.status !== 'True') {
        throw new DeployFailure(`${this.ref} is not Ready: ${notReadyReason(obj, 'no Ready condition')}`, 'ready')
      }
      const problem = trafficProblem(obj.status, percent)
      if (problem) throw new DeployFailure(`${this.ref}: ${problem}`, 'ready')
      this.status = obj.status
      return
    }
  }

  /** kubectl, when configured, can be run: found out before the deploy fetches anything, not at its first call. */
  async check(): Promise<void> {
    const cmd = this.command?.[0]
    if (cmd === undefined) return
    const found = cmd.includes('/') || cmd.includes(path.sep) ? isExecutable(cmd) : onPath(cmd, process.env.PATH ?? '')
    if (!found) throw new UserError(`kserve: kubectl command '${cmd}' was not found`, { field: 'kubectl' })
  }

  /** The plan recorded in the live object's modelgate annotations (its last applied intent), or undefined. */
  async current(): Promise<TrafficPlan | undefined> {
    if (!this.command) return undefined
    const obj = await this.getLive('current', ['--ignore-not-found'])
    return obj ? planFromObject(obj) : undefined
  }

  /**
   * The service URL (the traffic split); with `version`, the tag-routing URL reaching only that version
   * (`latest-` for the version in the spec, `prev-` for the stable during a canary), which needs
   * `tagRouting` and a Ready status listing it; undefined otherwise.
   */
  endpoint(version?: string): Endpoint | undefined {
    const url = this.opts.url ?? this.status?.url
    if (!url) return undefined
    const base: Endpoint = { url, protocol: this.protocol, model: this.opts.name }
    if (version === undefined) return base
    const tagged = this.taggedUrl(version)
    return tagged ? { ...base, url: tagged, version } : undefined
  }

  private taggedUrl(version: string): string | undefined {
    if (!this.opts.tagRouting || !this.applied) return undefined
    const { plan, percent } = this.applied
    const tag =
      version === (plan.canary ?? plan.stable).version
        ? 'latest'
        : percent !== undefined && version === plan.stable.version
          ? 'prev'
          : undefined
    return tag ? this.status?.components?.predictor?.traffic?.find((t) => t.tag === tag)?.url : undefined
  }

  private storageUri(v: ServedVersion): string {
    return servableUri(this.opts.storageUri ? this.opts.storageUri(v) : v.uri, v)
  }

  private async getLive(phase: string, extra: string[] = []): Promise<LiveInferenceService | undefined> {
    const what = `kubectl get ${this.ref} -o json`
    const out = await this.kubectl(['get', this.ref, '-o', 'json', ...extra]).catch(failure(phase, what))
    if (!out.trim()) return undefined
    try {
      return JSON.parse(out) as LiveInferenceService
    } catch (e) {
      throw new DeployFailure(`${what} printed no JSON: ${errorText(e)}`, phase)
    }
  }

  /** Runs kubectl with an argument array (no shell); `-n` goes last so the argv reads like a person's. */
  private async kubectl(args: string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
    const [cmd, ...fixed] = this.command!
    const argv = [...fixed, ...args, ...(this.opts.namespace ? ['-n', this.opts.namespace] : [])]
    try {
      const { stdout } = await execFileAsync(cmd!, argv, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' })
      return stdout
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string; killed?: boolean }
      if (err.code === 'ENOENT') throw new UserError(`kserve: kubectl command '${cmd}' was not found`, { field: 'kubectl' })
      throw new KubectlError(err.stderr?.trim() || (err.killed ? `no answer in ${Math.round(timeoutMs / 1000)}s` : errorText(e)))
    }
  }
}

/** A program given by its path (relative ones from the working directory, as execFile runs them). */
function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}

function failure(phase: string, what: string): (e: unknown) => never {
  return (e) => {
    if (e instanceof KubectlError) throw new DeployFailure(`${what} failed: ${e.detail}`, phase)
    throw e
  }
}

function checkOptions(o: KServeTargetOptions): void {
  // KServe rejects names that do not start with a letter (its ingress hosts are DNS-1035 labels).
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(o.name ?? '')) {
    throw new UserError(`kserve: name '${o.name}' must be lower-case letters, digits and '-', start with a letter, at most 63 characters`, {
      field: 'name',
    })
  }
  if (o.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(o.namespace)) {
    throw new UserError(`kserve: namespace '${o.namespace}' is not a DNS-1123 label`, { field: 'namespace' })
  }
  if (o.kubectl !== undefined && (o.kubectl.length === 0 || o.kubectl.some((a) => typeof a !== 'string' || a === ''))) {
    throw new UserError(`kserve: kubectl must be a command and its arguments, e.g. ['kubectl', '--context', 'prod']`, { field: 'kubectl' })
  }
  if (!o.outDir) throw new UserError('kserve: outDir (where manifests are written) is required', { field: 'outDir' })
  if (o.modelFormat !== undefined && !o.modelFormat.trim()) throw new UserError('kserve: modelFormat is empty', { field: 'modelFormat' })
  if (o.protocolVersion !== undefined && o.protocolVersion !== 'v2' && o.protocolVersion !== 'v1') {
    throw new UserError(`kserve: protocolVersion '${String(o.protocolVersion)}' must be v2 or v1`, { field: 'protocolVersion' })
  }
  for (const field of ['minReplicas', 'maxReplicas'] as const) {
    const n = o[field]
    if (n !== undefined && !(Number.isInteger(n) && n >= 0)) throw new UserError(`kserve: ${field} must be a whole number ≥ 0`, { field })
  }
  if (o.minReplicas !== undefined && o.maxReplicas && o.minReplicas > o.maxReplicas) {
    throw new UserError(`kserve: minReplicas ${o.minReplicas} is above maxReplicas ${o.maxReplicas}`, { field: 'minReplicas' })
  }
  checkMeta(o.labels, 'labels', true)
  checkMeta(o.annotations, 'annotations', false)
}

function checkMeta(map: Record<string, string> | undefined, field: 'labels' | 'annotations', labelValues: boolean): void {
  for (const [k, v] of Object.entries(map ?? {})) {
    if (k.startsWith(PREFIX)) throw new UserError(`kserve: ${field} key '${k}' is reserved for modelgate`, { field: `${field}.${k}` })
    if (!QUALIFIED_KEY.test(k))
      throw new UserError(`kserve: ${field} key '${k}' is not a Kubernetes qualified name`, { field: `${field}.${k}` })
    if (typeof v !== 'string') throw new UserError(`kserve: ${field} '${k}' must be a string`, { field: `${field}.${k}` })
    if (labelValues && !LABEL_VALUE.test(v)) {
      throw new UserError(`kserve: label '${k}' value '${v}' is not a label value (≤ 63 of [A-Za-z0-9._-], alphanumeric at both ends)`, {
        field: `${field}.${k}`,
      })
    }
  }
}

function checkPercent(p: number): number {
  if (!Number.isInteger(p) || p < 0 || p > 100) {
    throw new UserError(`kserve: canary percent ${p} must be a whole number from 0 to 100`, { field: 'canary.percent' })
  }
  return p
}

function servableUri(uri: string, v: ServedVersion): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase()
  if (scheme && SERVABLE_SCHEMES.includes(scheme)) return uri
  const what = scheme === 'file' ? 'a file on this machine' : scheme ? `a ${scheme}:// URI KServe does not fetch` : 'a local path'
  throw new UserError(
    `kserve: ${v.name} ${v.version} is at '${uri}', ${what}, which the cluster cannot fetch: register it in an oci:// registry ` +
      `or set storageUri to map it to an oci://, gs://, s3://, pvc:// or http(s):// location`,
    { field: 'storageUri' },
  )
}

function sameVersion(a: ServedVersion, b: ServedVersion): boolean {
  return a.name === b.name && a.version === b.version && a.digest === b.digest
}

/** A rollback from a canary over the same stable: see the file's head for why it renders 0%. */
function pinnedRollback(plan: TrafficPlan, previous: TrafficPlan | undefined): boolean {
  return (
    plan.canary === undefined &&
    previous?.canary !== undefined &&
    sameVersion(previous.stable, plan.stable) &&
    !sameVersion(previous.canary, plan.stable)
  )
}

/** Label values allow ≤ 63 of [A-Za-z0-9._-], alphanumeric at both ends: `1.2.0+b1` → `1.2.0_b1`, a digest is cut to 63. */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
}

function versionLabels(v: ServedVersion): Record<string, string> {
  return {
    'app.kubernetes.io/managed-by': 'modelgate',
    [`${PREFIX}model`]: labelValue(v.name),
    [`${PREFIX}version`]: labelValue(v.version),
    [`${PREFIX}digest`]: labelValue(v.digest),
  }
}

// No percent annotation: KServe copies the object's annotations onto the revision template, and a
// value that changes at every canary step would start a new revision at each one.
function versionAnnotations(plan: TrafficPlan): Record<string, string> {
  const meta = (v: ServedVersion, p: string) => ({
    [`${PREFIX}${p}model`]: v.name,
    [`${PREFIX}${p}version`]: v.version,
    [`${PREFIX}${p}digest`]: v.digest,
    [`${PREFIX}${p}uri`]: v.uri,
  })
  return plan.canary ? { ...meta(plan.canary, ''), ...meta(plan.stable, 'stable-') } : meta(plan.stable, '')
}

function servedFrom(a: Record<string, string>, p: string): ServedVersion | undefined {
  const [name, version, digest, uri] = ['model', 'version', 'digest', 'uri'].map((k) => a[`${PREFIX}${p}${k}`])
  return name && version && digest && uri ? { name, version, digest, uri } : undefined
}

/**
 * The annotations name the versions; the live `canaryTrafficPercent` says the split, so a canary
 * someone promoted (dropped the field) or pinned (0) by hand reads as what it serves.
 */
function planFromObject(obj: LiveInferenceService): TrafficPlan | undefined {
  const a = obj.metadata?.annotations ?? {}
  const spec = servedFrom(a, '')
  if (!spec) return undefined
  const stable = servedFrom(a, 'stable-')
  const percent = obj.spec?.predictor?.canaryTrafficPercent
  return stable && typeof percent === 'number' ? { stable, canary: { ...spec, percent } } : { stable: spec }
}

function describePlan(plan: TrafficPlan): string {
  const v = (s: ServedVersion) => `${s.name} ${s.version} (${s.digest})`
  return plan.canary ? `${v(plan.canary)} at ${plan.canary.percent}% over ${v(plan.stable)}` : v(plan.stable)
}

function readyCondition(obj: LiveInferenceService): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === 'Ready')
}

function isStale(obj: LiveInferenceService): boolean {
  const seen = obj.status?.observedGeneration
  const want = obj.metadata?.generation
  return seen !== undefined && want !== undefined && seen < want
}

/** The Ready condition, then other failing conditions and the model's last failure; kubectl's words when none say anything. */
function notReadyReason(obj: LiveInferenceService, fallback: string): string {
  const conditions = obj.status?.conditions ?? []
  const ready = readyCondition(obj)
  const failing = conditions.filter((c) => c !== ready && c.status === 'False' && (c.reason || c.message))
  const parts = [...(ready ? [ready] : []), ...failing].map(
    (c) => `${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`,
  )
  const lf = obj.status?.modelStatus?.lastFailureInfo
  if (lf?.reason || lf?.message) parts.push(`model ${[lf.reason, lf.message].filter(Boolean).join(': ')}`)
  return parts.length ? parts.join('; ') : fallback
}

/** Whether the latest revision holds the share the rendered spec asks for (100% without canaryTrafficPercent). */
function trafficProblem(status: LiveInferenceService['status'], percent: number | undefined): string | undefined {
  const traffic = status?.components?.predictor?.traffic
  if (!traffic?.length) {
    return percent === undefined
      ? undefined
      : `status.components.predictor.traffic is empty: canaryTrafficPercent needs KServe's Serverless (Knative) deployment mode`
  }
  const latest = traffic.filter((t) => t.latestRevision === true).reduce((sum, t) => sum + (t.percent ?? 0), 0)
  const want = percent ?? 100
  if (latest === want) return undefined
  const hint = percent !== undefined && latest === 100 ? ' (KServe splits traffic only once a revision has been rolled out at 100%)' : ''
  return `the latest revision holds ${latest}% of the traffic, not ${want}%${hint}`
}
