import { afterAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { parseFileCommands, ROOT, runAction } from '../helpers/action-harness.js'
import { startArtifactService, type FakeArtifactService } from '../helpers/artifact-service.js'
import type { Job, Step } from '../helpers/workflow-refs.js'
import { stopEnvironmentServers } from '../helpers/servers.js'

/*
 * Runs ci.yml's jobs step by step as the runner would, each job in a fresh workspace: the actions from
 * their committed bundles, the run: steps in bash -eo pipefail, and every ${{ }} filled in from the
 * outputs of earlier steps (and, in a matrix job, from its matrix values). The jobs' own checks are the
 * run: steps; a step that exits non-zero fails the job here as it would on GitHub.
 */

const github: Record<string, string> = { repository_owner: 'modelgate', run_id: '1', actor: 'octocat' }
const workflow = () => parse(readFileSync(path.join(ROOT, '.github/workflows/ci.yml'), 'utf8')) as { jobs: Record<string, Job> }

/** Every folder made here (workspaces, runner temp folders), removed when the file's tests end. */
const made: string[] = []
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

type Outputs = Map<string, Record<string, string>>
type Matrix = Record<string, unknown>

/**
 * Fills in `${{ steps.<id>.outputs.<name> }}`, `${{ github.<key> }}` and, in a matrix job,
 * `${{ matrix.<key> }}` (a scalar); any other expression is a test error.
 */
function evaluate(text: string, outputs: Outputs, matrix: Matrix = {}): string {
  return text.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_, expr: string) => {
    const step = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr)
    if (step) return outputs.get(step[1])?.[step[2]] ?? ''
    const ctx = /^github\.([\w-]+)$/.exec(expr)
    if (ctx && ctx[1] in github) return github[ctx[1]]
    const m = /^matrix\.([\w-]+)$/.exec(expr)
    if (m && Object.hasOwn(matrix, m[1]) && ['string', 'number', 'boolean'].includes(typeof matrix[m[1]])) return String(matrix[m[1]])
    throw new Error(`the job runner here cannot evaluate \${{ ${expr} }}`)
  })
}

function evaluateAll(values: Record<string, unknown> | undefined, outputs: Outputs, matrix?: Matrix): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).map(([k, v]) => [k, evaluate(String(v), outputs, matrix)]))
}

/** One job of a workflow run, as the runner sets it up: a fresh workspace, its matrix values, the env its actions get. */
interface JobContext {
  ws: string
  /** RUNNER_TEMP: outside the workspace, as on a runner. */
  temp: string
  matrix?: Matrix
  /** What the runner gives the job's actions besides GITHUB_WORKSPACE (here: the artifact service and its job token). */
  actionEnv?: Record<string, string>
}

function newJob(matrix?: Matrix, actionEnv?: Record<string, string>): JobContext {
  return { ws: tempDir('mg-ci-workflow-'), temp: tempDir('mg-ci-runner-'), matrix, actionEnv }
}

interface StepResult {
  code: number | null
  outputs: Record<string, string>
  log: string
}

async function runScript(job: JobContext, script: string, env: Record<string, string>): Promise<StepResult> {
  const output = path.join(job.temp, 'step-output')
  writeFileSync(output, '')
  const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd: job.ws,
    env: { ...process.env, GITHUB_WORKSPACE: job.ws, GITHUB_OUTPUT: output, ...env },
  })
  let log = ''
  child.stdout.on('data', (d: Buffer) => (log += d.toString()))
  child.stderr.on('data', (d: Buffer) => (log += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, outputs: parseFileCommands(readFileSync(output, 'utf8')), log }
}

async function runStep(job: JobContext, step: Step, outputs: Outputs): Promise<StepResult> {
  if (step.uses === 'actions/checkout@v5') {
    cpSync(path.join(ROOT, 'examples'), path.join(job.ws, 'examples'), { recursive: true })
    return { code: 0, outputs: {}, log: '' }
  }
  const local = /^\.\/actions\/([\w-]+)$/.exec(step.uses ?? '')
  if (local) {
    const r = await runAction(local[1], evaluateAll(step.with, outputs, job.matrix), { ...job.actionEnv, GITHUB_WORKSPACE: job.ws })
    return { code: r.code, outputs: r.outputs, log: r.stdout + r.stderr }
  }
  if (step.run !== undefined)
    return runScript(job, evaluate(step.run, outputs, job.matrix), evaluateAll(step.env as Record<string, unknown>, outputs, job.matrix))
  throw new Error(`the job runner here cannot run ${JSON.stringify(step)}`)
}

/**
 * Runs a job's steps in order, as the runner does: a step that exits non-zero fails the job (a test error
 * here, with the step's log) and the later steps do not run. Returns each step's exit code and the outputs by step id.
 */
async function runJob(name: string, job: Job, ctx: JobContext): Promise<{ codes: (number | null)[]; outputs: Outputs }> {
  const outputs: Outputs = new Map()
  const codes: (number | null)[] = []
  for (const [i, step] of job.steps!.entries()) {
    const r = await runStep(ctx, step, outputs)
    codes.push(r.code)
    const matrix = ctx.matrix ? ` (matrix ${JSON.stringify(ctx.matrix)})` : ''
    if (r.code !== 0) throw new Error(`job ${name}${matrix}: step ${step.id ?? i} exited ${r.code}:\n${r.log}`)
    if (step.id) outputs.set(step.id, r.outputs)
  }
  return { codes, outputs }
}

/** The jobs a matrix expands to (one without strategy.matrix is one job); include and exclude are a test error here. */
function matrixOf(job: Job): Matrix[] | undefined {
  const matrix = (job.strategy as { matrix?: Record<string, unknown> } | undefined)?.matrix
  if (matrix === undefined) return undefined
  let combinations: Matrix[] = [{}]
  for (const [key, values] of Object.entries(matrix)) {
    if (key === 'include' || key === 'exclude' || !Array.isArray(values)) throw new Error(`the job runner here cannot expand matrix.${key}`)
    combinations = combinations.flatMap((c) => values.map((v: unknown) => ({ ...c, [key]: v })))
  }
  return combinations
}

const needsOf = (job: Job): string[] => (job.needs === undefined ? [] : typeof job.needs === 'string' ? [job.needs] : job.needs)

/** The given jobs in an order that runs each after every job it needs; a need outside them, or a cycle, is a test error. */
function jobOrder(jobs: Record<string, Job>, names: string[]): string[] {
  const order: string[] = []
  const visit = (name: string, chain: string[]) => {
    if (order.includes(name)) return
    if (chain.includes(name)) throw new Error(`needs: cycle ${[...chain, name].join(' → ')}`)
    if (!names.includes(name)) throw new Error(`job ${chain.at(-1)} needs ${name}, which is not run here`)
    for (const need of needsOf(jobs[name])) visit(need, [...chain, name])
    order.push(name)
  }
  for (const name of names) visit(name, [])
  return order
}

afterAll(() => {
  // deploy-model's local target leaves modelgate serve running, as it would on a runner until the job ends.
  for (const dir of made) stopEnvironmentServers(dir)
  for (const dir of made) rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
})

describe('ci.yml test-action, run as the runner runs it', () => {
  it('validates, tests robustness, registers with both reports and deploys the example; every check step passes', async () => {
    const job = workflow().jobs['test-action']
    const ctx = newJob()
    const ws = ctx.ws
    const { codes, outputs } = await runJob('test-action', job, ctx)
    expect(codes).toEqual(job.steps!.map(() => 0))

    expect(outputs.get('validate')).toMatchObject({ status: 'pass', passed: 'true', 'report-path': path.join(ws, 'modelgate-report.json') })
    // The comment in ci.yml says why the example fails robustness; this holds it to that.
    expect(outputs.get('robustness')).toMatchObject({
      status: 'fail',
      passed: 'false',
      'report-path': path.join(ws, 'modelgate-robustness.json'),
    })
    const report = JSON.parse(readFileSync(path.join(ws, 'modelgate-robustness.json'), 'utf8')) as {
      checks: { id: string; status: string }[]
    }
    expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual([
      'invariance/shift/0.1',
      'stress/nan',
      'stress/missing',
    ])

    // The pull request's model was compared with the version in production, by name.
    expect(outputs.get('production')).toMatchObject({ version: '1.0.0', stage: 'prod', created: 'true' })
    const validated = JSON.parse(readFileSync(path.join(ws, 'modelgate-report.json'), 'utf8')) as {
      registryBaseline?: { version?: string; stage?: string }
      baseline?: { source: string }
    }
    expect(validated.registryBaseline).toMatchObject({ version: '1.0.0', stage: 'prod' })
    expect(validated.baseline?.source).toBe('breast-cancer-logreg 1.0.0')

    const register = outputs.get('register')!
    expect(register).toMatchObject({ version: '1.0.1', created: 'true', tag: 'breast-cancer-logreg@v1.0.1' })
    const versionDir = path.join(ws, '.modelgate/registry/breast-cancer-logreg/versions/1.0.1')
    expect(existsSync(path.join(versionDir, 'evidence/validate-model.json'))).toBe(true)
    expect(existsSync(path.join(versionDir, 'evidence/test-robustness.json'))).toBe(true)

    const deploy = outputs.get('deploy')!
    expect(deploy).toMatchObject({ version: '1.0.1', digest: register.digest, status: 'success', 'rolled-back': 'false' })
    expect(deploy.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  }, 120_000)
})

/*
 * The sharded jobs: validate-shard once per matrix value, each matrix job in a fresh workspace (a fresh
 * checkout) and speaking to the run's artifact service with a runtime token of its own, all at once as a
 * matrix's jobs run; then, since it needs them, validate-merge, in a workspace and with a token of its own,
 * downloading what they uploaded. One artifact service for the run, as on GitHub.
 */
describe('ci.yml validate-shard (a matrix) and validate-merge, run as the runner runs them', () => {
  let service: FakeArtifactService | undefined
  afterAll(() => service?.close())

  it('runs every shard job and then the merge job against one artifact service; every step of both jobs passes', async () => {
    const { jobs } = workflow()
    // The order comes from needs:, not from the order given here.
    const order = jobOrder(jobs, ['validate-merge', 'validate-shard'])
    expect(order).toEqual(['validate-shard', 'validate-merge'])
    expect(needsOf(jobs['validate-merge'])).toContain('validate-shard')
    expect(matrixOf(jobs['validate-shard'])).toEqual([{ shard: 1 }, { shard: 2 }, { shard: 3 }])
    expect(matrixOf(jobs['validate-merge'])).toBeUndefined()

    service = await startArtifactService()
    const svc = service
    let jobCount = 0
    const tokens: { name: string; matrix?: Matrix; token: string }[] = []
    const runs = new Map<string, { ctx: JobContext; codes: (number | null)[]; outputs: Outputs }[]>()
    for (const name of order) {
      // Every job of the run has a backend id (and so a token) of its own.
      const contexts = (matrixOf(jobs[name]) ?? [undefined]).map((matrix) => {
        const token = svc.jobToken(`c0ffee00-0000-4000-8000-0000000002${String(++jobCount).padStart(2, '0')}`)
        tokens.push({ name, matrix, token })
        return newJob(matrix, { ACTIONS_RESULTS_URL: svc.url, ACTIONS_RUNTIME_TOKEN: token, GITHUB_RUN_ID: github.run_id })
      })
      // A matrix's jobs run side by side, each to its end (fail-fast: false); a job that needs them starts once all are done.
      const settled = await Promise.allSettled(contexts.map(async (ctx) => ({ ctx, ...(await runJob(name, jobs[name], ctx)) })))
      const failures = settled.flatMap((s) =>
        s.status === 'rejected' ? [s.reason instanceof Error ? s.reason.message : String(s.reason)] : [],
      )
      if (failures.length > 0) throw new Error(failures.join('\n\n'))
      runs.set(
        name,
        settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])),
      )
    }

    const shards = runs.get('validate-shard')!
    expect(shards.map((r) => r.ctx.matrix)).toEqual([{ shard: 1 }, { shard: 2 }, { shard: 3 }])
    for (const [k, { ctx, codes, outputs }] of shards.entries()) {
      const i = k + 1
      expect(codes).toEqual(jobs['validate-shard'].steps!.map(() => 0))
      expect(outputs.get('shard')).toMatchObject({ status: 'shard', 'shard-state': path.join(ctx.ws, `modelgate-shard-${i}-of-3.json`) })
      expect(outputs.get('robustness-shard')).toMatchObject({ status: 'shard' })
      expect(existsSync(outputs.get('robustness-shard')!['shard-state'])).toBe(true)
      // Each shard job uploaded its two states, as itself.
      const token = tokens.find((t) => t.name === 'validate-shard' && (t.matrix as Matrix).shard === i)!.token
      const created = svc.twirpCalls.filter((c) => c.method === 'CreateArtifact' && c.authorization === `Bearer ${token}`)
      expect(created.map((c) => c.body.name).sort()).toEqual([`modelgate-robustness-shard-${i}-of-3`, `modelgate-shard-${i}-of-3`])
    }
    expect([...svc.blobs.keys()].sort()).toEqual(
      [1, 2, 3].flatMap((i) => [`modelgate-robustness-shard-${i}-of-3`, `modelgate-shard-${i}-of-3`]).sort(),
    )

    const [merge] = runs.get('validate-merge')!
    expect(merge.codes).toEqual(jobs['validate-merge'].steps!.map(() => 0))
    expect(merge.outputs.get('merge')).toMatchObject({
      status: 'pass',
      passed: 'true',
      'report-path': path.join(merge.ctx.ws, 'modelgate-report.json'),
    })
    expect(merge.outputs.get('robustness-merge')).toMatchObject({
      status: 'fail',
      'report-path': path.join(merge.ctx.ws, 'modelgate-robustness.json'),
    })
    expect(existsSync(path.join(merge.ctx.ws, 'modelgate-report.json'))).toBe(true)
    expect(existsSync(path.join(merge.ctx.ws, 'modelgate-robustness.json'))).toBe(true)
    // The merge job downloaded what the shard jobs uploaded and uploaded nothing itself.
    const mergeToken = tokens.find((t) => t.name === 'validate-merge')!.token
    const byMerge = svc.twirpCalls.filter((c) => c.authorization === `Bearer ${mergeToken}`)
    expect(new Set(byMerge.map((c) => c.method))).toEqual(new Set(['ListArtifacts', 'GetSignedArtifactURL']))
    expect(
      byMerge
        .filter((c) => c.method === 'GetSignedArtifactURL')
        .map((c) => String(c.body.name))
        .sort(),
    ).toEqual([...svc.blobs.keys()].sort())
    expect(svc.twirpCalls.filter((c) => c.method === 'CreateArtifact')).toHaveLength(6)
  }, 180_000)

  it('evaluates ${{ matrix.<key> }} from the matrix job only, and no other expression', () => {
    expect(evaluate('${{ matrix.shard }}/3', new Map(), { shard: 2 })).toBe('2/3')
    expect(() => evaluate('${{ matrix.shard }}/3', new Map())).toThrow('cannot evaluate ${{ matrix.shard }}')
    expect(() => evaluate('${{ matrix.other }}', new Map(), { shard: 2 })).toThrow('cannot evaluate ${{ matrix.other }}')
    expect(() => evaluate('${{ matrix.toString }}', new Map(), { shard: 2 })).toThrow('cannot evaluate')
    expect(() => evaluate('${{ strategy.job-index }}', new Map(), { shard: 2 })).toThrow('cannot evaluate ${{ strategy.job-index }}')
  })
})
