/*
 * Why a state file instead of an API: a deploy is a file write (atomic, see state.ts). The file is
 * the environment's desired state, survives restarts, is easy to inspect, and needs no credentials
 * or open admin port. The server converges on it; it never writes it.
 *
 * Why polling: fs.watch misses renames (atomic writes) on some platforms and fires twice on others.
 * Reading a small file every pollMs is cheap and the same everywhere.
 *
 * Why digests: the state pins each version to the sha256 the deploy approved. A file that does not
 * match (half-copied, replaced, corrupt) is refused and the previous deployment keeps serving; the
 * refusal is visible in `status()`, in readiness, and in the modelgate extension endpoint, so
 * deploy-model can tell a deploy that took from one that did not.
 *
 * Why in-flight counting: a swap replaces the routing table in one assignment; a request keeps the
 * version it was routed to when it arrived, and that version's runner is closed only once its last
 * request is answered (routing.ts's VersionPool). No request is dropped or answered by a closed session.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { errorText } from '../errors.js'
import { PathRedactor } from './redact.js'
import { VersionPool, buildTable, loadVersion, tableVersions, versionKey, type LoadedVersion, type RoutingTable } from './routing.js'
import { parseEnvironmentState, type EnvironmentState } from './state.js'

export interface VersionStatus {
  version: string
  digest: string
  /** Share of unversioned requests, 0..100. */
  percent: number
  inflight: number
}

export interface ServerStatus {
  /** The newest generation read from the state file; null before any valid file was read. */
  generation: number | null
  /** The generation being served; null until one loaded. Differs from `generation` while loading or after a failed load. */
  applied: number | null
  /** The newest generation is the one being served. */
  ready: boolean
  name?: string
  environment?: string
  stable: VersionStatus | null
  canary: VersionStatus | null
  /** Versions swapped out that still answer requests routed to them before the swap. */
  draining: VersionStatus[]
  /** Why the newest state file content is not being served (unreadable, invalid, digest mismatch, bad model). */
  error?: string
}

/** Reads the state file and converges on it: loads what is new, swaps, retires what is gone. */
export class Deployment {
  table?: RoutingTable
  latest: number | null = null
  error?: string
  private lastText?: string
  readonly pool: VersionPool
  /** Takes the server's paths out of what clients read; learns each model file as a state names it. */
  readonly redactor: PathRedactor

  constructor(
    private readonly opts: { stateFile: string; wasmDir?: string },
    private readonly log: (line: string) => void,
  ) {
    this.pool = new VersionPool(log)
    this.redactor = new PathRedactor([path.dirname(path.resolve(opts.stateFile)), opts.wasmDir])
    this.redactor.file(opts.stateFile, '<state file>')
  }

  /** `error` as a client may read it: without the server's paths. */
  publicError(): string | undefined {
    return this.error === undefined ? undefined : this.redactor.text(this.error)
  }

  private fail(message: string): void {
    if (message !== this.error) this.log(message)
    this.error = message
  }

  async poll(): Promise<void> {
    const file = this.opts.stateFile
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      this.lastText = undefined
      return this.fail(`${file}: cannot read the environment state (${code === 'ENOENT' ? 'file not found' : errorText(e)})`)
    }
    if (text === this.lastText) return
    this.lastText = text
    let state: EnvironmentState
    try {
      state = parseEnvironmentState(text, file)
    } catch (e) {
      return this.fail(errorText(e))
    }
    this.latest = state.generation
    for (const spec of state.canary ? [state.stable, state.canary] : [state.stable])
      this.redactor.file(spec.path, `<model file of version ${spec.version}>`)
    if (this.table?.generation === state.generation) {
      if (this.sameAsServed(state)) this.error = undefined
      else this.fail(`${file}: the content changed but the generation is still ${state.generation}; not applied (write a new generation)`)
      return
    }
    await this.apply(state)
  }

  private sameAsServed(state: EnvironmentState): boolean {
    const t = this.table!
    return (
      t.name === state.name &&
      t.stable.key === versionKey(state.stable) &&
      (t.canary === undefined
        ? state.canary === undefined
        : state.canary !== undefined && t.canary.model.key === versionKey(state.canary) && t.canary.percent === state.canary.percent)
    )
  }

  private async apply(state: EnvironmentState): Promise<void> {
    const file = this.opts.stateFile
    this.log(`${file}: applying generation ${state.generation}`)
    const wanted = state.canary ? [state.stable, state.canary] : [state.stable]
    const loaded = new Map<string, LoadedVersion>()
    const fresh: LoadedVersion[] = []
    const results = await Promise.allSettled(
      wanted.map(async (spec) => {
        const reused = this.pool.reusable(versionKey(spec))
        if (reused) return { spec, model: reused, isNew: false }
        return { spec, model: await loadVersion(spec, file, this.opts.wasmDir), isNew: true }
      }),
    )
    const failures: string[] = []
    for (const r of results) {
      if (r.status === 'rejected') failures.push(errorText(r.reason))
      else {
        loaded.set(versionKey(r.value.spec), r.value.model)
        if (r.value.isNew) fresh.push(r.value.model)
      }
    }
    if (failures.length > 0) {
      await Promise.all(fresh.map((m) => m.runner.close().catch(() => undefined)))
      const keeps = this.table ? `; still serving generation ${this.table.generation}` : ''
      return this.fail(`generation ${state.generation} not applied: ${failures.join('; ')}${keeps}`)
    }
    this.swap(buildTable(state, loaded))
  }

  private swap(next: RoutingTable): void {
    for (const m of tableVersions(next)) {
      m.retired = false
      this.pool.add(m)
    }
    const previous = this.table
    this.table = next
    this.error = undefined
    const kept = new Set(tableVersions(next))
    for (const m of tableVersions(previous)) if (!kept.has(m)) this.pool.retire(m)
    const canary = next.canary ? `, canary ${next.canary.model.version} at ${next.canary.percent}%` : ''
    this.log(`generation ${next.generation} serving: stable ${next.stable.version}${canary}`)
  }

  ready(): boolean {
    return this.table !== undefined && this.table.generation === this.latest
  }

  status(): ServerStatus {
    const t = this.table
    const canaryPercent = t?.canary?.percent ?? 0
    const of = (m: LoadedVersion, percent: number): VersionStatus => ({
      version: m.version,
      digest: m.digest,
      percent,
      inflight: m.inflight,
    })
    const status: ServerStatus = {
      generation: this.latest,
      applied: t?.generation ?? null,
      ready: this.ready(),
      name: t?.name,
      environment: t?.environment,
      stable: t ? of(t.stable, 100 - canaryPercent) : null,
      canary: t?.canary ? of(t.canary.model, canaryPercent) : null,
      draining: this.pool.draining().map((m) => of(m, 0)),
    }
    if (this.error !== undefined) status.error = this.error
    return status
  }
}
