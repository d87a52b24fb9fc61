import { describe, expect, it } from '@jest/globals'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { checkWorkflow, localActionDir, workflowFiles, type Job, type Workflow } from './helpers/workflow-refs.js'

const root = path.resolve(import.meta.dirname, '..')
const schema = (name: string) => JSON.parse(readFileSync(path.join(root, '__tests__/fixtures/schemastore', name), 'utf8')) as object
const ajv = new Ajv({ strict: false, allErrors: true })
const validateAction = ajv.compile(schema('github-action.schema.json'))
const validateWorkflow = ajv.compile(schema('github-workflow.schema.json'))

const actionFiles = ['action.yml', ...readdirSync(path.join(root, 'actions')).map((a) => `actions/${a}/action.yml`)]
// Found at run time: examples add their own workflows.
const workflows = workflowFiles(root)
const readWorkflow = (file: string) => parse(readFileSync(path.join(root, file), 'utf8')) as Workflow

interface ActionMeta {
  runs: { using: string; main: string }
  branding?: object
  inputs: Record<string, { description?: string }>
  outputs: Record<string, { description?: string }>
}

describe('action metadata', () => {
  for (const file of actionFiles) {
    it(`${file} is valid against SchemaStore's github-action schema, runs node24 from dist/, and describes everything`, () => {
      const meta = parse(readFileSync(path.join(root, file), 'utf8')) as ActionMeta
      expect(validateAction(meta)).toBe(true)
      expect(validateAction.errors ?? []).toEqual([])
      expect(meta.runs.using).toBe('node24')
      const main = path.resolve(root, path.dirname(file), meta.runs.main)
      expect(path.relative(root, main)).toMatch(/^dist\/[a-z-]+\/index\.js$/)
      expect(meta.branding).toBeDefined()
      for (const [k, v] of [...Object.entries(meta.inputs), ...Object.entries(meta.outputs)])
        expect([k, v.description?.length ?? 0]).not.toEqual([k, 0])
    })
  }

  it('finds the repository workflows', () => {
    expect(workflows).toEqual(
      expect.arrayContaining(['.github/workflows/ci.yml', '.github/workflows/deploy.yml', '.github/workflows/release.yml']),
    )
  })

  it('the workflow schema refuses the mistakes it is here to catch', () => {
    const steps = [{ run: 'true' }]
    // environment: is not allowed on a job that calls a reusable workflow: deploy.yml's own job sets it.
    expect(validateWorkflow({ on: 'push', jobs: { d: { uses: './.github/workflows/deploy.yml', environment: 'production' } } })).toBe(false)
    expect(
      validateWorkflow({ on: 'push', jobs: { d: { 'runs-on': 'x', concurrency: { group: 'g', 'cancel-in-progress': 'no' }, steps } } }),
    ).toBe(false)
    expect(validateWorkflow({ on: { release: { types: ['publish'] } }, jobs: { d: { 'runs-on': 'x', steps } } })).toBe(false)
    expect(validateWorkflow({ on: 'push', permissions: { packages: 'push' }, jobs: { d: { 'runs-on': 'x', steps } } })).toBe(false)
    expect(validateWorkflow({ on: 'push', jobs: { d: { 'runs-on': 'x', steps } } })).toBe(true)
  })

  for (const file of workflows) {
    it(`${file} is valid against SchemaStore's github-workflow schema`, () => {
      expect(validateWorkflow(readWorkflow(file))).toBe(true)
      expect(validateWorkflow.errors ?? []).toEqual([])
    })

    it(`${file}: every action and workflow of this repository it uses exists, gets declared inputs, and every output it reads exists`, () => {
      expect(checkWorkflow(root, readWorkflow(file), file)).toEqual([])
    })
  }
})

describe('Marketplace metadata and entries', () => {
  const meta = actionFiles.map((f) => ({
    f,
    m: parse(readFileSync(path.join(root, f), 'utf8')) as { description: string; branding: { icon: string } },
  }))

  it('keeps every description within the Marketplace limit of 125 characters', () => {
    expect(meta.filter(({ m }) => m.description.length > 125).map(({ f }) => f)).toEqual([])
  })

  it('gives each action its own icon', () => {
    const icons = meta.map(({ m }) => m.branding.icon)
    expect(new Set(icons).size).toBe(icons.length)
  })

  it('exports run() from each action entry, the convention @github/local-action calls', async () => {
    for (const name of ['validate-model', 'test-robustness', 'register-version', 'deploy-model', 'pipeline']) {
      const entry = (await import(`../src/actions/${name}/index.js`)) as { run?: unknown }
      expect([name, typeof entry.run]).toEqual([name, 'function'])
    }
  })
})

describe('workflow reference checks (on workflows written to break them)', () => {
  const check = (wf: object) => checkWorkflow(root, wf as Workflow, 'wf.yml')
  const job = (steps: object[], extra: object = {}): { jobs: Record<string, Job> } => ({
    jobs: { j: { 'runs-on': 'ubuntu-latest', steps, ...extra } as Job },
  })

  it("resolves this repository's actions from ./ paths and from owner/repo@ref", () => {
    expect(localActionDir('./actions/deploy-model')).toBe('actions/deploy-model')
    expect(localActionDir('./')).toBe('')
    expect(localActionDir('modelgate/modelgate/actions/validate-model@v1')).toBe('actions/validate-model')
    expect(localActionDir('modelgate/modelgate@v1')).toBe('')
    expect(localActionDir('actions/checkout@v5')).toBeUndefined()
  })

  it('reports an action that does not exist, an unknown input and a missing required input', () => {
    expect(
      check(
        job([
          { uses: './actions/deploy-modle' },
          { uses: './actions/deploy-model', with: { stage: 'staging', dryrun: true } },
          { uses: 'modelgate/modelgate/actions/register-version@v1', with: { registry: 'git', evidences: 'a.json' } },
        ]),
      ),
    ).toEqual([
      'wf.yml: jobs.j.steps[0]: uses ./actions/deploy-modle: there is no action.yml in actions/deploy-modle',
      'wf.yml: jobs.j.steps[1]: with.dryrun is not an input of ./actions/deploy-model',
      'wf.yml: jobs.j.steps[1]: ./actions/deploy-model requires input environment',
      'wf.yml: jobs.j.steps[2]: with.evidences is not an input of modelgate/modelgate/actions/register-version@v1',
    ])
  })

  it('reports outputs an action does not have, steps that do not exist, and steps read before they run', () => {
    expect(
      check(
        job(
          [
            { id: 'early', run: 'echo "${{ steps.register.outputs.version }}"' },
            { id: 'register', uses: './actions/register-version' },
            { id: 'mine', run: 'echo "answer=42" >> "$GITHUB_OUTPUT"' },
            {
              if: "steps.register.outputs['created'] == 'true'",
              env: {
                A: '${{ steps.register.outputs.versions }}',
                B: '${{ steps.mine.outputs.answer }}',
                C: '${{ steps.mine.outputs.question }}',
              },
              run: 'echo "${{ steps.regsiter.outputs.version }}"',
            },
          ],
          { outputs: { url: '${{ steps.register.outputs.url }}' } },
        ),
      ),
    ).toEqual([
      'wf.yml: jobs.j.steps[early]: steps.register.outputs.version: step register has not run yet',
      'wf.yml: jobs.j.steps[3]: steps.register.outputs.versions: step register has no output versions',
      'wf.yml: jobs.j.steps[3]: steps.mine.outputs.question: step mine has no output question',
      'wf.yml: jobs.j.steps[3]: steps.regsiter.outputs.version: no step has id regsiter',
      'wf.yml: jobs.j: steps.register.outputs.url: step register has no output url',
    ])
  })

  it('reports needs outputs that are not declared, reusable workflows called with unknown or missing inputs, and undeclared inputs', () => {
    expect(
      check({
        on: {
          workflow_call: {
            inputs: { environment: { type: 'string', required: true } },
            outputs: { v: { value: '${{ jobs.a.outputs.nope }}' } },
          },
        },
        jobs: {
          a: {
            'runs-on': 'ubuntu-latest',
            outputs: { version: 'x' },
            steps: [{ run: 'echo ${{ inputs.environment }} ${{ inputs.stage }}' }],
          },
          b: { needs: 'a', uses: './.github/workflows/deploy.yml', with: { version: '${{ needs.a.outputs.versoin }}', stages: 'x' } },
          c: {
            needs: ['b'],
            uses: './.github/workflows/deploy.yml',
            with: { environment: '${{ needs.b.outputs.url }}', version: '${{ needs.a.outputs.version }}' },
          },
          d: { uses: './.github/workflows/nope.yml' },
          e: { uses: './.github/workflows/ci.yml', with: { environment: 'x' } },
        },
      }),
    ).toEqual([
      'wf.yml: inputs.stage is not an input of this workflow',
      'wf.yml: on.workflow_call.outputs: jobs.a.outputs.nope: job a has no output nope',
      'wf.yml: jobs.b: with.stages is not an input of ./.github/workflows/deploy.yml',
      'wf.yml: jobs.b: ./.github/workflows/deploy.yml requires input environment',
      'wf.yml: jobs.b: needs.a.outputs.versoin: job a has no output versoin',
      'wf.yml: jobs.c: needs.a.outputs.version: c does not need a',
      'wf.yml: jobs.d: uses ./.github/workflows/nope.yml: no such workflow',
      'wf.yml: jobs.e: uses ./.github/workflows/ci.yml: it has no on.workflow_call',
    ])
  })
})

describe('the repository workflows', () => {
  const ci = readWorkflow('.github/workflows/ci.yml')
  const release = readWorkflow('.github/workflows/release.yml')
  const deploy = readWorkflow('.github/workflows/deploy.yml')
  const step = (j: Job, id: string) => j.steps!.find((s) => s.id === id)!

  it('ci runs format, lint, type check, tests and the dist check', () => {
    expect(ci.jobs!.test.steps!.map((s) => s.run).filter(Boolean)).toEqual(
      expect.arrayContaining(['npm ci', 'npm run format:check', 'npm run lint', 'npm run typecheck', 'npm test']),
    )
    expect(ci.jobs!['check-dist'].steps!.map((s) => s.run)).toContain('npm run check-dist')
  })

  it('ci test-action chains the four actions from this checkout: the production version, validate against it, robustness, register locally with both reports, deploy', () => {
    const j = ci.jobs!['test-action']
    expect(j.steps!.filter((s) => s.uses?.startsWith('./')).map((s) => [s.id, s.uses])).toEqual([
      ['production', './actions/register-version'],
      ['validate', './actions/validate-model'],
      ['robustness', './actions/test-robustness'],
      ['register', './actions/register-version'],
      ['deploy', './actions/deploy-model'],
    ])
    expect(step(j, 'robustness').with!['fail-on']).toBe('never')
    expect(step(j, 'register').with).toMatchObject({ registry: 'local:.modelgate/registry' })
    expect(String(step(j, 'register').with!.evidence).trim().split('\n')).toEqual([
      '${{ steps.validate.outputs.report-path }}',
      '${{ steps.robustness.outputs.report-path }}',
    ])
    expect(step(j, 'deploy').with).toMatchObject({
      environment: 'ci',
      registry: 'local:.modelgate/registry',
      version: '${{ steps.register.outputs.version }}',
      deployment: false,
    })
    expect(JSON.stringify(j.steps!.at(-1))).toContain('steps.deploy.outputs.status')
  })

  it('release registers on a push to main in GHCR with packages: write, and calls deploy.yml with the registered version', () => {
    expect(release.on).toEqual({ push: { branches: ['main'] }, release: { types: ['published'] } })
    const register = release.jobs!.register
    expect(register.if).toBe("github.event_name == 'push'")
    expect(register.permissions).toEqual({ contents: 'read', packages: 'write' })
    expect(step(register, 'register').with).toMatchObject({ registry: 'oci://ghcr.io/${{ github.repository_owner }}/models' })
    expect(String(step(register, 'register').with!.evidence)).toContain('${{ steps.robustness.outputs.report-path }}')
    expect(release.jobs!['deploy-staging']).toMatchObject({
      needs: 'register',
      uses: './.github/workflows/deploy.yml',
      with: { environment: 'staging', version: '${{ needs.register.outputs.version }}' },
    })
  })

  it('release deploys on release: published to production, with deployments: write and packages: read', () => {
    const production = release.jobs!['deploy-production']
    expect(production).toMatchObject({
      needs: 'release-version',
      uses: './.github/workflows/deploy.yml',
      permissions: { contents: 'read', deployments: 'write', packages: 'read' },
      with: { environment: 'production', version: '${{ needs.release-version.outputs.version }}' },
    })
    expect(release.jobs!['release-version'].if).toContain("github.event_name == 'release'")
  })

  it('deploy.yml is reusable, and its job holds the GitHub environment and one uncancellable concurrency group per environment', () => {
    expect(Object.keys(deploy.on as object)).toEqual(['workflow_call'])
    const j = deploy.jobs!.deploy
    expect(j.environment).toEqual({ name: '${{ inputs.environment }}', url: '${{ steps.deploy.outputs.url }}' })
    expect(j.concurrency).toEqual({ group: 'deploy-${{ inputs.environment }}', 'cancel-in-progress': false })
    expect(j.permissions).toEqual({ contents: 'read', deployments: 'write', packages: 'read' })
    expect(step(j, 'deploy').with).toMatchObject({ environment: '${{ inputs.environment }}', version: '${{ inputs.version }}' })
    // What each caller's environment makes of the group: one group per environment, across workflows.
    const group = (env: unknown) => String((j.concurrency as { group: string }).group).replace('${{ inputs.environment }}', String(env))
    expect(
      Object.values(release.jobs!)
        .filter((c) => c.uses === './.github/workflows/deploy.yml')
        .map((c) => group(c.with!.environment)),
    ).toEqual(['deploy-staging', 'deploy-production'])
  })
})
