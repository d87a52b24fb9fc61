import { describe, it, expect, beforeEach, afterEach } from '@jest/globals'
import { createGitHubDeploymentLedger, truncateDescription } from '../../src/adapters/github/deployments.js'
import { UserError } from '../../src/core/errors.js'
import { FakeGitHubApi } from '../helpers/github-api.js'

const SHA = '3f2a9c1d7e5b4a6f8091b2c3d4e5f60718293a4b'
const OTHER_SHA = '0000000000000000000000000000000000000abc'
const DIGEST = `sha256:${'ab'.repeat(32)}`
const RUN_URL = 'https://github.com/acme/models/actions/runs/777'
const payload = (name: string, version: string, digest = DIGEST): Record<string, unknown> => ({
  name,
  version,
  digest,
  uri: `oci://ghcr.io/acme/${name}@${digest}`,
})

describe('GitHub deployment ledger', () => {
  let api: FakeGitHubApi
  beforeEach(async () => {
    api = new FakeGitHubApi({
      owner: 'acme',
      repo: 'models',
      tokens: { ghs_deploy: 'write', ghs_readonly: 'read', ghs_blocked: 'none' },
      refs: { main: SHA },
    })
    await api.start()
  })
  afterEach(async () => {
    await api.stop()
  })

  const ledger = (over: { token?: string; runId?: string; sha?: string } = {}): ReturnType<typeof createGitHubDeploymentLedger> =>
    createGitHubDeploymentLedger({
      token: 'ghs_deploy',
      owner: 'acme',
      repo: 'models',
      baseUrl: api.baseUrl,
      runId: '777',
      sha: SHA,
      ...over,
    })
  const calls = (): string[] => api.requests.map((r) => `${r.method} ${r.path}`)

  describe('start and finish', () => {
    it('creates the deployment, marks it in progress, then success with the environment URL', async () => {
      const l = ledger()
      const started = await l.start({
        environment: 'staging',
        ref: SHA,
        description: 'fraud-model 1.4.0 to staging (canary 10%)',
        payload: payload('fraud-model', '1.4.0'),
        logUrl: RUN_URL,
      })
      expect(started).toEqual({ id: 1001, url: `${api.baseUrl}/repos/acme/models/deployments/1001`, attached: false })
      await l.finish(1001, {
        state: 'success',
        environmentUrl: 'http://127.0.0.1:8080/v2/models/fraud-model',
        description: 'promoted 1.4.0',
      })

      expect(calls()).toEqual([
        `GET /repos/acme/models/deployments?sha=${SHA}&environment=staging&per_page=100`,
        'POST /repos/acme/models/deployments',
        'POST /repos/acme/models/deployments/1001/statuses',
        'POST /repos/acme/models/deployments/1001/statuses',
      ])
      expect(api.requests[1]!.body).toEqual({
        ref: SHA,
        environment: 'staging',
        task: 'deploy',
        auto_merge: false,
        required_contexts: [],
        payload: payload('fraud-model', '1.4.0'),
        description: 'fraud-model 1.4.0 to staging (canary 10%)',
      })
      expect(api.requests[2]!.body).toEqual({
        state: 'in_progress',
        log_url: RUN_URL,
        description: 'fraud-model 1.4.0 to staging (canary 10%)',
      })
      expect(api.requests[3]!.body).toEqual({
        state: 'success',
        environment_url: 'http://127.0.0.1:8080/v2/models/fraud-model',
        log_url: RUN_URL,
        description: 'promoted 1.4.0',
        auto_inactive: true,
      })
      expect(new Set(api.requests.map((r) => r.authorization))).toEqual(new Set(['token ghs_deploy']))

      const [stored] = api.deployments
      expect(stored!.sha).toBe(SHA)
      expect(stored!.production_environment).toBe(false)
      expect(stored!.statuses.map((s) => [s.state, s.environment_url, s.log_url])).toEqual([
        ['in_progress', '', RUN_URL],
        ['success', 'http://127.0.0.1:8080/v2/models/fraud-model', RUN_URL],
      ])
    })

    it('records failure without auto_inactive and with the log URL given at finish', async () => {
      const l = ledger()
      const { id } = (await l.start({ environment: 'staging', ref: SHA, description: 'd', payload: payload('fraud-model', '1.4.0') }))!
      await l.finish(id, { state: 'failure', description: 'verification failed; rolled back to 1.3.0', logUrl: `${RUN_URL}/job/9` })
      expect(api.requests.at(-1)!.body).toEqual({
        state: 'failure',
        log_url: `${RUN_URL}/job/9`,
        description: 'verification failed; rolled back to 1.3.0',
      })
      expect(api.latestState(id)).toBe('failure')
    })

    it('marks production and prod environments as production, and cuts descriptions to 140 characters', async () => {
      const long = `deploy ${'x'.repeat(200)}`
      for (const environment of ['production', 'Prod']) {
        await ledger().start({ environment, ref: SHA, description: long, payload: payload('fraud-model', '1.4.0') })
      }
      const creates = api.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/models/deployments')
      expect(creates.map((r) => (r.body as Record<string, unknown>).production_environment)).toEqual([true, true])
      const description = (creates[0]!.body as { description: string }).description
      expect(description).toBe(`deploy ${'x'.repeat(132)}…`)
      expect(Array.from(description)).toHaveLength(140)
      expect(api.deployments.map((d) => d.production_environment)).toEqual([true, true])
    })

    it('truncates on code points, never splitting a surrogate pair', () => {
      expect(truncateDescription('🚀'.repeat(150))).toBe(`${'🚀'.repeat(139)}…`)
      expect(truncateDescription('short')).toBe('short')
    })
  })

  describe('attaching to the deployment the runner created for `environment:`', () => {
    it('attaches to this run’s open deployment for the sha and environment, not another run’s', async () => {
      const ours = api.seedDeployment({ environment: 'staging', sha: SHA, ref: 'main' }, [
        { state: 'queued', log_url: `${RUN_URL}/job/9001` },
        { state: 'in_progress', log_url: `${RUN_URL}/job/9001` },
      ])
      // Newer, same commit and environment, but a re-run under another run id.
      api.seedDeployment({ environment: 'staging', sha: SHA, ref: 'main' }, [
        { state: 'in_progress', log_url: 'https://github.com/acme/models/actions/runs/778/job/9100' },
      ])
      // A deploy-model start of another run: never the runner's.
      api.seedDeployment({ environment: 'staging', sha: SHA, payload: payload('fraud-model', '1.3.0') }, [{ state: 'in_progress' }])

      const l = ledger()
      const started = await l.start({
        environment: 'staging',
        ref: SHA,
        description: 'fraud-model 1.4.0 to staging',
        payload: payload('fraud-model', '1.4.0'),
        logUrl: RUN_URL,
      })
      expect(started).toEqual({ id: ours.id, url: `${api.baseUrl}/repos/acme/models/deployments/${ours.id}`, attached: true })
      expect(calls()).toEqual([
        `GET /repos/acme/models/deployments?sha=${SHA}&environment=staging&per_page=100`,
        'GET /repos/acme/models/deployments/1002/statuses?per_page=100',
        'GET /repos/acme/models/deployments/1001/statuses?per_page=100',
        'POST /repos/acme/models/deployments/1001/statuses',
      ])
      expect(api.requests.at(-1)!.body).toEqual({
        state: 'in_progress',
        log_url: RUN_URL,
        description: 'fraud-model 1.4.0 to staging [modelgate fraud-model@1.4.0]',
      })
      expect(api.deployments).toHaveLength(3)

      await l.finish(ours.id, { state: 'success', environmentUrl: 'http://127.0.0.1:9000', description: 'promoted' })
      expect(api.requests.at(-1)!.body).toEqual({
        state: 'success',
        environment_url: 'http://127.0.0.1:9000',
        log_url: RUN_URL,
        description: 'promoted [modelgate fraud-model@1.4.0]',
        auto_inactive: true,
      })
      // The runner writes its own status when the job ends; the model is still read from ours.
      api.seedStatus(ours.id, { state: 'success', log_url: `${RUN_URL}/job/9001` })
      await expect(ledger().lastSuccessful('staging', 'fraud-model')).resolves.toEqual({ version: '1.4.0' })
    })

    it('attaches to an open deployment without statuses when no run id is known', async () => {
      api.seedDeployment({ environment: 'staging', sha: SHA, ref: 'main' }, [{ state: 'success' }])
      const open = api.seedDeployment({ environment: 'staging', sha: SHA, ref: 'main' })
      api.seedDeployment({ environment: 'staging', sha: OTHER_SHA }, [{ state: 'in_progress' }])
      const started = await ledger({ runId: '' }).start({
        environment: 'staging',
        ref: SHA,
        description: 'd',
        payload: payload('m', '1.0.0'),
      })
      expect(started).toMatchObject({ id: open.id, attached: true })
      expect(api.latestState(open.id)).toBe('in_progress')
    })

    it('creates its own deployment when only finished ones exist for the sha', async () => {
      api.seedDeployment({ environment: 'staging', sha: SHA, ref: 'main' }, [{ state: 'in_progress' }, { state: 'failure' }])
      const started = await ledger().start({ environment: 'staging', ref: SHA, description: 'd', payload: payload('m', '1.0.0') })
      expect(started).toMatchObject({ id: 1002, attached: false })
      expect(api.deployments.map((d) => d.id)).toEqual([1001, 1002])
    })

    it('keeps the model marker whole when the description is cut', async () => {
      const open = api.seedDeployment({ environment: 'staging', sha: SHA, ref: 'main' })
      await ledger().start({ environment: 'staging', ref: SHA, description: 'y'.repeat(300), payload: payload('fraud-model', '1.4.0') })
      const description = api.deployments.find((d) => d.id === open.id)!.statuses[0]!.description
      expect(description).toBe(`${'y'.repeat(109)}… [modelgate fraud-model@1.4.0]`)
      expect(description).toHaveLength(140)
    })
  })

  describe('lastSuccessful', () => {
    it('returns the newest successful deployment of the model, skipping failed, inactive and other models’ deployments', async () => {
      const seed = (environment: string, name: string, version: string, states: ('in_progress' | 'success' | 'failure' | 'inactive')[]) =>
        api.seedDeployment(
          { environment, sha: SHA, payload: payload(name, version, `sha256:${version.replaceAll('.', '').padStart(64, '0')}`) },
          states.map((state) => ({ state })),
        )
      seed('production', 'fraud-model', '1.1.0', ['in_progress', 'success'])
      seed('production', 'fraud-model', '1.2.0', ['in_progress', 'success', 'inactive'])
      const failed = seed('production', 'fraud-model', '1.3.0', ['in_progress', 'failure'])
      const churn = seed('production', 'churn-model', '2.0.0', ['in_progress', 'success'])
      seed('staging', 'fraud-model', '9.9.9', ['success'])
      const running = seed('production', 'fraud-model', '1.4.0', ['in_progress'])

      await expect(ledger().lastSuccessful('production', 'fraud-model')).resolves.toEqual({
        version: '1.1.0',
        digest: `sha256:${'110'.padStart(64, '0')}`,
      })
      expect(calls()).toEqual([
        'GET /repos/acme/models/deployments?environment=production&per_page=100',
        `GET /repos/acme/models/deployments/${running.id}/statuses?per_page=100`,
        `GET /repos/acme/models/deployments/${failed.id}/statuses?per_page=100`,
        'GET /repos/acme/models/deployments/1002/statuses?per_page=100',
        'GET /repos/acme/models/deployments/1001/statuses?per_page=100',
      ])
      expect(calls().some((c) => c.includes(`/${churn.id}/`))).toBe(false)
      await expect(ledger().lastSuccessful('production', 'churn-model')).resolves.toEqual({
        version: '2.0.0',
        digest: `sha256:${'200'.padStart(64, '0')}`,
      })
      await expect(ledger().lastSuccessful('production', 'unknown-model')).resolves.toBeUndefined()
      await expect(ledger().lastSuccessful('qa', 'fraud-model')).resolves.toBeUndefined()
    })

    it('follows GitHub’s auto_inactive through real start/finish cycles', async () => {
      const cycle = async (version: string, state: 'success' | 'failure'): Promise<number> => {
        const l = ledger()
        const { id } = (await l.start({
          environment: 'staging',
          ref: SHA,
          description: version,
          payload: payload('fraud-model', version),
        }))!
        await l.finish(id, { state, description: state })
        return id
      }
      const first = await cycle('1.0.0', 'success')
      const second = await cycle('1.1.0', 'success')
      await cycle('1.2.0', 'failure')
      expect(api.latestState(first)).toBe('inactive')
      expect(api.latestState(second)).toBe('success')
      await expect(ledger().lastSuccessful('staging', 'fraud-model')).resolves.toEqual({ version: '1.1.0', digest: DIGEST })
    })

    it('reads past the first page through the Link header, and payloads GitHub returns as JSON strings', async () => {
      api.seedDeployment({ environment: 'production', sha: SHA, payload: JSON.stringify(payload('fraud-model', '0.9.0')) }, [
        { state: 'success' },
      ])
      api.seedDeployment({ environment: 'production', sha: SHA, payload: payload('fraud-model', '1.0.0') }, [{ state: 'error' }])
      for (let i = 0; i < 120; i++) {
        api.seedDeployment({ environment: 'production', sha: SHA, payload: payload('churn-model', `2.0.${i}`) }, [{ state: 'success' }])
      }
      await expect(ledger().lastSuccessful('production', 'fraud-model')).resolves.toEqual({ version: '0.9.0', digest: DIGEST })
      expect(calls()).toEqual([
        'GET /repos/acme/models/deployments?environment=production&per_page=100',
        'GET /repos/acme/models/deployments?environment=production&per_page=100&page=2',
        'GET /repos/acme/models/deployments/1002/statuses?per_page=100',
        'GET /repos/acme/models/deployments/1001/statuses?per_page=100',
      ])
    })

    it('stops after 200 deployments of the environment', async () => {
      api.seedDeployment({ environment: 'production', sha: SHA, payload: payload('fraud-model', '0.1.0') }, [{ state: 'success' }])
      for (let i = 0; i < 200; i++) {
        api.seedDeployment({ environment: 'production', sha: SHA, payload: payload('churn-model', `2.0.${i}`) }, [{ state: 'success' }])
      }
      await expect(ledger().lastSuccessful('production', 'fraud-model')).resolves.toBeUndefined()
      expect(calls()).toEqual([
        'GET /repos/acme/models/deployments?environment=production&per_page=100',
        'GET /repos/acme/models/deployments?environment=production&per_page=100&page=2',
        'GET /repos/acme/models/deployments?environment=production&per_page=100&page=3',
      ])
    })

    it('ignores an attached deployment whose own last word was not a success', async () => {
      const d = api.seedDeployment({ environment: 'staging', sha: SHA, ref: 'main' }, [
        { state: 'in_progress', description: 'x [modelgate fraud-model@1.4.0]' },
        { state: 'failure', description: 'rolled back [modelgate fraud-model@1.4.0]' },
      ])
      // The job passed anyway (continue-on-error), so the runner wrote success last.
      api.seedStatus(d.id, { state: 'success' })
      await expect(ledger().lastSuccessful('staging', 'fraud-model')).resolves.toBeUndefined()
    })
  })

  describe('errors', () => {
    it('403 on create: a UserError asking for deployments: write, and nothing created', async () => {
      const start = ledger({ token: 'ghs_readonly' }).start({
        environment: 'staging',
        ref: SHA,
        description: 'd',
        payload: payload('m', '1.0.0'),
      })
      await expect(start).rejects.toThrow(UserError)
      await expect(start).rejects.toThrow(
        /^GitHub answered 403 \(Resource not accessible by integration.*\) while starting the deployment to 'staging' in acme\/models: add `permissions: deployments: write` to the job/,
      )
      await start.catch((e: UserError) => expect(e.field).toBe('permissions.deployments'))
      expect(api.deployments).toHaveLength(0)
      expect(calls()).toEqual([
        `GET /repos/acme/models/deployments?sha=${SHA}&environment=staging&per_page=100`,
        'POST /repos/acme/models/deployments',
      ])
    })

    it('403 on reading deployments and on finish give the same message', async () => {
      await expect(ledger({ token: 'ghs_blocked' }).lastSuccessful('production', 'm')).rejects.toThrow(
        /^GitHub answered 403 .* while reading the deployments of 'production' in acme\/models: add `permissions: deployments: write` to the job/,
      )
      await expect(ledger({ token: 'ghs_readonly' }).finish(1001, { state: 'success', description: 'd' })).rejects.toThrow(
        /while recording 'success' on deployment 1001 in acme\/models: add `permissions: deployments: write` to the job/,
      )
    })

    it('404 on an unknown deployment is the permission UserError too (GitHub hides what a token may not see)', async () => {
      await expect(ledger().finish(4242, { state: 'failure', description: 'd' })).rejects.toThrow(UserError)
      await expect(ledger().finish(4242, { state: 'failure', description: 'd' })).rejects.toThrow(/^GitHub answered 404 \(Not Found/)
    })

    it('401 on a bad token', async () => {
      const start = ledger({ token: 'ghs_wrong' }).start({
        environment: 'staging',
        ref: SHA,
        description: 'd',
        payload: payload('m', '1.0.0'),
      })
      await expect(start).rejects.toThrow(UserError)
      await expect(start).rejects.toThrow(
        /^GitHub rejected the token \(401: Bad credentials.*\) while starting the deployment to 'staging' in acme\/models: pass a valid github-token$/,
      )
      expect(api.requests).toHaveLength(1)
      expect(api.requests[0]!.authorization).toBe('token ghs_wrong')
    })

    it('409 from create is a clear error, not a UserError', async () => {
      api.inject('POST', /\/deployments$/, 409, { message: 'Conflict: Commit status checks failed for main.' })
      const start = ledger().start({ environment: 'staging', ref: SHA, description: 'd', payload: payload('m', '1.0.0') })
      await expect(start).rejects.toThrow(
        /^GitHub refused \(409: Conflict: Commit status checks failed for main\..*\) while starting the deployment to 'staging' in acme\/models: a merge conflict or failed required status checks on the ref$/,
      )
      await start.catch((e: unknown) => expect(e).not.toBeInstanceOf(UserError))
      expect(calls().filter((c) => c.endsWith('/statuses'))).toEqual([])
    })

    it('202 (GitHub merged instead of deploying) is a clear error and no status is written', async () => {
      api.inject('POST', /\/deployments$/, 202, { message: 'Auto-merged main into topic-branch on deployment.' })
      await expect(
        ledger().start({ environment: 'staging', ref: 'main', description: 'd', payload: payload('m', '1.0.0') }),
      ).rejects.toThrow(
        /^GitHub did not create the deployment of main to staging \(202: Auto-merged main into topic-branch on deployment\.\)$/,
      )
      expect(calls().filter((c) => c.endsWith('/statuses'))).toEqual([])
    })

    it('other statuses name the status, the step and the repository', async () => {
      api.inject('GET', /\/deployments$/, 500, { message: 'Server Error' })
      await expect(ledger().lastSuccessful('production', 'm')).rejects.toThrow(
        /^GitHub answered 500 while reading the deployments of 'production' in acme\/models: Server Error/,
      )
    })
  })

  it('is a ledger that records nothing without a token or repository', async () => {
    for (const l of [
      createGitHubDeploymentLedger({ token: '', owner: 'acme', repo: 'models', baseUrl: api.baseUrl, sha: SHA }),
      createGitHubDeploymentLedger({ token: 'ghs_deploy', baseUrl: api.baseUrl, sha: SHA }),
    ]) {
      await expect(l.start({ environment: 'staging', ref: SHA, description: 'd', payload: {} })).resolves.toBeUndefined()
      await expect(l.finish(1, { state: 'success', description: 'd' })).resolves.toBeUndefined()
      await expect(l.lastSuccessful('staging', 'm')).resolves.toBeUndefined()
    }
    expect(api.requests).toEqual([])
  })
})
