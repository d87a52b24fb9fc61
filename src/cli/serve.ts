import path from 'node:path'
import { answeredHelp, parseCommand } from './args.js'
import { readFileSync, rmSync } from 'node:fs'
import { UserError, errorText } from '../core/errors.js'
import { servesState } from '../core/deploy/targets/local.js'
import { writeFileAtomic } from '../core/files.js'
import { parsePositiveInt } from '../core/settings/index.js'
import { startInferenceServer } from '../core/serve/server.js'
import type { CliIO } from './main.js'

export const SERVE_USAGE = `Usage: modelgate serve --state <file> [options]

Serves the versions an environment's state file names over the Open Inference Protocol (KServe V2),
hot-swapping when the file changes and splitting traffic for a canary. deploy-model's local target
writes the state file and starts this server itself; run it by hand to serve an environment yourself.

  --state <file>                  the environment state (.modelgate/environments/<name>/<env>/state.json)
  --port <n>                      port (default 8080; 0: any free port)
  --host <address>                address to listen on (default 127.0.0.1)
  --info <file>                   write {pid, port, url} here once listening (removed on exit;
                                  default: server.json beside the state file)
  --stop                          stop the server running for --state (deploy-model's local target starts one)
  --debug, -h, --help

Endpoints: /v2/health/{live,ready}, /v2/models/<name>[/versions/<v>][/ready|/infer], and
/v2/models/<name>/modelgate (applied generation, digest and traffic share per version).`

/** `modelgate serve`: runs until SIGTERM or SIGINT, then drains requests in progress. */
export async function runServe(args: string[], io: CliIO, setDebug: (d: boolean) => void): Promise<number> {
  const { values } = parseCommand('serve', args, {
    state: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    info: { type: 'string' },
    stop: { type: 'boolean' },
  })
  if (answeredHelp(values, SERVE_USAGE, io, setDebug)) return 0
  if (!values.state) throw new UserError('--state is required; see modelgate serve --help', { field: '--state' })
  const portText = values.port as string | undefined
  const port = portText === '0' ? 0 : (parsePositiveInt(portText, '--port') ?? 8080)
  const stateFile = path.resolve(io.cwd, values.state as string)
  const info = path.resolve(io.cwd, (values.info as string | undefined) ?? path.join(path.dirname(stateFile), 'server.json'))
  if (values.stop) return stopServer(info, stateFile, io)
  const server = await startInferenceServer({
    stateFile,
    port,
    host: (values.host as string | undefined) ?? '127.0.0.1',
    wasmDir: io.runnerEnv?.wasmDir,
    log: (line) => io.stderr(line),
  })
  writeFileAtomic(info, `${JSON.stringify({ pid: process.pid, port: server.port, url: server.url })}\n`)
  io.stderr(`modelgate serve: ${server.url} (state ${stateFile})`)
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  rmSync(info, { force: true })
  await server.close()
  return 0
}

/** What a server.json must hold for `--stop` to act on it. */
function readServerInfo(info: string): { pid: number; url: string } | undefined {
  let text: string
  try {
    text = readFileSync(info, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new UserError(`${info}: cannot read the server info (${errorText(e)})`, { file: info })
  }
  // The text is not quoted: it is a workspace file, and could hold anything.
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UserError(`${info}: is not valid JSON; modelgate serve writes {"pid", "port", "url"} there`, { file: info })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UserError(
      `${info}: expected an object {"pid", "port", "url"}, found ${Array.isArray(parsed) ? 'an array' : describe(parsed)}`,
      {
        file: info,
      },
    )
  const { pid, url } = parsed as { pid?: unknown; url?: unknown }
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0)
    throw new UserError(`${info}: pid: expected the server's process id (a positive whole number), found ${describe(pid)}`, {
      file: info,
      field: 'pid',
    })
  if (typeof url !== 'string' || !/^https?:\/\/[^\s/]+/i.test(url))
    throw new UserError(`${info}: url: expected the server's http URL, found ${describe(url)}`, { file: info, field: 'url' })
  return { pid, url: url.replace(/\/+$/, '') }
}

const describe = (v: unknown) => (v === undefined ? 'no value' : JSON.stringify(v).slice(0, 60))

/**
 * Stops the server `info` names, once it is sure that process is the server: something answers at
 * its URL, and the pid runs `modelgate serve` for this state file. A server.json is a workspace file
 * (a pull request can write one): a pid that is some other process is refused, not signalled.
 */
async function stopServer(info: string, stateFile: string, io: CliIO): Promise<number> {
  const server = readServerInfo(info)
  if (!server) {
    io.stderr(`modelgate serve: no server is running (${info} not found)`)
    return 0
  }
  const live = async () => {
    try {
      return (await fetch(`${server.url}/v2/health/live`, { signal: AbortSignal.timeout(2000) })).ok
    } catch {
      return false
    }
  }
  if (!(await live())) {
    rmSync(info, { force: true })
    io.stderr(`modelgate serve: the server at ${server.url} was not running`)
    return 0
  }
  const serves = servesState(server.pid, stateFile)
  if (serves !== true) {
    throw new UserError(
      serves === false
        ? `${info}: pid: process ${server.pid} is not modelgate serve for ${stateFile}; not signalling it (stop the server at ${server.url} yourself)`
        : `${info}: pid: this system cannot tell whether process ${server.pid} is modelgate serve for ${stateFile}; not signalling it (stop the server at ${server.url} yourself)`,
      { file: info, field: 'pid' },
    )
  }
  try {
    process.kill(server.pid, 'SIGTERM')
  } catch {
    // ESRCH: it exited between the check and the signal.
  }
  for (let i = 0; i < 150 && (await live()); i++) await new Promise((r) => setTimeout(r, 100))
  io.stderr(`modelgate serve: stopped ${server.url} (pid ${server.pid})`)
  return 0
}
