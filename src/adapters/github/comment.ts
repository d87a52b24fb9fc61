import { getOctokit } from '@actions/github'
import { errorText } from '../../core/errors.js'
import type { CommentPort, CommentUpsertResult } from '../../ports/sinks.js'

export interface GitHubCommentOptions {
  token: string
  owner: string
  repo: string
  /** The pull request (or issue) number. */
  issueNumber: number
  /** REST API root; GITHUB_API_URL (set on GitHub Enterprise Server) or github.com's. */
  apiUrl?: string
}

interface IssueComment {
  id: number
  body?: string | null
  html_url: string
  user?: { type?: string } | null
}

/** The HTTP status an Octokit RequestError carries, if the error is one. */
function httpStatus(e: unknown): number | undefined {
  const status = typeof e === 'object' && e !== null ? (e as { status?: unknown }).status : undefined
  return typeof status === 'number' ? status : undefined
}

/**
 * Among comments holding the marker, the one a bot wrote (the Actions token posts as
 * `github-actions[bot]`), so a human quoting the marker is never edited.
 */
function pickComment(comments: readonly IssueComment[], marker: string): IssueComment | undefined {
  const marked = comments.filter((c) => c.body?.includes(marker))
  return marked.find((c) => c.user?.type === 'Bot') ?? marked[0]
}

/** A CommentPort over the GitHub REST API: edits the marked comment in place, else creates one. */
export function createGitHubCommentPort(opts: GitHubCommentOptions): CommentPort {
  const baseUrl = opts.apiUrl ?? process.env.GITHUB_API_URL ?? 'https://api.github.com'
  const octokit = getOctokit(opts.token, { baseUrl })
  const where = { owner: opts.owner, repo: opts.repo }
  const target = `${opts.owner}/${opts.repo}#${opts.issueNumber}`

  return {
    async upsert(body: string, marker: string): Promise<CommentUpsertResult> {
      try {
        const comments: IssueComment[] = await octokit.paginate(octokit.rest.issues.listComments, {
          ...where,
          issue_number: opts.issueNumber,
          per_page: 100,
        })
        const existing = pickComment(comments, marker)
        if (existing) {
          const { data } = await octokit.rest.issues.updateComment({ ...where, comment_id: existing.id, body })
          return { action: 'updated', url: data.html_url }
        }
        const { data } = await octokit.rest.issues.createComment({ ...where, issue_number: opts.issueNumber, body })
        return { action: 'created', url: data.html_url }
      } catch (e) {
        const status = httpStatus(e)
        // A pull request from a fork gets a read-only token: the report still lands in the job summary.
        if (status === 403 || status === 404) {
          return {
            action: 'skipped',
            reason:
              `no permission to comment on this pull request: GitHub answered ${status} for ${target} (${errorText(e)}). ` +
              'Give the job permissions: pull-requests: write; a pull request from a fork only ever gets a read-only token',
          }
        }
        throw new Error(`Could not comment on ${target}: GitHub answered ${status ?? 'no status'}: ${errorText(e)}`, { cause: e })
      }
    },
  }
}
