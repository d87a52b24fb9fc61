import { digestFile } from '../data/open.js'
import { UserError, errorText } from '../errors.js'
import { createOnnxRunner } from '../runners/onnx.js'
import type { ModelInfo, ModelRunner } from '../runners/types.js'
import type { EnvironmentState, StableVersion } from './state.js'

/*
 * The models a server holds and how requests reach them. A routing table is immutable once built
 * and replaced whole, so a request sees either the old deployment or the new one, never a mix.
 * Loaded versions count the requests using them; a version that leaves the table is closed only
 * when its count drops to zero.
 */

export interface LoadedVersion {
  /** Version, digest and path: a version re-pointed to another file is another model. */
  readonly key: string
  readonly version: string
  readonly digest: string
  readonly path: string
  readonly runner: ModelRunner
  readonly info: ModelInfo
  inflight: number
  retired: boolean
  closing?: Promise<void>
}

export interface RoutingTable {
  readonly generation: number
  readonly name: string
  readonly environment: string
  readonly stable: LoadedVersion
  readonly canary?: { readonly model: LoadedVersion; readonly percent: number }
  /** Unversioned requests routed so far: the weighted round-robin's position. */
  sent: number
}

export const versionKey = (v: StableVersion): string => `${v.version}\u0000${v.digest}\u0000${v.path}`

/**
 * Loads one version after checking its file against the digest the deploy pinned. The file is hashed
 * first so a wrong file is never parsed, and the runner's own digest of the bytes it loaded is
 * checked again, because the file may change between the two reads.
 */
export async function loadVersion(spec: StableVersion, stateFile: string, wasmDir?: string): Promise<LoadedVersion> {
  const mismatch = (actual: string) =>
    new UserError(`${spec.path}: sha256 is ${actual} but ${stateFile} pins version ${spec.version} to ${spec.digest}; not loaded`, {
      file: spec.path,
      field: 'digest',
    })
  const before = await digestFile(spec.path)
  if (before !== spec.digest) throw mismatch(before)
  const runner = await createOnnxRunner({ path: spec.path, wasmDir })
  const info = await runner.describe()
  if (info.digest !== spec.digest) {
    await runner.close()
    throw mismatch(info.digest ?? 'unknown')
  }
  return { key: versionKey(spec), version: spec.version, digest: spec.digest, path: spec.path, runner, info, inflight: 0, retired: false }
}

export function buildTable(state: EnvironmentState, loaded: Map<string, LoadedVersion>): RoutingTable {
  const get = (v: StableVersion) => loaded.get(versionKey(v))!
  return {
    generation: state.generation,
    name: state.name,
    environment: state.environment,
    stable: get(state.stable),
    canary: state.canary && { model: get(state.canary), percent: state.canary.percent },
    sent: 0,
  }
}

export function tableVersions(table: RoutingTable | undefined): LoadedVersion[] {
  if (table === undefined) return []
  return table.canary ? [table.stable, table.canary.model] : [table.stable]
}

/**
 * Counter-based weighted round-robin: request n goes to the canary when floor((n+1)·p/100) passes
 * an integer, so any 100 consecutive requests send exactly p to the canary (for a whole p), spread
 * out rather than in a block. Deterministic, so a test or a deploy can count on it.
 */
export function chooseVersion(table: RoutingTable): LoadedVersion {
  const n = table.sent++
  const canary = table.canary
  if (canary === undefined || canary.percent <= 0) return table.stable
  const crossed = Math.floor(((n + 1) * canary.percent) / 100) > Math.floor((n * canary.percent) / 100)
  return crossed ? canary.model : table.stable
}

export function findVersion(table: RoutingTable | undefined, version: string): LoadedVersion | undefined {
  return tableVersions(table).find((m) => m.version === version)
}

/** Tracks every loaded version until it is closed, so retiring and closing happen exactly once. */
export class VersionPool {
  private readonly open = new Set<LoadedVersion>()

  constructor(private readonly log: (line: string) => void) {}

  add(model: LoadedVersion): void {
    this.open.add(model)
  }

  /** A loaded version with this key that is still usable, in the table or draining (a quick rollback reuses it). */
  reusable(key: string): LoadedVersion | undefined {
    for (const m of this.open) if (m.key === key && m.closing === undefined) return m
    return undefined
  }

  acquire(model: LoadedVersion): LoadedVersion {
    model.inflight++
    return model
  }

  release(model: LoadedVersion): void {
    model.inflight--
    // In the background: the request is answered already, and close() never rejects.
    if (model.retired && model.inflight === 0) void this.close(model)
  }

  /** Takes a version out of service: closed now if idle, else when its last request ends. */
  retire(model: LoadedVersion): void {
    model.retired = true
    if (model.inflight === 0) void this.close(model)
    else this.log(`version ${model.version} draining ${model.inflight} request(s)`)
  }

  /** Retired versions still answering requests they took before the swap. */
  draining(): LoadedVersion[] {
    return [...this.open].filter((m) => m.retired && m.closing === undefined)
  }

  close(model: LoadedVersion): Promise<void> {
    model.closing ??= model.runner.close().then(
      () => {
        this.open.delete(model)
        this.log(`version ${model.version} closed`)
      },
      (e: unknown) => {
        this.open.delete(model)
        this.log(`version ${model.version}: closing failed: ${errorText(e)}`)
      },
    )
    return model.closing
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open].map((m) => this.close(m)))
  }
}
