import * as github from '@actions/github'
import type { RunContext } from '../../core/result/types.js'
import { TOOL, VERSION } from '../../version.js'

/** The run's GitHub facts, read once; absent ones stay undefined (e.g. when run outside Actions). */
export function gitHubRunContext(): Omit<RunContext, 'startedAt' | 'durationSeconds'> & { owner?: string; repo?: string } {
  const ctx = github.context
  const repository = process.env.GITHUB_REPOSITORY
  const [owner, repo] = repository?.split('/') ?? []
  const pr = (ctx.payload?.pull_request?.number as number | undefined) ?? undefined
  const runUrl = repository && ctx.runId ? `${ctx.serverUrl}/${repository}/actions/runs/${ctx.runId}` : undefined
  return {
    tool: TOOL,
    version: VERSION,
    repository,
    owner,
    repo,
    sha: ctx.sha || undefined,
    ref: ctx.ref || undefined,
    runId: ctx.runId ? String(ctx.runId) : undefined,
    runUrl,
    pullRequest: pr,
  }
}
