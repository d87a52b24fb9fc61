import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runAction, ROOT, type ActionRun } from '../helpers/action-harness.js'
import { readZip, startArtifactService, type FakeArtifactService } from '../helpers/artifact-service.js'
import type { ValidationResult } from '../../src/core/result/types.js'

/*
 * validate-model sharded across a workflow matrix, as the runner runs the bundled dist/: three shard jobs
 * (input shard: i/3), each in a workspace of its own and with a runtime token of its own, upload their state
 * to a local stand-in of the Actions artifact service; a merge job (input merge: true, another job's token)
 * downloads them and must give the verdict an unsharded run gives. batch-size 20 deals the 171 rows of the
 * breast-cancer example's test set as 9 blocks: shards 1 and 2 get three full blocks (60 rows), shard 3 gets
 * 20 + 20 + 11 = 51.
 */

const SHARDS = 3
const SCORED = [60, 60, 51]
const RUN_ENV = {
  GITHUB_REPOSITORY: 'acme/models',
  GITHUB_RUN_ID: '4242',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_SHA: 'abc123',
  GITHUB_REF: 'refs/heads/main',
  GITHUB_EVENT_NAME: 'push',
}
const INPUTS = { 'batch-size': '20', comment: 'false' }
const artifactName = (i: number) => `modelgate-shard-${i}-of-${SHARDS}`
const jobId = (n: number) => `c0ffee00-0000-4000-8000-0000000001${String(n).padStart(2, '0')}`
const MERGE_JOB = jobId(99)

/** A fresh checkout of the example: every job of a workflow run has its own. */
function checkout(): string {
  const ws = mkdtempSync(path.join(tmpdir(), 'mg-shard-ws-'))
  cpSync(path.join(ROOT, 'examples', 'breast-cancer'), ws, { recursive: true })
  return ws
}

function serviceEnv(service: FakeArtifactService, token: string): Record<string, string> {
  return { ACTIONS_RESULTS_URL: service.url, ACTIONS_RUNTIME_TOKEN: token }
}

async function step(ws: string, inputs: Record<string, string>, env: Record<string, string> = {}): Promise<ActionRun> {
  return runAction('validate-model', { ...INPUTS, ...inputs }, { ...RUN_ENV, GITHUB_WORKSPACE: ws, ...env })
}

function errors(run: ActionRun): string[] {
  return run.commands.filter((c) => c.command === 'error').map((c) => c.message)
}

/** Metrics without the timings (batch latencies, rows per second), which differ between any two runs. */
function untimedMetrics(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([k]) => !k.startsWith('latency_') && k !== 'rows_per_second'))
}

/**
 * The merge's own note ("Merged from 3 shards (blocks of 20 rows each): …", src/core/validate/run.ts) is
 * the one line a merged report adds to an unsharded one; a dist/ built before the note lacks it.
 */
const MERGE_NOTE = 'Merged from '

/**
 * The report without what only timing makes differ between two runs of the same rows (the start and
 * duration, the latency and throughput metrics, each data set's performance and each check's seconds)
 * and without the merge's note.
 */
function untimed(report: ValidationResult): unknown {
  const copy = JSON.parse(JSON.stringify(report)) as ValidationResult
  const { startedAt: _s, durationSeconds: _d, ...context } = copy.context
  return {
    ...copy,
    context,
    metrics: untimedMetrics(copy.metrics),
    data: copy.data.map(({ performance: _p, ...d }) => ({ ...d, metrics: untimedMetrics(d.metrics) })),
    checks: copy.checks.map(({ seconds: _c, ...c }) => c),
    notes: copy.notes.filter((n) => !n.startsWith(MERGE_NOTE)),
  }
}

function readReport(file: string): ValidationResult {
  return JSON.parse(readFileSync(file, 'utf8')) as ValidationResult
}

/** The job summary without its timings (the run's duration, the latency and throughput rows, the performance line) and the merge's note. */
function untimedSummary(summary: string): string[] {
  return summary
    .split('\n')
    .filter((l) => !/^\| (latency_\w+|rows_per_second) \|/.test(l) && !l.startsWith('**Performance:**'))
    .filter((l) => !l.startsWith(`- ${MERGE_NOTE}`))
    .map((l) => (l.startsWith('**Model:**') ? l.replace(/ · [\d.e+-]+ s · /, ' · <duration> · ') : l))
}

describe('dist/validate-model sharded across a matrix (input shard, input merge)', () => {
  let service: FakeArtifactService
  const shards: { ws: string; run: ActionRun }[] = []

  beforeAll(async () => {
    service = await startArtifactService()
    // One after another, as the service sees a matrix's jobs finish; each job speaks with its own token.
    for (let i = 1; i <= SHARDS; i++) {
      const ws = checkout()
      shards.push({ ws, run: await step(ws, { shard: `${i}/${SHARDS}` }, serviceEnv(service, service.jobToken(jobId(i)))) })
    }
  })

  afterAll(() => service.close())

  it('scores one shard per job, uploads each state, and the merge gives the verdict of an unsharded run', async () => {
    for (const [k, { ws, run }] of shards.entries()) {
      const i = k + 1
      expect(errors(run)).toEqual([])
      expect(run.code).toBe(0)
      expect(run.outputs.status).toBe('shard')
      expect(run.outputs.passed).toBe('true')
      const statePath = path.join(ws, `modelgate-shard-${i}-of-${SHARDS}.json`)
      expect(run.outputs['shard-state']).toBe(statePath)
      expect(run.outputs['report-path']).toBeUndefined()
      expect(run.outputs.metrics).toBeUndefined()
      const state = JSON.parse(readFileSync(statePath, 'utf8')) as {
        shard: { index: number; count: number }
        data: { name: string; rows: number; scored: number }[]
      }
      expect(state.shard).toEqual({ index: i, count: SHARDS })
      expect(state.data.map((d) => [d.name, d.rows, d.scored])).toEqual([['test', 171, SCORED[k]]])
      // No verdict, so no report.
      expect(existsSync(path.join(ws, 'modelgate-report.json'))).toBe(false)
      expect(run.summary).toContain(`### modelgate validate-model: shard ${i}/${SHARDS}`)
      expect(run.summary).toContain(`| test | ${SCORED[k]} | 171 |`)
      expect(run.summary).toContain(`\`${artifactName(i)}\``)
      expect(run.stdout).toContain(`shard state uploaded as artifact "${artifactName(i)}"`)
      // The artifact holds the state file itself, at its root.
      const zip = readZip(service.blobs.get(artifactName(i))!)
      expect(zip.map((e) => e.name)).toEqual([`modelgate-shard-${i}-of-${SHARDS}.json`])
      expect(zip[0].data.toString('utf8')).toBe(readFileSync(statePath, 'utf8'))
    }
    expect([...service.blobs.keys()].sort()).toEqual([1, 2, 3].map(artifactName))

    const mergeWs = checkout()
    const mergeToken = service.jobToken(MERGE_JOB)
    const merge = await step(mergeWs, { merge: 'true' }, serviceEnv(service, mergeToken))
    const plainWs = checkout()
    const plain = await step(plainWs, {})

    expect(errors(plain)).toEqual([])
    expect(plain.code).toBe(0)
    expect(plain.outputs.status).toBe('pass')
    expect(errors(merge)).toEqual([])
    expect(merge.stdout).toContain(`merging 3 shard artifact(s): ${[1, 2, 3].map(artifactName).join(', ')}`)
    expect(merge.code).toBe(plain.code)
    expect(merge.outputs.status).toBe(plain.outputs.status)
    expect(merge.outputs.passed).toBe('true')
    expect(merge.outputs['shard-state']).toBeUndefined()
    const reportPath = path.join(mergeWs, 'modelgate-report.json')
    expect(merge.outputs['report-path']).toBe(reportPath)

    const merged = readReport(reportPath)
    const unsharded = readReport(path.join(plainWs, 'modelgate-report.json'))
    expect(merged.metrics.accuracy).toBeCloseTo(168 / 171, 12)
    expect(merged.checks.length).toBeGreaterThan(10)
    expect(untimed(merged)).toEqual(untimed(unsharded))
    expect(unsharded.notes.filter((n) => n.startsWith(MERGE_NOTE))).toEqual([])
    for (const note of merged.notes.filter((n) => n.startsWith(MERGE_NOTE)))
      expect(note).toMatch(/^Merged from 3 shards \(blocks of 20 rows each\): /)
    // The merge still reports the timings, the shards' own.
    expect(merged.metrics.latency_p50_ms).toBeGreaterThan(0)
    expect(merged.metrics.rows_per_second).toBeGreaterThan(0)
    expect(merged.data[0].performance.batches).toBe(9)
    const metrics = (run: ActionRun) => untimedMetrics(JSON.parse(run.outputs.metrics) as Record<string, number>)
    expect(metrics(merge)).toEqual(untimedMetrics(merged.metrics))
    expect(metrics(merge)).toEqual(metrics(plain))

    // The same summary, line for line, but for the timings: the verdict heading, the checks table, the metrics.
    const summary = untimedSummary(merge.summary)
    expect(summary[0]).toBe('## ✅ modelgate validate-model: breast-cancer-logreg passed')
    expect(summary).toContain(
      '| ✅ | threshold/test/accuracy&gt;=0.95 | 0.9825 | accuracy &gt;= 0.95 |  |  | accuracy = 0.982456, meets &gt;= 0.95 |',
    )
    expect(summary).toContain('| accuracy | 0.9825 | 0.9532 | +0.02924 | label |')
    expect(summary.filter((l) => l.startsWith('| ✅ |'))).toHaveLength(merged.checks.length)
    expect(summary.some((l) => /latency|rows_per_second/.test(l))).toBe(false)
    expect(summary).toEqual(untimedSummary(plain.summary))
    // The merge job listed the run's artifacts and fetched each shard's, as itself; it uploaded nothing.
    const byMerge = service.twirpCalls.filter((c) => c.authorization === `Bearer ${mergeToken}`)
    expect(new Set(byMerge.map((c) => c.method))).toEqual(new Set(['ListArtifacts', 'GetSignedArtifactURL']))
    expect(byMerge.filter((c) => c.method === 'GetSignedArtifactURL').map((c) => c.body.name)).toEqual([1, 2, 3].map(artifactName))
    expect(service.twirpCalls.filter((c) => c.method === 'CreateArtifact')).toHaveLength(SHARDS)
  })

  it('refuses to merge when a shard never uploaded, naming it, and writes no report', async () => {
    const partial = await startArtifactService()
    try {
      // The bytes the shard jobs above uploaded, as if only two of them had finished.
      for (const i of [1, 2]) partial.seedArtifact(artifactName(i), service.blobs.get(artifactName(i))!, jobId(i))
      const ws = checkout()
      const merge = await step(ws, { merge: 'true' }, serviceEnv(partial, partial.jobToken(MERGE_JOB)))
      expect(merge.code).toBe(2)
      expect(merge.outputs.status).toBe('error')
      expect(errors(merge)).toEqual([
        `merge: shard 3/3 missing: 2 of 3 given (modelgate-shard-1-of-3.json, modelgate-shard-2-of-3.json); a verdict on part of the data is not given`,
      ])
      expect(existsSync(path.join(ws, 'modelgate-report.json'))).toBe(false)
    } finally {
      await partial.close()
    }
  })

  it('fails a shard and a merge with exit 2 when the run has no artifact service', async () => {
    const ws = checkout()
    const shard = await step(ws, { shard: `1/${SHARDS}` })
    const statePath = path.join(ws, `modelgate-shard-1-of-${SHARDS}.json`)
    expect(shard.code).toBe(2)
    expect(shard.outputs.status).toBe('error')
    expect(errors(shard)).toEqual([
      `input shard: this run has no Actions artifact service (ACTIONS_RUNTIME_TOKEN), so the shard's state cannot reach the merge job; it stays at ${statePath}`,
    ])
    expect(existsSync(statePath)).toBe(true)

    const merge = await step(ws, { merge: 'true' })
    expect(merge.code).toBe(2)
    expect(merge.outputs.status).toBe('error')
    expect(errors(merge)).toEqual([
      "input merge: this run has no Actions artifact service (ACTIONS_RUNTIME_TOKEN), so the shards' artifacts cannot be downloaded",
    ])
    expect(existsSync(path.join(ws, 'modelgate-report.json'))).toBe(false)
  })

  it('refuses shard and merge in one step with exit 2', async () => {
    const other = await startArtifactService()
    try {
      const ws = checkout()
      const run = await step(ws, { shard: `1/${SHARDS}`, merge: 'true' }, serviceEnv(other, other.token))
      expect(run.code).toBe(2)
      expect(run.outputs.status).toBe('error')
      expect(errors(run)).toEqual(['input shard and input merge: a step is either one shard or the merge of them all; give one'])
      expect(other.twirpCalls).toEqual([])
      expect(existsSync(path.join(ws, `modelgate-shard-1-of-${SHARDS}.json`))).toBe(false)
      expect(existsSync(path.join(ws, 'modelgate-report.json'))).toBe(false)
    } finally {
      await other.close()
    }
  })

  it('refuses to merge a shard made with other thresholds, naming its file', async () => {
    const mixed = await startArtifactService()
    try {
      // Shards 1 and 3 as uploaded above; shard 2 is run again with a threshold the merge does not have.
      for (const i of [1, 3]) mixed.seedArtifact(artifactName(i), service.blobs.get(artifactName(i))!, jobId(i))
      const shard2 = await step(
        checkout(),
        { shard: `2/${SHARDS}`, thresholds: 'accuracy >= 0.5' },
        serviceEnv(mixed, mixed.jobToken(jobId(2))),
      )
      expect(errors(shard2)).toEqual([])
      expect(shard2.code).toBe(0)
      expect(shard2.outputs.status).toBe('shard')

      const ws = checkout()
      const merge = await step(ws, { merge: 'true' }, serviceEnv(mixed, mixed.jobToken(MERGE_JOB)))
      expect(merge.code).toBe(2)
      expect(merge.outputs.status).toBe('error')
      const messages = errors(merge)
      expect(messages).toHaveLength(1)
      // The threshold input becomes the settings' gates; the file is where the merge downloaded the artifact.
      const m =
        /^(\/\S+)\/modelgate-shard-2-of-3\/modelgate-shard-2-of-3\.json: shard 2\/3 was made with other settings than this merge's \(they differ in gates\); run the merge with the shards' manifest and inputs$/.exec(
          messages[0],
        )
      expect(m).not.toBeNull()
      // The downloaded artifacts do not outlive the step.
      expect(existsSync(m![1])).toBe(false)
      expect(existsSync(path.join(ws, 'modelgate-report.json'))).toBe(false)
    } finally {
      await mixed.close()
    }
  })
})

/** n shard jobs of `action`, each with its own checkout and token, then a merge job; and one unsharded job. */
async function sharded(action: 'validate-model' | 'test-robustness', n: number, inputs: Record<string, string>) {
  const service = await startArtifactService()
  try {
    const env = (job: number) => ({ ...RUN_ENV, GITHUB_WORKSPACE: '', ...serviceEnv(service, service.jobToken(jobId(job))) })
    for (let i = 1; i <= n; i++) {
      const ws = checkout()
      const run = await runAction(action, { ...INPUTS, ...inputs, shard: `${i}/${n}` }, { ...env(i), GITHUB_WORKSPACE: ws })
      expect(errors(run)).toEqual([])
      expect(run.outputs.status).toBe('shard')
    }
    const mergeWs = checkout()
    const merged = await runAction(action, { ...INPUTS, ...inputs, merge: 'true' }, { ...env(99), GITHUB_WORKSPACE: mergeWs })
    const singleWs = checkout()
    const single = await runAction(action, { ...INPUTS, ...inputs }, { ...RUN_ENV, GITHUB_WORKSPACE: singleWs })
    return { service, merged, single, mergeWs, singleWs }
  } finally {
    await service.close()
  }
}

describe('dist/ actions sharded over 1, 2 and 7 jobs', () => {
  it.each([1, 2, 7])('validate-model with %i shard(s): the unsharded report', async (n) => {
    const { merged, single } = await sharded('validate-model', n, {})
    expect(errors(merged)).toEqual([])
    expect(merged.code).toBe(single.code)
    expect(untimed(readReport(merged.outputs['report-path']))).toEqual(untimed(readReport(single.outputs['report-path'])))
    expect(readReport(merged.outputs['report-path']).notes.filter((x) => x.startsWith(MERGE_NOTE))).toHaveLength(1)
  })

  it('test-robustness with 3 shards: the unsharded tests, checks, flip rates and verdict', async () => {
    const { service, merged, single } = await sharded('test-robustness', 3, { rows: '100', 'fail-on': 'never' })
    // Its artifacts are its own: validate-model's can be in the same workflow run.
    expect([...service.blobs.keys()].sort()).toEqual([1, 2, 3].map((i) => `modelgate-robustness-shard-${i}-of-3`))
    // The example fails on purpose (a +10% shift flips 7% of the rows; NaN breaks it): the same annotations.
    expect(errors(merged)).toEqual(errors(single))
    expect(errors(merged).length).toBeGreaterThan(0)
    expect(merged.outputs.status).toBe(single.outputs.status)
    expect(merged.outputs['flip-rate']).toBe(single.outputs['flip-rate'])
    const strip = (r: ValidationResult) => {
      const rb = r.robustness!
      return {
        status: r.status,
        checks: r.checks.map(({ seconds: _s, ...c }) => c),
        tests: rb.tests.map(({ seconds: _s, ...t }) => t),
        sensitivity: rb.sensitivity,
        rowsScored: rb.cost.rowsScored,
        metrics: r.metrics,
      }
    }
    expect(strip(readReport(merged.outputs['report-path']))).toEqual(strip(readReport(single.outputs['report-path'])))
  })
})
