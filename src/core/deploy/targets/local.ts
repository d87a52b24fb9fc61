import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import path from 'node:path'
import { UserError, errorText } from '../../errors.js'
import { acquireFileLock } from '../../lock.js'
import { realOrResolved } from '../../workspace.js'
import { nextGeneration, readEnvironmentState, writeEnvironmentState, type EnvironmentState } from '../../serve/state.js'
import { DeployFailure, type ApplyOutcome, type DeployTarget, type Endpoint, type TrafficPlan } from '../types.js'

/*
 * The embedded target: `modelgate serve` on loopback, one server per environment, driven by the
 * environment's state file. Applying is writing the state; the server converges on it (hot swap,
 * canary split) and says, at /v2/models/<name>/modelgate, which generation it applied. When no server
 * answers (never started, or it died), applying starts one, detached, so a rollback also brings a
 * crashed environment back.
 *
 *   <dir>/state.json    what the environment should serve (src/core/serve/state.ts)
 *   <dir>/server.json   the running server: pid, port, url (written by the server)
 *   <dir>/server.log    its output
 *   <dir>/deploy.lock   held for the whole of a deploy: two deploys never interleave
 */

export interface LocalTargetOptions {
  name: string
  environment: string
  /** The environment's folder. */
  dir: string
  /** Port for a server this target starts (0: any free port). */
  port: number
  /** argv that runs `modelgate serve` (the bundled CLI under node). */
  serveCommand: string[]
  /** How long to wait for another deploy to this environment before refusing. */
  lockTimeoutMs?: number
}

export interface ServerInfo {
  pid: number
  port: number
  url: string
}

export class LocalTarget implements DeployTarget {
  readonly kind = 'local' as const
  readonly description: string
  private readonly stateFile: string
  private readonly infoFile: string
  /** The server this deploy has been applying to. */
  private servingPid?: number

  constructor(private readonly opts: LocalTargetOptions) {
    this.stateFile = path.join(opts.dir, 'state.json')
    this.infoFile = path.join(opts.dir, 'server.json')
    this.description = `modelgate serve for ${opts.name} in ${opts.environment} (${opts.dir})`
  }

  async lock(): Promise<() => Promise<void>> {
    const release = await acquireFileLock(path.join(this.opts.dir, 'deploy.lock'), {
      what: `environment ${this.opts.environment} of ${this.opts.name}`,
      timeoutMs: this.opts.lockTimeoutMs ?? 600_000,
    })
    return async () => release()
  }

  /** The environment's state file, when there is one, is readable and valid: a deploy would read it and refuse later. */
  async check(): Promise<void> {
    await this.current()
  }

  async current(): Promise<TrafficPlan | undefined> {
    if (!existsSync(this.stateFile)) return undefined
    const s = readEnvironmentState(this.stateFile)
    const served = (v: { version: string; digest: string; path: string }) => ({
      name: s.name,
      version: v.version,
      digest: v.digest,
      uri: '',
      artifactPath: v.path,
    })
    return { stable: served(s.stable), ...(s.canary ? { canary: { ...served(s.canary), percent: s.canary.percent } } : {}) }
  }

  async apply(plan: TrafficPlan, opts: { dryRun: boolean; log: (line: string) => void; rollback?: boolean }): Promise<ApplyOutcome> {
    const state = this.stateOf(plan)
    if (opts.dryRun) return { files: [], notes: [`would write ${this.stateFile}: generation ${state.generation}`] }
    const running = await this.live()
    // A server that served an earlier step of this deploy and is gone now died under it: that is a
    // failed deploy, not something to paper over. Only the rollback brings it back.
    if (this.servingPid !== undefined && running?.pid !== this.servingPid && !opts.rollback) {
      throw new DeployFailure(`modelgate serve for ${this.opts.environment} (pid ${this.servingPid}) stopped during the deploy`, 'apply')
    }
    mkdirSync(this.opts.dir, { recursive: true })
    writeEnvironmentState(this.stateFile, state)
    const notes = [`${this.stateFile}: generation ${state.generation}`]
    if (running) this.servingPid = running.pid
    else {
      // A server that hangs still holds its port: a replacement on a fixed port could not listen.
      if (this.servingPid !== undefined) await this.stopWedged(this.servingPid, opts.log)
      const info = await this.startServer(opts.log)
      this.servingPid = info.pid
      notes.push(`started modelgate serve (pid ${info.pid}) at ${info.url}`)
    }
    return { files: [this.stateFile], notes }
  }

  private stateOf(plan: TrafficPlan): EnvironmentState {
    const file = (v: { version: string; artifactPath?: string }) => {
      if (!v.artifactPath || !v.artifactPath.toLowerCase().endsWith('.onnx')) {
        throw new UserError(`the local target serves ONNX files; version ${v.version} is not one (${v.artifactPath ?? 'no file'})`, {
          field: 'target',
        })
      }
      return path.resolve(v.artifactPath)
    }
    return {
      schemaVersion: '1.0',
      name: this.opts.name,
      environment: this.opts.environment,
      generation: nextGeneration(this.stateFile),
      stable: { version: plan.stable.version, digest: plan.stable.digest, path: file(plan.stable) },
      ...(plan.canary
        ? { canary: { version: plan.canary.version, digest: plan.canary.digest, path: file(plan.canary), percent: plan.canary.percent } }
        : {}),
    }
  }

  /** The running server's facts, when server.json names a process that answers. */
  async live(): Promise<ServerInfo | undefined> {
    let info: ServerInfo
    try {
      info = JSON.parse(readFileSync(this.infoFile, 'utf8')) as ServerInfo
    } catch {
      return undefined
    }
    try {
      const res = await fetch(`${info.url}/v2/health/live`, { signal: AbortSignal.timeout(2000) })
      return res.ok ? info : undefined
    } catch {
      return undefined
    }
  }

  private async startServer(log: (line: string) => void): Promise<ServerInfo> {
    rmSync(this.infoFile, { force: true })
    const out = openSync(path.join(this.opts.dir, 'server.log'), 'a')
    const [cmd, ...args] = this.opts.serveCommand
    const child = spawn(cmd!, [...args, 'serve', '--state', this.stateFile, '--port', String(this.opts.port), '--info', this.infoFile], {
      detached: true,
      stdio: ['ignore', out, out],
    })
    child.unref()
    log(`starting modelgate serve for ${this.opts.environment} (pid ${child.pid})`)
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      const info = await this.live()
      if (info) return info
      if (child.exitCode !== null) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const logText = readTail(path.join(this.opts.dir, 'server.log'))
    throw new DeployFailure(`modelgate serve did not start for ${this.opts.environment}${logText ? `: ${logText}` : ''}`, 'apply')
  }

  /**
   * Stops the server this deploy applied to, alive but no longer answering: SIGTERM, then SIGKILL
   * (a wedged event loop never runs its SIGTERM handler). Where /proc tells, only a process serving
   * this environment's state file is signalled, so a pid reused by another program is left alone.
   */
  private async stopWedged(pid: number, log: (line: string) => void): Promise<void> {
    // Where the system does not say, the pid this deploy saw serving is trusted.
    if (!processAlive(pid) || servesState(pid, this.stateFile) === false) return
    log(`modelgate serve for ${this.opts.environment} (pid ${pid}) does not answer: stopping it`)
    for (const [signal, waitMs] of [
      ['SIGTERM', WEDGED_TERM_MS],
      ['SIGKILL', 5000],
    ] as const) {
      try {
        process.kill(pid, signal)
      } catch {
        return
      }
      const deadline = Date.now() + waitMs
      while (Date.now() < deadline) {
        if (!processAlive(pid)) return
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  }

  async waitReady(plan: TrafficPlan, timeoutMs: number): Promise<void> {
    const expected = readEnvironmentState(this.stateFile).generation
    const deadline = Date.now() + timeoutMs
    let last = 'no answer'
    while (Date.now() < deadline) {
      const info = await this.live()
      if (info) {
        try {
          const res = await fetch(`${info.url}/v2/models/${encodeURIComponent(this.opts.name)}/modelgate`, {
            signal: AbortSignal.timeout(2000),
          })
          const body = (await res.json()) as { generation?: number; latestGeneration?: number; ready?: boolean; error?: string }
          if (body.latestGeneration === expected && body.error) {
            throw new DeployFailure(`the server refused generation ${expected}: ${body.error}`, 'ready')
          }
          if (body.generation === expected && body.ready) return
          last = `serving generation ${body.generation ?? 'none'} of ${expected}`
        } catch (e) {
          if (e instanceof DeployFailure) throw e
          last = errorText(e)
        }
      } else last = 'the server does not answer'
      await new Promise((r) => setTimeout(r, 100))
    }
    void plan
    throw new DeployFailure(`${this.opts.environment} not ready after ${Math.round(timeoutMs / 1000)} s (${last})`, 'ready')
  }

  endpoint(version?: string): Endpoint | undefined {
    let info: ServerInfo
    try {
      info = JSON.parse(readFileSync(this.infoFile, 'utf8')) as ServerInfo
    } catch {
      return undefined
    }
    return { url: info.url, protocol: 'v2', model: this.opts.name, ...(version ? { version } : {}) }
  }

  /** Stops the environment's server (tests; by hand: kill the pid in server.json). */
  async stop(): Promise<void> {
    const info = await this.live()
    if (!info) return
    try {
      process.kill(info.pid, 'SIGTERM')
    } catch {
      return
    }
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline && (await this.live())) await new Promise((r) => setTimeout(r, 100))
  }
}

/** How long a server that does not answer gets to exit on SIGTERM before SIGKILL. */
const WEDGED_TERM_MS = 1000

/** The process exists and is not a zombie (dead, its port released, waiting to be reaped). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/**
 * Whether process `pid` runs `modelgate serve --state <stateFile>` (a server.json is a workspace file,
 * which a pull request can write: its pid proves nothing). On Linux, from /proc/<pid>/cmdline, a
 * relative --state resolved in the process's folder; elsewhere from `ps`. Undefined where the system
 * does not say (no /proc and no ps).
 */
export function servesState(pid: number, stateFile: string): boolean | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  const want = realOrResolved(stateFile)
  let argv: string[]
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    if (existsSync('/proc/self/cmdline')) return false
    return psServesState(pid, stateFile, want)
  }
  let cwd: string | undefined
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`)
  } catch {
    cwd = undefined
  }
  const states = argv.flatMap((a, i) => (a === '--state' ? [argv[i + 1] ?? ''] : a.startsWith('--state=') ? [a.slice(8)] : []))
  const names = (s: string) =>
    s !== '' && (s === stateFile || (path.isAbsolute(s) ? realOrResolved(s) : cwd ? realOrResolved(path.resolve(cwd, s)) : '') === want)
  return argv.includes('serve') && states.some(names)
}

/** servesState where there is no /proc (macOS): the command line `ps` prints, its words joined by spaces. */
function psServesState(pid: number, stateFile: string, real: string): boolean | undefined {
  let line: string
  try {
    line = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  } catch (e) {
    // ps exits 1 for a pid that is not running; it may not exist at all (Windows).
    return (e as { status?: unknown }).status === 1 ? false : undefined
  }
  const words = ` ${line.trim()} `
  return words.includes(' serve ') && [stateFile, real].some((s) => words.includes(` --state ${s} `) || words.includes(` --state=${s} `))
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ')
  } catch {
    return ''
  }
}
