import { scrub } from '../secrets.js'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { statSync } from 'node:fs'
import { UserError, errorText } from '../errors.js'
import { describeValue, featureRows, toPredictionBatch } from './output.js'
import type { FeatureBatch, ModelInfo, ModelRunner, PredictionBatch, TensorInfo } from './types.js'
import { excerpt } from '../data/files.js'

/** Version of the JSON Lines protocol (README, "The command protocol"); sent in `hello`, echoed in `ready`. */
export const COMMAND_PROTOCOL_VERSION = 1

export interface CommandRunnerOptions {
  /** Program and arguments, run without a shell. */
  command: string[]
  cwd?: string
  /** Added to the inherited environment. */
  env?: Record<string, string>
  /** Per request. Default 60; the start-up handshake gets at least 60. */
  timeoutSeconds?: number
  /** Feature names in the order rows are sent. */
  features: string[]
}

const DEFAULT_TIMEOUT_SECONDS = 60
/** How much of the child's stderr is kept: enough for a long traceback. */
const STDERR_KEEP_CHARS = 64 * 1024
/** How much of it goes into a message. */
const STDERR_TAIL_CHARS = 400
/** Loading a model can take longer than scoring a batch, so the handshake gets at least this long. */
const MIN_HANDSHAKE_TIMEOUT_SECONDS = 60
/** How long a child has to exit after `shutdown` before it is killed. */
const SHUTDOWN_GRACE_MS = 2000

type Message = Record<string, unknown>

interface Waiter {
  /** Returns the reply when `message` answers the pending request; throws a UserError for a wrong one. */
  accept(message: Message): Message
  resolve(message: Message): void
  reject(error: UserError): void
}

/** Starts the command, performs the handshake and returns a runner speaking the command protocol (README) to it. */
export async function createCommandRunner(opts: CommandRunnerOptions): Promise<ModelRunner> {
  const runner = new CommandRunner(opts)
  await runner.start()
  return runner
}

class CommandRunner implements ModelRunner {
  readonly kind = 'command' as const
  private readonly commandLine: string
  private readonly timeoutSeconds: number
  private child?: ChildProcessWithoutNullStreams
  private exited?: Promise<void>
  private running = false
  private closing = false
  private failure?: UserError
  private waiter?: Waiter
  private stdoutBuffer = ''
  private stderr = ''
  private nextId = 0
  private model: Message = {}
  /** Serialises requests: the protocol has one outstanding request at a time. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly opts: CommandRunnerOptions) {
    if (!Array.isArray(opts.command) || opts.command.length === 0 || opts.command[0] === '')
      throw new UserError('command runner: `command` must name a program to run')
    this.commandLine = opts.command.map(quoteArgument).join(' ')
    const seconds = opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS
    if (!(seconds > 0)) throw new UserError(`model command \`${this.commandLine}\`: timeoutSeconds must be positive, got ${seconds}`)
    this.timeoutSeconds = seconds
  }

  async start(): Promise<void> {
    const { command, cwd, env } = this.opts
    if (cwd !== undefined && !isDirectory(cwd))
      throw new UserError(`model command \`${this.commandLine}\`: working directory ${cwd} does not exist`, {
        file: cwd,
      })
    const child = spawn(command[0]!, command.slice(1), {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so that a timeout also kills what a wrapper script started.
      detached: process.platform !== 'win32',
    })
    this.child = child
    this.running = true
    this.exited = new Promise((resolve) => child.once('close', () => resolve()))
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => this.onStdout(chunk))
    child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_KEEP_CHARS)
    })
    // A child that dies makes writes fail with EPIPE; its exit status is the useful report.
    child.stdin.on('error', () => {})
    child.on('error', (e) => this.onSpawnError(e))
    child.once('close', (code, signal) => this.onClose(code, signal))

    const ready = await this.request(
      { type: 'hello', protocol: COMMAND_PROTOCOL_VERSION, features: this.opts.features },
      'the hello handshake',
      (m) => this.acceptReady(m),
      Math.max(this.timeoutSeconds, MIN_HANDSHAKE_TIMEOUT_SECONDS),
    )
    this.model = isObject(ready.model) ? ready.model : {}
  }

  async describe(): Promise<ModelInfo> {
    const notes = [`command protocol ${COMMAND_PROTOCOL_VERSION}`]
    if (typeof this.model.name === 'string') notes.push(`model name: ${this.model.name}`)
    if (typeof this.model.version === 'string') notes.push(`model version: ${this.model.version}`)
    if (this.opts.cwd !== undefined) notes.push(`working directory: ${this.opts.cwd}`)
    return {
      source: this.commandLine,
      runner: 'command',
      inputs: [{ name: 'rows', dtype: 'unknown', shape: [-1, this.opts.features.length] }],
      outputs: declaredOutputs(this.model.outputs),
      notes,
    }
  }

  predict(batch: FeatureBatch): Promise<PredictionBatch> {
    const run = this.queue.then(() => this.predictNow(batch))
    this.queue = run.catch(() => {})
    return run
  }

  async close(): Promise<void> {
    if (!this.running) return
    this.closing = true
    const child = this.child!
    if (this.failure === undefined) {
      child.stdin.write(`${JSON.stringify({ type: 'shutdown' })}\n`)
      child.stdin.end()
      const timer = delay(SHUTDOWN_GRACE_MS)
      await Promise.race([this.exited, timer.promise])
      timer.cancel()
    }
    if (this.running) this.kill()
    await this.exited
  }

  private async predictNow(batch: FeatureBatch): Promise<PredictionBatch> {
    const expected = this.opts.features
    if (batch.features.length !== expected.length || batch.features.some((f, i) => f !== expected[i]))
      throw new UserError(
        `model command \`${this.commandLine}\`: batch features (${batch.features.join(', ')}) differ from the features announced in hello (${expected.join(', ')})`,
      )
    const id = ++this.nextId
    const rowsLabel = batch.length === 0 ? 'an empty batch' : `rows ${batch.offset}–${batch.offset + batch.length - 1}`
    const reply = await this.request({ type: 'predict', id, rows: featureRows(batch) }, `predict request ${id} (${rowsLabel})`, (m) => {
      if (m.id !== id) throw this.protocolError(`replied with id ${describeValue(m.id)} to predict request ${id}`)
      if (m.type === 'error') return m
      if (m.type !== 'result') throw this.protocolError(`answered predict request ${id} with a ${describeValue(m.type)} message`)
      return m
    })
    if (reply.type === 'error')
      throw this.withStderr(
        `reported an error for ${rowsLabel}: ${typeof reply.message === 'string' ? reply.message : describeValue(reply.message)}`,
      )
    const raw = {
      labels: optionalList(reply.labels),
      probabilities: optionalList(reply.probabilities),
      classes: optionalList(reply.classes) ?? optionalList(this.model.classes),
      values: optionalList(reply.values),
    }
    try {
      return toPredictionBatch(`model command \`${this.commandLine}\` (predict request ${id})`, batch, raw, {
        labels: 'labels',
        probabilities: 'probabilities',
        values: 'values',
      })
    } catch (e) {
      // A reply of the wrong shape means the two sides disagree on the protocol: stop here.
      throw this.fatal(e instanceof UserError ? this.withStderr(e.message, false) : this.withStderr(errorText(e)))
    }
  }

  private acceptReady(m: Message): Message {
    if (m.type === 'error')
      throw this.withStderr(`refused the hello handshake: ${typeof m.message === 'string' ? m.message : describeValue(m.message)}`)
    if (m.type !== 'ready') throw this.protocolError(`answered hello with a ${describeValue(m.type)} message instead of "ready"`)
    if (m.protocol !== undefined && m.protocol !== COMMAND_PROTOCOL_VERSION)
      throw this.protocolError(`speaks protocol ${describeValue(m.protocol)}; modelgate speaks ${COMMAND_PROTOCOL_VERSION}`)
    return m
  }

  /** Sends one message and waits for the answer `accept` recognises, within the timeout. */
  private request(message: Message, what: string, accept: (m: Message) => Message, timeoutSeconds = this.timeoutSeconds): Promise<Message> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fatal(this.withStderr(`did not answer ${what} within ${timeoutSeconds} s (timeoutSeconds); the process was killed`))
      }, timeoutSeconds * 1000)
      this.waiter = {
        accept,
        resolve: (m) => {
          clearTimeout(timer)
          this.waiter = undefined
          resolve(m)
        },
        reject: (e) => {
          clearTimeout(timer)
          this.waiter = undefined
          reject(e)
        },
      }
      this.child!.stdin.write(`${JSON.stringify(message)}\n`)
    })
  }

  private onStdout(chunk: string): void {
    this.stdoutBuffer += chunk
    let newline: number
    while ((newline = this.stdoutBuffer.indexOf('\n')) >= 0) {
      const line = this.stdoutBuffer.slice(0, newline)
      this.stdoutBuffer = this.stdoutBuffer.slice(newline + 1)
      if (this.failure !== undefined) return
      this.onLine(line)
    }
  }

  private onLine(line: string): void {
    if (line.trim() === '') return
    let message: unknown
    try {
      message = JSON.parse(line)
    } catch {
      message = undefined
    }
    if (!isObject(message) || typeof message.type !== 'string') {
      this.fatal(
        this.protocolError(
          `printed a line on stdout that is not a protocol message (stdout is reserved for the protocol; logs belong on stderr): ${describeValue(line)}`,
        ),
      )
      return
    }
    const waiter = this.waiter
    if (waiter === undefined) {
      this.fatal(this.protocolError(`sent a ${describeValue(message.type)} message when no request was pending`))
      return
    }
    let reply: Message
    try {
      reply = waiter.accept(message)
    } catch (e) {
      this.fatal(e instanceof UserError ? e : this.withStderr(errorText(e)))
      return
    }
    waiter.resolve(reply)
  }

  private onSpawnError(e: NodeJS.ErrnoException): void {
    const reason =
      e.code === 'ENOENT'
        ? `cannot be started: ${this.opts.command[0]} was not found (ENOENT); check the program name and PATH`
        : e.code === 'EACCES'
          ? `cannot be started: ${this.opts.command[0]} is not executable (EACCES)`
          : `failed: ${e.message}`
    // A program that never started has no stderr worth showing.
    this.fatal(new UserError(`model command \`${this.commandLine}\` ${reason}`))
    this.running = false
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    this.running = false
    if (this.closing || this.failure !== undefined) return
    const how = code !== null ? `exited with code ${code}` : `was killed by signal ${signal}`
    const when = this.waiter !== undefined ? (this.nextId === 0 ? ' before it was ready' : ' while answering a request') : ''
    this.fatal(this.withStderr(`${how}${when}`))
  }

  /** Records the first failure that ends the process, kills it, and fails the pending request. */
  private fatal(error: UserError): UserError {
    if (this.failure === undefined) this.failure = error
    if (this.running) this.kill()
    this.waiter?.reject(this.failure)
    return this.failure
  }

  private kill(): void {
    const child = this.child!
    try {
      if (process.platform !== 'win32' && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      else child.kill('SIGKILL')
    } catch {
      // Already gone.
    }
  }

  private protocolError(reason: string): UserError {
    return this.withStderr(`protocol error: ${reason} (see the README's section "The command protocol")`)
  }

  private withStderr(reason: string, prefix = true): UserError {
    const head = prefix ? `model command \`${this.commandLine}\` ${reason}` : reason
    // A child's stderr may echo a credential it was given: scrubbed before it reaches any message.
    return new UserError(scrub(`${head}${stderrTail(this.stderr)}`))
  }
}

/**
 * The end of the child's stderr, on the message's own line: a traceback's last lines name the error, and
 * a message must stay one line (the corpus holds every face to that), so line breaks show as `\n`.
 */
function stderrTail(stderr: string): string {
  const text = stderr.trimEnd()
  if (text === '') return '; its stderr was empty'
  const tail = text.length > STDERR_TAIL_CHARS ? text.slice(-STDERR_TAIL_CHARS) : text
  return `; the end of its stderr: ${excerpt(tail, STDERR_TAIL_CHARS)}${tail === text ? '' : ` (the last ${STDERR_TAIL_CHARS} of ${text.length} characters)`}`
}

function declaredOutputs(outputs: unknown): TensorInfo[] {
  if (!Array.isArray(outputs)) return []
  return outputs.filter(isObject).map((o) => ({
    name: String(o.name ?? ''),
    dtype: typeof o.dtype === 'string' ? o.dtype : 'unknown',
    shape: Array.isArray(o.shape) ? o.shape.map((d) => (typeof d === 'number' || typeof d === 'string' ? d : -1)) : [-1],
  }))
}

/** Absent fields stay absent; anything else, list or not, is left for toPredictionBatch to check. */
function optionalList(v: unknown): unknown[] | undefined {
  return v === undefined || v === null ? undefined : (v as unknown[])
}

function isObject(v: unknown): v is Message {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** Quotes an argument the way a POSIX shell would need it, so the command line can be copied and run. */
function quoteArgument(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`
}

function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined
  const promise = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  return { promise, cancel: () => clearTimeout(timer) }
}
