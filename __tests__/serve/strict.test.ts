import { describe, it, expect, afterEach } from '@jest/globals'
import { copyFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { verifyEndpoint, DEFAULT_VERIFY } from '../../src/core/deploy/verify.js'
import type { GoldenRequests } from '../../src/core/registry/golden.js'
import { createOnnxRunner } from '../../src/core/runners/onnx.js'
import { startInferenceServer, type InferenceServer } from '../../src/core/serve/server.js'
import { writeEnvironmentState } from '../../src/core/serve/state.js'
import { EXAMPLE_DIR, MODELS_DIR, batchOf, readCsv } from '../onnx/helpers.js'
import { logModel, oneRowModel, sha256, stateOf, until, workspace } from './helpers.js'

/*
 * The server speaks the Open Inference Protocol strictly: a request that does not fit the model's
 * metadata is a 400 naming the input and what was expected, a model answer JSON cannot carry is an
 * error rather than nulls, and no answer names a file on the server.
 */

const test = readCsv(`${EXAMPLE_DIR}data/test.csv`)
const features = test.header.slice(0, -1)
const rows = test.rows.map((r) => r.slice(0, -1))

const servers: InferenceServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

async function serve(stateFile: string, log?: (line: string) => void): Promise<InferenceServer> {
  const server = await startInferenceServer({ stateFile, host: '127.0.0.1', port: 0, pollMs: 5, log })
  servers.push(server)
  return server
}

interface RawAnswer {
  status: number
  text: string
  body: unknown
}

/** The answer as sent: its text too, so a test can look for what JSON parsing would hide. */
async function send(url: string, body?: unknown): Promise<RawAnswer> {
  const response = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, text, body: text === '' ? undefined : JSON.parse(text) }
}

const errorOf = (a: RawAnswer): unknown => [a.status, (a.body as { error?: unknown } | undefined)?.error]

/** The breast-cancer model (input FP32 [-1, 30]) as version 1, and the per-column model (a, b FP32 [-1, 1], c INT64 [-1]) as its own server. */
async function bcServer(): Promise<{ server: InferenceServer; infer: (body: unknown) => Promise<RawAnswer> }> {
  const ws = workspace()
  writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1', path: ws.v1 }))
  const server = await serve(ws.stateFile)
  return { server, infer: (body) => send(`${server.url}/v2/models/bc/infer`, body) }
}

async function perColumnServer(): Promise<{ infer: (body: unknown) => Promise<RawAnswer> }> {
  const ws = workspace()
  const model = path.join(ws.dir, 'per-column.onnx')
  copyFileSync(`${MODELS_DIR}per-column.onnx`, model)
  writeEnvironmentState(ws.stateFile, stateOf(1, { version: 'pc', path: model }))
  const server = await serve(ws.stateFile)
  return { infer: (body) => send(`${server.url}/v2/models/bc/infer`, body) }
}

const bcTensor = (t: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'input', shape: [2, 30], datatype: 'FP32', data: rows.slice(0, 2).flat(), ...t }],
})
const perColumn = {
  a: { name: 'a', shape: [2, 1], datatype: 'FP32', data: [1.5, -1] },
  b: { name: 'b', shape: [2], datatype: 'FP32', data: [2, 0.25] },
  c: { name: 'c', shape: [2], datatype: 'INT64', data: [3, 7] },
}
const perColumnInputs = "the model's inputs are a (FP32 [-1, 1]), b (FP32 [-1, 1]), c (INT64 [-1])"

describe('inference server: requests are checked against the model metadata', () => {
  it('refuses an input name the model does not have, naming the inputs it has', async () => {
    const { infer } = await bcServer()
    expect(errorOf(await infer(bcTensor({ name: 'features' })))).toEqual([
      400,
      "input features is not an input of the model; the model's inputs are input (FP32 [-1, 30])",
    ])
    // One tensor per feature column is not how this model's metadata reads: refused, not guessed at.
    const columns = { inputs: ['mean radius', 'mean texture'].map((name) => ({ name, shape: [1], datatype: 'FP32', data: [1] })) }
    expect(errorOf(await infer(columns))).toEqual([
      400,
      "input mean radius is not an input of the model; the model's inputs are input (FP32 [-1, 30])",
    ])
    const pc = await perColumnServer()
    expect(errorOf(await pc.infer({ inputs: [perColumn.a, perColumn.b, perColumn.c, { ...perColumn.c, name: 'd' }] }))).toEqual([
      400,
      `input d is not an input of the model; ${perColumnInputs}`,
    ])
    expect(errorOf(await pc.infer({ inputs: [perColumn.a, perColumn.b, perColumn.c, perColumn.b] }))).toEqual([
      400,
      'input b is given twice',
    ])
  })

  it('refuses a datatype other than the input’s, e.g. FP64, INT64 or BYTES for FP32', async () => {
    const { infer } = await bcServer()
    expect(errorOf(await infer(bcTensor({ datatype: 'FP64' })))).toEqual([400, 'input input: the model takes FP32, not FP64'])
    const ints = rows.slice(0, 2).flat().map(Math.round)
    expect(errorOf(await infer(bcTensor({ datatype: 'INT64', data: ints })))).toEqual([400, 'input input: the model takes FP32, not INT64'])
    const texts = rows.slice(0, 2).flat().map(String)
    expect(errorOf(await infer(bcTensor({ datatype: 'BYTES', data: texts })))).toEqual([
      400,
      'input input: the model takes FP32, not BYTES',
    ])
    // Elements must be of the datatype the tensor declares.
    expect(errorOf(await infer(bcTensor({ data: texts })))).toEqual([
      400,
      `inputs[0] (input): element 0 is the text "${texts[0]}", but FP32 takes numbers`,
    ])
    expect(errorOf(await infer(bcTensor({ data: [null, ...rows[0]!.slice(1), ...rows[1]!] })))).toEqual([
      400,
      'inputs[0] (input): element 0 is null, but FP32 takes numbers',
    ])
    expect(errorOf(await infer(`{"inputs":[{"name":"input","shape":[1,30],"datatype":"FP32","data":[1e999${',1'.repeat(29)}]}]}`))).toEqual(
      [400, 'inputs[0] (input): element 0 is a number too large for FP32'],
    )

    const pc = await perColumnServer()
    expect(errorOf(await pc.infer({ inputs: [perColumn.a, perColumn.b, { ...perColumn.c, datatype: 'FP32' }] }))).toEqual([
      400,
      'input c: the model takes INT64, not FP32',
    ])
    expect(errorOf(await pc.infer({ inputs: [perColumn.a, perColumn.b, { ...perColumn.c, data: [3, 7.5] }] }))).toEqual([
      400,
      'inputs[2] (c): element 1 is 7.5, but INT64 takes whole numbers',
    ])
    // The [rows, k] form our http runner sends carries the first input's datatype; the runtime still refuses a fraction for c.
    const spread = (datatype: string, data: number[]) => ({ inputs: [{ name: 'a', shape: [2, 3], datatype, data }] })
    expect(errorOf(await pc.infer(spread('FP64', [1.5, 2, 3, -1, 0.25, 7])))).toEqual([
      400,
      "input a: the model takes FP32, not FP64 (a [rows, 3] tensor feeds the model's inputs a (FP32 [-1, 1]), b (FP32 [-1, 1]), c (INT64 [-1]) in order, with the datatype of the first)",
    ])
    expect(errorOf(await pc.infer(spread('FP32', [1.5, 2, 3, -1, 0.25, 7.5])))).toEqual([
      400,
      "input c, row 1 (0-based): 7.5 is not an integer, but the model's input is int64",
    ])
    expect((await pc.infer(spread('FP32', [1.5, 2, 3, -1, 0.25, 7]))).status).toBe(200)
  })

  it('refuses a shape that disagrees with the data or with the model', async () => {
    const { infer } = await bcServer()
    expect(errorOf(await infer(bcTensor({ shape: [3, 30] })))).toEqual([
      400,
      'inputs[0] (input): shape [3, 30] holds 90 elements but data has 60',
    ])
    expect(errorOf(await infer(bcTensor({ shape: [1, 30] })))).toEqual([
      400,
      'inputs[0] (input): shape [1, 30] holds 30 elements but data has 60',
    ])
    expect(errorOf(await infer(bcTensor({ shape: [2, 30], data: [rows[0], rows[1]!.slice(1)] })))).toEqual([
      400,
      'inputs[0] (input): shape [2, 30] holds 60 elements but data has 59',
    ])
    expect(errorOf(await infer(bcTensor({ shape: [4, 15] })))).toEqual([
      400,
      "input input: shape [4, 15] does not fit the model's [-1, 30] (-1: any size)",
    ])
    expect(errorOf(await infer(bcTensor({ shape: [60] })))).toEqual([
      400,
      "input input: shape [60] does not fit the model's [-1, 30] (-1: any size)",
    ])
    expect(errorOf(await infer(bcTensor({ shape: [2, 30, 1] })))).toEqual([
      400,
      "input input: shape [2, 30, 1] does not fit the model's [-1, 30] (-1: any size)",
    ])

    const pc = await perColumnServer()
    expect(errorOf(await pc.infer({ inputs: [{ ...perColumn.a, shape: [1, 2] }, perColumn.b, perColumn.c] }))).toEqual([
      400,
      "input a: shape [1, 2] does not fit the model's [-1, 1] (-1: any size)",
    ])
    expect(errorOf(await pc.infer({ inputs: [perColumn.a, perColumn.b, { ...perColumn.c, shape: [3], data: [3, 7, 9] }] }))).toEqual([
      400,
      'input c has 3 rows but a has 2',
    ])
  })

  it('refuses a request that lacks one of the model’s inputs', async () => {
    const pc = await perColumnServer()
    expect(errorOf(await pc.infer({ inputs: [perColumn.a, perColumn.c] }))).toEqual([
      400,
      `the model's inputs b are missing from the request; ${perColumnInputs}`,
    ])
    // A [rows, 1] tensor named after the first input is that input alone, not the whole row.
    expect(errorOf(await pc.infer({ inputs: [perColumn.a] }))).toEqual([
      400,
      `the model's inputs b, c are missing from the request; ${perColumnInputs}`,
    ])
    expect((await pc.infer({ inputs: [perColumn.c, perColumn.a, perColumn.b] })).status).toBe(200)
  })
})

describe('inference server: a model that answers NaN or infinity', () => {
  it('answers 500 with a message, never a null, and keeps serving', async () => {
    const ws = workspace()
    const model = logModel(path.join(ws.dir, 'log.onnx'))
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: 'log', path: model }))
    const server = await serve(ws.stateFile)
    const infer = (x: number[]) =>
      send(`${server.url}/v2/models/bc/infer`, { inputs: [{ name: 'x', shape: [x.length, 1], datatype: 'FP32', data: x }] })

    const ok = await infer([1, Math.E])
    expect(ok.status).toBe(200)
    expect(
      (ok.body as { outputs: { name: string; data: number[] }[] }).outputs.map((o) => [
        o.name,
        o.data.map((v) => Math.round(v * 1e6) / 1e6),
      ]),
    ).toEqual([['value', [0, 1]]])

    const nan = await infer([1, -1, 2, -3])
    expect(errorOf(nan)).toEqual([
      500,
      "version log of model bc failed: the model's output value is NaN at row 1 (0-based) and in 1 more row; an inference response carries finite numbers only, so this request has no answer",
    ])
    expect(nan.text).not.toContain('null')
    expect(nan.body).not.toHaveProperty('outputs')

    const infinite = await infer([0])
    expect(errorOf(infinite)).toEqual([
      500,
      "version log of model bc failed: the model's output value is -Infinity at row 0 (0-based); an inference response carries finite numbers only, so this request has no answer",
    ])
    expect(infinite.text).not.toContain('null')
    expect((await infer([1])).status).toBe(200)
  })
})

describe('inference server: no answer names a file on the server', () => {
  it('keeps paths out of every error body, and in the log', async () => {
    const ws = workspace()
    const lines: string[] = []
    const server = await serve(ws.stateFile, (line) => lines.push(line))
    const url = (p: string) => `${server.url}${p}`
    const answers: RawAnswer[] = []
    const keep = async (a: Promise<RawAnswer>): Promise<RawAnswer> => {
      const answer = await a
      answers.push(answer)
      return answer
    }

    // No state yet: 503, naming the state file by role.
    expect(errorOf(await keep(send(url('/v2/models/bc/infer'), bcTensor())))).toEqual([
      503,
      'no model is loaded yet: <state file>: cannot read the environment state (file not found)',
    ])

    // A version that does not load: the extension says why, without the path.
    const corrupt = path.join(ws.dir, 'corrupt.onnx')
    writeFileSync(corrupt, 'not a model\n')
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '9', path: corrupt }))
    await until('generation 1 refused', () => server.status().error?.startsWith('generation 1 not applied'))
    expect(server.status().error).toContain(corrupt)
    expect(lines.some((l) => l.includes(corrupt))).toBe(true)
    expect(errorOf(await keep(send(url('/v2/models/bc/infer'), bcTensor())))).toEqual([
      503,
      expect.stringMatching(/^no model is loaded yet: generation 1 not applied: <model file of version 9> is not an ONNX model/),
    ])

    // A digest that does not match.
    writeEnvironmentState(ws.stateFile, stateOf(2, { version: '2', path: ws.v2, digest: sha256(ws.v1) }))
    await until('generation 2 refused', () => server.status().error?.startsWith('generation 2 not applied'))
    expect(await keep(send(url('/v2/models/bc/modelgate')))).toMatchObject({ status: 503 })

    writeEnvironmentState(ws.stateFile, stateOf(3, { version: '1', path: ws.v1 }))
    await until('generation 3', () => server.status().applied === 3)
    // A state file naming a model that is not there: refused; the extension gives the reason by role.
    writeEnvironmentState(ws.stateFile, stateOf(4, { version: '2', path: path.join(ws.dir, 'gone.onnx'), digest: sha256(ws.v2) }))
    await until('generation 4 refused', () => server.status().error?.startsWith('generation 4 not applied'))
    expect(server.status().error).toContain(path.join(ws.dir, 'gone.onnx'))
    const extension = await keep(send(url('/v2/models/bc/modelgate')))
    expect(extension.body).toMatchObject({
      generation: 3,
      latestGeneration: 4,
      error: expect.stringContaining('<model file of version 2>'),
    })

    // Bad JSON, unknown model and version, bad requests.
    expect((await keep(send(url('/v2/models/bc/infer'), '{"inputs": ['))).status).toBe(400)
    expect((await keep(send(url('/v2/models/other/infer'), bcTensor()))).status).toBe(404)
    expect((await keep(send(url('/v2/models/bc/versions/7/infer'), bcTensor()))).status).toBe(404)
    expect((await keep(send(url('/v2/models/bc/infer'), bcTensor({ name: 'x' })))).status).toBe(400)
    expect((await keep(send(url('/v2/nowhere')))).status).toBe(404)

    for (const a of answers) {
      expect(a.text).not.toContain(ws.dir)
      expect(a.text).not.toContain(tmpdir())
      expect(a.text).not.toContain(process.cwd())
    }
  })

  it('answers a model that fails at run time with 500, naming the model file by role only', async () => {
    const ws = workspace()
    const lines: string[] = []
    const model = oneRowModel(path.join(ws.dir, 'one-row.onnx'))
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: 'r', path: model }))
    const server = await serve(ws.stateFile, (line) => lines.push(line))
    const infer = (x: number[]) =>
      send(`${server.url}/v2/models/bc/infer`, { inputs: [{ name: 'x', shape: [x.length, 1], datatype: 'FP32', data: x }] })
    expect((await infer([2])).status).toBe(200)
    const failed = await infer([2, 3])
    expect(errorOf(failed)).toEqual([
      500,
      expect.stringMatching(
        /^version r of model bc failed on this request: onnxruntime failed to run <model file of version r> on rows 1-2: /,
      ),
    ])
    expect(failed.text).not.toContain(ws.dir)
    expect(failed.text).not.toContain(tmpdir())
    expect(lines.some((l) => l.includes(model))).toBe(true)
  })
})

describe('inference server: what deploy-model sends still passes', () => {
  /** Golden requests as registration makes them: what the ONNX runner answers for the rows. */
  async function golden(model: string, names: string[], data: number[][]): Promise<GoldenRequests> {
    const runner = await createOnnxRunner({ path: model })
    try {
      const out = await runner.predict(batchOf(names, data))
      const k = out.classes?.length ?? 0
      return {
        schemaVersion: '1.0',
        modelDigest: sha256(model),
        source: { data: 'test.csv', digest: sha256(model) },
        features: names,
        rows: data,
        expected: {
          labels: out.labels,
          probabilities: out.probabilities && data.map((_, i) => Array.from(out.probabilities!.slice(i * k, (i + 1) * k))),
          classes: out.classes,
          values: out.values && Array.from(out.values),
        },
        tolerance: 1e-5,
      }
    } finally {
      await runner.close()
    }
  }

  it.each([
    ['one [N, 30] input', 'model.onnx', features, rows.slice(0, 20)],
    [
      'one input per column (FP32, FP32, INT64)',
      'per-column.onnx',
      ['a', 'b', 'c'],
      [
        [1.5, 2, 3],
        [-1, 0.25, 7],
        [0, 0, 0],
      ],
    ],
  ] as const)('the deploy verifier (http runner) passes on a model with %s', async (_label, file, names, data) => {
    const ws = workspace()
    const model = path.join(ws.dir, file)
    copyFileSync(file === 'model.onnx' ? `${EXAMPLE_DIR}${file}` : `${MODELS_DIR}${file}`, model)
    writeEnvironmentState(ws.stateFile, stateOf(1, { version: '1.0.0', path: model }))
    const server = await serve(ws.stateFile)
    const spec = {
      ...DEFAULT_VERIFY,
      burst: 10,
      golden: await golden(
        model,
        [...names],
        data.map((r) => [...r]),
      ),
    }
    const result = await verifyEndpoint({ url: server.url, protocol: 'v2', model: 'bc' }, { version: '1.0.0', digest: sha256(model) }, spec)
    expect(result.checks.map((c) => [c.id, c.status, c.message])).toEqual([
      ['ready', 'pass', expect.any(String)],
      ['identity', 'pass', expect.any(String)],
      ['golden', 'pass', expect.any(String)],
      ['burst', 'pass', expect.any(String)],
    ])
    expect(result).toMatchObject({ passed: true, golden: { mismatches: 0 }, burst: { errors: 0 } })
  })
})
