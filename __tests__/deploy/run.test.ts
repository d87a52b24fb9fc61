import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import path from 'node:path'
import { LocalBackend } from '../../src/core/registry/backends/local.js'
import { registerModel } from '../../src/core/registry/register.js'
import { EMPTY_POLICY } from '../../src/core/registry/policy.js'
import { deployModel, type DeployRequest } from '../../src/core/deploy/run.js'
import { KServeTarget } from '../../src/core/deploy/targets/kserve.js'
import { DEFAULT_VERIFY } from '../../src/core/deploy/verify.js'
import { createGitHubDeploymentLedger } from '../../src/adapters/github/deployments.js'
import { FakeGitHubApi } from '../helpers/github-api.js'
import { tmp } from '../registry/conformance.js'

/*
 * A deploy stopped by an error (here: KServe cannot serve a version kept in a local folder) must not
 * leave its GitHub Deployment "in progress": it is finished as `error`, and the error still reaches the user.
 */

const MODEL = path.resolve(import.meta.dirname, '../../examples/breast-cancer/model.onnx')
const api = new FakeGitHubApi({ owner: 'acme', repo: 'models', tokens: { tok: 'write' } })
const backend = new LocalBackend(tmp())

beforeAll(async () => {
  await api.start()
  await registerModel(
    { name: 'churn', modelPath: MODEL, bump: 'auto', evidence: [], labels: {}, policy: EMPTY_POLICY, context: {} },
    backend,
  )
})
afterAll(() => api.stop())

/** A deploy of churn 1.0.0 to prod, its artifacts fetched under `work`. */
function request(work: string, over: Partial<DeployRequest> = {}): DeployRequest {
  return {
    name: 'churn',
    version: '1.0.0',
    environment: 'prod',
    envStage: 'prod',
    requiresEvidence: [],
    canarySteps: [],
    verify: DEFAULT_VERIFY,
    timeoutMs: 5000,
    dryRun: false,
    workDir: path.join(work, 'artifacts'),
    ...over,
  }
}

describe('deployModel and the deployment record', () => {
  it('finishes the deployment as error when the deploy stops on an error, and rethrows it', async () => {
    const ledger = createGitHubDeploymentLedger({ token: 'tok', owner: 'acme', repo: 'models', baseUrl: api.baseUrl, sha: 'd'.repeat(40) })
    const work = tmp()
    const deploy = deployModel(request(work, { ref: 'd'.repeat(40) }), {
      backend,
      target: new KServeTarget({ name: 'churn', outDir: path.join(work, 'kserve') }),
      ledger,
      log: () => {},
    })
    await expect(deploy).rejects.toThrow(/storageUri/)
    expect(api.deployments).toHaveLength(1)
    expect(api.deployments[0]!.statuses.map((s) => s.state)).toEqual(['in_progress', 'error'])
    expect(api.deployments[0]!.statuses[1]!.description).toMatch(/^churn 1\.0\.0: /)
  })

  it('refuses a stage it could not assign before anything changes', async () => {
    const ledger = createGitHubDeploymentLedger({ token: 'tok', owner: 'acme', repo: 'models', baseUrl: api.baseUrl, sha: 'd'.repeat(40) })
    const before = api.deployments.length
    const work = tmp()
    const deploy = deployModel(request(work, { envStage: 'prod stage' }), {
      backend,
      target: new KServeTarget({ name: 'churn', outDir: path.join(work, 'kserve') }),
      ledger,
      log: () => {},
    })
    await expect(deploy).rejects.toThrow("deploy.environments.prod.stage: 'prod stage' is not a valid stage name")
    expect(api.deployments).toHaveLength(before)
  })
})
