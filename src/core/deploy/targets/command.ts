import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { UserError, errorText } from '../../errors.js'
import { DeployFailure, type ApplyOutcome, type DeployTarget, type Endpoint, type TrafficPlan } from '../types.js'

/*
 * The command target: the user's own deploy script does the work. The plan reaches it only through
 * environment variables and stdin, and the command is an argv run without a shell, so a version or a
 * URI (which come from a registry, not from the workflow author) can never become shell syntax.
 */

export interface CommandTargetOptions {
  /** argv: `['./deploy.sh']`, `['python3', 'deploy.py']`. A relative program path is resolved in `cwd`. */
  command: string[]
  cwd: string
  /** Added to the inherited environment (credentials the script needs). */
  env?: Record<string, string>
  endpoint: Endpoint
  /** Limit for each run of `command` or `readyCommand`. */
  timeoutMs: number
  /** Run until it exits 0 (every 500 ms) to tell that the deployed version is ready. */
  readyCommand?: string[]
  /** Passed as MODELGATE_ENVIRONMENT. */
  environment?: string
  /**
   * Where `command` and `readyCommand` were set, for messages: the manifest and the environment's key
   * (`deploy.environments.<env>`), whose keys are command and ready-command. Absent: the option names.
   */
  settings?: { file?: string; key: string }
}

type Field = 'command' | 'readyCommand'

/** How a message names an option: its label (ending where the value follows), its field and the file that set it. */
interface Where {
  label: string
  field: string
  file?: string
}

const READY_POLL_MS = 500
const STDERR_TAIL_LINES = 10
/** Between SIGTERM to the command's process group and SIGKILL, for a script that cleans up. */
const KILL_GRACE_MS = 3000
/** Output still in the pipes when the command exits; a server it started in the background may hold them open for ever. */
const DRAIN_MS = 250

interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  stderrTail: string[]
}

/** The variables a command gets for `plan` (`action`: apply or ready). */
export function planEnvironment(plan: TrafficPlan, action: 'apply' | 'ready', environment?: string): Record<string, string> {
  const env: Record<string, string> = {
    MODELGATE_ACTION: action,
    MODELGATE_NAME: plan.stable.name,
    MODELGATE_VERSION: plan.stable.version,
    MODELGATE_DIGEST: plan.stable.digest,
    MODELGATE_URI: plan.stable.uri,
  }
  if (plan.stable.artifactPath !== undefined) env.MODELGATE_ARTIFACT = plan.stable.artifactPath
  if (environment !== undefined) env.MODELGATE_ENVIRONMENT = environment
  const canary = plan.canary
  if (canary !== undefined) {
    env.MODELGATE_CANARY_VERSION = canary.version
    env.MODELGATE_CANARY_DIGEST = canary.digest
    env.MODELGATE_CANARY_URI = canary.uri
    if (canary.artifactPath !== undefined) env.MODELGATE_CANARY_ARTIFACT = canary.artifactPath
    env.MODELGATE_CANARY_PERCENT = String(canary.percent)
  }
  return env
}

export class CommandTarget implements DeployTarget {
  readonly kind = 'command' as const
  readonly description: string

  constructor(private readonly opts: CommandTargetOptions) {
    checkArgv(opts.command, this.where('command'))
    if (opts.readyCommand !== undefined) checkArgv(opts.readyCommand, this.where('readyCommand'))
    if (!(opts.timeoutMs > 0))
      throw new UserError(`command target: timeoutMs must be positive, got ${opts.timeoutMs}`, { field: 'timeoutMs' })
    this.description = `command ${opts.command.join(' ')}`
  }

  async lock(): Promise<() => Promise<void>> {
    // Serialising deploys of an environment is the workflow's job (`concurrency:`).
    return async () => {}
  }

  async current(): Promise<TrafficPlan | undefined> {
    return undefined
  }

  /** The folder and both programs, before a deploy fetches anything (apply checks them again). */
  async check(): Promise<void> {
    this.checkRunnable(this.opts.command, 'command')
    if (this.opts.readyCommand !== undefined) this.checkRunnable(this.opts.readyCommand, 'readyCommand')
  }

  async apply(plan: TrafficPlan, opts: { dryRun: boolean; log: (line: string) => void }): Promise<ApplyOutcome> {
    // Found out before the deploy command changes anything, not at the first readiness probe after it.
    await this.check()
    const shown = this.opts.command.join(' ')
    if (opts.dryRun) {
      return {
        files: [],
        notes: [
          `dry run: would run ${JSON.stringify(this.opts.command)} in ${this.opts.cwd}`,
          `environment: ${JSON.stringify(planEnvironment(plan, 'apply', this.opts.environment))}`,
        ],
      }
    }
    const result = await this.run(this.opts.command, 'command', plan, 'apply', this.opts.timeoutMs, opts.log)
    const failure = describeFailure(result, this.opts.timeoutMs)
    if (failure !== undefined) throw new DeployFailure(`command ${shown} ${failure}`, 'apply')
    return { files: [], notes: [`ran ${shown}`] }
  }

  async waitReady(plan: TrafficPlan, timeoutMs: number): Promise<void> {
    const argv = this.opts.readyCommand
    if (argv === undefined) return
    this.checkRunnable(argv, 'readyCommand')
    const deadline = Date.now() + timeoutMs
    let attempts = 0
    let last = 'never ran'
    for (;;) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) break
      attempts++
      const limit = Math.min(this.opts.timeoutMs, remaining)
      const result = await this.run(argv, 'readyCommand', plan, 'ready', limit, () => {})
      const failure = describeFailure(result, limit)
      if (failure === undefined) return
      // A run cut short by the deadline says less than the full run before it.
      const cutShort = result.timedOut && limit < this.opts.timeoutMs && attempts > 1
      if (!cutShort) last = failure
      const left = deadline - Date.now()
      if (left <= 0) break
      await sleep(Math.min(READY_POLL_MS, left))
    }
    throw new DeployFailure(
      `ready command ${argv.join(' ')} did not succeed within ${timeoutMs} ms (${attempts} ${attempts === 1 ? 'attempt' : 'attempts'}; last: ${last})`,
      'ready',
    )
  }

  endpoint(version?: string): Endpoint | undefined {
    return version === undefined ? this.opts.endpoint : undefined
  }

  /** `command target: readyCommand`, or with settings `modelgate.yml: deploy.environments.<env>.ready-command:`. */
  private where(field: Field): Where {
    const s = this.opts.settings
    if (!s) return { label: `command target: ${field}`, field }
    const key = `${s.key}.${field === 'readyCommand' ? 'ready-command' : 'command'}`
    return { label: `${s.file ? `${s.file}: ` : ''}${key}:`, field: key, file: s.file }
  }

  /** A missing folder or program is the user's to fix, and is caught before anything runs (also in a dry run). */
  private checkRunnable(argv: string[], name: Field): void {
    const { label, field, file } = this.where(name)
    let isDir = false
    try {
      isDir = statSync(this.opts.cwd).isDirectory()
    } catch {
      // reported below
    }
    if (!isDir) throw new UserError(`command target: cwd ${this.opts.cwd} is not a folder`, { file: this.opts.cwd, field: 'cwd' })
    const program = argv[0]
    // A bare name is found on PATH, as the OS will look for it: checked here too, before anything runs.
    if (!program.includes('/') && !program.includes(path.sep)) {
      if (!onPath(program, this.opts.env?.PATH ?? process.env.PATH ?? ''))
        throw new UserError(`${label} ${program} is not a program on PATH`, { field, file })
      return
    }
    const resolved = path.resolve(this.opts.cwd, program)
    try {
      accessSync(resolved, constants.X_OK)
    } catch {
      throw new UserError(`${label} ${program} is not an executable file (looked in ${this.opts.cwd})`, { file: file ?? resolved, field })
    }
  }

  private async run(
    argv: string[],
    name: Field,
    plan: TrafficPlan,
    action: 'apply' | 'ready',
    timeoutMs: number,
    log: (line: string) => void,
  ): Promise<RunResult> {
    const env = { ...inheritedEnv(), ...this.opts.env, ...planEnvironment(plan, action, this.opts.environment) }
    try {
      return await runProcess(argv, { cwd: this.opts.cwd, env, stdin: `${JSON.stringify(plan)}\n`, timeoutMs, onLine: log })
    } catch (e) {
      const code = (e as { code?: unknown }).code
      const why = typeof code === 'string' ? code : errorText(e)
      const { label, field, file } = this.where(name)
      const message = this.opts.settings
        ? `${label} cannot run ${argv[0]}: ${why}`
        : `command target: cannot run ${name} ${argv[0]}: ${why}`
      throw new UserError(message, { field, file })
    }
  }
}

/** Whether `program` (a bare name) is an executable file in a folder of `searchPath`, as the OS will look for it. */
export function onPath(program: string, searchPath: string): boolean {
  return searchPath
    .split(path.delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(path.join(dir, program), constants.X_OK)
        return statSync(path.join(dir, program)).isFile()
      } catch {
        return false
      }
    })
}

function checkArgv(argv: unknown, { label, field, file }: Where): void {
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string') || argv[0] === '')
    throw new UserError(`${label} must be a non-empty list of strings (an argv, run without a shell)`, { field, file })
}

/** The parent's environment without MODELGATE_* (a stale canary from an outer run must not leak in). */
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('MODELGATE_')) env[key] = value
  return env
}

function describeFailure(r: RunResult, timeoutMs: number): string | undefined {
  const stderr = r.stderrTail.length === 0 ? ' (no stderr)' : `; last lines of stderr:\n${r.stderrTail.join('\n')}`
  if (r.timedOut) return `did not finish within ${timeoutMs} ms and was killed${stderr}`
  if (r.signal !== null) return `was killed by ${r.signal}${stderr}`
  if (r.code !== 0) return `exited with code ${r.code}${stderr}`
  return undefined
}

/** Calls `onLine` for every complete line, and for the rest when flushed. */
function lineSplitter(onLine: (line: string) => void): { push: (chunk: string) => void; flush: () => void } {
  let pending = ''
  return {
    push(chunk) {
      pending += chunk
      const lines = pending.split(/\r?\n/)
      pending = lines.pop() ?? ''
      for (const line of lines) onLine(line)
    },
    flush() {
      if (pending !== '') onLine(pending)
      pending = ''
    },
  }
}

/** Signals the whole process group: a script's children go too. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    if (process.platform === 'win32') child.kill(signal)
    else process.kill(-child.pid, signal)
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Rejects only when the program cannot be started (ENOENT, EACCES). */
function runProcess(
  argv: string[],
  opts: { cwd: string; env: Record<string, string>; stdin: string; timeoutMs: number; onLine: (line: string) => void },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // detached: its own process group, so a timeout can kill what the script started as well.
    const child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      windowsHide: true,
    })
    const stderrTail: string[] = []
    const out = lineSplitter(opts.onLine)
    const err = lineSplitter((line) => {
      opts.onLine(line)
      stderrTail.push(line)
      if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift()
    })
    child.stdout.setEncoding('utf8').on('data', out.push)
    child.stderr.setEncoding('utf8').on('data', err.push)
    // A command that never reads its stdin closes the pipe: EPIPE is no failure of the deploy.
    child.stdin.on('error', () => {})
    child.stdin.end(opts.stdin)

    let timedOut = false
    let grace: NodeJS.Timeout | undefined
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child, 'SIGTERM')
      grace = setTimeout(() => killGroup(child, 'SIGKILL'), KILL_GRACE_MS)
    }, opts.timeoutMs)

    child.on('error', (e) => {
      clearTimeout(timer)
      clearTimeout(grace)
      reject(e)
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(grace)
      // The leader is gone; whatever it started in its group on the way to a timeout is not.
      if (timedOut) killGroup(child, 'SIGKILL')
      let settled = false
      const settle = () => {
        if (settled) return
        settled = true
        clearTimeout(drain)
        child.stdout.destroy()
        child.stderr.destroy()
        out.flush()
        err.flush()
        resolve({ code, signal, timedOut, stderrTail })
      }
      const drain = setTimeout(settle, DRAIN_MS)
      child.once('close', settle)
    })
  })
}
