/*
 * deploy-model's ports: a deploy target (where a version is put and how traffic is split) and the
 * deployment ledger (GitHub Deployments). The core drives resolve → policy → apply → ready → verify
 * → canary steps → promote, and rolls back through the same ports when any step fails.
 */

/** A registered version as a target serves it. */
export interface ServedVersion {
  name: string
  version: string
  /** `sha256:<hex>` of the artifact, as registered. */
  digest: string
  /** The registry's URI of the version (`oci://…@sha256:…`, a folder URL, a git tag reference). */
  uri: string
  /** The artifact fetched and verified on this machine, for targets that serve files (local). */
  artifactPath?: string
}

/** The whole traffic state wanted of a target: not a delta. */
export interface TrafficPlan {
  stable: ServedVersion
  /** The candidate taking `percent` of the traffic (0–100); absent: stable takes all of it. */
  canary?: ServedVersion & { percent: number }
}

export type Protocol = 'v2' | 'v1' | 'mlflow'

/** Where verification requests go. */
export interface Endpoint {
  /** Base URL of the inference server (e.g. http://127.0.0.1:8080), or the full inference URL for mlflow. */
  url: string
  protocol: Protocol
  /** The model name the server knows it by. */
  model: string
  /** Set when requests to this endpoint reach exactly one version (not the traffic split). */
  version?: string
  headers?: Record<string, string>
}

export interface ApplyOutcome {
  /** Files written (a rendered manifest), for the report. */
  files: string[]
  notes: string[]
}

export type TargetKind = 'local' | 'kserve' | 'webhook' | 'command'

export interface DeployTarget {
  readonly kind: TargetKind
  /** For messages and the report. */
  readonly description: string
  /** Serialises deploys to this environment; resolves to the release function. */
  lock(): Promise<() => Promise<void>>
  /**
   * Checks what can be checked of the target's settings and state (programs on PATH, a readable state
   * file) before the deploy fetches anything: a refused deploy leaves nothing behind. Throws UserError.
   */
  check?(): Promise<void>
  /** What the target serves now, when it can tell: the rollback target of last resort. */
  current(): Promise<TrafficPlan | undefined>
  /**
   * Applies a traffic plan. With `dryRun`, renders and checks everything and applies nothing.
   * `rollback` marks the return to the last good version: a target may then restart what died.
   */
  apply(plan: TrafficPlan, opts: { dryRun: boolean; log: (line: string) => void; rollback?: boolean }): Promise<ApplyOutcome>
  /** Waits until the target serves `plan` and says it is ready; throws a DeployFailure after `timeoutMs`. */
  waitReady(plan: TrafficPlan, timeoutMs: number): Promise<void>
  /**
   * Where to verify: the traffic-split endpoint, or with `version` one that reaches only that
   * version (undefined when the target cannot address versions one by one).
   */
  endpoint(version?: string): Endpoint | undefined
}

/** A step of the deploy that failed for a reason of the deployment, not of the input: it leads to a rollback and exit 1. */
export class DeployFailure extends Error {
  constructor(
    message: string,
    readonly phase: string,
  ) {
    super(message)
    this.name = 'DeployFailure'
  }
}

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive'

/** The deployment ledger: GitHub Deployments through its REST API, or nothing outside Actions. */
export interface DeploymentLedger {
  /**
   * Starts (or attaches to) the deployment of `ref` to `environment` and marks it in progress.
   * Returns its id and URL; undefined when no ledger is configured.
   */
  start(opts: {
    environment: string
    ref: string
    description: string
    payload: Record<string, unknown>
    logUrl?: string
  }): Promise<{ id: number; url?: string; attached: boolean } | undefined>
  finish(id: number, opts: { state: DeploymentState; environmentUrl?: string; logUrl?: string; description: string }): Promise<void>
  /** The version of the environment's most recent successful deployment, read from its payload. */
  lastSuccessful(environment: string, name: string): Promise<{ version: string; digest?: string } | undefined>
}
