import { describe, it, expect, afterAll } from '@jest/globals'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { schemaErrors } from '../helpers/kserve-schema.js'
import { UserError } from '../../src/core/errors.js'
import { KServeTarget, labelValue, type InferenceServiceManifest, type KServeTargetOptions } from '../../src/core/deploy/targets/kserve.js'
import { DeployFailure, type ServedVersion, type TrafficPlan } from '../../src/core/deploy/types.js'

/*
 * The KServe target: every rendered manifest is checked against the InferenceService CRD's v1beta1
 * schema (fixture copied from kserve/kserve), and apply/wait/current run a fake kubectl: a Node script
 * that records its argv and keeps the applied object, answering `get`/`wait` from a status built the
 * way KServe's Serverless reconciler builds it (traffic split only after a rollout at 100%).
 */

const root = path.resolve(import.meta.dirname, '../..')
const scratch = mkdtempSync(path.join(os.tmpdir(), 'modelgate-kserve-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
let dirs = 0
const freshDir = (label: string) => path.join(scratch, `${label}-${++dirs}`)

// ---- schema --------------------------------------------------------------------------------------

const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/

/** Parses a rendered manifest and checks it against the CRD and Kubernetes' label rules. */
function checked(yamlText: string): InferenceServiceManifest {
  const m = parse(yamlText) as InferenceServiceManifest
  expect(schemaErrors(m)).toEqual([])
  for (const [k, v] of Object.entries(m.metadata.labels)) expect([k, LABEL_VALUE.test(v)]).toEqual([k, true])
  return m
}

// ---- versions ------------------------------------------------------------------------------------

const D1 = 'sha256:' + '0123456789abcdef'.repeat(4)
const D2 = 'sha256:' + 'fedcba9876543210'.repeat(4)
const v1: ServedVersion = { name: 'churn', version: '1.0.0', digest: D1, uri: `oci://127.0.0.1:5000/models/churn@${D1}` }
const v2: ServedVersion = { name: 'churn', version: '2.0.0-rc.1+build.7', digest: D2, uri: `oci://127.0.0.1:5000/models/churn@${D2}` }
const first: TrafficPlan = { stable: v1 }
const canary = (percent: number): TrafficPlan => ({ stable: v1, canary: { ...v2, percent } })
const promoted: TrafficPlan = { stable: v2 }
const D1_LABEL = 'sha256_0123456789abcdef0123456789abcdef0123456789abcdef01234567'
const D2_LABEL = 'sha256_fedcba9876543210fedcba9876543210fedcba9876543210fedcba98'

const labelsOf = (version: string, digest: string) => ({
  'app.kubernetes.io/managed-by': 'modelgate',
  'modelgate.io/model': 'churn',
  'modelgate.io/version': version,
  'modelgate.io/digest': digest,
})
const annotationsOf = (v: ServedVersion, prefix = '') => ({
  [`modelgate.io/${prefix}model`]: v.name,
  [`modelgate.io/${prefix}version`]: v.version,
  [`modelgate.io/${prefix}digest`]: v.digest,
  [`modelgate.io/${prefix}uri`]: v.uri,
})
const model = (v: ServedVersion) => ({ modelFormat: { name: 'onnx' }, protocolVersion: 'v2', storageUri: v.uri })

const log = () => {}
const target = (extra: Partial<KServeTargetOptions> = {}) => new KServeTarget({ name: 'churn', outDir: freshDir('out'), ...extra })

// ---- fake kubectl --------------------------------------------------------------------------------

interface Control {
  ready?: boolean
  reason?: string
  message?: string
  modelFailure?: { reason: string; message: string }
  applyError?: string
  /** RawDeployment mode: no Knative traffic in the status. */
  raw?: boolean
  /** The controller has not caught up: observedGeneration stays one behind. */
  stale?: boolean
}

const FAKE_KUBECTL = String.raw`
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const dir = path.dirname(process.argv[1])
const parseYaml = (text) => createRequire(__ROOT__)('yaml').parse(text)
const args = process.argv.slice(2).filter((a, i, all) => !(a === '--context' || all[i - 1] === '--context'))
appendFileSync(path.join(dir, 'calls.jsonl'), JSON.stringify(process.argv.slice(2)) + '\n')
const read = (f) => (existsSync(path.join(dir, f)) ? JSON.parse(readFileSync(path.join(dir, f), 'utf8')) : undefined)
const control = read('control.json') ?? {}
const obj = read('object.json')
const fail = (msg) => {
  process.stderr.write(msg + '\n')
  process.exit(1)
}

// What KServe's Serverless reconciler does with canaryTrafficPercent (pkg/controller/.../knative/ksvc_reconciler.go).
function reconcile(prev, m) {
  const name = m.metadata.name
  const ns = m.metadata.namespace ?? 'default'
  const generation = (prev?.metadata.generation ?? 0) + 1
  const before = prev?.status?.components?.predictor ?? {}
  const revisions = (before.revisionCount ?? 0) + (JSON.stringify(prev?.spec.predictor.model) === JSON.stringify(m.spec.predictor.model) && JSON.stringify(prev?.metadata.annotations) === JSON.stringify(m.metadata.annotations) ? 0 : 1)
  const latest = name + '-predictor-' + String(revisions).padStart(5, '0')
  const host = (tag) => 'http://' + tag + name + '-predictor.' + ns + '.example.com'
  const tagRouting = m.metadata.annotations?.['serving.kserve.io/enable-tag-routing'] === 'true'
  const latestTag = tagRouting ? { tag: 'latest', url: host('latest-') } : {}
  const pct = m.spec.predictor.canaryTrafficPercent
  let traffic = [{ revisionName: latest, latestRevision: true, percent: 100, ...latestTag }]
  if (pct !== undefined && before.latestRolledoutRevision) {
    traffic = [{ revisionName: latest, latestRevision: true, percent: pct, ...latestTag }]
    if (pct < 100) traffic.push({ revisionName: before.latestRolledoutRevision, latestRevision: false, percent: 100 - pct, tag: 'prev', url: host('prev-') })
  }
  const ready = control.ready !== false
  const rolledOut = ready && traffic[0].percent === 100
  const condition = (type) => (ready ? { type, status: 'True' } : { type, status: 'False', reason: control.reason, message: control.message })
  const status = {
    observedGeneration: control.stale ? generation - 1 : generation,
    url: 'http://' + name + '.' + ns + '.example.com',
    conditions: [condition('IngressReady'), condition('PredictorReady'), condition('Ready')],
    components: {
      predictor: {
        revisionCount: revisions,
        latestCreatedRevision: latest,
        ...(ready ? { latestReadyRevision: latest } : {}),
        latestRolledoutRevision: rolledOut ? latest : before.latestRolledoutRevision,
        ...(control.raw ? {} : { traffic: ready ? traffic : before.traffic }),
      },
    },
    modelStatus: ready
      ? { transitionStatus: 'UpToDate' }
      : { transitionStatus: 'BlockedByFailedLoad', ...(control.modelFailure ? { lastFailureInfo: control.modelFailure } : {}) },
  }
  return { apiVersion: m.apiVersion, kind: m.kind, metadata: { ...m.metadata, generation }, spec: m.spec, status }
}

const name = (args[1] ?? '').split('/')[1]
switch (args[0]) {
  case 'apply': {
    if (control.applyError) fail(control.applyError)
    const m = parseYaml(readFileSync(args[args.indexOf('-f') + 1], 'utf8'))
    writeFileSync(path.join(dir, 'object.json'), JSON.stringify(reconcile(obj, m)))
    console.log('inferenceservice.serving.kserve.io/' + m.metadata.name + (obj ? ' configured' : ' created'))
    break
  }
  case 'wait':
    if (obj?.status.conditions.find((c) => c.type === 'Ready')?.status !== 'True') fail('error: timed out waiting for the condition on inferenceservices/' + name)
    console.log('inferenceservice.serving.kserve.io/' + name + ' condition met')
    break
  case 'get':
    if (obj) console.log(JSON.stringify(obj))
    else if (!args.includes('--ignore-not-found')) fail('Error from server (NotFound): inferenceservices.serving.kserve.io "' + name + '" not found')
    break
  default:
    fail('fake kubectl: unexpected ' + args.join(' '))
}
`

interface FakeKubectl {
  command: string[]
  calls(): string[][]
  control(c: Control): void
}

function fakeKubectl(control: Control = {}): FakeKubectl {
  const dir = freshDir('kubectl')
  mkdirSync(dir, { recursive: true })
  const script = path.join(dir, 'kubectl.mjs')
  writeFileSync(script, FAKE_KUBECTL.replace('__ROOT__', JSON.stringify(path.join(root, 'package.json'))))
  const setControl = (c: Control) => writeFileSync(path.join(dir, 'control.json'), JSON.stringify(c))
  setControl(control)
  const callsFile = path.join(dir, 'calls.jsonl')
  return {
    command: [process.execPath, script, '--context', 'test'],
    calls: () =>
      existsSync(callsFile)
        ? readFileSync(callsFile, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as string[])
        : [],
    control: setControl,
  }
}

/** The argv the fake records: the fixed arguments of the kubectl option, then the target's. */
const K = (...args: string[]) => ['--context', 'test', ...args]

// ---- rendering -----------------------------------------------------------------------------------

describe('kserve target: rendered manifests', () => {
  it('the CRD schema is not vacuous: a wrong type, a misspelt field and a missing required field are rejected', () => {
    const good = target().manifest(canary(10))
    expect(schemaErrors(good)).toEqual([])
    const bad = structuredClone(good) as unknown as { spec: { predictor: Record<string, unknown> & { model: Record<string, unknown> } } }
    bad.spec.predictor.canaryTrafficPercent = 'x'
    expect(schemaErrors(bad)).toEqual(['/spec/predictor/canaryTrafficPercent must be integer'])
    const misspelt = structuredClone(good) as unknown as { spec: { predictor: Record<string, unknown> } }
    misspelt.spec.predictor.canaryTraficPercent = 10
    expect(schemaErrors(misspelt)).toEqual(['/spec/predictor must NOT have additional properties'])
    const noFormat = structuredClone(good) as unknown as { spec: { predictor: { model: { modelFormat: Record<string, unknown> } } } }
    delete noFormat.spec.predictor.model.modelFormat.name
    expect(schemaErrors(noFormat)).toEqual(["/spec/predictor/model/modelFormat must have required property 'name'"])
  })

  it('first deploy, canary 10 and 50, promotion and rollback: files, exact fields, all valid against the CRD', async () => {
    const t = target()
    const files: string[] = []
    for (const plan of [first, canary(10), canary(50), promoted]) files.push(...(await t.apply(plan, { dryRun: true, log })).files)
    const afterPromotion = files.map((f) => checked(readFileSync(f, 'utf8')))
    expect(files.map((f) => path.basename(f))).toEqual(['churn-1.yaml', 'churn-2.yaml', 'churn-3.yaml', 'churn-4.yaml'])

    const [m1, m10, m50, mp] = afterPromotion
    expect(m1).toEqual({
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: { name: 'churn', labels: labelsOf('1.0.0', D1_LABEL), annotations: annotationsOf(v1) },
      spec: { predictor: { model: model(v1) } },
    })
    expect(m10).toEqual({
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: {
        name: 'churn',
        labels: labelsOf('2.0.0-rc.1_build.7', D2_LABEL),
        annotations: { ...annotationsOf(v2), ...annotationsOf(v1, 'stable-') },
      },
      spec: { predictor: { canaryTrafficPercent: 10, model: model(v2) } },
    })
    expect(m10!.spec.predictor.model.storageUri).toBe(
      'oci://127.0.0.1:5000/models/churn@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210',
    )
    // A step changes the split only: same metadata and model, so Knative starts no new revision.
    expect({ ...m50, spec: { predictor: { ...m50!.spec.predictor, canaryTrafficPercent: 10 } } }).toEqual(m10)
    expect(m50!.spec.predictor.canaryTrafficPercent).toBe(50)
    expect(mp).toEqual({
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: { name: 'churn', labels: labelsOf('2.0.0-rc.1_build.7', D2_LABEL), annotations: annotationsOf(v2) },
      spec: { predictor: { model: model(v2) } },
    })
    expect(readFileSync(files[1]!, 'utf8').split('\n')[0]).toBe(
      `# rendered by modelgate: churn 2.0.0-rc.1+build.7 (${D2}) at 10% over churn 1.0.0 (${D1})`,
    )

    // Rolling back after the promotion: the candidate is the last rolled-out revision, so no 0% pin.
    const back = checked(readFileSync((await t.apply(first, { dryRun: true, log })).files[0]!, 'utf8'))
    expect(back).toEqual(m1)
  })

  it('a rollback from a canary renders the stable storageUri pinned at canaryTrafficPercent 0', async () => {
    const t = target()
    await t.apply(first, { dryRun: true, log })
    await t.apply(canary(10), { dryRun: true, log })
    const out = await t.apply(first, { dryRun: true, log })
    const m = checked(readFileSync(out.files[0]!, 'utf8'))
    expect(m.spec.predictor).toEqual({ canaryTrafficPercent: 0, model: model(v1) })
    expect(m.metadata.annotations).toEqual(annotationsOf(v1))
    expect(m.metadata.labels).toEqual(labelsOf('1.0.0', D1_LABEL))
    expect(out.notes).toEqual([
      'inferenceservice/churn: canaryTrafficPercent 0 sends all traffic back to the last rolled-out revision at once',
      `no kubectl configured: ${out.files[0]} rendered, not applied`,
    ])
    // The same plans without history: nothing to pin against.
    expect(target().manifest(first, undefined).spec.predictor).toEqual({ model: model(v1) })
    expect(target().manifest(first, canary(50)).spec.predictor.canaryTrafficPercent).toBe(0)
    expect(target().manifest(promoted, canary(50)).spec.predictor).toEqual({ model: model(v2) })
  })

  it('renders every option, still valid against the CRD', () => {
    const t = target({
      namespace: 'ml-prod',
      modelFormat: 'sklearn',
      runtime: 'kserve-mlserver',
      protocolVersion: 'v1',
      resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: 2, 'nvidia.com/gpu': 1 } },
      minReplicas: 0,
      maxReplicas: 3,
      annotations: { 'serving.kserve.io/deploymentMode': 'Serverless' },
      labels: { team: 'risk' },
      tagRouting: true,
    })
    const m = checked(t.render(canary(25)))
    expect(m.metadata).toEqual({
      name: 'churn',
      namespace: 'ml-prod',
      labels: { team: 'risk', ...labelsOf('2.0.0-rc.1_build.7', D2_LABEL) },
      annotations: {
        'serving.kserve.io/deploymentMode': 'Serverless',
        'serving.kserve.io/enable-tag-routing': 'true',
        ...annotationsOf(v2),
        ...annotationsOf(v1, 'stable-'),
      },
    })
    expect(m.spec.predictor).toEqual({
      canaryTrafficPercent: 25,
      minReplicas: 0,
      maxReplicas: 3,
      model: {
        modelFormat: { name: 'sklearn' },
        runtime: 'kserve-mlserver',
        protocolVersion: 'v1',
        storageUri: v2.uri,
        resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: 2, 'nvidia.com/gpu': 1 } },
      },
    })
    expect(t.description).toBe('kserve inferenceservice/churn in namespace ml-prod')
  })

  it('shortens digests and versions to label values and keeps the full ones in annotations', () => {
    expect(labelValue(D1)).toBe(D1_LABEL)
    expect(labelValue(D1).length).toBe(63)
    expect(labelValue('1.0.0+build/7')).toBe('1.0.0_build_7')
    expect(labelValue('-x-')).toBe('x')
    const m = target().manifest(promoted)
    expect(m.metadata.annotations['modelgate.io/digest']).toBe(D2)
    expect(m.metadata.annotations['modelgate.io/version']).toBe('2.0.0-rc.1+build.7')
  })

  it('refuses a file:// or local-path version with a UserError naming storageUri, and maps it with storageUri', () => {
    const local: ServedVersion = { ...v1, uri: 'file:///work/.modelgate/registry/churn/1.0.0/' }
    const err = (() => {
      try {
        target().manifest({ stable: local })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).field).toBe('storageUri')
    expect((err as UserError).message).toBe(
      "kserve: churn 1.0.0 is at 'file:///work/.modelgate/registry/churn/1.0.0/', a file on this machine, which the cluster cannot fetch: " +
        'register it in an oci:// registry or set storageUri to map it to an oci://, gs://, s3://, pvc:// or http(s):// location',
    )
    expect(() => target().manifest({ stable: { ...v1, uri: '/srv/repo#refs/tags/churn@1.0.0' } })).toThrow(
      /a local path, which the cluster/,
    )
    expect(() => target().manifest({ stable: { ...v1, uri: 'ftp://host/m' } })).toThrow(/a ftp:\/\/ URI KServe does not fetch/)
    const mapped = target({ storageUri: (v) => `s3://models/${v.name}/${v.version}` })
    expect(checked(mapped.render({ stable: local })).spec.predictor.model.storageUri).toBe('s3://models/churn/1.0.0')
    expect(() => target({ storageUri: (v) => v.uri }).manifest({ stable: local })).toThrow(UserError)
  })

  it('refuses bad options and percents with UserErrors naming the field', () => {
    const field = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return e instanceof UserError ? e.field : `not a UserError: ${String(e)}`
      }
      return 'no error'
    }
    expect(field(() => target({ name: 'Churn_1' }))).toBe('name')
    expect(field(() => target({ name: '1churn' }))).toBe('name')
    expect(field(() => target({ name: 'a'.repeat(64) }))).toBe('name')
    expect(field(() => target({ namespace: 'ML' }))).toBe('namespace')
    expect(field(() => target({ kubectl: [] }))).toBe('kubectl')
    expect(field(() => target({ minReplicas: 4, maxReplicas: 2 }))).toBe('minReplicas')
    expect(field(() => target({ maxReplicas: 1.5 }))).toBe('maxReplicas')
    expect(field(() => target({ labels: { 'modelgate.io/version': 'x' } }))).toBe('labels.modelgate.io/version')
    expect(field(() => target({ labels: { team: 'risk & fraud' } }))).toBe('labels.team')
    expect(field(() => target().manifest(canary(150)))).toBe('canary.percent')
    expect(field(() => target().manifest(canary(12.5)))).toBe('canary.percent')
    expect(field(() => target({ name: 'a'.repeat(63) }))).toBe('no error')
  })
})

// ---- kubectl -------------------------------------------------------------------------------------

describe('kserve target: kubectl (a fake kubectl that records its argv)', () => {
  it('first deploy, canary steps and promotion: the exact kubectl argv sequence, status.url and current()', async () => {
    const fake = fakeKubectl()
    const t = target({ kubectl: fake.command, namespace: 'ml' })
    const files: string[] = []
    for (const plan of [first, canary(10), canary(50), promoted]) {
      const out = await t.apply(plan, { dryRun: false, log })
      expect(out.notes).toEqual([])
      files.push(...out.files)
      await t.waitReady(plan, 60_000)
    }
    const ns = ['-n', 'ml']
    const wait = K('wait', '--for=condition=Ready', 'inferenceservice/churn', '--timeout=60s', ...ns)
    const get = K('get', 'inferenceservice/churn', '-o', 'json', ...ns)
    expect(fake.calls()).toEqual([
      K('get', 'inferenceservice/churn', '-o', 'json', '--ignore-not-found', ...ns),
      K('apply', '-f', files[0]!, ...ns),
      wait,
      get,
      K('apply', '-f', files[1]!, ...ns),
      wait,
      get,
      K('apply', '-f', files[2]!, ...ns),
      wait,
      get,
      K('apply', '-f', files[3]!, ...ns),
      wait,
      get,
    ])
    for (const f of files) checked(readFileSync(f, 'utf8'))
    expect(t.endpoint()).toEqual({ url: 'http://churn.ml.example.com', protocol: 'v2', model: 'churn' })
    expect(t.endpoint('2.0.0-rc.1+build.7')).toBeUndefined() // no tag routing
    expect(await t.current()).toEqual(promoted)
  })

  it('current(): the plan in the live annotations, a canary with its live percent, undefined when absent', async () => {
    const fake = fakeKubectl()
    const t = target({ kubectl: fake.command })
    expect(await t.current()).toBeUndefined()
    await t.apply(first, { dryRun: false, log })
    expect(await t.current()).toEqual(first)
    await t.apply(canary(10), { dryRun: false, log })
    expect(await t.current()).toEqual(canary(10))
    expect(await target().current()).toBeUndefined() // no kubectl: cannot tell
  })

  it('a rollback from a fresh process mid-canary reads the live object and pins 0% on the stable', async () => {
    const fake = fakeKubectl()
    const a = target({ kubectl: fake.command })
    for (const plan of [first, canary(10)]) {
      await a.apply(plan, { dryRun: false, log })
      await a.waitReady(plan, 30_000)
    }
    const before = fake.calls().length
    const b = target({ kubectl: fake.command })
    const out = await b.apply(first, { dryRun: false, log })
    await b.waitReady(first, 30_000)
    expect(fake.calls().slice(before)).toEqual([
      K('get', 'inferenceservice/churn', '-o', 'json', '--ignore-not-found'),
      K('apply', '-f', out.files[0]!),
      K('wait', '--for=condition=Ready', 'inferenceservice/churn', '--timeout=30s'),
      K('get', 'inferenceservice/churn', '-o', 'json'),
    ])
    expect(checked(readFileSync(out.files[0]!, 'utf8')).spec.predictor).toEqual({ canaryTrafficPercent: 0, model: model(v1) })
    expect(await b.current()).toEqual(first)
  })

  it('a status that is not Ready becomes a DeployFailure naming the reason, message and model failure', async () => {
    const fake = fakeKubectl()
    const t = target({ kubectl: fake.command })
    await t.apply(first, { dryRun: false, log })
    await t.waitReady(first, 30_000)
    fake.control({
      ready: false,
      reason: 'RevisionFailed',
      message: 'Revision "churn-predictor-00002" failed with message: Container failed with: model load error.',
      modelFailure: { reason: 'ModelLoadFailed', message: 'onnxruntime: invalid model' },
    })
    await t.apply(canary(10), { dryRun: false, log })
    const err = await t.waitReady(canary(10), 5_000).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(DeployFailure)
    expect((err as DeployFailure).phase).toBe('ready')
    const cond = 'RevisionFailed: Revision "churn-predictor-00002" failed with message: Container failed with: model load error.'
    expect((err as DeployFailure).message).toBe(
      `inferenceservice/churn is not Ready after 5s: Ready=False ${cond}; IngressReady=False ${cond}; PredictorReady=False ${cond}; ` +
        'model ModelLoadFailed: onnxruntime: invalid model',
    )
    expect(fake.calls().slice(-2)).toEqual([
      K('wait', '--for=condition=Ready', 'inferenceservice/churn', '--timeout=5s'),
      K('get', 'inferenceservice/churn', '-o', 'json'),
    ])
  })

  it('kubectl apply failing becomes a DeployFailure with its stderr', async () => {
    const denied =
      'Error from server (BadRequest): error when creating "churn-1.yaml": admission webhook "inferenceservice.kserve-webhook-server.validator" denied the request'
    const fake = fakeKubectl({ applyError: denied })
    const outDir = freshDir('out')
    const t = target({ kubectl: fake.command, outDir })
    const err = await t.apply(canary(10), { dryRun: false, log }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(DeployFailure)
    expect((err as DeployFailure).phase).toBe('apply')
    expect((err as DeployFailure).message).toBe(`kubectl apply -f ${path.join(outDir, 'churn-1.yaml')} failed: ${denied}`)
    expect(fake.calls().map((c) => c[2])).toEqual(['apply'])
  })

  it('a canary KServe did not split (nothing rolled out yet, or RawDeployment mode) fails waitReady', async () => {
    const fresh = fakeKubectl()
    const t = target({ kubectl: fresh.command })
    await t.apply(canary(10), { dryRun: false, log })
    await expect(t.waitReady(canary(10), 30_000)).rejects.toThrow(
      new DeployFailure(
        'inferenceservice/churn: the latest revision holds 100% of the traffic, not 10% (KServe splits traffic only once a revision has been rolled out at 100%)',
        'ready',
      ),
    )
    const raw = fakeKubectl({ raw: true })
    const r = target({ kubectl: raw.command })
    await r.apply(first, { dryRun: false, log })
    await r.waitReady(first, 30_000)
    await r.apply(canary(10), { dryRun: false, log })
    await expect(r.waitReady(canary(10), 30_000)).rejects.toThrow(
      "inferenceservice/churn: status.components.predictor.traffic is empty: canaryTrafficPercent needs KServe's Serverless (Knative) deployment mode",
    )
  })

  it('a status the controller has not reconciled yet is not taken for Ready', async () => {
    const fake = fakeKubectl({ stale: true })
    const t = target({ kubectl: fake.command })
    await t.apply(first, { dryRun: false, log })
    await expect(t.waitReady(first, 1_500)).rejects.toThrow(
      'inferenceservice/churn: the controller has not reconciled the new spec in time',
    )
  })

  it('with tag routing, endpoint(version) gives the latest- URL for the candidate and prev- for the stable', async () => {
    const fake = fakeKubectl()
    const t = target({ kubectl: fake.command, tagRouting: true, url: 'http://127.0.0.1:8080' })
    for (const plan of [first, canary(10)]) {
      await t.apply(plan, { dryRun: false, log })
      await t.waitReady(plan, 30_000)
    }
    expect(t.endpoint()).toEqual({ url: 'http://127.0.0.1:8080', protocol: 'v2', model: 'churn' })
    expect(t.endpoint(v2.version)).toEqual({
      url: 'http://latest-churn-predictor.default.example.com',
      protocol: 'v2',
      model: 'churn',
      version: v2.version,
    })
    expect(t.endpoint(v1.version)).toEqual({
      url: 'http://prev-churn-predictor.default.example.com',
      protocol: 'v2',
      model: 'churn',
      version: '1.0.0',
    })
    expect(t.endpoint('9.9.9')).toBeUndefined()
  })

  it('a dry run writes the manifest and never invokes kubectl', async () => {
    const fake = fakeKubectl()
    const t = target({ kubectl: fake.command })
    const lines: string[] = []
    for (const plan of [first, canary(10), first]) {
      const out = await t.apply(plan, { dryRun: true, log: (l) => lines.push(l) })
      expect(existsSync(out.files[0]!)).toBe(true)
      await t.waitReady(plan, 30_000)
    }
    expect(fake.calls()).toEqual([])
    expect(lines.map((l) => l.replace(/ \/.*\//, ' <out>/'))).toEqual([
      'dry run: <out>/churn-1.yaml rendered, kubectl not run',
      'dry run: <out>/churn-2.yaml rendered, kubectl not run',
      'dry run: <out>/churn-3.yaml rendered, kubectl not run',
    ])
    expect(t.endpoint()).toBeUndefined()
  })

  it('without kubectl: renders only, current() is undefined, lock() is a no-op', async () => {
    const t = target({ url: 'http://isvc.example.com' })
    const out = await t.apply(first, { dryRun: false, log })
    expect(out.notes).toEqual([`no kubectl configured: ${out.files[0]} rendered, not applied`])
    await t.waitReady(first, 1_000)
    expect(await t.current()).toBeUndefined()
    expect(t.endpoint()).toEqual({ url: 'http://isvc.example.com', protocol: 'v2', model: 'churn' })
    const release = await t.lock()
    await release()
    expect(t.kind).toBe('kserve')
  })

  it('a kubectl command that does not exist is a UserError naming kubectl', async () => {
    const t = target({ kubectl: [path.join(scratch, 'no-such-kubectl')] })
    const err = await t.apply(first, { dryRun: false, log }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).field).toBe('kubectl')
    expect((err as UserError).message).toBe(`kserve: kubectl command '${path.join(scratch, 'no-such-kubectl')}' was not found`)
  })
})
