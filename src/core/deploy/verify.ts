import { errorText } from '../errors.js'
import { mapLimit } from '../parallel.js'
import type { Cell } from '../data/types.js'
import type { GoldenRequests } from '../registry/golden.js'
import { createHttpRunner } from '../runners/http.js'
import type { FeatureBatch, ModelRunner, PredictionBatch } from '../runners/types.js'
import type { Endpoint } from './types.js'

/*
 * Proof that the right model serves: the server is ready, says it serves the version (and, where it
 * can, the digest) that was deployed, answers the golden requests as the registered model did, and
 * stays within the error and latency budget over a burst. Requests go through the same http runner
 * validate-model uses, so every protocol it speaks (Open Inference Protocol, KServe V1, MLflow) works.
 */

export interface VerifySpec {
  golden?: GoldenRequests
  /** Requests in the burst (one golden row each, in turn). */
  burst: number
  concurrency: number
  maxErrorRate: number
  p95LatencyMs: number
  timeoutSeconds: number
}

export const DEFAULT_VERIFY: Omit<VerifySpec, 'golden'> = {
  burst: 50,
  concurrency: 4,
  maxErrorRate: 0,
  p95LatencyMs: 1000,
  timeoutSeconds: 10,
}

export interface VerifyCheck {
  id: 'ready' | 'identity' | 'golden' | 'burst'
  status: 'pass' | 'fail' | 'skipped'
  message: string
}

export interface BurstStats {
  requests: number
  errors: number
  errorRate: number
  p50Ms: number
  p95Ms: number
  maxMs: number
  firstError?: string
}

export interface VerifyResult {
  url: string
  version: string
  passed: boolean
  checks: VerifyCheck[]
  golden?: { rows: number; mismatches: number; maxAbsDiff: number }
  burst?: BurstStats
}

interface ServedIdentity {
  versions?: string[]
  digests?: Record<string, string>
  generation?: number
  latestGeneration?: number
  error?: string
}

/**
 * Verifies one endpoint against the version (and digest) that should answer it. With `splitWith`, the
 * endpoint is a traffic split between `expected` and that version (a canary the target cannot address
 * alone): an answer may come from either, so the golden answers are not compared (the burst still counts).
 */
export async function verifyEndpoint(
  endpoint: Endpoint,
  expected: { version: string; digest: string },
  spec: VerifySpec,
  splitWith?: string,
): Promise<VerifyResult> {
  const checks: VerifyCheck[] = []
  const url = inferenceUrl(endpoint)
  const result: VerifyResult = { url, version: expected.version, passed: false, checks }
  const ready = await checkReady(endpoint)
  checks.push(ready)
  if (ready.status === 'fail') return result
  checks.push(await checkIdentity(endpoint, expected))

  let runner: ModelRunner | undefined
  try {
    runner = await createHttpRunner({
      url,
      protocol: endpoint.protocol,
      model: endpoint.model,
      headers: endpoint.headers,
      timeoutSeconds: spec.timeoutSeconds,
      // A retry would hide the very errors the budget counts.
      retries: 0,
      features: spec.golden?.features ?? [],
      classes: spec.golden?.expected.classes,
      task: spec.golden?.expected.values ? 'regression' : spec.golden ? 'classification' : undefined,
    })
  } catch (e) {
    checks.push({ id: 'golden', status: 'fail', message: `cannot reach the model at ${url}: ${errorText(e)}` })
    return result
  }
  try {
    if (spec.golden) {
      if (splitWith === undefined) {
        const g = await checkGolden(runner, spec.golden)
        result.golden = g.stats
        checks.push(g.check)
      } else {
        checks.push({
          id: 'golden',
          status: 'skipped',
          message: `the endpoint splits traffic between ${splitWith} and ${expected.version} (the target cannot address ${expected.version} alone): the golden requests are compared at 100%`,
        })
      }
      const burst = await runBurst(runner, spec)
      result.burst = burst
      const within = burst.errorRate <= spec.maxErrorRate && burst.p95Ms <= spec.p95LatencyMs
      checks.push({
        id: 'burst',
        status: within ? 'pass' : 'fail',
        message:
          `${burst.requests} requests: ${burst.errors} errors (${pct(burst.errorRate)}, budget ${pct(spec.maxErrorRate)}), ` +
          `p95 ${burst.p95Ms.toFixed(1)} ms (budget ${spec.p95LatencyMs} ms)${burst.firstError ? `; first error: ${burst.firstError}` : ''}`,
      })
    } else {
      checks.push({
        id: 'golden',
        status: 'skipped',
        message: 'the version has no golden requests (register it with a manifest that names its data)',
      })
      checks.push({ id: 'burst', status: 'skipped', message: 'no golden requests to send' })
    }
  } finally {
    await runner.close()
  }
  result.passed = checks.every((c) => c.status !== 'fail')
  return result
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`

/** The inference URL the http runner takes: a version's own route when the endpoint names one. */
export function inferenceUrl(e: Endpoint): string {
  const base = e.url.replace(/\/+$/, '')
  if (e.protocol === 'v2')
    return `${base}/v2/models/${encodeURIComponent(e.model)}${e.version ? `/versions/${encodeURIComponent(e.version)}` : ''}`
  if (e.protocol === 'v1') return `${base}/v1/models/${encodeURIComponent(e.model)}:predict`
  return /\/invocations$/.test(base) ? base : `${base}/invocations`
}

async function getJson(url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) })
  const text = await res.text()
  let body: unknown
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    body = text
  }
  return { status: res.status, body }
}

async function checkReady(e: Endpoint): Promise<VerifyCheck> {
  const base = e.url.replace(/\/+$/, '')
  const m = encodeURIComponent(e.model)
  const urls =
    e.protocol === 'v2'
      ? [`${base}/v2/health/ready`, `${base}/v2/models/${m}${e.version ? `/versions/${encodeURIComponent(e.version)}` : ''}/ready`]
      : e.protocol === 'v1'
        ? [`${base}/v1/models/${m}`]
        : [`${base.replace(/\/invocations$/, '')}/ping`]
  for (const url of urls) {
    try {
      const r = await getJson(url, e.headers)
      if (r.status !== 200) return { id: 'ready', status: 'fail', message: `${url} answered ${r.status}` }
    } catch (err) {
      return { id: 'ready', status: 'fail', message: `${url}: ${errorText(err)}` }
    }
  }
  return { id: 'ready', status: 'pass', message: `${urls.join(' and ')} answered 200` }
}

async function servedIdentity(e: Endpoint): Promise<ServedIdentity | undefined> {
  const base = e.url.replace(/\/+$/, '')
  const m = encodeURIComponent(e.model)
  if (e.protocol !== 'v2') return undefined
  const meta = await getJson(`${base}/v2/models/${m}`, e.headers)
  if (meta.status !== 200 || typeof meta.body !== 'object' || meta.body === null) return undefined
  const identity: ServedIdentity = {}
  const versions = (meta.body as { versions?: unknown }).versions
  if (Array.isArray(versions)) identity.versions = versions.map(String)
  // modelgate serve's extension: the digest behind each version and the applied generation.
  const ext = await getJson(`${base}/v2/models/${m}/modelgate`, e.headers).catch(() => undefined)
  if (ext?.status === 200 && typeof ext.body === 'object' && ext.body !== null) {
    const body = ext.body as {
      versions?: { version: string; digest: string }[]
      generation?: number
      latestGeneration?: number
      error?: string
    }
    identity.digests = Object.fromEntries((body.versions ?? []).map((v) => [v.version, v.digest]))
    identity.generation = body.generation
    identity.latestGeneration = body.latestGeneration
    identity.error = body.error
  }
  return identity
}

async function checkIdentity(e: Endpoint, expected: { version: string; digest: string }): Promise<VerifyCheck> {
  let id: ServedIdentity | undefined
  try {
    id = await servedIdentity(e)
  } catch (err) {
    return { id: 'identity', status: 'fail', message: `cannot read the model metadata: ${errorText(err)}` }
  }
  if (!id?.versions) {
    return {
      id: 'identity',
      status: 'skipped',
      message: `the ${e.protocol} endpoint does not say which version it serves: identity rests on the golden requests`,
    }
  }
  if (!id.versions.includes(expected.version)) {
    return {
      id: 'identity',
      status: 'fail',
      message: `the server serves ${id.versions.join(', ') || 'no version'}, not ${expected.version}`,
    }
  }
  if (id.digests) {
    if (id.error) return { id: 'identity', status: 'fail', message: `the server refused the deployment: ${id.error}` }
    if (id.generation !== id.latestGeneration) {
      return {
        id: 'identity',
        status: 'fail',
        message: `the server applies generation ${id.generation}, not the latest (${id.latestGeneration})`,
      }
    }
    const digest = id.digests[expected.version]
    if (digest !== expected.digest) {
      return {
        id: 'identity',
        status: 'fail',
        message: `version ${expected.version} is served with digest ${digest}, not ${expected.digest}`,
      }
    }
    return { id: 'identity', status: 'pass', message: `serves ${expected.version} with digest ${expected.digest.slice(0, 19)}…` }
  }
  return { id: 'identity', status: 'pass', message: `serves ${expected.version} (the server does not report digests)` }
}

function goldenBatch(g: GoldenRequests, rows: number[]): FeatureBatch {
  return { offset: 0, length: rows.length, features: g.features, columns: g.features.map((_, j) => rows.map((r) => g.rows[r]![j] as Cell)) }
}

/** Rows whose answer differs from the registered model's: a label, or a probability/value beyond the tolerance. */
export function compareGolden(g: GoldenRequests, out: PredictionBatch): { mismatches: number; maxAbsDiff: number; first?: string } {
  let mismatches = 0
  let maxAbsDiff = 0
  let first: string | undefined
  const classes = g.expected.classes ?? []
  const column = classes.map((c) => (out.classes ?? []).findIndex((o) => String(o) === String(c)))
  const k = out.classes?.length ?? 0
  for (let i = 0; i < g.rows.length; i++) {
    const reasons: string[] = []
    const label = g.expected.labels?.[i]
    if (label !== undefined && out.labels && String(out.labels[i]) !== String(label))
      reasons.push(`label ${String(out.labels[i])}, expected ${String(label)}`)
    const probs = g.expected.probabilities?.[i]
    if (probs && out.probabilities) {
      probs.forEach((p, c) => {
        const at = column[c]!
        const got = at < 0 ? NaN : out.probabilities![i * k + at]!
        const d = Math.abs(got - p)
        if (!(d <= g.tolerance)) reasons.push(`p(${String(classes[c])}) ${got}, expected ${p}`)
        if (Number.isFinite(d)) maxAbsDiff = Math.max(maxAbsDiff, d)
      })
    }
    const value = g.expected.values?.[i]
    if (value !== undefined && out.values) {
      const d = Math.abs(out.values[i]! - value)
      if (!(d <= g.tolerance)) reasons.push(`value ${out.values[i]}, expected ${value}`)
      if (Number.isFinite(d)) maxAbsDiff = Math.max(maxAbsDiff, d)
    }
    if (reasons.length > 0) {
      mismatches++
      first ??= `row ${i + 1}: ${reasons[0]}`
    }
  }
  return { mismatches, maxAbsDiff, first }
}

async function checkGolden(runner: ModelRunner, g: GoldenRequests): Promise<{ check: VerifyCheck; stats?: VerifyResult['golden'] }> {
  let out: PredictionBatch
  try {
    out = await runner.predict(
      goldenBatch(
        g,
        g.rows.map((_, i) => i),
      ),
    )
  } catch (e) {
    return { check: { id: 'golden', status: 'fail', message: `the golden requests failed: ${errorText(e)}` } }
  }
  const cmp = compareGolden(g, out)
  const stats = { rows: g.rows.length, mismatches: cmp.mismatches, maxAbsDiff: cmp.maxAbsDiff }
  if (cmp.mismatches > 0) {
    return {
      check: {
        id: 'golden',
        status: 'fail',
        message: `${cmp.mismatches} of ${g.rows.length} golden rows answered differently from the registered model (${cmp.first})`,
      },
      stats,
    }
  }
  return {
    check: {
      id: 'golden',
      status: 'pass',
      message: `${g.rows.length} golden rows answered as registered (largest difference ${cmp.maxAbsDiff.toExponential(1)}, tolerance ${g.tolerance})`,
    },
    stats,
  }
}

/** One golden row per request, `concurrency` at a time; latency as the caller sees it. */
export async function runBurst(runner: ModelRunner, spec: VerifySpec): Promise<BurstStats> {
  const g = spec.golden!
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  await mapLimit(
    Array.from({ length: spec.burst }, (_, i) => i),
    spec.concurrency,
    async (i) => {
      const start = performance.now()
      try {
        await runner.predict(goldenBatch(g, [i % g.rows.length]))
      } catch (e) {
        errors++
        firstError ??= errorText(e)
      }
      latencies.push(performance.now() - start)
    },
  )
  latencies.sort((a, b) => a - b)
  const q = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]! : 0)
  return {
    requests: spec.burst,
    errors,
    errorRate: spec.burst ? errors / spec.burst : 0,
    p50Ms: q(0.5),
    p95Ms: q(0.95),
    maxMs: latencies.at(-1) ?? 0,
    ...(firstError ? { firstError } : {}),
  }
}
