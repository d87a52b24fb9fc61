import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { signBody, verifySignature, WebhookTarget, type WebhookTargetOptions } from '../../src/core/deploy/targets/webhook.js'
import { DeployFailure, type Endpoint } from '../../src/core/deploy/types.js'
import { CANARY, PLAN, STABLE } from '../helpers/plans.js'
import { UserError } from '../../src/core/errors.js'

const SECRET = 'webhook-secret-7f3a'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const ENDPOINT: Endpoint = { url: 'http://127.0.0.1:9/models', protocol: 'v2', model: 'bc' }

interface Received {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
  /** Whether the body's signature checked out with SECRET. */
  verified: boolean
}

type Reply = { status: number; body?: unknown } | 'hang'

interface Receiver {
  url: string
  requests: Received[]
  close: () => Promise<void>
}

const servers: Server[] = []

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

/** A receiver on 127.0.0.1 that verifies signatures like a real one: a POST that fails verification gets 401. */
async function receiver(reply: (req: Received, index: number) => Reply): Promise<Receiver> {
  const requests: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const header = req.headers['x-modelgate-signature-256']
      const received: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        verified: typeof header === 'string' && verifySignature(body, header, SECRET),
      }
      requests.push(received)
      if (received.method === 'POST' && !received.verified) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad signature' }))
        return
      }
      const answer = reply(received, requests.length - 1)
      if (answer === 'hang') return
      const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body)
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(text)
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function target(url: string, extra: Partial<WebhookTargetOptions> = {}): WebhookTarget {
  return new WebhookTarget({ url, secret: SECRET, endpoint: ENDPOINT, environment: 'staging', pollMs: 20, timeoutMs: 2000, ...extra })
}

async function failure(p: Promise<unknown>): Promise<DeployFailure> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(DeployFailure)
  return e as DeployFailure
}

const logs: string[] = []
const log = (line: string) => logs.push(line)

describe('verifySignature', () => {
  const body = Buffer.from('{"event":"deploy"}')
  const header = signBody(body, SECRET)

  it('accepts the HMAC-SHA256 of the exact bytes under the same secret', () => {
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/)
    expect(verifySignature(body, header, SECRET)).toBe(true)
  })

  it('matches an independently known HMAC-SHA256 (RFC 4231 test case 2)', () => {
    expect(
      verifySignature(
        Buffer.from('what do ya want for nothing?'),
        'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
        'Jefe',
      ),
    ).toBe(true)
  })

  it('rejects a wrong secret, a changed body and malformed headers', () => {
    expect(verifySignature(body, header, 'another-secret')).toBe(false)
    expect(verifySignature(Buffer.from('{"event":"deploy" }'), header, SECRET)).toBe(false)
    expect(verifySignature(body, header.slice(7), SECRET)).toBe(false)
    expect(verifySignature(body, `sha1=${header.slice(7)}`, SECRET)).toBe(false)
    expect(verifySignature(body, header.slice(0, -2), SECRET)).toBe(false)
    expect(verifySignature(body, `${header.slice(0, -1)}z`, SECRET)).toBe(false)
    expect(verifySignature(body, '', SECRET)).toBe(false)
    expect(verifySignature(body, signBody(body, ''), '')).toBe(false)
  })
})

describe('WebhookTarget.apply', () => {
  it('POSTs the plan signed, with the event and delivery headers, and without local artifact paths', async () => {
    const r = await receiver(() => ({ status: 202, body: { accepted: true } }))
    const before = Date.now()
    const outcome = await target(`${r.url}/hooks/deploy`).apply(PLAN, { dryRun: false, log })

    expect(r.requests).toHaveLength(1)
    const [req] = r.requests
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/hooks/deploy')
    expect(req.verified).toBe(true)
    expect(verifySignature(req.body, String(req.headers['x-modelgate-signature-256']), 'not-the-secret')).toBe(false)
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.headers['x-modelgate-event']).toBe('deploy')
    const delivery = String(req.headers['x-modelgate-delivery'])
    expect(delivery).toMatch(UUID)

    const payload = JSON.parse(req.body.toString('utf8')) as Record<string, unknown>
    expect(payload).toEqual({
      schemaVersion: '1.0',
      event: 'deploy',
      environment: 'staging',
      id: delivery,
      generation: payload.generation,
      stable: { name: 'bc', version: '1', digest: STABLE.digest, uri: STABLE.uri },
      canary: { name: 'bc', version: '2', digest: CANARY.digest, uri: CANARY.uri, percent: 10 },
      sentAt: payload.sentAt,
    })
    expect(Number.isInteger(payload.generation)).toBe(true)
    expect(payload.generation as number).toBeGreaterThanOrEqual(before)
    expect(new Date(String(payload.sentAt)).toISOString()).toBe(payload.sentAt)
    expect(outcome).toEqual({ files: [], notes: [`webhook ${r.url}/hooks/deploy accepted delivery ${delivery}`] })
  })

  it('gives every call its own id and a higher generation, and sends no canary without one', async () => {
    const r = await receiver(() => ({ status: 200 }))
    const t = target(r.url)
    await t.apply(PLAN, { dryRun: false, log })
    await t.apply({ stable: STABLE }, { dryRun: false, log })
    const [a, b] = r.requests.map((q) => JSON.parse(q.body.toString('utf8')) as Record<string, unknown>)
    expect(a.id).not.toBe(b.id)
    expect(b.generation as number).toBeGreaterThan(a.generation as number)
    expect(b.canary).toBeUndefined()
    expect(Object.keys(b)).toEqual(['schemaVersion', 'event', 'environment', 'id', 'generation', 'stable', 'sentAt'])
  })

  it('sends the configured headers, without letting them replace its own', async () => {
    const r = await receiver(() => ({ status: 204 }))
    await target(r.url, { headers: { Authorization: 'Bearer tok-123', 'content-type': 'text/plain', 'X-Modelgate-Event': 'other' } }).apply(
      PLAN,
      {
        dryRun: false,
        log,
      },
    )
    expect(r.requests[0].headers.authorization).toBe('Bearer tok-123')
    expect(r.requests[0].headers['content-type']).toBe('application/json')
    expect(r.requests[0].headers['x-modelgate-event']).toBe('deploy')
  })

  it('fails with the receiver’s 401 when signed with another secret', async () => {
    const r = await receiver(() => ({ status: 202 }))
    const e = await failure(target(`${r.url}/deploy`, { secret: 'wrong-secret' }).apply(PLAN, { dryRun: false, log }))
    expect(r.requests[0].verified).toBe(false)
    expect(e.phase).toBe('apply')
    expect(e.message).toBe(`webhook POST ${r.url}/deploy answered 401 Unauthorized: {"error":"bad signature"}`)
  })

  it('fails on a 500 naming the URL and status, and never echoes the secret', async () => {
    const r = await receiver(() => ({ status: 500, body: `receiver broke; key was ${SECRET}` }))
    const e = await failure(target(`${r.url}/deploy?token=abc`).apply(PLAN, { dryRun: false, log }))
    expect(e.message).toBe(`webhook POST ${r.url}/deploy?… answered 500 Internal Server Error: receiver broke; key was ***`)
    expect(e.message).not.toContain(SECRET)
    expect(e.message).not.toContain('abc')
  })

  it('treats a redirect as an answer, not a hop', async () => {
    const r = await receiver((req) => (req.path === '/deploy' ? { status: 307, body: '' } : { status: 200 }))
    const e = await failure(target(`${r.url}/deploy`).apply(PLAN, { dryRun: false, log }))
    expect(e.message).toBe(`webhook POST ${r.url}/deploy answered 307 Temporary Redirect`)
    expect(r.requests).toHaveLength(1)
  })

  it('fails on a closed port, naming the URL and the refusal', async () => {
    const r = await receiver(() => ({ status: 200 }))
    await r.close()
    const e = await failure(target(`${r.url}/deploy`).apply(PLAN, { dryRun: false, log }))
    expect(e.message).toMatch(new RegExp(`^webhook POST ${r.url}/deploy failed: .*ECONNREFUSED`))
  })

  it('fails when the receiver does not answer within timeoutMs', async () => {
    const r = await receiver(() => 'hang')
    const e = await failure(target(`${r.url}/deploy`, { timeoutMs: 200 }).apply(PLAN, { dryRun: false, log }))
    expect(e.message).toBe(`webhook POST ${r.url}/deploy did not answer within 200 ms`)
  })

  it('dry run: signs the body and sends nothing', async () => {
    const r = await receiver(() => ({ status: 200 }))
    const outcome = await target(`${r.url}/deploy`).apply(PLAN, { dryRun: true, log })
    expect(r.requests).toHaveLength(0)
    expect(outcome.files).toEqual([])
    expect(outcome.notes).toHaveLength(1)
    const match = /^dry run: would POST (\S+) with X-Modelgate-Signature-256: (sha256=[0-9a-f]{64}) and body (.*)$/.exec(outcome.notes[0])
    expect(match).not.toBeNull()
    const [, url, signature, body] = match as RegExpExecArray
    expect(url).toBe(`${r.url}/deploy`)
    expect(verifySignature(Buffer.from(body), signature, SECRET)).toBe(true)
    expect(JSON.parse(body)).toMatchObject({
      event: 'deploy',
      environment: 'staging',
      stable: { version: '1' },
      canary: { version: '2', percent: 10 },
    })
  })
})

describe('WebhookTarget.waitReady', () => {
  it('polls the status URL the receiver answered, with the delivery id, until ready', async () => {
    const statuses = [{ status: 'pending', message: 'pulling image' }, { status: 'pending' }, { status: 'ready', version: '2' }]
    const r = await receiver((req) =>
      req.method === 'POST'
        ? { status: 202, body: { id: 'job-41', statusUrl: '/status/job-41' } }
        : { status: 200, body: statuses.shift() },
    )
    const t = target(`${r.url}/deploy`, { headers: { Authorization: 'Bearer tok-123' } })
    await t.apply(PLAN, { dryRun: false, log })
    await t.waitReady(PLAN, 10_000)

    const delivery = r.requests[0].headers['x-modelgate-delivery']
    const polls = r.requests.slice(1)
    expect(polls.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /status/job-41', 'GET /status/job-41', 'GET /status/job-41'])
    expect(polls.map((q) => q.headers['x-modelgate-delivery'])).toEqual([delivery, delivery, delivery])
    expect(polls.map((q) => q.headers.authorization)).toEqual(['Bearer tok-123', 'Bearer tok-123', 'Bearer tok-123'])
    expect(statuses).toHaveLength(0)
  })

  it('fills {id} of the configured status URL with the receiver’s id, else the delivery id', async () => {
    const r = await receiver((req) =>
      req.method === 'POST' ? { status: 202, body: { id: 'job 7/a' } } : { status: 200, body: { status: 'ready' } },
    )
    const t = target(`${r.url}/deploy`, { statusUrl: `${r.url}/jobs/{id}/state` })
    await t.apply(PLAN, { dryRun: false, log })
    await t.waitReady(PLAN, 5000)
    expect(r.requests[1].path).toBe('/jobs/job%207%2Fa/state')
    expect(r.requests[1].headers['x-modelgate-delivery']).toBe(r.requests[0].headers['x-modelgate-delivery'])

    const plain = await receiver((req) =>
      req.method === 'POST' ? { status: 202, body: 'accepted' } : { status: 200, body: { status: 'ready' } },
    )
    const u = target(`${plain.url}/deploy`, { statusUrl: `${plain.url}/jobs/{id}` })
    await u.apply(PLAN, { dryRun: false, log })
    await u.waitReady(PLAN, 5000)
    expect(plain.requests[1].path).toBe(`/jobs/${String(plain.requests[0].headers['x-modelgate-delivery'])}`)
  })

  it('keeps polling while the receiver is ready with another version', async () => {
    const statuses = [
      { status: 'ready', version: '1' },
      { status: 'ready', version: '2' },
    ]
    const r = await receiver((req) => (req.method === 'POST' ? { status: 202 } : { status: 200, body: statuses.shift() }))
    const t = target(`${r.url}/deploy`, { statusUrl: `${r.url}/status` })
    await t.apply(PLAN, { dryRun: false, log })
    await t.waitReady(PLAN, 5000)
    expect(r.requests.filter((q) => q.method === 'GET')).toHaveLength(2)
  })

  it('reports a version that never becomes ready', async () => {
    const r = await receiver((req) => (req.method === 'POST' ? { status: 202 } : { status: 200, body: { status: 'ready', version: '1' } }))
    const t = target(`${r.url}/deploy`, { statusUrl: `${r.url}/status` })
    await t.apply(PLAN, { dryRun: false, log })
    const e = await failure(t.waitReady(PLAN, 1000))
    expect(e.message).toBe(`webhook status ${r.url}/status did not report bc 2 ready within 1000 ms (last: ready, but serving version 1)`)
  })

  it('fails with the receiver’s message when it reports failed', async () => {
    const statuses = [{ status: 'pending' }, { status: 'failed', message: 'image pull backoff' }]
    const r = await receiver((req) =>
      req.method === 'POST' ? { status: 202, body: { statusUrl: `/status` } } : { status: 200, body: statuses.shift() },
    )
    const t = target(`${r.url}/deploy`)
    await t.apply({ stable: STABLE }, { dryRun: false, log })
    const e = await failure(t.waitReady({ stable: STABLE }, 10_000))
    expect(e.phase).toBe('ready')
    expect(e.message).toBe('webhook receiver reports the deploy of bc 1 to staging failed: image pull backoff')
    expect(r.requests.filter((q) => q.method === 'GET')).toHaveLength(2)
  })

  it('times out on a status URL that does not answer', async () => {
    const r = await receiver((req) => (req.method === 'POST' ? { status: 202, body: { statusUrl: '/status' } } : 'hang'))
    const t = target(`${r.url}/deploy`)
    await t.apply(PLAN, { dryRun: false, log })
    const e = await failure(t.waitReady(PLAN, 300))
    expect(e.message).toBe(
      `webhook status ${r.url}/status did not report bc 2 ready within 300 ms (last: no answer to the last poll in time)`,
    )
  })

  it('polls through 503s and fails fast on a 403', async () => {
    const replies: Reply[] = [{ status: 503 }, { status: 200, body: { status: 'ready' } }]
    const r = await receiver((req) => (req.method === 'POST' ? { status: 202 } : (replies.shift() ?? { status: 403, body: 'forbidden' })))
    const t = target(`${r.url}/deploy`, { statusUrl: `${r.url}/status` })
    await t.apply(PLAN, { dryRun: false, log })
    await t.waitReady(PLAN, 5000)
    expect(r.requests.filter((q) => q.method === 'GET')).toHaveLength(2)

    await t.apply(PLAN, { dryRun: false, log })
    const e = await failure(t.waitReady(PLAN, 5000))
    expect(e.message).toBe(`webhook status ${r.url}/status answered 403 Forbidden: forbidden`)
  })

  it('fails on a status answer that is not a status', async () => {
    const r = await receiver((req) => (req.method === 'POST' ? { status: 202 } : { status: 200, body: { state: 'done' } }))
    const t = target(`${r.url}/deploy`, { statusUrl: `${r.url}/status` })
    await t.apply(PLAN, { dryRun: false, log })
    const e = await failure(t.waitReady(PLAN, 5000))
    expect(e.message).toBe(`webhook status ${r.url}/status answered no {"status": "ready" | "pending" | "failed"}: {"state":"done"}`)
  })

  it('is ready at once after a 2xx without a status URL', async () => {
    const r = await receiver(() => ({ status: 202 }))
    const t = target(r.url)
    await t.apply(PLAN, { dryRun: false, log })
    await t.waitReady(PLAN, 1)
    expect(r.requests).toHaveLength(1)
  })

  it('keeps configured credentials from a status URL on another origin', async () => {
    const other = await receiver(() => ({ status: 200, body: { status: 'ready' } }))
    const r = await receiver(() => ({ status: 202, body: { statusUrl: `${other.url}/status` } }))
    const t = target(r.url, { headers: { Authorization: 'Bearer tok-123' } })
    await t.apply(PLAN, { dryRun: false, log })
    await t.waitReady(PLAN, 5000)
    expect(r.requests[0].headers.authorization).toBe('Bearer tok-123')
    expect(other.requests).toHaveLength(1)
    expect(other.requests[0].headers.authorization).toBeUndefined()
    expect(other.requests[0].headers['x-modelgate-delivery']).toBe(r.requests[0].headers['x-modelgate-delivery'])
  })
})

describe('WebhookTarget, the rest of the port', () => {
  it('reads current() from a fixed status URL that reports what it serves', async () => {
    const serving = {
      status: 'ready',
      stable: { name: 'bc', version: '1', digest: STABLE.digest, uri: STABLE.uri },
      canary: { ...CANARY, artifactPath: undefined },
    }
    const r = await receiver(() => ({ status: 200, body: serving }))
    expect(await target(r.url, { statusUrl: `${r.url}/status` }).current()).toEqual({
      stable: { name: 'bc', version: '1', digest: STABLE.digest, uri: STABLE.uri },
      canary: { name: 'bc', version: '2', digest: CANARY.digest, uri: CANARY.uri, percent: 10 },
    })
  })

  it('cannot tell current() without such a status URL', async () => {
    const r = await receiver(() => ({ status: 200, body: { status: 'ready' } }))
    expect(await target(r.url).current()).toBeUndefined()
    expect(await target(r.url, { statusUrl: `${r.url}/jobs/{id}` }).current()).toBeUndefined()
    expect(await target(r.url, { statusUrl: `${r.url}/status` }).current()).toBeUndefined()
    expect(r.requests.map((q) => q.path)).toEqual(['/status'])
  })

  it('has one endpoint and no per-version ones, and a lock that releases', async () => {
    const t = target('http://127.0.0.1:9/deploy')
    expect(t.endpoint()).toEqual(ENDPOINT)
    expect(t.endpoint('2')).toBeUndefined()
    const release = await t.lock()
    await expect(release()).resolves.toBeUndefined()
    expect(t.kind).toBe('webhook')
    expect(t.description).toBe('webhook http://127.0.0.1:9/deploy')
  })

  it('refuses bad options with a UserError naming the field', () => {
    const bad = (extra: Partial<WebhookTargetOptions>) => {
      try {
        target('http://127.0.0.1:9/deploy', extra)
      } catch (e) {
        return e
      }
      return undefined
    }
    expect(bad({ url: 'not a url' })).toEqual(expect.objectContaining({ name: 'UserError', field: 'url' }))
    expect(bad({ url: 'ftp://host/x' })).toEqual(expect.objectContaining({ field: 'url' }))
    expect(bad({ statusUrl: 'file:///etc/{id}' })).toEqual(expect.objectContaining({ field: 'statusUrl' }))
    expect(bad({ secret: '' })).toBeInstanceOf(UserError)
    expect(bad({ timeoutMs: 0 })).toEqual(expect.objectContaining({ field: 'timeoutMs' }))
    expect(bad({ headers: { 'bad header': 'x' } })).toEqual(expect.objectContaining({ field: 'headers' }))
  })

  it('needs an accepted delivery to poll a status URL with {id}', async () => {
    const t = target('http://127.0.0.1:9/deploy', { statusUrl: 'http://127.0.0.1:9/jobs/{id}' })
    const e = await failure(t.waitReady(PLAN, 100))
    expect(e.message).toBe('webhook status http://127.0.0.1:9/jobs/{id} needs a delivery id, and no deploy event has been accepted')
  })
})
