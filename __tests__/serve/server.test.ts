import { describe, it, expect, beforeAll, afterAll, afterEach } from '@jest/globals'
import { copyFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { createHttpRunner } from '../../src/core/runners/http.js'
import { createOnnxRunner } from '../../src/core/runners/onnx.js'
import type { ModelRunner, PredictionBatch } from '../../src/core/runners/types.js'
import { startInferenceServer, type InferenceServer } from '../../src/core/serve/server.js'
import { writeEnvironmentState } from '../../src/core/serve/state.js'
import { writeFileAtomic } from '../../src/core/files.js'
import { EXAMPLE_DIR, MODELS_DIR, batchOf, readCsv } from '../onnx/helpers.js'
import { call, heldRequest, sha256, stateOf, until, workspace, type Answer } from './helpers.js'

const test = readCsv(`${EXAMPLE_DIR}data/test.csv`)
const features = test.header.slice(0, -1)
const rows = test.rows.map((r) => r.slice(0, -1))
const batch = batchOf(features, rows)

/** What each version says about every test row, straight from the ONNX runner. */
const reference: Record<'1' | '2', PredictionBatch> = {} as Record<'1' | '2', PredictionBatch>
const direct: ModelRunner[] = []
beforeAll(async () => {
  for (const [version, file] of [
    ['1', 'model.onnx'],
    ['2', 'baseline.onnx'],
  ] as const) {
    const runner = await createOnnxRunner({ path: `${EXAMPLE_DIR}${file}` })
    direct.push(runner)
    reference[version] = await runner.predict(batch)
  }
})
afterAll(async () => {
  for (const r of direct) await r.close()
})

const servers: InferenceServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

async function serve(stateFile: string): Promise<InferenceServer> {
  const server = await startInferenceServer({ stateFile, host: '127.0.0.1', port: 0, pollMs: 5 })
  servers.push(server)
  return server
}

/** An OIP request for test rows [from, from + n): one FP32 tensor [n, 30], as our http runner sends it. */
function inferBody(from: number, n: number, id?: string): { id?: string; inputs: unknown[] } {
  return { ...(id ? { id } : {}), inputs: [{ name: 'input', shape: [n, 30], datatype: 'FP32', data: rows.slice(from, from + n).flat() }] }
}

/** The OIP outputs the server must give for rows [from, from + n) of a version. */
function expectedOutputs(version: '1' | '2', from: number, n: number): unknown[] {
  const p = reference[version]
  return [
    { name: 'label', datatype: 'INT64', shape: [n], data: p.labels!.slice(from, from + n) },
    { name: 'probabilities', datatype: 'FP32', shape: [n, 2], data: Array.from(p.probabilities!.slice(2 * from, 2 * (from + n))) },
  ]
}

function expectAnsweredBy(answer: Answer, version: '1' | '2', from: number, n: number, id?: string): void {
  expect(answer.status).toBe(200)
  expect(answer.headers['x-modelgate-version']).toBe(version)
  expect(answer.body).toEqual({
    model_name: 'bc',
    model_version: version,
    id: id ?? expect.any(String),
    outputs: expectedOutputs(version, from, n),
  })
}

const v2Tensor = { name: 'input', datatype: 'FP32', shape: [-1, 30] }
const v2Outputs = [
  { name: 'label', datatype: 'INT64', shape: [-1] },
  { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
]

describe('inference server: metadata and health', () => {
  it('answers server and model metadata, readiness and the modelgate extension', async () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }, { version: '2', path: ws.v2, percent: 25 }))
    const server = await serve(ws.stateFile)
    const at = (p: string) => call(`${server.url}${p}`)

    expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
    expect(await at('/v2')).toMatchObject({ status: 200, body: { name: 'modelgate', version: '0.1.0', extensions: ['modelgate'] } })
    expect((await at('/v2/health/live')).status).toBe(200)
    expect((await at('/v2/health/ready')).status).toBe(200)
    expect((await at('/v2/models/bc/ready')).status).toBe(200)
    expect((await at('/v2/models/bc/versions/2/ready')).status).toBe(200)
    expect((await at('/v2/models/bc/versions/3/ready')).status).toBe(404)
    expect((await at('/v2/models/other/ready')).status).toBe(404)

    const metadata = { name: 'bc', versions: ['1', '2'], platform: 'onnx_onnxv1', inputs: [v2Tensor], outputs: v2Outputs }
    expect(await at('/v2/models/bc')).toMatchObject({ status: 200, body: metadata })
    expect(await at('/v2/models/bc/versions/2')).toMatchObject({ status: 200, body: metadata })
    expect(await at('/v2/models/bc/versions/7')).toMatchObject({
      status: 404,
      body: { error: 'version 7 of model bc is not loaded; loaded: 1, 2' },
    })
    expect(await at('/v2/models/other')).toMatchObject({
      status: 404,
      body: { error: 'model other is not served here; this server serves bc' },
    })
    expect((await at('/v2/models/bc/modelgate')).body).toEqual({
      name: 'bc',
      environment: 'local',
      generation: 1,
      latestGeneration: 1,
      ready: true,
      versions: [
        { version: '1', role: 'stable', digest: sha256(ws.v1), percent: 75 },
        { version: '2', role: 'canary', digest: sha256(ws.v2), percent: 25 },
      ],
    })
    expect(server.status()).toEqual({
      generation: 1,
      applied: 1,
      ready: true,
      name: 'bc',
      environment: 'local',
      stable: { version: '1', digest: sha256(ws.v1), percent: 75, inflight: 0 },
      canary: { version: '2', digest: sha256(ws.v2), percent: 25, inflight: 0 },
      draining: [],
    })
  })

  it('starts without a valid state, is not ready, and becomes ready when a valid state is written', async () => {
    const ws = workspace()
    const server = await serve(ws.stateFile)
    expect(server.status()).toMatchObject({
      generation: null,
      applied: null,
      ready: false,
      error: `${ws.stateFile}: cannot read the environment state (file not found)`,
    })
    expect((await call(`${server.url}/v2/health/live`)).status).toBe(200)
    expect((await call(`${server.url}/v2/health/ready`)).status).toBe(400)
    expect(await call(`${server.url}/v2/models/bc/infer`, { body: inferBody(0, 1) })).toEqual({
      status: 503,
      headers: expect.anything(),
      // The client learns why, not where the state file is.
      body: { error: 'no model is loaded yet: <state file>: cannot read the environment state (file not found)' },
    })
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    await until('generation 1', () => server.status().ready)
    expect(server.status().error).toBeUndefined()
    expectAnsweredBy(await call(`${server.url}/v2/models/bc/infer`, { body: inferBody(0, 3, 'x') }), '1', 0, 3, 'x')
  })
})

describe('inference server: inference', () => {
  it('gives our http runner the same labels and probabilities as the ONNX runner', async () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    const server = await serve(ws.stateFile)
    const runner = await createHttpRunner({ url: `${server.url}/v2/models/bc`, features, retries: 0 })
    const info = await runner.describe()
    expect(info.inputs).toEqual([{ name: 'input', dtype: 'float', shape: [-1, 30] }])
    expect(info.notes).toContain('platform: onnx_onnxv1')
    const got = await runner.predict(batch)
    const want = reference['1']
    expect(got.length).toBe(171)
    expect(got.labels).toEqual(want.labels)
    expect(got.classes).toEqual(want.classes)
    expect(got.sources).toEqual(want.sources)
    const worst = Array.from(got.probabilities!).reduce((m, p, i) => Math.max(m, Math.abs(p - want.probabilities![i]!)), 0)
    expect(got.probabilities!.length).toBe(342)
    expect(worst).toBeLessThanOrEqual(1e-6)
  })

  it('takes nested data, picks outputs, and echoes the id', async () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    const server = await serve(ws.stateFile)
    const infer = (body: unknown) => call(`${server.url}/v2/models/bc/infer`, { body })
    const nested = { id: 'n', inputs: [{ name: 'input', shape: [4, 30], datatype: 'FP32', data: rows.slice(10, 14) }] }
    expectAnsweredBy(await infer(nested), '1', 10, 4, 'n')
    const onlyLabels = { ...inferBody(10, 4, 'o'), outputs: [{ name: 'label' }] }
    expect((await infer(onlyLabels)).body).toMatchObject({ outputs: [expectedOutputs('1', 10, 4)[0]] })
  })

  it('feeds a model with one input per column from named tensors or one [rows, k] tensor', async () => {
    const ws = workspace()
    const model = path.join(ws.dir, 'per-column.onnx')
    copyFileSync(`${MODELS_DIR}per-column.onnx`, model)
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: 'pc', path: model }))
    const server = await serve(ws.stateFile)
    const runner = await createOnnxRunner({ path: model })
    const want = await runner.predict(
      batchOf(
        ['a', 'b', 'c'],
        [
          [1.5, 2, 3],
          [-1, 0.25, 7],
        ],
      ),
    )
    await runner.close()
    const value = { name: 'prediction', datatype: 'FP32', shape: [2], data: Array.from(want.values!) }
    const named = {
      inputs: [
        { name: 'c', shape: [2], datatype: 'INT64', data: [3, 7] },
        { name: 'a', shape: [2, 1], datatype: 'FP32', data: [[1.5], [-1]] },
        { name: 'b', shape: [2], datatype: 'FP32', data: [2, 0.25] },
      ],
    }
    expect((await call(`${server.url}/v2/models/bc/infer`, { body: named })).body).toMatchObject({ outputs: [value] })
    // What our http runner sends: one tensor named after the first input, with its datatype.
    const matrix = { inputs: [{ name: 'a', shape: [2, 3], datatype: 'FP32', data: [1.5, 2, 3, -1, 0.25, 7] }] }
    expect((await call(`${server.url}/v2/models/bc/infer`, { body: matrix })).body).toMatchObject({ outputs: [value] })
    const metadata = (await call(`${server.url}/v2/models/bc`)).body
    expect(metadata).toMatchObject({
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [-1, 1] },
        { name: 'b', datatype: 'FP32', shape: [-1, 1] },
        { name: 'c', datatype: 'INT64', shape: [-1] },
      ],
    })
    const missing = { inputs: named.inputs.slice(1) }
    expect(await call(`${server.url}/v2/models/bc/infer`, { body: missing })).toMatchObject({
      status: 400,
      body: {
        error:
          "the model's inputs c are missing from the request; the model's inputs are a (FP32 [-1, 1]), b (FP32 [-1, 1]), c (INT64 [-1])",
      },
    })
  })

  it('answers bad requests with 400 and an error, and keeps serving', async () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    const server = await serve(ws.stateFile)
    const infer = (body: unknown) => call(`${server.url}/v2/models/bc/infer`, { body })
    const tensor = (t: Record<string, unknown>) => ({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: rows[0], ...t }] })
    const cases: [unknown, string][] = [
      ['{"inputs": [', 'the request body is not valid JSON'],
      [[1, 2], 'the request body must be a JSON object with "inputs"'],
      [{}, '"inputs" must be a non-empty list of tensors'],
      [{ inputs: [] }, '"inputs" must be a non-empty list of tensors'],
      [{ id: 5, inputs: [] }, '"id" must be a string, got 5'],
      [tensor({ shape: [2, 30] }), 'inputs[0] (input): shape [2, 30] holds 60 elements but data has 30'],
      [tensor({ shape: [1, -30] }), 'inputs[0] (input): shape must be a list of whole numbers ≥ 0, got [1,-30]'],
      [tensor({ datatype: 'FLOAT' }), 'inputs[0] (input): datatype must be one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16'],
      [tensor({ data: 'abc' }), 'inputs[0] (input): data must be a list (flat or nested)'],
      [tensor({ data: [{ x: 1 }, ...rows[0]!.slice(1)] }), 'inputs[0] (input): element 0 is {"x":1}, but FP32 takes numbers'],
      [tensor({ shape: [0, 30], data: [] }), 'the request has no rows'],
      [tensor({ shape: [1, 29], data: rows[0]!.slice(1) }), "input input: shape [1, 29] does not fit the model's [-1, 30] (-1: any size)"],
      [tensor({ data: ['x', ...rows[0]!.slice(1)] }), 'inputs[0] (input): element 0 is the text "x", but FP32 takes numbers'],
      [{ ...tensor({}), outputs: [{ name: 'nope' }] }, 'output nope is not served; outputs: label, probabilities'],
    ]
    for (const [body, error] of cases) {
      const answer = await infer(body)
      expect([answer.status, (answer.body as { error: string }).error]).toEqual([400, expect.stringContaining(error)])
      expect(answer.headers['x-modelgate-version']).toBe('1')
    }
    expect(await call(`${server.url}/v2/models/bc/infer`)).toMatchObject({ status: 405, body: { error: '/v2/models/bc/infer takes POST' } })
    expect(await call(`${server.url}/v2/models/bc`, { body: {} })).toMatchObject({ status: 405 })
    expect(await call(`${server.url}/v2/models/other/infer`, { body: inferBody(0, 1) })).toMatchObject({ status: 404 })
    expect(await call(`${server.url}/v1/models/bc:predict`, { body: {} })).toMatchObject({
      status: 404,
      body: { error: 'no such endpoint: POST /v1/models/bc:predict' },
    })
    expect(await call(`${server.url}/v2/models/%E0%A4%A/infer`, { body: {} })).toMatchObject({ status: 400 })
    expectAnsweredBy(await infer(inferBody(5, 2)), '1', 5, 2)
  })
})

describe('inference server: hot swap and canary', () => {
  it('swaps versions while 50 requests are in flight; each is answered by the version it arrived at', async () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    const server = await serve(ws.stateFile)
    const held = Array.from({ length: 50 }, (_, i) =>
      heldRequest(`${server.url}/v2/models/bc/infer`, JSON.stringify(inferBody(i, 3, `held-${i}`))),
    )
    try {
      await until('50 requests routed to version 1', () => server.status().stable?.inflight === 50)
      writeEnvironmentState(ws.stateFile, stateOf(2, { version: '2', path: ws.v2 }))
      await until('generation 2', () => server.status().applied === 2)
      expect(server.status()).toMatchObject({
        generation: 2,
        applied: 2,
        ready: true,
        stable: { version: '2', inflight: 0 },
        canary: null,
        draining: [{ version: '1', digest: sha256(ws.v1), percent: 0, inflight: 50 }],
      })
      // A request arriving now goes to version 2 while version 1 still drains.
      expectAnsweredBy(await call(`${server.url}/v2/models/bc/infer`, { body: inferBody(60, 2) }), '2', 60, 2)
      expect((await call(`${server.url}/v2/models/bc/versions/1/infer`, { body: inferBody(0, 1) })).status).toBe(404)
      const answers = await Promise.all(held.map((h) => h.finish()))
      answers.forEach((a, i) => expectAnsweredBy(a, '1', i, 3, `held-${i}`))
    } finally {
      // A failed assertion must not leave the requests open: the server would wait for them on close.
      await Promise.allSettled(held.map((h) => h.finish()))
    }
    expect(server.status().draining).toEqual([])
    expectAnsweredBy(await call(`${server.url}/v2/models/bc/infer`, { body: inferBody(0, 171) }), '2', 0, 171)
  })

  it('rolls back to a version that is still draining without reloading it', async () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    const server = await serve(ws.stateFile)
    const held = Array.from({ length: 5 }, (_, i) => heldRequest(`${server.url}/v2/models/bc/infer`, JSON.stringify(inferBody(i, 1))))
    try {
      await until('5 requests routed to version 1', () => server.status().stable?.inflight === 5)
      writeEnvironmentState(ws.stateFile, stateOf(2, { version: '2', path: ws.v2 }))
      await until('generation 2', () => server.status().applied === 2)
      expect(server.status().draining).toMatchObject([{ version: '1', inflight: 5 }])
      writeEnvironmentState(ws.stateFile, stateOf(3, { version: '1', path: ws.v1 }))
      await until('generation 3', () => server.status().applied === 3)
      // The same loaded version is back in service: its requests in progress count against it, nothing drains.
      expect(server.status()).toMatchObject({ stable: { version: '1', inflight: 5 }, draining: [] })
      const answers = await Promise.all(held.map((h) => h.finish()))
      answers.forEach((a, i) => expectAnsweredBy(a, '1', i, 1))
      expect(server.status().stable).toMatchObject({ version: '1', inflight: 0 })
    } finally {
      await Promise.allSettled(held.map((h) => h.finish()))
    }
  })

  it('sends exactly 30 of 100 requests to a 30% canary, and a versioned request to its version', async () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    const server = await serve(ws.stateFile)
    writeEnvironmentState(ws.stateFile, stateOf(2, { version: '1', path: ws.v1 }, { version: '2', path: ws.v2, percent: 30 }))
    await until('generation 2', () => server.status().applied === 2)

    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => call(`${server.url}/v2/models/bc/infer`, { body: inferBody(i, 1) })),
    )
    const versions = answers.map((a) => (a.body as { model_version: string }).model_version)
    answers.forEach((a, i) => expectAnsweredBy(a, versions[i] as '1' | '2', i, 1))
    expect(versions.filter((v) => v === '2').length).toBe(30)

    for (const version of ['1', '2'] as const)
      expectAnsweredBy(await call(`${server.url}/v2/models/bc/versions/${version}/infer`, { body: inferBody(7, 5) }), version, 7, 5)
    expect(await call(`${server.url}/v2/models/bc/versions/3/infer`, { body: inferBody(7, 5) })).toMatchObject({
      status: 404,
      body: { error: 'version 3 of model bc is not loaded; loaded: 1, 2' },
    })

    // Promoting the canary keeps the already loaded version: no reload, nothing drains.
    writeEnvironmentState(ws.stateFile, stateOf(3, { version: '2', path: ws.v2 }))
    await until('generation 3', () => server.status().applied === 3)
    expect(server.status()).toMatchObject({ stable: { version: '2', percent: 100 }, canary: null, draining: [] })
    expectAnsweredBy(await call(`${server.url}/v2/models/bc/infer`, { body: inferBody(0, 4) }), '2', 0, 4)
  })
})

describe('inference server: refused deployments', () => {
  it('keeps serving the old version when the new file does not match its digest, and says why', async () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    const server = await serve(ws.stateFile)
    writeEnvironmentState(ws.stateFile, stateOf(2, { version: '2', path: ws.v2, digest: sha256(ws.v1) }))
    await until('generation 2 seen', () => server.status().generation === 2 && server.status().error)

    const error =
      `generation 2 not applied: ${ws.v2}: sha256 is ${sha256(ws.v2)} but ${ws.stateFile} pins version 2 to ${sha256(ws.v1)}; ` +
      'not loaded; still serving generation 1'
    expect(server.status()).toMatchObject({ generation: 2, applied: 1, ready: false, stable: { version: '1' }, error })
    expect((await call(`${server.url}/v2/health/ready`)).status).toBe(400)
    // Over HTTP the same reason, naming the files by role rather than by path.
    const publicError =
      `generation 2 not applied: <model file of version 2>: sha256 is ${sha256(ws.v2)} but <state file> pins version 2 to ${sha256(ws.v1)}; ` +
      'not loaded; still serving generation 1'
    expect((await call(`${server.url}/v2/models/bc/modelgate`)).body).toMatchObject({
      generation: 1,
      latestGeneration: 2,
      error: publicError,
    })
    expectAnsweredBy(await call(`${server.url}/v2/models/bc/infer`, { body: inferBody(0, 2) }), '1', 0, 2)

    writeEnvironmentState(ws.stateFile, stateOf(3, { version: '2', path: ws.v2 }))
    await until('generation 3', () => server.status().applied === 3)
    expect(server.status().error).toBeUndefined()
    expect((await call(`${server.url}/v2/health/ready`)).status).toBe(200)
  })

  it('keeps serving the old version when the new file is not an ONNX model', async () => {
    const ws = workspace()
    const corrupt = path.join(ws.dir, 'corrupt.onnx')
    writeFileSync(corrupt, 'this is not a protobuf, let alone an ONNX model\n')
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    const server = await serve(ws.stateFile)
    writeEnvironmentState(ws.stateFile, stateOf(2, { version: '1', path: ws.v1 }, { version: '9', path: corrupt, percent: 50 }))
    await until('generation 2 seen', () => server.status().generation === 2 && server.status().error)

    const status = server.status()
    expect(status).toMatchObject({ applied: 1, ready: false, stable: { version: '1', percent: 100 }, canary: null })
    expect(status.error).toMatch(
      new RegExp(`^generation 2 not applied: ${corrupt} is not an ONNX model \\(.*\\); still serving generation 1$`),
    )
    for (let i = 0; i < 4; i++) expectAnsweredBy(await call(`${server.url}/v2/models/bc/infer`, { body: inferBody(i, 1) }), '1', i, 1)
  })

  it('reports a state file that becomes invalid and keeps serving', async () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
    const server = await serve(ws.stateFile)
    writeFileAtomic(ws.stateFile, JSON.stringify({ ...stateOf(2, { version: '2', path: ws.v2 }), schemaVersion: '2.0' }))
    await until('the invalid state', () => server.status().error)
    expect(server.status()).toMatchObject({
      generation: 1,
      applied: 1,
      ready: true,
      error: `${ws.stateFile}: invalid environment state: schemaVersion: expected "1.0"`,
    })
    expectAnsweredBy(await call(`${server.url}/v2/models/bc/infer`, { body: inferBody(0, 1) }), '1', 0, 1)
  })
})
