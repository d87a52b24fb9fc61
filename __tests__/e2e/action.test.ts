import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runActionOutside, ROOT } from '../helpers/action-harness.js'
import { readZip, startArtifactService } from '../helpers/artifact-service.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import { PERFORMANCE_METRIC_NAMES } from '../../src/core/metrics/index.js'
import { spawnSync } from 'node:child_process'

/*
 * The committed dist/ bundle, run the way the runner runs it: `node dist/validate-model/index.js` with
 * INPUT_* variables (defaults from action.yml applied) and temporary GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files.
 * The pull-request comment goes to a local server that speaks GitHub's documented REST endpoints.
 */

interface Comment {
  id: number
  body: string
  user: { login: string; type: string }
  html_url: string
}

let server: Server
let apiUrl: string
const comments: Comment[] = []
const requests: { method: string; url: string; auth?: string }[] = []
let forbid = false

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, auth: req.headers.authorization })
      const json = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(data))
      }
      if (forbid) return json(403, { message: 'Resource not accessible by integration' })
      const list = /^\/repos\/acme\/models\/issues\/7\/comments(\?.*)?$/.exec(req.url!)
      const edit = /^\/repos\/acme\/models\/issues\/comments\/(\d+)$/.exec(req.url!)
      if (list && req.method === 'GET') return json(200, comments)
      if (list && req.method === 'POST') {
        const c = {
          id: 100 + comments.length,
          body: JSON.parse(body).body,
          user: { login: 'github-actions[bot]', type: 'Bot' },
          html_url: 'http://x/c',
        }
        comments.push(c)
        return json(201, c)
      }
      if (edit && req.method === 'PATCH') {
        const c = comments.find((x) => x.id === Number(edit[1]))
        if (!c) return json(404, { message: 'Not Found' })
        c.body = JSON.parse(body).body
        return json(200, c)
      }
      json(404, { message: `no route ${req.method} ${req.url}` })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(() => new Promise<void>((r) => server.close(() => r())))

function prEnv(): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-event-'))
  const event = path.join(dir, 'event.json')
  writeFileSync(event, JSON.stringify({ pull_request: { number: 7 }, repository: { name: 'models', owner: { login: 'acme' } } }))
  return {
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: event,
    GITHUB_REPOSITORY: 'acme/models',
    GITHUB_API_URL: apiUrl,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    GITHUB_SHA: 'abc123',
    GITHUB_REF: 'refs/pull/7/merge',
    GITHUB_WORKSPACE: ROOT,
  }
}

describe('dist/validate-model as the runner runs it', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'mg-action-out-'))

  it('validates the example, sets the outputs, writes the summary and JUnit, and posts one sticky comment', async () => {
    const report = path.join(out, 'report.json')
    const run = await runActionOutside(
      'validate-model',
      {
        config: 'examples/breast-cancer/modelgate.yml',
        'report-path': report,
        'junit-path': path.join(out, 'junit.xml'),
        'github-token': 'ghs_secret_abc',
      },
      prEnv(),
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('pass')
    expect(run.outputs.passed).toBe('true')
    expect(run.outputs['report-path']).toBe(report)
    const metrics = JSON.parse(run.outputs.metrics) as Record<string, number>
    expect(metrics.accuracy).toBeCloseTo(168 / 171, 12)
    const result = JSON.parse(readFileSync(report, 'utf8')) as ValidationResult
    expect(result.metrics.accuracy).toBe(metrics.accuracy)
    expect(result.context).toMatchObject({
      repository: 'acme/models',
      sha: 'abc123',
      runId: '4242',
      pullRequest: 7,
      runUrl: 'https://github.com/acme/models/actions/runs/4242',
    })
    expect(run.summary).toContain('```mermaid\nxychart-beta')
    expect(run.summary).toContain('breast-cancer-logreg')
    expect(existsSync(path.join(out, 'junit.xml'))).toBe(true)
    expect(run.stdout).toContain('::add-mask::ghs_secret_abc')

    expect(comments).toHaveLength(1)
    expect(comments[0].body).toContain('<!-- modelgate:validate-model -->')
    expect(requests.every((r) => r.auth === 'token ghs_secret_abc')).toBe(true)

    // A second run (a new push to the pull request) updates the same comment in place.
    const again = await runActionOutside(
      'validate-model',
      { config: 'examples/breast-cancer/modelgate.yml', 'report-path': report, thresholds: 'accuracy >= 0.99' },
      prEnv(),
    )
    expect(again.code).toBe(1)
    expect(again.outputs.status).toBe('fail')
    expect(again.outputs.passed).toBe('false')
    expect(comments).toHaveLength(1)
    expect(comments[0].body).toContain('accuracy')
    expect(requests.filter((r) => r.method === 'PATCH')).toHaveLength(1)
    expect(again.commands.some((c) => c.command === 'error' && c.message.includes('accuracy'))).toBe(true)
  })

  it('gives the same numbers as the bundled CLI on the same manifest', async () => {
    const report = path.join(out, 'same.json')
    const run = await runActionOutside('validate-model', {
      config: 'examples/breast-cancer/modelgate.yml',
      'report-path': report,
      comment: 'false',
    })
    expect(run.code).toBe(0)
    const cli = spawnSync(
      process.execPath,
      ['dist/cli/index.js', 'validate', '--config', 'examples/breast-cancer/modelgate.yml', '--json'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    )
    expect(cli.status).toBe(0)
    const fromCli = JSON.parse(cli.stdout) as ValidationResult
    const fromAction = JSON.parse(readFileSync(report, 'utf8')) as ValidationResult
    const quality = (r: ValidationResult) =>
      Object.fromEntries(Object.entries(r.metrics).filter(([k]) => !PERFORMANCE_METRIC_NAMES.includes(k)))
    expect(Object.keys(quality(fromCli)).length).toBeGreaterThan(10)
    expect(quality(fromCli)).toEqual(quality(fromAction))
    expect(fromCli.checks.map((c) => [c.id, c.status, c.value])).toEqual(fromAction.checks.map((c) => [c.id, c.status, c.value]))
  })

  it('falls back to the summary with a notice when it may not comment (fork pull request)', async () => {
    forbid = true
    try {
      const run = await runActionOutside(
        'validate-model',
        { config: 'examples/breast-cancer/modelgate.yml', 'report-path': path.join(out, 'r2.json') },
        prEnv(),
      )
      expect(run.code).toBe(0)
      expect(run.outputs.status).toBe('pass')
      expect(run.commands.some((c) => c.command === 'warning' && c.message.includes('No pull-request comment'))).toBe(true)
      expect(run.summary).toContain('No pull-request comment was posted')
    } finally {
      forbid = false
    }
  })

  it('uploads the report and JUnit XML as a workflow artifact through the Actions results service', async () => {
    const service = await startArtifactService()
    try {
      const dir = mkdtempSync(path.join(tmpdir(), 'mg-artifact-'))
      const run = await runActionOutside(
        'validate-model',
        {
          config: 'examples/breast-cancer/modelgate.yml',
          'report-path': path.join(dir, 'report.json'),
          'junit-path': path.join(dir, 'junit/junit.xml'),
          'artifact-name': 'modelgate-report',
          comment: 'false',
        },
        {
          ACTIONS_RUNTIME_TOKEN: service.token,
          ACTIONS_RESULTS_URL: service.url,
          GITHUB_SERVER_URL: 'https://github.com',
          GITHUB_REPOSITORY: 'acme/models',
          GITHUB_RUN_ID: '4242',
        },
      )
      expect(run.code).toBe(0)
      expect(run.stdout).toMatch(
        /report uploaded as artifact "modelgate-report" \(https:\/\/github\.com\/acme\/models\/actions\/runs\/4242\/artifacts\/\d+\)/,
      )
      const zip = readZip(service.blobs.get('modelgate-report')!)
      expect(zip.map((e) => e.name).sort()).toEqual(['junit/junit.xml', 'report.json'])
      const uploaded = JSON.parse(zip.find((e) => e.name === 'report.json')!.data.toString('utf8')) as ValidationResult
      expect(uploaded.status).toBe('pass')
      expect(zip.find((e) => e.name === 'junit/junit.xml')!.data.toString('utf8')).toBe(
        readFileSync(path.join(dir, 'junit/junit.xml'), 'utf8'),
      )
    } finally {
      await service.close()
    }
  })

  it('exits 2 with one message naming the file and field on a bad manifest, writing no report', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-bad-'))
    writeFileSync(path.join(dir, 'modelgate.yml'), 'name: x\nmodel: m.onnx\nfeatures: [a]\nlabel: 3\ndata: d.csv\n')
    const report = path.join(dir, 'report.json')
    const run = await runActionOutside('validate-model', { 'report-path': report, comment: 'false' }, { GITHUB_WORKSPACE: dir })
    expect(run.code).toBe(2)
    expect(run.outputs.status).toBe('error')
    const errors = run.commands.filter((c) => c.command === 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0].message).toBe('modelgate.yml: invalid manifest: label (line 4, expected string, received number)')
    expect(run.stdout).not.toMatch(/at .*\.js:\d+/)
    expect(existsSync(report)).toBe(false)
  })

  it('rejects an invalid input value with exit 2', async () => {
    const run = await runActionOutside('validate-model', {
      config: 'examples/breast-cancer/modelgate.yml',
      'fail-on': 'sometimes',
      comment: 'false',
    })
    expect(run.code).toBe(2)
    expect(run.commands.find((c) => c.command === 'error')?.message).toBe('input fail-on: "sometimes" is not one of fail, warn, never')
  })
})
