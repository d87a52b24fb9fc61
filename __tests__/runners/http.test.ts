import { describe, it, expect, afterEach } from '@jest/globals'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHttpRunner, resolveHttpEndpoint, type HttpRunnerOptions } from '../../src/core/runners/http.js'
import { UserError } from '../../src/core/errors.js'
import { headerSecretParts, querySecretParts, redactUrl, secrets, urlSecretParts } from '../../src/core/secrets.js'
import { featureBatch } from './helpers.js'

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: unknown
}

type Reply = { status?: number; headers?: Record<string, string>; body?: unknown } | 'hang'

/** A real HTTP server on 127.0.0.1 that records every request and answers with `handle`. */
async function serve(handle: (req: Seen, n: number) => Reply): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (text += c))
    req.on('end', () => {
      const request = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: text === '' ? undefined : JSON.parse(text),
      }
      seen.push(request)
      const reply = handle(request, seen.length)
      if (reply === 'hang') return
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers })
      res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {}))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((resolve) => s.close(resolve))
  }
})

async function rejection(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(e).toBeInstanceOf(UserError)
  return e as UserError
}

const FEATURES = ['a', 'b', 'c']
const ROWS = [
  [1, 2, 3],
  [0.5, 0, 1],
]
const run = (opts: Partial<HttpRunnerOptions> & { url: string }) => createHttpRunner({ features: FEATURES, retries: 3, ...opts })
const predictions = (body: unknown): Reply => ({ body: { predictions: body } })

describe('http runner, Open Inference Protocol (V2)', () => {
  it('sends one FP tensor named after the metadata and reads label and probability outputs', async () => {
    const { base, seen } = await serve((req) =>
      req.method === 'GET'
        ? {
            body: {
              name: 'bc',
              platform: 'sklearn',
              inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 3] }],
              outputs: [
                { name: 'output_label', datatype: 'INT64', shape: [-1] },
                { name: 'output_probability', datatype: 'FP32', shape: [-1, 2] },
              ],
            },
          }
        : {
            body: {
              model_name: 'bc',
              outputs: [
                {
                  name: 'output_probability',
                  datatype: 'FP32',
                  shape: [2, 2],
                  data: [
                    [0.25, 0.75],
                    [0.875, 0.125],
                  ],
                },
                { name: 'output_label', datatype: 'INT64', shape: [2], data: [1, 0] },
              ],
            },
          },
    )
    const runner = await run({ url: base, protocol: 'v2', model: 'bc' })
    const out = await runner.predict(featureBatch(FEATURES, ROWS))
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /v2/models/bc', 'POST /v2/models/bc/infer'])
    expect(seen[1]!.body).toEqual({
      inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 0.5, 0, 1] }],
    })
    expect(out.labels).toEqual([1, 0])
    expect(Array.from(out.probabilities!)).toEqual([0.25, 0.75, 0.875, 0.125])
    expect(out.classes).toEqual([0, 1])
    expect(out.sources).toEqual({ labels: 'output_label', probabilities: 'output_probability', values: undefined })
    const info = await runner.describe()
    expect(info.source).toBe(`${base}/v2/models/bc/infer`)
    expect(info.inputs).toEqual([{ name: 'features', dtype: 'float', shape: [-1, 3] }])
    expect(info.outputs.map((o) => `${o.name}:${o.dtype}`)).toEqual(['output_label:int64', 'output_probability:float'])
    expect(info.notes).toEqual(['protocol: v2', 'model: bc', 'platform: sklearn'])
  })

  it('reads a single float output as regression values when the server has no metadata, one request per batchSize rows', async () => {
    const { base, seen } = await serve((req) => {
      if (req.method === 'GET') return { status: 404, body: { error: 'no metadata' } }
      const input = (req.body as { inputs: { shape: number[]; data: number[] }[] }).inputs[0]!
      const [n, f] = input.shape as [number, number]
      const sums = Array.from({ length: n }, (_, i) => input.data.slice(i * f, (i + 1) * f).reduce((x, y) => x + y, 0))
      return { body: { outputs: [{ name: 'predict', datatype: 'FP64', shape: [n, 1], data: sums }] } }
    })
    const runner = await run({ url: `${base}/v2/models/house/infer`, batchSize: 2 })
    const rows = [...ROWS, [0.25, 0.25, 0.125]]
    const out = await runner.predict(featureBatch(FEATURES, rows, 40))
    expect(seen.slice(1).map((r) => r.body)).toEqual([
      { inputs: [{ name: 'input-0', shape: [2, 3], datatype: 'FP64', data: [1, 2, 3, 0.5, 0, 1] }] },
      { inputs: [{ name: 'input-0', shape: [1, 3], datatype: 'FP64', data: [0.25, 0.25, 0.125] }] },
    ])
    expect(out.length).toBe(3)
    expect(Array.from(out.values!)).toEqual([6, 1.5, 0.625])
    expect(out.labels).toBeUndefined()
    expect(out.sources).toEqual({ labels: undefined, probabilities: undefined, values: 'predict' })
    const info = await runner.describe()
    expect(info.notes).toContain(
      `model metadata unavailable: GET ${base}/v2/models/house: the server answered 404 Not Found: {"error":"no metadata"}`,
    )
    expect(info.inputs).toEqual([{ name: 'input-0', dtype: 'unknown', shape: [-1, 3] }])
  })

  it('refuses a missing value, which a V2 tensor cannot carry', async () => {
    const { base } = await serve(() => ({ status: 404 }))
    const runner = await run({ url: `${base}/v2/models/m/infer` })
    const e = await rejection(runner.predict(featureBatch(FEATURES, [[1, null, 3]], 7)))
    expect(e.message).toBe(`${base}/v2/models/m/infer: row 7, feature b is missing; V2 tensors cannot carry missing values`)
  })

  it('rejects an output whose first dimension is not the batch size', async () => {
    const { base } = await serve((req) =>
      req.method === 'GET' ? { status: 404 } : { body: { outputs: [{ name: 'label', datatype: 'INT64', shape: [1], data: [1] }] } },
    )
    const runner = await run({ url: `${base}/v2/models/m/infer` })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(e.message).toBe(`${base}/v2/models/m/infer: output label has shape [1] for a batch of 2 rows`)
  })
})

describe('http runner, KServe V1', () => {
  it('posts instances and reads string labels', async () => {
    const { base, seen } = await serve(() => predictions(['malignant', 'benign']))
    const runner = await run({ url: `${base}/v1/models/bc:predict` })
    const out = await runner.predict(
      featureBatch(FEATURES, [
        [1, 2, 3],
        [4, null, 6],
      ]),
    )
    expect(seen).toHaveLength(1)
    expect(seen[0]!.url).toBe('/v1/models/bc:predict')
    expect(seen[0]!.body).toEqual({
      instances: [
        [1, 2, 3],
        [4, null, 6],
      ],
    })
    expect(out.labels).toEqual(['malignant', 'benign'])
    expect(out.sources).toEqual({ labels: 'predictions' })
    expect((await runner.describe()).notes).toEqual(['protocol: v1', 'model: bc'])
  })

  it('reads probability lists with the classes given in the options', async () => {
    const { base } = await serve(() =>
      predictions([
        [0.125, 0.875],
        [0.5, 0.5],
      ]),
    )
    const runner = await run({ url: base, protocol: 'v1', model: 'bc', classes: ['no', 'yes'] })
    const out = await runner.predict(featureBatch(FEATURES, ROWS))
    expect(Array.from(out.probabilities!)).toEqual([0.125, 0.875, 0.5, 0.5])
    expect(out.classes).toEqual(['no', 'yes'])
  })

  it('rejects an answer with fewer predictions than rows', async () => {
    const { base } = await serve(() => predictions([1]))
    const runner = await run({ url: `${base}/v1/models/bc:predict` })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(e.message).toBe(`${base}/v1/models/bc:predict: returned 1 labels for a batch of 2 rows`)
  })

  it('treats integer predictions as values when the task is regression', async () => {
    const { base } = await serve(() => predictions([3, 4]))
    const runner = await run({ url: `${base}/v1/models/house:predict`, task: 'regression' })
    const out = await runner.predict(featureBatch(FEATURES, ROWS))
    expect(Array.from(out.values!)).toEqual([3, 4])
    expect(out.labels).toBeUndefined()
  })
})

describe('http runner, MLflow', () => {
  it('posts a dataframe_split and reads non-integer predictions as values', async () => {
    const { base, seen } = await serve(() => predictions([2.5, 0.75]))
    const runner = await run({ url: `${base}/invocations` })
    const out = await runner.predict(
      featureBatch(FEATURES, [
        [1, 'x', null],
        [2, 'y', true],
      ]),
    )
    expect(seen[0]!.body).toEqual({
      dataframe_split: {
        columns: FEATURES,
        data: [
          [1, 'x', null],
          [2, 'y', true],
        ],
      },
    })
    expect(Array.from(out.values!)).toEqual([2.5, 0.75])
    expect(out.sources).toEqual({ values: 'predictions' })
  })

  it('reads a list of records with a label and probability_<class> fields', async () => {
    const { base } = await serve(() =>
      predictions([
        { label: 1, probability_0: 0.25, probability_1: 0.75 },
        { label: 0, probability_0: 0.625, probability_1: 0.375 },
      ]),
    )
    const runner = await run({ url: `${base}/invocations` })
    const out = await runner.predict(featureBatch(FEATURES, ROWS))
    expect(out.labels).toEqual([1, 0])
    expect(Array.from(out.probabilities!)).toEqual([0.25, 0.75, 0.625, 0.375])
    expect(out.classes).toEqual([0, 1])
    expect(out.sources).toEqual({ labels: 'label', probabilities: 'probability_0,probability_1', values: undefined })
  })
})

describe('http runner, retries, timeouts and secrets', () => {
  it('retries after two 503s and then succeeds', async () => {
    const { base, seen } = await serve((_, n) => (n <= 2 ? { status: 503, body: 'warming up' } : predictions([0, 1])))
    const runner = await run({ url: `${base}/invocations` })
    const out = await runner.predict(featureBatch(FEATURES, ROWS))
    expect(seen).toHaveLength(3)
    expect(out.labels).toEqual([0, 1])
  })

  it('retries a 429 with Retry-After: 0', async () => {
    const { base, seen } = await serve((_, n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': '0' }, body: { error: 'slow down' } } : predictions([1, 1]),
    )
    const runner = await run({ url: `${base}/invocations`, retries: 1 })
    expect((await runner.predict(featureBatch(FEATURES, ROWS))).labels).toEqual([1, 1])
    expect(seen).toHaveLength(2)
  })

  it('gives up after the retries, saying how many attempts were made', async () => {
    const { base, seen } = await serve(() => ({
      status: 500,
      headers: { 'retry-after': '0' },
      body: { error: 'boom' },
    }))
    const runner = await run({ url: `${base}/invocations`, retries: 2 })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(seen).toHaveLength(3)
    expect(e.message).toBe(`POST ${base}/invocations: the server answered 500 Internal Server Error (after 3 attempts): {"error":"boom"}`)
  })

  it('does not retry a 400 and quotes the trimmed body', async () => {
    const long = `bad input: ${'x'.repeat(600)}`
    const { base, seen } = await serve(() => ({ status: 400, body: { error: long } }))
    const runner = await run({ url: `${base}/invocations` })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(seen).toHaveLength(1)
    expect(e.message).toMatch(
      new RegExp(`^POST ${base}/invocations: the server answered 400 Bad Request: \\{"error":"bad input: x+… \\(623 characters\\)$`),
    )
  })

  it('stops waiting after the timeout', async () => {
    const { base } = await serve(() => 'hang')
    const runner = await run({ url: `${base}/invocations`, timeoutSeconds: 0.3 })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(e.message).toBe(`POST ${base}/invocations: no answer within 0.3 s (timeoutSeconds)`)
  })

  it('reports a server that cannot be reached after retrying', async () => {
    const { base } = await serve(() => predictions([]))
    const s = servers.pop()!
    await new Promise((resolve) => s.close(resolve))
    const runner = await run({ url: `${base}/invocations`, retries: 1 })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(e.message).toMatch(new RegExp(`^POST ${base}/invocations: request failed: .*ECONNREFUSED.* \\(after 2 attempts\\)$`))
  })

  it('sends auth headers, hands their values to mask, and never shows them in errors', async () => {
    const token = 'Bearer s3cr3t-t0ken-value'
    const { base, seen } = await serve((req) => ({
      status: 401,
      body: { error: `invalid credentials: ${req.headers.authorization}` },
    }))
    const masked: string[] = []
    const runner = await run({
      url: `${base}/invocations`,
      headers: { Authorization: token },
      mask: (s) => masked.push(s),
    })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(masked).toEqual([token, 's3cr3t-t0ken-value'])
    expect(seen[0]!.headers.authorization).toBe(token)
    expect(e.message).toBe(`POST ${base}/invocations: the server answered 401 Unauthorized: {"error":"invalid credentials: ***"}`)
    expect(JSON.stringify(await runner.describe())).not.toContain('s3cr3t')
    expect((await runner.describe()).notes).toContain('headers sent: Authorization')
  })
})

describe('http runner: credentials a server quotes back', () => {
  // The registry is process-wide: each test proves its own masking.
  afterEach(() => secrets.clear())

  it('scrubs the token after its scheme from a 401 body, and masks it alone as well as the whole value', async () => {
    const { base } = await serve(() => ({ status: 401, body: 'token SECRET123 expired' }))
    const masked: string[] = []
    const runner = await run({ url: `${base}/invocations`, headers: { Authorization: 'Bearer SECRET123' }, mask: (s) => masked.push(s) })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(e.message).toBe(`POST ${base}/invocations: the server answered 401 Unauthorized: token *** expired`)
    expect(masked).toEqual(['Bearer SECRET123', 'SECRET123'])
  })

  it('scrubs a Basic user:password and the password alone, decoded', async () => {
    const { base } = await serve((req) => {
      const decoded = Buffer.from(String(req.headers.authorization).split(' ')[1]!, 'base64').toString()
      return { status: 403, body: { error: `${decoded} may not; ${decoded.split(':')[1]} is wrong` } }
    })
    const basic = Buffer.from('bob:correct-horse').toString('base64')
    const masked: string[] = []
    const runner = await run({ url: `${base}/invocations`, headers: { Authorization: `basic ${basic}` }, mask: (s) => masked.push(s) })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(e.message).toBe(`POST ${base}/invocations: the server answered 403 Forbidden: {"error":"*** may not; *** is wrong"}`)
    expect(masked).toEqual([`basic ${basic}`, basic, 'bob:correct-horse', 'correct-horse'])
  })

  it('scrubs before cutting a long body, so that no secret shows its first characters at the cut', async () => {
    const token = 'tok-0123456789abcdef'
    const body = `${'x'.repeat(490)}${token}${'y'.repeat(100)}`
    const { base } = await serve(() => ({ status: 400, body }))
    const runner = await run({ url: `${base}/invocations`, headers: { 'X-Api-Key': token } })
    const e = await rejection(runner.predict(featureBatch(FEATURES, ROWS)))
    expect(e.message).not.toContain('tok-')
    expect(e.message).toContain(`${'x'.repeat(10)}***${'y'.repeat(7)}`)
  })

  it('scrubs an answer that is not JSON, an answer missing a field, and the metadata note', async () => {
    const token = 'Token abcd-efgh-ijkl'
    const { base: plain } = await serve(() => ({ body: `<html>bad key abcd-efgh-ijkl</html>` }))
    const e1 = await rejection(
      (await run({ url: `${plain}/invocations`, headers: { Authorization: token } })).predict(featureBatch(FEATURES, ROWS)),
    )
    expect(e1.message).toContain('the answer is not JSON')
    expect(e1.message).not.toContain('abcd-efgh-ijkl')

    const { base: odd } = await serve(() => ({ body: { echo: 'abcd-efgh-ijkl' } }))
    const e2 = await rejection(
      (await run({ url: `${odd}/v1/models/m:predict`, headers: { Authorization: token } })).predict(featureBatch(FEATURES, ROWS)),
    )
    expect(e2.message).toMatch(/has no "predictions" field/)
    expect(e2.message).not.toContain('abcd-efgh-ijkl')

    const { base: v2 } = await serve((req) =>
      req.method === 'GET'
        ? { status: 401, body: 'key abcd-efgh-ijkl is revoked' }
        : { body: { outputs: [{ name: 'label', datatype: 'INT64', shape: [2], data: [0, 1] }] } },
    )
    const runner = await run({ url: `${v2}/v2/models/m/infer`, headers: { Authorization: token } })
    const notes = (await runner.describe()).notes.join('\n')
    expect(notes).toContain('model metadata unavailable: GET')
    expect(notes).toContain('key *** is revoked')
    expect((await runner.predict(featureBatch(FEATURES, ROWS))).labels).toEqual([0, 1])
  })

  it('registers URL userinfo and never echoes it, even in a URL that does not parse', async () => {
    const masked: string[] = []
    const e = await rejection(run({ url: 'http://carol:pa%24%24word@h/invocations', mask: (s) => masked.push(s) }))
    expect(e.message).toMatch(/do not put credentials in the URL/)
    expect(masked).toEqual(['carol:pa%24%24word', 'carol:pa$$word', 'pa%24%24word', 'pa$$word'])
    expect(() => resolveHttpEndpoint('http://dave:hunter22@[::1/invocations')).toThrow(
      'model url "http://***@[::1/invocations" is not a valid URL',
    )
  })
})

describe('secret parts', () => {
  it('derives the value, the credentials after any scheme, and a Basic user:password and password', () => {
    expect(headerSecretParts('Bearer abc.def.ghi')).toEqual(['Bearer abc.def.ghi', 'abc.def.ghi'])
    expect(headerSecretParts('token ghp_xyz123')).toEqual(['token ghp_xyz123', 'ghp_xyz123'])
    expect(headerSecretParts('Bot MTIz.NDU2')).toEqual(['Bot MTIz.NDU2', 'MTIz.NDU2'])
    expect(headerSecretParts('ApiKey   k-9999 ')).toEqual(['ApiKey   k-9999', 'k-9999'])
    const basic = Buffer.from('user:password').toString('base64')
    expect(headerSecretParts(`Basic ${basic}`)).toEqual([`Basic ${basic}`, basic, 'user:password', 'password'])
    // A plain value is a secret whole; parts shorter than 4 characters are not masked at all.
    expect(headerSecretParts('sk-live-123')).toEqual(['sk-live-123'])
    expect(headerSecretParts('Basic ' + Buffer.from('u:pw').toString('base64'))).toEqual(['Basic dTpwdw==', 'dTpwdw==', 'u:pw'])
    expect(headerSecretParts('abc')).toEqual([])
  })

  it('finds userinfo in a URL anywhere in a text', () => {
    expect(urlSecretParts('--model=https://user:s3cret@h/x and http://TOKEN123@h')).toEqual(['user:s3cret', 's3cret', 'TOKEN123'])
    expect(urlSecretParts('http://h/x')).toEqual([])
  })

  it('finds credential query parameters in any URL of a text, raw and decoded', () => {
    expect(querySecretParts('GET https://h/v2/models/m/infer?api_key=k3y-value&limit=10 then http://h/x?sig=a%2Bb%3D%3Dcd#frag')).toEqual([
      'k3y-value',
      'a%2Bb%3D%3Dcd',
      'a+b==cd',
    ])
    expect(querySecretParts('https://h/x?X-Amz-Credential=AKIAEXAMPLE&access_token=tok-123&page=2')).toEqual(['AKIAEXAMPLE', 'tok-123'])
    expect(querySecretParts('https://h/x?page=2&sort=name')).toEqual([])
  })

  it('shows a URL without its userinfo and with credential parameters masked', () => {
    expect(redactUrl('http://user:pw@127.0.0.1:8080/v2/models/m/infer?token=abcdef&limit=5')).toBe(
      'http://127.0.0.1:8080/v2/models/m/infer?token=***&limit=5',
    )
    expect(redactUrl('https://h/m?page=2')).toBe('https://h/m?page=2')
  })

  it('registers query-string credentials of a model URL with its userinfo', () => {
    secrets.clear()
    secrets.addUrl('https://u:pass-word@h/m?apikey=qs-secret-1')
    expect(secrets.scrub('401: key qs-secret-1 for u:pass-word rejected')).toBe('401: key *** for *** rejected')
    secrets.clear()
  })

  it('scrubs longest first and ignores short values', () => {
    secrets.add('abcd')
    secrets.add('abcdefgh')
    secrets.add('ab')
    expect(secrets.scrub('abcdefgh abcd ab')).toBe('*** *** ab')
    secrets.clear()
    expect(secrets.scrub('abcd')).toBe('abcd')
  })
})

describe('resolveHttpEndpoint', () => {
  it('infers the protocol and endpoints from the URL', () => {
    expect(resolveHttpEndpoint('http://h:8080/v2/models/bc/versions/3/infer')).toEqual({
      protocol: 'v2',
      inferUrl: 'http://h:8080/v2/models/bc/versions/3/infer',
      metadataUrl: 'http://h:8080/v2/models/bc/versions/3',
      model: 'bc',
    })
    expect(resolveHttpEndpoint('https://h/serving/v1/models/bc:predict')).toEqual({
      protocol: 'v1',
      inferUrl: 'https://h/serving/v1/models/bc:predict',
      model: 'bc',
    })
    expect(resolveHttpEndpoint('http://h:5000/invocations')).toEqual({
      protocol: 'mlflow',
      inferUrl: 'http://h:5000/invocations',
    })
    expect(resolveHttpEndpoint('http://h:5000/', 'mlflow')).toEqual({
      protocol: 'mlflow',
      inferUrl: 'http://h:5000/invocations',
    })
    expect(resolveHttpEndpoint('http://h/base', 'v2', 'my model')).toEqual({
      protocol: 'v2',
      inferUrl: 'http://h/base/v2/models/my%20model/infer',
      metadataUrl: 'http://h/base/v2/models/my%20model',
      model: 'my model',
    })
  })

  it('says when the protocol or the model name cannot be told', () => {
    expect(() => resolveHttpEndpoint('http://h:8080/score')).toThrow(
      'model url http://h:8080/score: cannot tell the protocol from the URL (expected …/v2/models/<name>/infer, …/v1/models/<name>:predict or …/invocations); set protocol to v2, v1 or mlflow',
    )
    expect(() => resolveHttpEndpoint('http://h:8080', 'v1')).toThrow(
      'model url http://h:8080: the v1 protocol needs a model name; add it to the URL or set model',
    )
    expect(() => resolveHttpEndpoint('http://h/v1/models/a:predict', undefined, 'b')).toThrow(
      'model url http://h/v1/models/a:predict names model a but model is b',
    )
    expect(() => resolveHttpEndpoint('http://user:pw@h/invocations')).toThrow(/do not put credentials in the URL/)
  })
})
