import type { Cell } from '../data/types.js'
import { UserError, errorText } from '../errors.js'
import { scrub, scrubError, secrets } from '../secrets.js'
import {
  describeValue,
  featureRows,
  fromPredictionList,
  indexClasses,
  toPredictionBatch,
  type Label,
  type PredictionSources,
  type RawPredictions,
  type Task,
} from './output.js'
import type { FeatureBatch, ModelInfo, ModelRunner, PredictionBatch, TensorInfo } from './types.js'

export type HttpProtocol = 'v2' | 'v1' | 'mlflow'

export interface HttpRunnerOptions {
  /** The server's base URL (with `protocol` and `model`) or the full inference URL. */
  url: string
  /** Inferred from the URL when omitted: `/v2/models/` → v2, `:predict` → v1, `/invocations` → mlflow. */
  protocol?: HttpProtocol
  /** Model name for v2/v1 when the URL does not contain it. */
  model?: string
  /** Sent with every request (auth); every credential part of each value is masked and never appears in messages. */
  headers?: Record<string, string>
  /** Per request attempt. Default 60. */
  timeoutSeconds?: number
  /** Extra attempts after a 429, a 5xx or a network error. Default 3. */
  retries?: number
  /** Most rows per request; a larger batch is split. Default: the caller's batch as is. */
  batchSize?: number
  features: string[]
  /** V2 input tensor name. Default: the model metadata's first input, else `input-0`. */
  inputName?: string
  /**
   * Called with every credential part of every header value (core/secrets.ts: the value, the token after its
   * scheme, a Basic password…) and any URL userinfo, so the caller can hide them from logs (e.g. `core.setSecret`).
   */
  mask?: (secret: string) => void
  /** Tells integer-valued regression outputs from class labels; guessed from the values when omitted. */
  task?: Task
  /** Class labels of probability columns, which these protocols do not carry. Default 0..n-1. */
  classes?: Label[]
}

/** Where and how to call the model, resolved from the options. */
export interface HttpEndpoint {
  protocol: HttpProtocol
  inferUrl: string
  /** V2 model metadata (`GET`), which lists the model's inputs and outputs. */
  metadataUrl?: string
  model?: string
}

const DEFAULT_TIMEOUT_SECONDS = 60
const DEFAULT_RETRIES = 3
const BACKOFF_BASE_MS = 250
const BACKOFF_CAP_MS = 8000
const RETRY_AFTER_CAP_MS = 30_000
/** How much of an error body goes into a message. */
const ERROR_BODY_CHARS = 500
const DEFAULT_V2_INPUT = 'input-0'

/** Works out the protocol and the endpoint URLs; a UserError when they cannot be told. */
export function resolveHttpEndpoint(url: string, protocol?: HttpProtocol, model?: string): HttpEndpoint {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    secrets.addUrl(url)
    throw new UserError(`model url ${JSON.stringify(scrub(url))} is not a valid URL`, { field: 'url' })
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UserError(`model url ${url}: only http and https are supported`, { field: 'url' })
  if (parsed.username !== '' || parsed.password !== '') {
    secrets.addUrl(url)
    throw new UserError(`model url: do not put credentials in the URL; pass them as headers (e.g. Authorization)`, {
      field: 'url',
    })
  }
  const path = parsed.pathname.replace(/\/+$/, '')
  const at = (p: string): string => `${parsed.origin}${p}${parsed.search}`
  const base = (p: string): string => at(`${path}${p}`)
  const v2 = /^(.*\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?)(?:\/infer)?$/.exec(path)
  const v1 = /^(.*\/v1\/models\/([^/:]+))(?::predict)?$/.exec(path)
  const inferred: HttpProtocol | undefined = v2
    ? 'v2'
    : /:predict$/.test(path) || v1
      ? 'v1'
      : /\/invocations$/.test(path)
        ? 'mlflow'
        : undefined
  const chosen = protocol ?? inferred
  if (chosen === undefined)
    throw new UserError(
      `model url ${url}: cannot tell the protocol from the URL (expected …/v2/models/<name>/infer, …/v1/models/<name>:predict or …/invocations); set protocol to v2, v1 or mlflow`,
      { field: 'protocol' },
    )
  const named = (fromUrl: string | undefined): string => {
    const name = fromUrl !== undefined ? decodeURIComponent(fromUrl) : model
    if (fromUrl !== undefined && model !== undefined && model !== name)
      throw new UserError(`model url ${url} names model ${name} but model is ${model}`, { field: 'model' })
    if (name === undefined || name === '')
      throw new UserError(`model url ${url}: the ${chosen} protocol needs a model name; add it to the URL or set model`, {
        field: 'model',
      })
    return name
  }
  switch (chosen) {
    case 'v2': {
      const name = named(v2?.[2])
      const prefix = v2 ? v2[1]! : `${path}/v2/models/${encodeURIComponent(name)}`
      return { protocol: 'v2', inferUrl: at(`${prefix}/infer`), metadataUrl: at(prefix), model: name }
    }
    case 'v1': {
      const name = named(v1?.[2])
      const prefix = v1 ? v1[1]! : `${path}/v1/models/${encodeURIComponent(name)}`
      return { protocol: 'v1', inferUrl: at(`${prefix}:predict`), model: name }
    }
    case 'mlflow':
      return { protocol: 'mlflow', inferUrl: /\/invocations$/.test(path) ? base('') : base('/invocations') }
  }
}

/** A runner that scores batches by calling a model server. */
export async function createHttpRunner(opts: HttpRunnerOptions): Promise<ModelRunner> {
  const parts = secrets.addUrl(opts.url)
  for (const value of Object.values(opts.headers ?? {})) parts.push(...secrets.addHeader(value))
  for (const part of new Set(parts)) opts.mask?.(part)
  const endpoint = resolveHttpEndpoint(opts.url, opts.protocol, opts.model)
  const runner = new HttpRunner(opts, endpoint)
  if (endpoint.protocol === 'v2') await runner.loadMetadata()
  return runner
}

interface V2Tensor {
  name: string
  datatype: string
  shape: number[]
  data?: unknown
}

interface V2Metadata {
  name?: string
  platform?: string
  versions?: string[]
  inputs: V2Tensor[]
  outputs: V2Tensor[]
}

class HttpRunner implements ModelRunner {
  readonly kind = 'http' as const
  private readonly client: HttpClient
  private metadata?: V2Metadata
  private metadataNote?: string

  constructor(
    private readonly opts: HttpRunnerOptions,
    private readonly endpoint: HttpEndpoint,
  ) {
    const timeoutSeconds = opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS
    const retries = opts.retries ?? DEFAULT_RETRIES
    if (!(timeoutSeconds > 0)) throw new UserError(`model url ${opts.url}: timeoutSeconds must be positive, got ${timeoutSeconds}`)
    if (!Number.isInteger(retries) || retries < 0)
      throw new UserError(`model url ${opts.url}: retries must be a whole number ≥ 0, got ${retries}`)
    if (opts.batchSize !== undefined && !(Number.isInteger(opts.batchSize) && opts.batchSize > 0))
      throw new UserError(`model url ${opts.url}: batchSize must be a whole number ≥ 1, got ${opts.batchSize}`)
    this.client = new HttpClient(opts.headers ?? {}, timeoutSeconds, retries)
  }

  /** V2 metadata gives the input name and datatype; a server without it is still usable. */
  async loadMetadata(): Promise<void> {
    try {
      const body = await this.client.send('GET', this.endpoint.metadataUrl!, undefined, 0)
      this.metadata = parseMetadata(body)
    } catch (e) {
      this.metadataNote = scrub(`model metadata unavailable: ${errorText(e)}`)
    }
  }

  async describe(): Promise<ModelInfo> {
    const notes = [`protocol: ${this.endpoint.protocol}`]
    if (this.endpoint.model !== undefined) notes.push(`model: ${this.endpoint.model}`)
    if (this.metadata?.platform) notes.push(`platform: ${this.metadata.platform}`)
    if (this.metadataNote !== undefined) notes.push(this.metadataNote)
    const headerNames = Object.keys(this.opts.headers ?? {})
    if (headerNames.length > 0) notes.push(`headers sent: ${headerNames.join(', ')}`)
    const inputs = this.metadata?.inputs.map(tensorInfo) ?? [
      { name: this.inputName(), dtype: 'unknown', shape: [-1, this.opts.features.length] },
    ]
    return {
      source: this.endpoint.inferUrl,
      runner: 'http',
      inputs,
      outputs: this.metadata?.outputs.map(tensorInfo) ?? [],
      notes,
    }
  }

  /** Errors quote the server's answers (values, fields, bodies): each is scrubbed of every registered secret. */
  async predict(batch: FeatureBatch): Promise<PredictionBatch> {
    if (batch.length === 0) return { length: 0, sources: {} }
    const size = this.opts.batchSize ?? batch.length
    const parts: PredictionBatch[] = []
    try {
      for (let start = 0; start < batch.length; start += size)
        parts.push(await this.predictChunk(sliceBatch(batch, start, Math.min(size, batch.length - start))))
      return parts.length === 1 ? parts[0]! : concatBatches(this.endpoint.inferUrl, parts)
    } catch (e) {
      throw scrubError(e)
    }
  }

  async close(): Promise<void> {}

  private async predictChunk(batch: FeatureBatch): Promise<PredictionBatch> {
    const who = this.endpoint.inferUrl
    const rows = featureRows(batch)
    const listOptions = { task: this.opts.task, classes: this.opts.classes }
    let raw: RawPredictions
    let sources: PredictionSources
    switch (this.endpoint.protocol) {
      case 'v2': {
        const body = await this.client.send('POST', who, this.v2Request(batch, rows))
        ;({ raw, sources } = fromV2Outputs(who, body, batch.length, listOptions))
        break
      }
      case 'v1': {
        const body = await this.client.send('POST', who, { instances: rows })
        ;({ raw, sources } = fromPredictionList(who, field(who, body, 'predictions'), listOptions))
        break
      }
      case 'mlflow': {
        const body = await this.client.send('POST', who, { dataframe_split: { columns: batch.features, data: rows } })
        const list = Array.isArray(body) ? body : field(who, body, 'predictions')
        ;({ raw, sources } = fromPredictionList(who, list, listOptions))
        break
      }
    }
    return toPredictionBatch(who, batch, raw, sources)
  }

  private inputName(): string {
    return this.opts.inputName ?? this.metadata?.inputs[0]?.name ?? DEFAULT_V2_INPUT
  }

  private v2Request(batch: FeatureBatch, rows: Cell[][]): unknown {
    const name = this.inputName()
    const declared = this.metadata?.inputs.find((i) => i.name === name)?.datatype
    const datatype = declared ?? 'FP64'
    const data = rows.flatMap((row, i) =>
      row.map((cell, j) => tensorElement(this.endpoint.inferUrl, cell, datatype, batch.offset + i, batch.features[j]!)),
    )
    return { inputs: [{ name, shape: [batch.length, batch.features.length], datatype, data }] }
  }
}

/** One element of a V2 input tensor; tensors have no missing values and one type. */
function tensorElement(who: string, cell: Cell, datatype: string, row: number, feature: string): number | string | boolean {
  const where = `${who}: row ${row}, feature ${feature}`
  if (cell === null) throw new UserError(`${where} is missing; V2 tensors cannot carry missing values`, { field: feature })
  if (datatype === 'BYTES') return String(cell)
  if (datatype === 'BOOL') return Boolean(cell)
  if (typeof cell === 'boolean') return cell ? 1 : 0
  if (typeof cell === 'string')
    throw new UserError(`${where} is the text ${describeValue(cell)}, but the ${datatype} input takes numbers`, {
      field: feature,
    })
  return cell
}

function sliceBatch(batch: FeatureBatch, start: number, length: number): FeatureBatch {
  return {
    offset: batch.offset + start,
    length,
    features: batch.features,
    columns: batch.columns.map((c) => c.slice(start, start + length)),
  }
}

function concatBatches(who: string, parts: PredictionBatch[]): PredictionBatch {
  const first = parts[0]!
  const out: PredictionBatch = { length: parts.reduce((n, p) => n + p.length, 0), sources: first.sources }
  if (first.labels) out.labels = parts.flatMap((p) => p.labels ?? [])
  if (first.values) out.values = concatFloats(parts.map((p) => p.values))
  if (first.probabilities) {
    const classes = JSON.stringify(first.classes)
    if (parts.some((p) => JSON.stringify(p.classes) !== classes))
      throw new UserError(`${who}: the classes of the probabilities changed from one request to the next`)
    out.probabilities = concatFloats(parts.map((p) => p.probabilities))
    out.classes = first.classes
  }
  const shape = (p: PredictionBatch): string => `${!!p.labels}${!!p.values}${!!p.probabilities}`
  if (parts.some((p) => shape(p) !== shape(first)))
    throw new UserError(`${who}: the answers to successive requests carry different outputs`)
  return out
}

function concatFloats(arrays: (Float64Array | undefined)[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + (a?.length ?? 0), 0))
  let at = 0
  for (const a of arrays) {
    if (!a) continue
    out.set(a, at)
    at += a.length
  }
  return out
}

function field(who: string, body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null || !(name in body))
    throw new UserError(`${who}: the answer has no "${name}" field: ${describeValue(body)}`)
  return (body as Record<string, unknown>)[name]
}

/** The server's free text (name, platform) goes into the report: scrubbed like its error bodies. */
function parseMetadata(body: unknown): V2Metadata {
  const m = (body ?? {}) as Partial<V2Metadata>
  const tensors = (list: unknown): V2Tensor[] =>
    Array.isArray(list)
      ? list.map((t: Partial<V2Tensor>) => ({
          name: String(t.name ?? ''),
          datatype: String(t.datatype ?? ''),
          shape: Array.isArray(t.shape) ? t.shape : [],
        }))
      : []
  return {
    name: m.name === undefined ? undefined : scrub(String(m.name)),
    platform: m.platform === undefined ? undefined : scrub(String(m.platform)),
    versions: m.versions,
    inputs: tensors(m.inputs),
    outputs: tensors(m.outputs),
  }
}

/** V2 datatypes named as ONNX element types, which is how ModelInfo names them. */
const V2_DTYPES: Record<string, string> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float',
  FP64: 'double',
  BF16: 'bfloat16',
  BYTES: 'string',
}

function tensorInfo(t: V2Tensor): TensorInfo {
  return { name: t.name, dtype: V2_DTYPES[t.datatype] ?? 'unknown', shape: t.shape }
}

const LABEL_OUTPUTS = ['label', 'output_label', 'labels', 'predict', 'predictions']
const PROBABILITY_OUTPUTS = ['probabilities', 'output_probability', 'probability', 'predict_proba']
const VALUE_OUTPUTS = ['value', 'values', 'predict', 'predictions', 'output', 'variable']

const isFloat = (t: V2Tensor): boolean => /^(FP|BF)\d+$/.test(t.datatype)

/**
 * Picks the label, probability and value outputs of a V2 answer: by name first, else by type and
 * shape (integer or text [N] → labels; float [N, C] → probabilities; float [N] → values).
 */
function fromV2Outputs(
  who: string,
  body: unknown,
  rows: number,
  opts: { task?: Task; classes?: Label[] },
): { raw: RawPredictions; sources: PredictionSources } {
  const outputs = field(who, body, 'outputs')
  if (!Array.isArray(outputs) || outputs.length === 0) throw new UserError(`${who}: the answer has no outputs`)
  const tensors = outputs.map((o, i) => v2Tensor(who, o, i))
  const isColumn = (t: V2Tensor): boolean => t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1)
  const pick = (candidates: V2Tensor[], names: string[]): V2Tensor | undefined =>
    names.map((n) => candidates.find((t) => t.name === n)).find((t) => t !== undefined) ?? candidates[0]

  const labels =
    opts.task === 'regression'
      ? undefined
      : pick(
          tensors.filter((t) => isColumn(t) && (!isFloat(t) || opts.task === 'classification')),
          LABEL_OUTPUTS,
        )
  const probabilities =
    opts.task === 'regression'
      ? undefined
      : pick(
          tensors.filter((t) => isFloat(t) && t.shape.length === 2 && t.shape[1]! > 1),
          PROBABILITY_OUTPUTS,
        )
  const values =
    opts.task === 'classification' || labels || probabilities
      ? undefined
      : pick(
          tensors.filter((t) => isFloat(t) && isColumn(t)),
          VALUE_OUTPUTS,
        )
  if (!labels && !probabilities && !values)
    throw new UserError(
      `${who}: found no ${opts.task === 'regression' ? 'value' : 'label, probability or value'} output among ${tensors
        .map((t) => `${t.name} (${t.datatype} [${t.shape.join(', ')}])`)
        .join(', ')}`,
    )
  const raw: RawPredictions = {}
  if (labels) raw.labels = flatData(who, labels)
  if (values) raw.values = flatData(who, values)
  if (probabilities) {
    const width = probabilities.shape[1]!
    const flat = flatData(who, probabilities)
    raw.probabilities = Array.from({ length: flat.length / width }, (_, i) => flat.slice(i * width, (i + 1) * width))
    raw.classes = opts.classes ?? indexClasses(width)
  }
  for (const t of [labels, probabilities, values])
    if (t && t.shape[0] !== rows)
      throw new UserError(`${who}: output ${t.name} has shape [${t.shape.join(', ')}] for a batch of ${rows} rows`)
  return { raw, sources: { labels: labels?.name, probabilities: probabilities?.name, values: values?.name } }
}

function v2Tensor(who: string, o: unknown, i: number): V2Tensor {
  const t = (o ?? {}) as Partial<V2Tensor>
  if (typeof t.name !== 'string' || typeof t.datatype !== 'string' || !Array.isArray(t.shape) || !t.shape.every(Number.isInteger))
    throw new UserError(`${who}: output ${i} lacks a name, datatype or shape: ${describeValue(o)}`)
  return t as V2Tensor
}

/** Tensor data flattened row-major, checked against the shape. */
function flatData(who: string, t: V2Tensor): unknown[] {
  const data = Array.isArray(t.data) ? (t.data.flat(Infinity) as unknown[]) : undefined
  const size = t.shape.reduce((n, d) => n * d, 1)
  if (data === undefined || data.length !== size)
    throw new UserError(
      `${who}: output ${t.name} has shape [${t.shape.join(', ')}] but ${data === undefined ? 'no data' : `${data.length} elements`}`,
    )
  return data
}

/**
 * fetch with a per-attempt timeout and retries on 429, 5xx and network errors. Servers echo request headers
 * in error bodies: every quoted answer is scrubbed of the registered secrets (core/secrets.ts) before it is cut.
 */
class HttpClient {
  constructor(
    private readonly headers: Record<string, string>,
    private readonly timeoutSeconds: number,
    private readonly retries: number,
  ) {}

  async send(method: 'GET' | 'POST', url: string, body?: unknown, retries = this.retries): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const attempts = attempt === 0 ? '' : ` (after ${attempt + 1} attempts)`
      let response: Response
      let text: string
      try {
        response = await fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...this.headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutSeconds * 1000),
        })
        text = await response.text()
      } catch (e) {
        if (isTimeout(e)) throw new UserError(`${method} ${url}: no answer within ${this.timeoutSeconds} s (timeoutSeconds)${attempts}`)
        if (attempt < retries) {
          await sleep(backoffMs(attempt))
          continue
        }
        throw new UserError(`${method} ${url}: request failed: ${scrub(networkReason(e))}${attempts}`)
      }
      if (response.ok) return parseJson(method, url, text)
      const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`
      if ((response.status === 429 || response.status >= 500) && attempt < retries) {
        await sleep(retryAfterMs(response.headers.get('retry-after')) ?? backoffMs(attempt))
        continue
      }
      // Scrubbed before trimming, so that a secret cut at the limit cannot show its first characters.
      const detail = text.trim() === '' ? '' : `: ${trim(scrub(text.trim()))}`
      throw new UserError(`${method} ${url}: the server answered ${status}${attempts}${detail}`)
    }
  }
}

function parseJson(method: string, url: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new UserError(`${method} ${url}: the answer is not JSON: ${describeValue(trim(scrub(text)))}`)
  }
}

// Duck-typed: fetch's errors come from another realm under some test runners, so `instanceof Error` fails.
type ErrorLike = { name?: unknown; message?: unknown; code?: unknown; cause?: unknown }
const asErrorLike = (e: unknown): ErrorLike => (typeof e === 'object' && e !== null ? (e as ErrorLike) : {})

function isTimeout(e: unknown): boolean {
  return asErrorLike(e).name === 'TimeoutError' || asErrorLike(asErrorLike(e).cause).name === 'TimeoutError'
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is in its cause. */
function networkReason(e: unknown): string {
  const cause = asErrorLike(asErrorLike(e).cause)
  const message = typeof cause.message === 'string' ? cause.message : String(asErrorLike(e).message ?? e)
  return typeof cause.code === 'string' && !message.includes(cause.code) ? `${cause.code}: ${message}` : message
}

function backoffMs(attempt: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** attempt, BACKOFF_CAP_MS)
}

/** `Retry-After` in seconds or as an HTTP date, capped so a server cannot stall the run. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined
  const seconds = Number(header)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now()
  if (Number.isNaN(ms)) return undefined
  return Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS)
}

function trim(text: string): string {
  return text.length > ERROR_BODY_CHARS ? `${text.slice(0, ERROR_BODY_CHARS)}… (${text.length} characters)` : text
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
