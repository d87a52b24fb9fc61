import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runActionOutside, ROOT } from '../helpers/action-harness.js'
import { mermaidBlocks, xychartProblems } from '../helpers/xychart.js'
import type { ValidationResult } from '../../src/core/result/types.js'
import type { RobustnessResult } from '../../src/core/robustness/types.js'

/*
 * The committed dist/ bundle of test-robustness, run the way the runner runs it (`node
 * dist/test-robustness/index.js`, INPUT_* variables with action.yml's defaults), on the breast-cancer example
 * model with __tests__/fixtures/e2e/robustness.yml: a 100-row budget, noise and shifts at three severities,
 * missing values, two directional expectations that hold for this model, sensitivity, stress and determinism.
 */

const MANIFEST = '__tests__/fixtures/e2e/robustness.yml'
const out = mkdtempSync(path.join(tmpdir(), 'mg-robustness-action-'))

function readResult(file: string): ValidationResult {
  return JSON.parse(readFileSync(file, 'utf8')) as ValidationResult
}

/** The result's robustness section without its wall-clock figures (the cost's and each test's). */
function withoutTiming(r: RobustnessResult): RobustnessResult {
  return { ...r, tests: r.tests.map((t) => ({ ...t, seconds: 0 })), cost: { ...r.cost, seconds: 0 } }
}

/** GitHub's issue-comment endpoints for pull request 7 of acme/models: list, create, edit. */
interface Comment {
  id: number
  body: string
  user: { login: string; type: string }
}
const comments: Comment[] = [
  { id: 1, body: '<!-- modelgate:validate-model -->\nvalidate-model', user: { login: 'github-actions[bot]', type: 'Bot' } },
]
const methods: string[] = []
let server: Server

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      methods.push(`${req.method} ${req.url}`)
      const reply = (status: number, data: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data))
      const edited = /\/issues\/comments\/(\d+)$/.exec(req.url!)
      if (req.method === 'GET') return reply(200, comments)
      if (req.method === 'POST') {
        comments.push({ id: 100 + comments.length, body: JSON.parse(body).body, user: { login: 'github-actions[bot]', type: 'Bot' } })
        return reply(201, comments.at(-1))
      }
      const target = comments.find((c) => c.id === Number(edited?.[1]))
      if (req.method === 'PATCH' && target) {
        target.body = JSON.parse(body).body
        return reply(200, target)
      }
      reply(404, { message: 'Not Found' })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
})

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

function pullRequestEnv(): Record<string, string> {
  const event = path.join(out, 'event.json')
  writeFileSync(event, JSON.stringify({ pull_request: { number: 7 }, repository: { name: 'models', owner: { login: 'acme' } } }))
  return {
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: event,
    GITHUB_REPOSITORY: 'acme/models',
    GITHUB_API_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '99',
    GITHUB_WORKSPACE: ROOT,
  }
}

describe('dist/test-robustness as the runner runs it', () => {
  const first = path.join(out, 'first.json')
  let run: Awaited<ReturnType<typeof runActionOutside>>

  beforeAll(async () => {
    run = await runActionOutside(
      'test-robustness',
      { config: MANIFEST, 'report-path': first, 'junit-path': path.join(out, 'junit.xml'), 'github-token': 'ghs_robust' },
      pullRequestEnv(),
    )
  })

  it('runs every test on the 100-row sample and fails the step on the shifts that flip half the rows', () => {
    expect(run.stderr).toBe('')
    const result = readResult(first)
    const r = result.robustness!
    expect([r.seed, r.rows, r.rowsAvailable]).toEqual([7, 100, 171])
    expect(result.data[0]!.rows).toBe(100)
    expect(r.tests.filter((t) => t.kind === 'invariance').map((t) => t.id)).toEqual([
      'invariance/gaussian_noise/0.1',
      'invariance/gaussian_noise/0.5',
      'invariance/gaussian_noise/1',
      'invariance/shift/0.1',
      'invariance/shift/0.5',
      'invariance/shift/1',
      'invariance/missing/0.1',
    ])
    // In model.onnx both features weigh towards malignant: raising them never raised p(benign) on any row.
    for (const id of ['directional/worst_radius/decreasing', 'directional/mean_texture/decreasing']) {
      expect(r.tests.find((t) => t.id === id)).toMatchObject({ status: 'pass', violations: 0 })
    }
    const wrong = r.tests.find((t) => t.id === 'directional/mean_compactness/decreasing')!
    expect(wrong.status).toBe('fail')
    expect(wrong.violations).toBeGreaterThan(wrong.rows / 2)
    for (const e of wrong.examples!) {
      const [, before, after] = /p ([\d.]+) → ([\d.]+) when mean_compactness /.exec(e.message)!
      expect(Number(after)).toBeGreaterThan(Number(before))
    }
    expect(r.tests.find((t) => t.id === 'determinism')?.status).toBe('pass')
    expect(r.sensitivity?.map((s) => s.feature).sort()).toEqual(['mean_texture', 'worst_concave_points', 'worst_radius'])
    const failed = result.checks.filter((c) => c.status === 'fail').map((c) => c.id)
    expect(failed).toEqual(
      expect.arrayContaining(['invariance/shift/0.5', 'invariance/shift/1', 'directional/mean_compactness/decreasing']),
    )
    expect(result.status).toBe('fail')
    expect(run.code).toBe(1)
    expect(run.outputs.status).toBe('fail')
    expect(run.outputs.passed).toBe('false')
    expect(run.outputs['report-path']).toBe(first)
    expect(run.commands.filter((c) => c.command === 'error').map((c) => c.message)).toContainEqual(
      expect.stringMatching(/^test-robustness: \d+ check\(s\) failed: .*invariance\/shift\/1/),
    )
    expect(readFileSync(path.join(out, 'junit.xml'), 'utf8')).toContain('<testsuites name="modelgate test-robustness"')
  })

  it('sets flip-rate to the worst flip rate of the report', () => {
    const flip = Number(run.outputs['flip-rate'])
    expect(run.outputs['flip-rate']).toMatch(/^0\.\d+$/)
    const rates = readResult(first).robustness!.tests.flatMap((t) => (t.flipRate === undefined ? [] : [t.flipRate]))
    expect(flip).toBe(Math.max(...rates))
    expect(readResult(first).robustness!.tests.find((t) => t.flipRate === flip)?.id).toBe('invariance/shift/1')
  })

  it('writes the tests table, a valid severity chart, sensitivity, stress and cost to the job summary', () => {
    expect(run.summary).toContain('## ❌ modelgate test-robustness: breast-cancer-logreg failed:')
    expect(run.summary).toContain(
      '|  | Test | Perturbation | Rows | Flip rate [95% CI] | Metric: clean → perturbed | Δ (rel.) | Violations | Major |',
    )
    const result = readResult(first)
    const accuracyUnder = (kind: string) =>
      ['0.1', '0.5', '1'].map((s) =>
        Number(result.robustness!.tests.find((t) => t.id === `invariance/${kind}/${s}`)!.metric!.perturbed.toFixed(4)),
      )
    // The severity chart, then the clean metrics' bar chart of the data set.
    const charts = mermaidBlocks(run.summary)
    expect(charts.map((c) => c[2])).toEqual(['    title "accuracy under gaussian_noise, shift"', '    title "Metrics: test"'])
    for (const chart of charts) expect(xychartProblems(chart)).toEqual([])
    expect(charts[0]!.slice(3)).toEqual([
      '    x-axis "severity" ["0", "0.1", "0.5", "1"]',
      '    y-axis "accuracy"',
      `    line [${[result.metrics.accuracy, ...accuracyUnder('gaussian_noise')].join(', ')}]`,
      `    line [${[result.metrics.accuracy, ...accuracyUnder('shift')].join(', ')}]`,
      '```',
    ])
    expect(run.summary).toContain('#### Sensitivity')
    expect(run.summary).toContain('#### Stress')
    expect(run.summary).toMatch(/\*\*Cost:\*\* [\d,]+ model calls, [\d,]+ rows scored: [\d.]+ clean passes of 100 rows/)
  })

  it('keeps its own sticky pull-request comment beside validate-model’s, and updates it on a re-run', async () => {
    const ours = () => comments.filter((c) => c.body.startsWith('<!-- modelgate:test-robustness -->'))
    expect(comments).toHaveLength(2)
    expect(ours()).toHaveLength(1)
    expect(ours()[0]!.body).toContain('### ❌ test-robustness failed:')
    expect(ours()[0]!.body).toContain('| ❌ | invariance/shift/1 |')

    // The same seed gives the same results: only the run time differs.
    const second = path.join(out, 'second.json')
    const again = await runActionOutside(
      'test-robustness',
      { config: MANIFEST, 'report-path': second, 'github-token': 'ghs_robust' },
      pullRequestEnv(),
    )
    expect(again.code).toBe(1)
    expect(withoutTiming(readResult(second).robustness!)).toEqual(withoutTiming(readResult(first).robustness!))
    expect(again.outputs['flip-rate']).toBe(run.outputs['flip-rate'])
    expect(comments).toHaveLength(2)
    expect(methods.filter((m) => m.startsWith('PATCH'))).toEqual([`PATCH /repos/acme/models/issues/comments/${ours()[0]!.id}`])
    expect(comments[0]!.body).toBe('<!-- modelgate:validate-model -->\nvalidate-model')
  })

  it('takes seed, rows and time-budget as inputs over the manifest', async () => {
    const report = path.join(out, 'inputs.json')
    const r = await runActionOutside('test-robustness', {
      config: MANIFEST,
      'report-path': report,
      seed: '11',
      rows: '40',
      comment: 'false',
    })
    expect(r.stderr).toBe('')
    const rob = readResult(report).robustness!
    expect([rob.seed, rob.rows, rob.rowsAvailable]).toEqual([11, 40, 171])
    expect(r.outputs['flip-rate']).toBe(String(Math.max(...rob.tests.flatMap((t) => (t.flipRate === undefined ? [] : [t.flipRate])))))
  })

  it('rejects a bad input with exit 2, one error naming it, and no report', async () => {
    const report = path.join(out, 'bad.json')
    const r = await runActionOutside('test-robustness', { config: MANIFEST, 'report-path': report, rows: '0', comment: 'false' })
    expect(r.code).toBe(2)
    expect(r.outputs).toMatchObject({ status: 'error', passed: 'false' })
    const errors = r.commands.filter((c) => c.command === 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0]!.message).toMatch(/^input rows: "0" is not valid: /)
    expect(r.summary).toContain('## 💥 modelgate test-robustness: error')
    expect(existsSync(report)).toBe(false)
  })
})
