/*
 * test-robustness across a workflow matrix. What costs is the tests' model work, not the sample (a few
 * thousand rows at most), so a shard does not take part of the rows: every shard reads the same seeded
 * sample and makes the same clean pass, and runs its units of work (engine.ts: each invariance case, the
 * directional expectations, determinism, each feature's sensitivity search, stress), unit k going to
 * shard (k mod n) + 1. Each unit draws from its own stream seeded by the seed and its id, so its result is
 * the one an unsharded run gives; the merge assembles them (the degradation gates judge every invariance
 * outcome) into the unsharded result. Only the cost differs: the clean pass is made by every shard (the
 * merge counts it once), and invariance cases run in different shards share no model calls.
 */
import { UserError } from '../errors.js'
import type { ModelInfo } from '../runners/types.js'
import type { Settings } from '../settings/index.js'
import { stripWorkspace } from '../workspace.js'
import {
  checkShardSet,
  identityDigest,
  portablePath,
  readShardState,
  restoredPath,
  reviveNumbers,
  settingsIdentity,
  SHARD_FORMAT,
  SHARD_FORMAT_VERSION,
  type LoadedShard,
  type ShardState,
} from '../shard/state.js'
import { assembleEngine, unitNames, type EngineUnits } from './engine.js'
import type { RunFacts } from './run.js'
import { robustnessDefaults } from './schema.js'

export interface RobustnessShardPayload {
  facts: RunFacts
  units: EngineUnits
  /** The session's totals (the clean pass included): clipped probabilities, and the baseline's calls and rows. */
  clipped: number
  baselineCost?: { modelCalls: number; rowsScored: number }
}

/** Unit k of `count` units goes to shard (k mod n) + 1. */
export function ownsUnit(index: number, count: number): (unit: number) => boolean {
  return (unit) => unit % count === index - 1
}

export function robustnessShardState(
  given: Settings,
  payload: RobustnessShardPayload,
  tool: { name: string; version: string },
): ShardState<RobustnessShardPayload> {
  if (!given.shard) throw new Error('robustnessShardState: the settings name no shard')
  const identity = settingsIdentity(given)
  const ws = given.workspace
  // Paths as the other jobs' checkouts see them: each job of a matrix may check out elsewhere.
  const info = (i: ModelInfo): ModelInfo => ({ ...i, source: portablePath(i.source, ws) })
  const facts: RunFacts = {
    ...payload.facts,
    info: info(payload.facts.info),
    ...(payload.facts.baseline ? { baseline: { ...payload.facts.baseline, info: info(payload.facts.baseline.info) } } : {}),
    ...(payload.facts.warning ? { warning: stripWorkspace(payload.facts.warning, ws) } : {}),
    metrics: { ...payload.facts.metrics, notes: payload.facts.metrics.notes.map((n) => stripWorkspace(n, ws)) },
  }
  return {
    format: SHARD_FORMAT,
    version: SHARD_FORMAT_VERSION,
    kind: 'robustness',
    tool,
    shard: given.shard,
    settings: { digest: identityDigest(identity), identity },
    models: {
      candidate: facts.info.digest ?? `${facts.info.runner}:${facts.info.source}`,
      ...(facts.baseline ? { baseline: facts.baseline.info.digest ?? `${facts.baseline.info.runner}:${facts.baseline.info.source}` } : {}),
    },
    data: [{ name: given.data[0].name, digest: facts.digest, rows: facts.sample.available, scored: facts.sample.rows }],
    // Messages quote files (a model's error names it): as the result shows them, relative to the workspace.
    payload: { ...payload, facts, units: stripStrings(payload.units, ws) },
  }
}

function stripStrings<T>(value: T, ws: string): T {
  const walk = (v: unknown): unknown =>
    typeof v === 'string'
      ? stripWorkspace(v, ws)
      : Array.isArray(v)
        ? v.map(walk)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
          : v
  return walk(value) as T
}

/** What must be the same in every shard: all that the clean passes gave (timings aside). */
function agreed(facts: RunFacts): string {
  const { clean: _clean, ...rest } = facts
  return JSON.stringify(rest)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The payload's shape, checked before anything reads it: the first problem names the file and the field. */
function checkPayload(file: string, payload: unknown, units: number): RobustnessShardPayload {
  const fail = (field: string, why: string) => new UserError(`${file}: payload.${field}: ${why}`, { file, field: `payload.${field}` })
  if (!isObject(payload)) throw fail('', 'not an object')
  const { facts, units: u, clipped } = payload
  if (
    !isObject(facts) ||
    !isObject(facts.sample) ||
    !isObject(facts.metrics) ||
    !isObject(facts.assembly) ||
    !Array.isArray(facts.profiles)
  )
    throw fail('facts', 'missing or malformed')
  if (!isObject(u) || !Array.isArray(u.results) || !isObject(u.cost)) throw fail('units', 'missing or malformed')
  if (u.results.length !== units) throw fail('units.results', `${u.results.length} units, but these settings make ${units}`)
  u.results.forEach((r, k) => {
    if (r === null || r === undefined) return
    if (!isObject(r) || typeof r.unit !== 'string') throw fail(`units.results[${k}]`, 'not a unit result')
    const tests = [
      ...(Array.isArray(r.tests) ? r.tests : []),
      ...(isObject(r.outcome) ? [r.outcome.test] : []),
      ...(r.skipped ? [r.skipped] : []),
    ]
    for (const t of tests)
      if (!isObject(t) || typeof t.id !== 'string' || typeof t.status !== 'string' || typeof t.message !== 'string')
        throw fail(`units.results[${k}]`, 'a test without its id, status or message')
  })
  if (typeof clipped !== 'number') throw fail('clipped', 'not a number')
  return payload as unknown as RobustnessShardPayload
}

/** The shards' files, read and checked as one complete set made with `given`. */
export function loadRobustnessShards(files: string[], given: Settings): LoadedShard<RobustnessShardPayload>[] {
  const loaded = files.map((file) => ({ file, state: readShardState(file) }))
  loaded.sort((a, b) => a.state.shard.index - b.state.shard.index)
  checkShardSet(loaded, { kind: 'robustness', identity: settingsIdentity(given) })
  const first = loaded[0]
  const config = given.robustness ?? robustnessDefaults()
  const profiles = (first.state.payload as { facts?: { profiles?: unknown } })?.facts?.profiles
  const count = Array.isArray(profiles) ? unitNames(config, profiles as RunFacts['profiles'], given.manifestPath).length : 0
  const shards = loaded.map(({ file, state }) => ({
    file,
    state: { ...state, payload: reviveNumbers(checkPayload(file, state.payload, count)) as RobustnessShardPayload },
  }))
  const reference = agreed(shards[0].state.payload.facts)
  for (const { file, state } of shards.slice(1))
    if (agreed(state.payload.facts) !== reference)
      throw new UserError(
        `${file}: shard ${state.shard.index}/${state.shard.count}'s sample or clean pass differs from ${shards[0].file}'s: the model answers differently from run to run, or the shards read different rows`,
        { file, field: 'payload.facts' },
      )
  const names = unitNames(config, shards[0].state.payload.facts.profiles, given.manifestPath)
  names.forEach((name, k) => {
    const owners = shards.filter((s) => s.state.payload.units.results[k] != null)
    if (owners.length !== 1)
      throw new UserError(
        owners.length === 0
          ? `merge: no shard ran the robustness unit ${name}; each unit must be run by exactly one shard`
          : `${owners[1].file}: the robustness unit ${name} was run by ${owners.length} shards (also ${owners[0].file}); each unit must be run once`,
        { file: owners[1]?.file, field: `payload.units.results[${k}]` },
      )
  })
  return shards
}

/** The merged run's parts: the engine's output assembled from every shard's units, and the costs counted once. */
export function mergedRobustness(given: Settings, shards: LoadedShard<RobustnessShardPayload>[]) {
  const config = given.robustness ?? robustnessDefaults()
  const ws = given.workspace
  const first = shards[0].state.payload.facts
  const info = (i: ModelInfo): ModelInfo => ({ ...i, source: restoredPath(i.source, ws) })
  const facts: RunFacts = {
    ...first,
    info: info(first.info),
    ...(first.baseline ? { baseline: { ...first.baseline, info: info(first.baseline.info) } } : {}),
  }
  const others = shards.length - 1
  const clean = facts.cleanCost
  const engine = assembleEngine(
    config,
    given.manifestPath,
    facts.assembly,
    shards.map((s) => s.state.payload.units),
    { modelCalls: -others * clean.modelCalls, rowsScored: -others * clean.rowsScored },
  )
  const sum = (f: (p: RobustnessShardPayload) => number) => shards.reduce((n, s) => n + f(s.state.payload), 0)
  const baselineCost = clean.baseline
    ? {
        modelCalls: sum((p) => p.baselineCost?.modelCalls ?? 0) - others * clean.baseline.modelCalls,
        rowsScored: sum((p) => p.baselineCost?.rowsScored ?? 0) - others * clean.baseline.rowsScored,
      }
    : undefined
  return { facts, engine, clipped: sum((p) => p.clipped) - others * clean.clipped, baselineCost }
}
