/*
 * The deployment ledger over GitHub Deployments (REST). Endpoints, bodies and status codes as documented:
 *   create a deployment          POST /repos/{owner}/{repo}/deployments                     https://docs.github.com/rest/deployments/deployments#create-a-deployment
 *   list deployments             GET  /repos/{owner}/{repo}/deployments?sha&environment     https://docs.github.com/rest/deployments/deployments#list-deployments
 *   create a deployment status   POST /repos/{owner}/{repo}/deployments/{id}/statuses       https://docs.github.com/rest/deployments/statuses#create-a-deployment-status
 *   list deployment statuses     GET  /repos/{owner}/{repo}/deployments/{id}/statuses       https://docs.github.com/rest/deployments/statuses#list-deployment-statuses
 * Both lists answer newest first.
 */
import { getOctokit } from '@actions/github'
import type { DeploymentLedger, DeploymentState } from '../../core/deploy/types.js'
import { UserError, errorText } from '../../core/errors.js'

export interface GitHubDeploymentLedgerOptions {
  /** Without a token, owner or repo there is no ledger: start answers undefined and the rest does nothing. */
  token?: string
  owner?: string
  repo?: string
  /** REST API root; GITHUB_API_URL (set on GitHub Enterprise Server) or github.com's. */
  baseUrl?: string
  /** GITHUB_RUN_ID: tells this run's auto-created deployment from another run's. */
  runId?: string | number
  /** The commit being deployed (GITHUB_SHA): the runner's deployment is found by it. */
  sha: string
}

/** GitHub's limit on deployment and status descriptions. */
const DESCRIPTION_MAX = 140
/** States of a deployment the runner has created and not yet finished. */
const ACTIVE_STATES = new Set(['queued', 'in_progress', 'pending'])
/** How many of an environment's deployments lastSuccessful reads before giving up. */
const SCAN_LIMIT = 200
const PAGE_SIZE = 100

interface Identity {
  name: string
  version: string
  digest?: string
}

interface StatusLike {
  state: string
  description?: string | null
  log_url?: string
  target_url?: string
}

/** The HTTP status an Octokit RequestError carries, if the error is one. */
function httpStatus(e: unknown): number | undefined {
  const status = typeof e === 'object' && e !== null ? (e as { status?: unknown }).status : undefined
  return typeof status === 'number' ? status : undefined
}

/** Cut to `max` characters (code points, so no surrogate is split), marking the cut. */
export function truncateDescription(text: string, max = DESCRIPTION_MAX): string {
  const chars = Array.from(text)
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`
}

/** The model a deployment payload names; GitHub may hand the payload back as a JSON string. */
function identityOf(payload: unknown): Identity | undefined {
  let value = payload
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch {
      return undefined
    }
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { name, version, digest } = value as Record<string, unknown>
  if (typeof name !== 'string' || typeof version !== 'string') return undefined
  return { name, version, ...(typeof digest === 'string' ? { digest } : {}) }
}

/*
 * A deployment the runner created for the job's `environment:` carries the runner's payload (`{}`), and
 * deployments cannot be edited. So on an attached deployment the model is named at the end of each
 * status description we write, where lastSuccessful can read it back.
 */
const MARKER = /\[modelgate (\S+)@([^@\s\]]+)\]$/

function statusDescription(text: string, identity: Identity | undefined): string {
  if (!identity) return truncateDescription(text)
  const marker = `[modelgate ${identity.name}@${identity.version}]`
  const room = DESCRIPTION_MAX - marker.length - 1
  return room > 0 ? `${truncateDescription(text, room)} ${marker}` : truncateDescription(text)
}

function markedIdentity(status: StatusLike): Identity | undefined {
  const m = MARKER.exec(status.description ?? '')
  return m ? { name: m[1]!, version: m[2]! } : undefined
}

/** The workflow run a status links to (Actions writes `…/actions/runs/{run_id}/job/{job_id}`). */
function runOf(status: StatusLike): string | undefined {
  return /\/actions\/runs\/(\d+)(?:\/|$)/.exec(status.log_url || status.target_url || '')?.[1]
}

function isProduction(environment: string): boolean {
  return /^(production|prod)$/i.test(environment)
}

const NO_LEDGER: DeploymentLedger = {
  start: async () => undefined,
  finish: async () => undefined,
  lastSuccessful: async () => undefined,
}

/** A DeploymentLedger over the GitHub REST API; a ledger that records nothing without a token and repository. */
export function createGitHubDeploymentLedger(opts: GitHubDeploymentLedgerOptions): DeploymentLedger {
  const { token, owner, repo } = opts
  if (!token || !owner || !repo) return NO_LEDGER
  const baseUrl = opts.baseUrl ?? process.env.GITHUB_API_URL ?? 'https://api.github.com'
  const octokit = getOctokit(token, { baseUrl })
  const where = { owner, repo }
  const runId = opts.runId === undefined || opts.runId === '' ? undefined : String(opts.runId)
  /** What start knew about each deployment, for finish. */
  const started = new Map<number, { identity?: Identity; attached: boolean; logUrl?: string }>()

  function failure(e: unknown, doing: string): Error {
    const status = httpStatus(e)
    const said = errorText(e)
    const at = `${owner}/${repo}`
    if (status === 401) {
      return new UserError(`GitHub rejected the token (401: ${said}) while ${doing} in ${at}: pass a valid github-token`, {
        field: 'github-token',
        cause: e,
      })
    }
    if ((status === 403 && !/rate limit/i.test(said)) || status === 404) {
      return new UserError(
        `GitHub answered ${status} (${said}) while ${doing} in ${at}: add \`permissions: deployments: write\` to the job ` +
          `(and make sure the environment's protection rules allow this ref), or set deployment: false to deploy without a record`,
        { field: 'permissions.deployments', cause: e },
      )
    }
    if (status === 409) {
      return new Error(
        `GitHub refused (409: ${said}) while ${doing} in ${at}: a merge conflict or failed required status checks on the ref`,
        { cause: e },
      )
    }
    return new Error(`GitHub answered ${status} while ${doing} in ${at}: ${said}`, { cause: e })
  }

  async function call<T>(doing: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request()
    } catch (e) {
      // Only GitHub's answers are translated; our own errors already say what happened.
      throw httpStatus(e) === undefined ? e : failure(e, doing)
    }
  }

  async function statusesOf(id: number): Promise<StatusLike[]> {
    const { data } = await octokit.rest.repos.listDeploymentStatuses({ ...where, deployment_id: id, per_page: PAGE_SIZE })
    return data
  }

  /**
   * The deployment the runner made for a job that declared `environment:`: the newest for this commit
   * and environment that is still open, not made by a deploy-model start, and, when its statuses link
   * to a workflow run, linking to this one.
   */
  async function runnerDeployment(environment: string): Promise<{ id: number; url: string } | undefined> {
    const { data } = await octokit.rest.repos.listDeployments({ ...where, sha: opts.sha, environment, per_page: PAGE_SIZE })
    for (const d of data) {
      if (identityOf(d.payload)) continue
      const statuses = await statusesOf(Number(d.id))
      if (statuses[0] && !ACTIVE_STATES.has(statuses[0].state)) continue
      const runs = statuses.map(runOf).filter((r) => r !== undefined)
      if (runId && runs.length > 0 && !runs.includes(runId)) continue
      return { id: Number(d.id), url: d.url }
    }
    return undefined
  }

  async function createDeployment(o: Parameters<DeploymentLedger['start']>[0]): Promise<{ id: number; url: string }> {
    const response = await octokit.rest.repos.createDeployment({
      ...where,
      ref: o.ref,
      environment: o.environment,
      task: 'deploy',
      // Deploy exactly this ref: no merge of the default branch, no wait on commit statuses.
      auto_merge: false,
      required_contexts: [],
      payload: o.payload,
      description: truncateDescription(o.description),
      ...(isProduction(o.environment) ? { production_environment: true } : {}),
    })
    // 202 is the documented answer when GitHub merged instead of creating; auto_merge: false should rule it out.
    if (response.status !== 201 || !('id' in response.data)) {
      const message = (response.data as { message?: string }).message ?? 'no deployment created'
      throw new Error(`GitHub did not create the deployment of ${o.ref} to ${o.environment} (${response.status}: ${message})`)
    }
    return { id: Number(response.data.id), url: response.data.url }
  }

  return {
    async start(o) {
      const identity = identityOf(o.payload)
      const doing = `starting the deployment to '${o.environment}'`
      const found = await call(doing, () => runnerDeployment(o.environment))
      const deployment = found ?? (await call(doing, () => createDeployment(o)))
      const attached = found !== undefined
      started.set(deployment.id, { identity, attached, logUrl: o.logUrl })
      await call(doing, () =>
        octokit.rest.repos.createDeploymentStatus({
          ...where,
          deployment_id: deployment.id,
          state: 'in_progress',
          log_url: o.logUrl,
          description: statusDescription(o.description, attached ? identity : undefined),
        }),
      )
      return { id: deployment.id, url: deployment.url, attached }
    },

    async finish(id: number, o: { state: DeploymentState; environmentUrl?: string; logUrl?: string; description: string }) {
      const known = started.get(id)
      await call(`recording '${o.state}' on deployment ${id}`, () =>
        octokit.rest.repos.createDeploymentStatus({
          ...where,
          deployment_id: id,
          state: o.state,
          environment_url: o.environmentUrl,
          log_url: o.logUrl ?? known?.logUrl,
          description: statusDescription(o.description, known?.attached ? known.identity : undefined),
          ...(o.state === 'success' ? { auto_inactive: true } : {}),
        }),
      )
    },

    async lastSuccessful(environment, name) {
      return call(`reading the deployments of '${environment}'`, async () => {
        let scanned = 0
        const pages = octokit.paginate.iterator(octokit.rest.repos.listDeployments, { ...where, environment, per_page: PAGE_SIZE })
        for await (const { data } of pages) {
          for (const d of data) {
            if (++scanned > SCAN_LIMIT) return undefined
            const fromPayload = identityOf(d.payload)
            if (fromPayload && fromPayload.name !== name) continue
            const statuses = await statusesOf(Number(d.id))
            if (statuses[0]?.state !== 'success') continue
            if (fromPayload) return { version: fromPayload.version, ...(fromPayload.digest ? { digest: fromPayload.digest } : {}) }
            // An attached deployment: our own newest word on it must name the model and be a success too.
            const ours = statuses.find((s) => markedIdentity(s))
            const marked = ours && markedIdentity(ours)
            if (marked?.name === name && ours!.state === 'success') return { version: marked.version }
          }
        }
        return undefined
      })
    },
  }
}
