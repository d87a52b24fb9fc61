import { afterAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { parseFileCommands, ROOT, runAction } from '../helpers/action-harness.js'
import type { Job, Step } from '../helpers/workflow-refs.js'
import { stopEnvironmentServers } from '../helpers/servers.js'

/*
 * Runs ci.yml's test-action job step by step as the runner would, in a fresh workspace: the actions
 * from their committed bundles, the run: steps in bash -eo pipefail, and every ${{ }} filled in from
 * the outputs of earlier steps. The job's own checks are the run: steps; a step that exits non-zero
 * fails the job here as it would on GitHub.
 */

const ws = mkdtempSync(path.join(tmpdir(), 'mg-ci-workflow-'))
const github: Record<string, string> = { repository_owner: 'modelgate', run_id: '1', actor: 'octocat' }

/** Fills in `${{ steps.<id>.outputs.<name> }}` and `${{ github.<key> }}`; any other expression is a test error. */
function evaluate(text: string, outputs: Map<string, Record<string, string>>): string {
  return text.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_, expr: string) => {
    const step = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr)
    if (step) return outputs.get(step[1])?.[step[2]] ?? ''
    const ctx = /^github\.([\w-]+)$/.exec(expr)
    if (ctx && ctx[1] in github) return github[ctx[1]]
    throw new Error(`the job runner here cannot evaluate \${{ ${expr} }}`)
  })
}

function evaluateAll(values: Record<string, unknown> | undefined, outputs: Map<string, Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).map(([k, v]) => [k, evaluate(String(v), outputs)]))
}

interface StepResult {
  code: number | null
  outputs: Record<string, string>
  log: string
}

async function runScript(script: string, env: Record<string, string>): Promise<StepResult> {
  const output = path.join(ws, '.step-output')
  writeFileSync(output, '')
  const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd: ws,
    env: { ...process.env, GITHUB_WORKSPACE: ws, GITHUB_OUTPUT: output, ...env },
  })
  let log = ''
  child.stdout.on('data', (d: Buffer) => (log += d.toString()))
  child.stderr.on('data', (d: Buffer) => (log += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, outputs: parseFileCommands(readFileSync(output, 'utf8')), log }
}

async function runStep(step: Step, outputs: Map<string, Record<string, string>>): Promise<StepResult> {
  if (step.uses === 'actions/checkout@v5') {
    cpSync(path.join(ROOT, 'examples'), path.join(ws, 'examples'), { recursive: true })
    return { code: 0, outputs: {}, log: '' }
  }
  const local = /^\.\/actions\/([\w-]+)$/.exec(step.uses ?? '')
  if (local) {
    const r = await runAction(local[1], evaluateAll(step.with, outputs), { GITHUB_WORKSPACE: ws })
    return { code: r.code, outputs: r.outputs, log: r.stdout + r.stderr }
  }
  if (step.run !== undefined) return runScript(evaluate(step.run, outputs), evaluateAll(step.env as Record<string, unknown>, outputs))
  throw new Error(`the job runner here cannot run ${JSON.stringify(step)}`)
}

// deploy-model's local target leaves modelgate serve running, as it would on a runner until the job ends.
afterAll(() => stopEnvironmentServers(ws))

describe('ci.yml test-action, run as the runner runs it', () => {
  it('validates, tests robustness, registers with both reports and deploys the example; every check step passes', async () => {
    const job = (parse(readFileSync(path.join(ROOT, '.github/workflows/ci.yml'), 'utf8')) as { jobs: Record<string, Job> }).jobs[
      'test-action'
    ]
    const outputs = new Map<string, Record<string, string>>()
    let ran = 0
    for (const [i, step] of job.steps!.entries()) {
      const r = await runStep(step, outputs)
      ran++
      if (r.code !== 0) throw new Error(`step ${step.id ?? i} exited ${r.code}:\n${r.log}`)
      if (step.id) outputs.set(step.id, r.outputs)
    }
    expect(ran).toBe(job.steps!.length)

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
