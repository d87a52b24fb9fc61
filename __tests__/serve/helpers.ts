import { createHash } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DataType, encodeModel, makeGraph, makeModel, makeNode, makeTensor, makeTensorValueInfo } from '../../src/core/onnx/proto.js'
import type { EnvironmentState } from '../../src/core/serve/state.js'
import { EXAMPLE_DIR } from '../onnx/helpers.js'

export const sha256 = (file: string): string => `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`

/** A fresh folder with the breast-cancer example's two models as versions 1 (model.onnx) and 2 (baseline.onnx). */
export function workspace(): { dir: string; stateFile: string; v1: string; v2: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-serve-'))
  const v1 = path.join(dir, 'v1.onnx')
  const v2 = path.join(dir, 'v2.onnx')
  copyFileSync(`${EXAMPLE_DIR}model.onnx`, v1)
  copyFileSync(`${EXAMPLE_DIR}baseline.onnx`, v2)
  return { dir, stateFile: path.join(dir, 'state.json'), v1, v2 }
}

/** A regressor that answers log(x) for its float input x [N, 1]: NaN for x < 0, -Infinity for x = 0. */
export function logModel(file: string): string {
  const graph = makeGraph({
    name: 'log',
    nodes: [makeNode('Log', ['x'], ['value'])],
    inputs: [makeTensorValueInfo('x', DataType.FLOAT, ['N', 1])],
    outputs: [makeTensorValueInfo('value', DataType.FLOAT, ['N', 1])],
  })
  writeFileSync(file, encodeModel(makeModel({ graph, opsets: { '': 17 }, irVersion: 8, producerName: 'modelgate-tests' })))
  return file
}

/** A regressor whose graph only runs on one row at a time (it reshapes x [N, 1] to [1]): the runtime fails on more. */
export function oneRowModel(file: string): string {
  const graph = makeGraph({
    name: 'one_row',
    nodes: [makeNode('Reshape', ['x', 'one'], ['value'])],
    inputs: [makeTensorValueInfo('x', DataType.FLOAT, ['N', 1])],
    outputs: [makeTensorValueInfo('value', DataType.FLOAT, ['N'])],
    initializers: [makeTensor('one', DataType.INT64, [1], [1])],
  })
  writeFileSync(file, encodeModel(makeModel({ graph, opsets: { '': 17 }, irVersion: 8, producerName: 'modelgate-tests' })))
  return file
}

export function stateOf(
  generation: number,
  stable: { version: string; path: string; digest?: string },
  canary?: { version: string; path: string; digest?: string; percent: number },
): EnvironmentState {
  const pinned = <T extends { path: string; digest?: string }>(v: T) => ({ ...v, digest: v.digest ?? sha256(v.path) })
  return {
    schemaVersion: '1.0',
    name: 'bc',
    environment: 'local',
    generation,
    stable: pinned(stable),
    ...(canary ? { canary: pinned(canary) } : {}),
  }
}

export interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: unknown
}

/**
 * A POST whose headers and first half of the body are sent now and the rest on `finish()`: the
 * server has the request (and has routed it) but cannot answer it until then.
 */
export function heldRequest(url: string, body: string): { finish: () => Promise<Answer> } {
  const req = httpRequest(url, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  })
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
  const half = Math.floor(body.length / 2)
  req.write(body.slice(0, half))
  let finished = false
  return {
    finish: () => {
      if (!finished) req.end(body.slice(half))
      finished = true
      return answer
    },
  }
}

export async function call(url: string, init: { method?: string; body?: unknown } = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  })
  const text = await response.text()
  return { status: response.status, headers: Object.fromEntries(response.headers), body: text === '' ? undefined : JSON.parse(text) }
}

/** Waits for a condition the server reaches on its own (a poll, a load); the test's timeout bounds it. */
export async function until<T>(what: string, check: () => T | undefined | null | false): Promise<T> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const value = check()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
