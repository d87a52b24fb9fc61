import { describe, it, expect, beforeEach, afterEach } from '@jest/globals'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createGitHubCommentPort } from '../../src/adapters/github/comment.js'
import { COMMENT_MARKER, renderComment } from '../../src/core/report/comment.js'
import { loadResult } from './fixtures.js'

interface Comment {
  id: number
  body: string
  user: { login: string; type: 'Bot' | 'User' }
}

/**
 * A stand-in for the GitHub REST API's issue-comment endpoints, speaking the documented
 * paths, JSON bodies and Link-header pagination.
 */
class FakeGitHub {
  comments: Comment[] = []
  requests: { method: string; url: string; authorization?: string }[] = []
  failure?: { method: string; status: number; message: string }
  private nextId = 1000
  private server = http.createServer((req, res) => this.handle(req, res))
  baseUrl = ''

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  seed(body: string, type: 'Bot' | 'User' = 'User'): Comment {
    const comment = { id: this.nextId++, body, user: { login: type === 'Bot' ? 'github-actions[bot]' : 'octocat', type } }
    this.comments.push(comment)
    return comment
  }

  private view(c: Comment): object {
    return { ...c, html_url: `https://github.com/acme/models/pull/7#issuecomment-${c.id}` }
  }

  private send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
    res.end(JSON.stringify(body))
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let raw = ''
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')))
    req.on('end', () => {
      const url = new URL(req.url!, this.baseUrl)
      this.requests.push({ method: req.method!, url: url.pathname + url.search, authorization: req.headers.authorization })
      if (this.failure && this.failure.method === req.method) {
        this.send(res, this.failure.status, { message: this.failure.message, documentation_url: 'https://docs.github.com/rest' })
        return
      }
      const list = /^\/repos\/acme\/models\/issues\/7\/comments$/.test(url.pathname)
      const edit = /^\/repos\/acme\/models\/issues\/comments\/(\d+)$/.exec(url.pathname)
      if (list && req.method === 'GET') {
        const perPage = Number(url.searchParams.get('per_page') ?? 30)
        const page = Number(url.searchParams.get('page') ?? 1)
        const pages = Math.max(1, Math.ceil(this.comments.length / perPage))
        const slice = this.comments.slice((page - 1) * perPage, page * perPage).map((c) => this.view(c))
        const pageUrl = (n: number): string => `${this.baseUrl}${url.pathname}?per_page=${perPage}&page=${n}`
        const links: Record<string, string> =
          page < pages ? { link: `<${pageUrl(page + 1)}>; rel="next", <${pageUrl(pages)}>; rel="last"` } : {}
        this.send(res, 200, slice, links)
      } else if (list && req.method === 'POST') {
        const comment = this.seed((JSON.parse(raw) as { body: string }).body, 'Bot')
        this.send(res, 201, this.view(comment))
      } else if (edit && req.method === 'PATCH') {
        const comment = this.comments.find((c) => c.id === Number(edit[1]))
        if (!comment) return this.send(res, 404, { message: 'Not Found' })
        comment.body = (JSON.parse(raw) as { body: string }).body
        this.send(res, 200, this.view(comment))
      } else {
        this.send(res, 404, { message: 'Not Found' })
      }
    })
  }
}

describe('createGitHubCommentPort', () => {
  let github: FakeGitHub
  beforeEach(async () => {
    github = new FakeGitHub()
    await github.start()
  })
  afterEach(async () => {
    await github.stop()
  })

  const port = (): ReturnType<typeof createGitHubCommentPort> =>
    createGitHubCommentPort({ token: 'ghs_test123', owner: 'acme', repo: 'models', issueNumber: 7, apiUrl: github.baseUrl })

  it('creates the comment on the first run and edits the same one on the second', async () => {
    github.seed('LGTM')
    const first = renderComment(loadResult('binary'), { marker: COMMENT_MARKER })
    const created = await port().upsert(first, COMMENT_MARKER)
    expect(created.action).toBe('created')
    expect(created.url).toBe('https://github.com/acme/models/pull/7#issuecomment-1001')

    const second = renderComment(loadResult('regression'), { marker: COMMENT_MARKER })
    const updated = await port().upsert(second, COMMENT_MARKER)
    expect(updated).toEqual({ action: 'updated', url: 'https://github.com/acme/models/pull/7#issuecomment-1001' })

    const marked = github.comments.filter((c) => c.body.includes(COMMENT_MARKER))
    expect(marked).toHaveLength(1)
    expect(marked[0]!.body).toBe(second)
    expect(github.comments.map((c) => c.body)).toEqual(['LGTM', second])
    expect(github.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /repos/acme/models/issues/7/comments?per_page=100',
      'POST /repos/acme/models/issues/7/comments',
      'GET /repos/acme/models/issues/7/comments?per_page=100',
      'PATCH /repos/acme/models/issues/comments/1001',
    ])
    expect(new Set(github.requests.map((r) => r.authorization))).toEqual(new Set(['token ghs_test123']))
  })

  it('follows the Link header to find a marker on page 2, preferring the bot-authored comment', async () => {
    for (let i = 0; i < 130; i++) github.seed(`comment ${i}`)
    const quoted = github.seed(`> ${COMMENT_MARKER}\n> quoted by a human`, 'User')
    const ours = github.seed(`${COMMENT_MARKER}\nold report`, 'Bot')
    const outcome = await port().upsert(`${COMMENT_MARKER}\nnew report`, COMMENT_MARKER)
    expect(outcome.action).toBe('updated')
    expect(ours.body).toBe(`${COMMENT_MARKER}\nnew report`)
    expect(quoted.body).toBe(`> ${COMMENT_MARKER}\n> quoted by a human`)
    expect(github.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /repos/acme/models/issues/7/comments?per_page=100',
      'GET /repos/acme/models/issues/7/comments?per_page=100&page=2',
      `PATCH /repos/acme/models/issues/comments/${ours.id}`,
    ])
  })

  it('ignores comments of other actions', async () => {
    github.seed('<!-- modelgate:test-robustness -->\nother', 'Bot')
    const outcome = await port().upsert(`${COMMENT_MARKER}\nmine`, COMMENT_MARKER)
    expect(outcome.action).toBe('created')
    expect(github.comments).toHaveLength(2)
  })

  it('skips instead of failing when the token may not comment (fork pull request)', async () => {
    github.failure = { method: 'POST', status: 403, message: 'Resource not accessible by integration' }
    const outcome = await port().upsert(`${COMMENT_MARKER}\nbody`, COMMENT_MARKER)
    expect(outcome.action).toBe('skipped')
    expect(outcome.reason).toContain('no permission to comment on this pull request')
    expect(outcome.reason).toContain(
      'Give the job permissions: pull-requests: write; a pull request from a fork only ever gets a read-only token',
    )
    expect(outcome.reason).toContain('Resource not accessible by integration')
    expect(outcome.reason).toContain('403')
    expect(github.comments).toHaveLength(0)
  })

  it('skips on 404 too', async () => {
    github.failure = { method: 'GET', status: 404, message: 'Not Found' }
    const outcome = await port().upsert(`${COMMENT_MARKER}\nbody`, COMMENT_MARKER)
    expect(outcome.action).toBe('skipped')
  })

  it('throws with the status and message on other errors', async () => {
    github.failure = { method: 'GET', status: 500, message: 'Server Error' }
    await expect(port().upsert(`${COMMENT_MARKER}\nbody`, COMMENT_MARKER)).rejects.toThrow(
      /^Could not comment on acme\/models#7: GitHub answered 500: Server Error/,
    )
  })
})
