/*
 * The HTTP side of a request, before the model: its path as a route, its body within the size limit and
 * as JSON. Each problem is an HttpError, which the handler answers with its status and message; the
 * messages quote only what the client sent.
 */
import type { IncomingMessage } from 'node:http'
import { errorText } from '../errors.js'

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

export type Send = (status: number, body?: unknown, headers?: Record<string, string>) => void

/** `/v2/models/{name}[/versions/{v}][/{action}]`, segments URL-decoded. */
export interface ModelRoute {
  name: string
  version?: string
  action: '' | 'ready' | 'infer' | 'modelgate'
}

export function splitPath(pathname: string): string[] {
  try {
    return pathname
      .replace(/\/+$/, '')
      .split('/')
      .slice(1)
      .map((s) => decodeURIComponent(s))
  } catch {
    throw new HttpError(400, `the path ${pathname} is not validly URL-encoded`)
  }
}

export function modelRoute(parts: string[]): ModelRoute | undefined {
  if (parts[0] !== 'v2' || parts[1] !== 'models' || parts[2] === undefined) return undefined
  const name = parts[2]
  let rest = parts.slice(3)
  let version: string | undefined
  if (rest[0] === 'versions') {
    if (rest[1] === undefined) return undefined
    version = rest[1]
    rest = rest.slice(2)
  }
  if (rest.length > 1) return undefined
  const action = rest[0] ?? ''
  if (action !== '' && action !== 'ready' && action !== 'infer' && action !== 'modelgate') return undefined
  if (action === 'modelgate' && version !== undefined) return undefined
  return { name, version, action }
}

export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit && !done) {
        done = true
        reject(new HttpError(413, `the request body is larger than ${limit} bytes`, { connection: 'close' }))
      }
      if (!done) chunks.push(chunk)
    })
    req.on('end', () => {
      if (done) return
      done = true
      resolve(Buffer.concat(chunks).toString('utf8'))
    })
    req.on('error', (e) => {
      if (!done) reject(e)
      done = true
    })
    req.on('close', () => {
      if (!done) reject(new Error('the client closed the connection before sending the whole body'))
      done = true
    })
  })
}

/** Header values must be visible ASCII; a version name that is not travels percent-encoded. */
export function headerValue(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text)
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new HttpError(400, `the request body is not valid JSON (${errorText(e)})`)
  }
}
