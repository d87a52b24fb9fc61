import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { OciBackend } from '../../src/core/registry/backends/oci.js'
import { registerModel } from '../../src/core/registry/register.js'
import { EMPTY_POLICY } from '../../src/core/registry/policy.js'
import { goldenForRegistration } from '../../src/core/registry/golden.js'
import { resolveSettings } from '../../src/core/settings/index.js'
import { deployModel, type DeployRequest } from '../../src/core/deploy/run.js'
import { KServeTarget } from '../../src/core/deploy/targets/kserve.js'
import { LocalTarget } from '../../src/core/deploy/targets/local.js'
import { DEFAULT_VERIFY } from '../../src/core/deploy/verify.js'
import { startRegistry, type TestRegistry } from '../helpers/oci-registry.js'
import { schemaErrors } from '../helpers/kserve-schema.js'
import { ROOT } from '../helpers/action-harness.js'
import { stopEnvironmentServers } from '../helpers/servers.js'
import { tmp } from '../registry/conformance.js'

/*
 * Across components: a version registered in a real OCI registry (docker-registry), then deployed
 * from it: rendered as a KServe InferenceService whose storageUri is the pushed artifact (checked
 * against the CRD schema), and served by the local target from the bytes pulled back.
 */

const EXAMPLE = path.join(ROOT, 'examples/breast-cancer')
let registry: TestRegistry
let backend: OciBackend
let digest = ''
const ws = tmp('mg-oci-deploy-')

beforeAll(async () => {
  registry = await startRegistry()
  backend = new OciBackend({ reference: `oci://${registry.address}/models`, lockDelayMs: 150 })
  const model = path.join(EXAMPLE, 'model.onnx')
  const r = await registerModel(
    {
      name: 'breast-cancer',
      modelPath: model,
      bump: 'auto',
      evidence: [],
      labels: {},
      policy: EMPTY_POLICY,
      context: {},
      golden: (d) =>
        goldenForRegistration(
          { manifest: 'examples/breast-cancer/modelgate.yml', modelPath: model, workspace: ROOT, digest: d },
          resolveSettings,
        ),
    },
    backend,
  )
  digest = r.digest
}, 60_000)

afterAll(() => {
  stopEnvironmentServers(ws)
  registry?.stop()
})

const request = (over: Partial<DeployRequest>): DeployRequest => ({
  name: 'breast-cancer',
  version: '1.0.0',
  environment: 'prod',
  envStage: 'prod',
  requiresEvidence: [],
  canarySteps: [],
  verify: { ...DEFAULT_VERIFY, burst: 10 },
  timeoutMs: 20_000,
  dryRun: false,
  workDir: path.join(ws, 'artifacts'),
  ...over,
})

describe('deploying a version from an OCI registry', () => {
  it('renders a KServe InferenceService that serves the pushed artifact by digest, valid against the CRD', async () => {
    const out = path.join(ws, 'kserve')
    const target = new KServeTarget({ name: 'breast-cancer', outDir: out })
    const result = await deployModel(request({ dryRun: true }), { backend, target, log: () => {} })
    expect(result.status).toBe('dry-run')
    expect(result.files).toHaveLength(1)
    const manifest = parse(readFileSync(result.files[0]!, 'utf8')) as { spec: { predictor: { model: { storageUri: string } } } }
    expect(schemaErrors(manifest)).toEqual([])
    expect(manifest.spec.predictor.model.storageUri).toMatch(
      new RegExp(`^oci://${registry.address}/models/breast-cancer@sha256:[0-9a-f]{64}$`),
    )
  }, 60_000)

  it('pulls the artifact back, checks its digest, and serves it on the local target, verified', async () => {
    const target = new LocalTarget({
      name: 'breast-cancer',
      environment: 'oci',
      dir: path.join(ws, '.modelgate/environments/breast-cancer/oci'),
      port: 0,
      serveCommand: [process.execPath, path.join(ROOT, 'dist/cli/index.js')],
    })
    const result = await deployModel(request({ environment: 'oci', envStage: 'oci' }), { backend, target, log: () => {} })
    expect(result.status).toBe('success')
    expect(result.digest).toBe(digest)
    expect(result.steps[0]!.verify!.checks.map((c) => `${c.id}:${c.status}`)).toEqual([
      'ready:pass',
      'identity:pass',
      'golden:pass',
      'burst:pass',
    ])
    expect((await backend.stages('breast-cancer')).current.oci).toBe('1.0.0')
  }, 60_000)
})
