import { describe, it, expect, beforeAll } from '@jest/globals'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { ROOT, runActionOutside } from '../helpers/action-harness.js'
import { outside } from '../helpers/workspace.js'
import { tmp } from '../registry/conformance.js'
import { startMlflowServer } from '../helpers/mlflow-server.js'

/*
 * register-version as the runner runs it (the bundled dist/register-version/index.js) and as people
 * run it (the bundled CLI in child processes), against a local registry.
 */

const run = promisify(execFile)
const CLI = path.join(ROOT, 'dist/cli/index.js')
const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
const MODEL = path.join(EXAMPLE, 'model.onnx')

async function cli(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...outside(args)], { cwd })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

let report = ''
beforeAll(async () => {
  report = path.join(tmp(), 'validate.json')
  const r = await cli(['validate', '--config', path.join(EXAMPLE, 'modelgate.yml'), '--report', report, '--quiet'])
  expect(r.code).toBe(0)
}, 60_000)

describe('register-version action (dist, as the runner runs it)', () => {
  it('breaks a stale lock left by a dead writer, and says so as a warning annotation', async () => {
    const registry = tmp()
    mkdirSync(path.join(registry, 'breast-cancer'), { recursive: true })
    const lock = path.join(registry, 'breast-cancer', '.lock')
    writeFileSync(lock, '')
    const old = new Date(Date.now() - 60_000)
    utimesSync(lock, old, old)
    const r = await runActionOutside(
      'register-version',
      { model: MODEL, name: 'breast-cancer', registry: `local:${registry}` },
      { GITHUB_WORKSPACE: tmp() },
    )
    expect(r.code).toBe(0)
    expect(r.outputs.version).toBe('1.0.0')
    const warnings = r.commands.filter((c) => c.command === 'warning').map((c) => c.message)
    expect(warnings.some((w) => w.includes('broke the stale lock'))).toBe(true)
  })

  it('registers the model with its evidence, sets every output, writes the report and the summary', async () => {
    const registry = tmp()
    const workspace = tmp()
    const r = await runActionOutside(
      'register-version',
      {
        model: MODEL,
        name: 'breast-cancer',
        registry: `local:${registry}`,
        evidence: report,
        labels: 'team=ml\nowner=octo',
        stage: 'staging',
      },
      { GITHUB_WORKSPACE: workspace, GITHUB_SHA: 'b'.repeat(40), GITHUB_REPOSITORY: 'octo/models', GITHUB_RUN_ID: '7' },
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const digest = JSON.parse(readFileSync(report, 'utf8')).model.digest as string
    expect(r.outputs).toMatchObject({
      version: '1.0.0',
      digest,
      uri: `file://${registry}/breast-cancer/versions/1.0.0`,
      tag: 'breast-cancer@v1.0.0',
      created: 'true',
      stage: 'staging',
      'report-path': path.join(workspace, 'modelgate-register.json'),
    })
    const result = JSON.parse(readFileSync(r.outputs['report-path']!, 'utf8'))
    for (const k of ['version', 'digest', 'uri', 'tag']) expect(result[k]).toBe(r.outputs[k])
    expect(result.created).toBe(true)
    expect(result.record.labels).toEqual({ team: 'ml', owner: 'octo' })
    expect(result.record.git.commit).toBe('b'.repeat(40))
    expect(r.summary).toContain('## 📦 modelgate register-version: breast-cancer 1.0.0 registered')
    expect(r.summary).toContain('| Evidence | validate-model pass |')
    expect(r.summary).toContain('<summary>Model card</summary>')

    const again = await runActionOutside(
      'register-version',
      { model: MODEL, name: 'breast-cancer', registry: `local:${registry}` },
      { GITHUB_WORKSPACE: workspace },
    )
    expect(again.code).toBe(0)
    expect(again.outputs).toMatchObject({ version: '1.0.0', created: 'false' })
    expect(again.summary).toContain('already registered as 1.0.0')
  })

  it.each([
    ['an unknown stage', { stage: 'prod!' }, /stage: 'prod!' is not a valid stage name/],
    ['unreadable evidence', { evidence: 'nope.json' }, /nope\.json: evidence file cannot be read/],
    ['a registry that is not one', { registry: 'ftp://example.com/x' }, /registry: 'ftp:\/\/example\.com\/x' is not a registry/],
    ['a version that is not SemVer', { version: 'one' }, /input version: 'one' is not a SemVer version/],
    ['version and bump together', { version: '1.0.0', bump: 'major' }, /input version and input bump both given/],
    ['a missing model', { model: 'missing.onnx' }, /missing\.onnx: model not found/],
    ['an unreachable registry', { registry: 'oci://127.0.0.1:9/models' }, /registry 127\.0\.0\.1:9 unreachable/],
  ])('exits 2 with one message and writes nothing for %s', async (_label, over, message) => {
    const registry = tmp()
    const workspace = tmp()
    const r = await runActionOutside(
      'register-version',
      { model: MODEL, name: 'm', registry: `local:${registry}`, ...over },
      { GITHUB_WORKSPACE: workspace },
    )
    expect(r.code).toBe(2)
    const errors = r.commands.filter((c) => c.command === 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0]!.message).toMatch(message)
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /)
    expect(readdirSync(registry)).toEqual([])
    expect(existsSync(path.join(workspace, 'modelgate-register.json'))).toBe(false)
  })
})

describe('modelgate register and registry (dist CLI, child processes)', () => {
  it('10 registrations started at once give 10 distinct versions, none lost', async () => {
    const registry = tmp()
    const models = tmp()
    const files = Array.from({ length: 10 }, (_, i) => {
      const f = path.join(models, `model-${i}.bin`)
      writeFileSync(f, `weights of model ${i}`)
      return f
    })
    const runs = await Promise.all(
      files.map((f) => cli(['register', '--model', f, '--name', 'many', '--registry', `local:${registry}`, '--json'])),
    )
    expect(runs.map((r) => r.code)).toEqual(Array(10).fill(0))
    const versions = runs.map((r) => JSON.parse(r.stdout).version as string)
    expect(new Set(versions).size).toBe(10)
    expect([...versions].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `1.0.${i}`))
    const listed = await cli(['registry', 'list', '--name', 'many', '--registry', `local:${registry}`, '--json'])
    const records = JSON.parse(listed.stdout).versions as { digest: string }[]
    expect(records).toHaveLength(10)
    expect(new Set(records.map((r) => r.digest)).size).toBe(10)
  }, 60_000)

  it('promotes under the manifest policy, shows by stage, deprecates, and refuses what the policy refuses (exit 2)', async () => {
    const dir = tmp()
    writeFileSync(
      path.join(dir, 'modelgate.yml'),
      [
        'name: churn',
        `model: ${MODEL}`,
        'features: [a]',
        'label: y',
        'data: d.csv',
        'registry:',
        '  uri: local:reg',
        '  stages: [dev, staging, prod]',
        '  promotion: [dev, staging, prod]',
        '  require: {prod: [validate-model]}',
        '',
      ].join('\n'),
    )
    expect((await cli(['register', '--evidence', report, '--stage', 'dev', '--quiet'], dir)).code).toBe(0)
    const bad = await cli(['registry', 'promote', '1.0.0', 'prod'], dir)
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim()).toBe(
      'modelgate: churn 1.0.0 cannot reach prod: the promotion order dev → staging → prod requires it to have held staging first',
    )
    expect((await cli(['registry', 'promote', '1.0.0', 'staging'], dir)).stdout.trim()).toBe('churn: staging → 1.0.0')
    expect((await cli(['registry', 'promote', 'v1.0.0', 'prod'], dir)).code).toBe(0)
    const show = await cli(['registry', 'show', 'prod', '--json'], dir)
    expect(JSON.parse(show.stdout).record.version).toBe('1.0.0')
    const list = await cli(['registry', 'list'], dir)
    expect(list.stdout).toMatch(/^1\.0\.0\s+sha256:7d4d294826ca\s+\S+ \S+\s+dev,staging,prod\s+validate-model:pass$/m)
    expect((await cli(['registry', 'deprecate', '1.0.0'], dir)).stdout.trim()).toBe('churn 1.0.0 deprecated')
    expect((await cli(['registry', 'list'], dir)).stdout).toMatch(/deprecated$/m)
    const unknown = await cli(['registry', 'show', '9.9.9'], dir)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('churn has no version 9.9.9')
  }, 60_000)
})

describe('modelgate register to an MLflow Model Registry (a local server speaking its REST API)', () => {
  it('registers with evidence, promotes to an alias, and lists it back', async () => {
    const server = await startMlflowServer()
    try {
      const registry = `mlflow+${server.url}`
      const r = await cli(['register', '--model', MODEL, '--name', 'churn', '--registry', registry, '--evidence', report, '--json'])
      expect(r.code).toBe(0)
      const result = JSON.parse(r.stdout)
      expect(result).toMatchObject({ version: '1.0.0', created: true, uri: 'models:/churn/1', tag: 'churn@v1.0.0' })
      expect(server.models.get('churn')?.versions[0]?.tags.get('modelgate.version')).toBe('1.0.0')
      expect((await cli(['registry', 'promote', '1.0.0', 'staging', '--name', 'churn', '--registry', registry])).code).toBe(0)
      expect([...(server.models.get('churn')?.aliases ?? [])]).toEqual([['staging', '1']])
      const listed = await cli(['registry', 'list', '--name', 'churn', '--registry', registry])
      expect(listed.stdout).toMatch(/^1\.0\.0\s+sha256:7d4d294826ca\s+\S+ \S+\s+staging\s+validate-model:pass$/m)
    } finally {
      await server.stop()
    }
  }, 60_000)
})
