/**
 * `modelgate serve`: the local deployment target of deploy-model.
 *
 * Why a server of our own: deploy-model needs somewhere to deploy to that behaves like a real model
 * server (KServe, Triton, Seldon all speak the Open Inference Protocol V2) without a cluster, so the
 * same http runner, smoke tests and canary checks work locally and against production.
 *
 * Why a deterministic canary split: "exactly p of every 100" makes a canary's traffic countable by
 * tests and by deploy checks, where random sampling would only be approximately right.
 *
 * The server converges on a state file that deploys write (deployment.ts: why a file, polling, digests
 * and in-flight counting) and answers requests from the routing table it last applied (handler.ts:
 * status codes, the modelgate extension, answers without paths; routing.ts: the split and draining).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { UserError, errorText } from '../errors.js'
import { Deployment, type ServerStatus } from './deployment.js'
import { RequestHandler } from './handler.js'

export type { ServerStatus, VersionStatus } from './deployment.js'

export interface InferenceServerOptions {
  stateFile: string
  /** Default 127.0.0.1: a local target, not exposed unless asked. */
  host?: string
  /** 0 picks a free port. Default 8080. */
  port?: number
  /** Folder holding ort-wasm-simd-threaded.{mjs,wasm}; needed when running from a bundle. */
  wasmDir?: string
  /** How often the state file is read. Default 100 ms. */
  pollMs?: number
  log?: (line: string) => void
  /** Largest request body accepted. Default 64 MiB. */
  maxBodyBytes?: number
  /** How long close() lets requests in progress finish before cutting their connections. Default 10 s. */
  drainMs?: number
}

export interface InferenceServer {
  url: string
  port: number
  close(): Promise<void>
  status(): ServerStatus
}

const DEFAULT_PORT = 8080
const DEFAULT_POLL_MS = 100
const DEFAULT_MAX_BODY = 64 * 1024 * 1024
const DEFAULT_DRAIN_MS = 10_000

export async function startInferenceServer(opts: InferenceServerOptions): Promise<InferenceServer> {
  const log = opts.log ?? (() => undefined)
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS
  if (!(pollMs > 0)) throw new UserError(`pollMs must be positive, got ${pollMs}`, { field: 'pollMs' })
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY
  const deployment = new Deployment(opts, log)
  let closing = false

  const handler = new RequestHandler(deployment, maxBody, log)
  const server: Server = createServer((req, res) => {
    if (closing) res.setHeader('connection', 'close')
    handler.handle(req, res).catch((e: unknown) => log(`request ${req.method} ${req.url}: ${errorText(e)}`))
  })

  // The first generation loads before the promise resolves, so a caller starting on a valid state gets a ready server.
  await deployment.poll()
  let polling: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  const schedule = (): void => {
    timer = setTimeout(() => {
      polling = deployment
        .poll()
        .catch((e: unknown) => log(`polling ${opts.stateFile}: ${errorText(e)}`))
        .then(() => {
          if (!closing) schedule()
        })
    }, pollMs)
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(opts.port ?? DEFAULT_PORT, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (e) {
    await deployment.pool.closeAll()
    throw new UserError(`cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? DEFAULT_PORT}: ${errorText(e)}`, { field: 'port' })
  }
  server.on('error', (e) => log(`server error: ${errorText(e)}`))
  schedule()

  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  log(`serving on ${url}`)

  return {
    url,
    port: address.port,
    status: () => deployment.status(),
    close: async () => {
      if (closing) return
      closing = true
      clearTimeout(timer)
      await polling
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      // A client that never finishes its request must not keep the server from stopping.
      const cut = setTimeout(() => server.closeAllConnections(), opts.drainMs ?? DEFAULT_DRAIN_MS)
      await closed
      clearTimeout(cut)
      await deployment.pool.closeAll()
    },
  }
}
