import { parseArgs } from 'node:util'
import { UserError, errorText, isUserError, EXIT_INVALID_INPUT } from '../core/errors.js'
import { resolveSettings } from '../core/settings.js'
import { validate } from '../core/validate/run.js'
import { checkOutputPaths, writeReportFiles } from '../core/validate/outputs.js'
import { exitCodeFor } from '../core/gates/evaluate.js'
import { readOverrides } from '../core/overrides.js'
import type { RunnerEnvironment } from '../core/runners/index.js'
import type { RunContext } from '../core/result/types.js'
import { renderSummary } from '../core/report/markdown.js'
import { writeFileAtomic } from '../core/files.js'
import { renderText } from './text.js'
import { TOOL, VERSION } from '../version.js'

export const USAGE = `Usage: modelgate validate [options]

Validates a model on evaluation data: metrics, gates, report. Options override modelgate.yml.

  --config <file>                 manifest (default: modelgate.yml if present)
  --model <path|url>              model: .onnx file, predictions file, or http(s) URL
  --runner <onnx|command|http|predictions>
  --data <file>                   evaluation data (.csv, .jsonl, .parquet)
  --label <column>                label column
  --features <a,b,c>              feature columns, in the model's order
  --task <binary|multiclass|regression>
  --threshold <gate>              repeatable, e.g. --threshold "accuracy >= 0.9"
  --baseline <model|report.json>  what to compare with
  --reference-predictions <file>  source-framework predictions, for conversion parity
  --fail-on <fail|warn|never>     which status exits 1 (default: fail)
  --batch-size <n>                rows per model call (default 1024)
  --header "Name: value"          repeatable: HTTP header for an http model (e.g. Authorization)
  --report <file.json>            write the result JSON
  --junit <file.xml>              write JUnit XML
  --summary <file.md>             write the Markdown summary (what the action puts in the job summary)
  --json                          print the result JSON instead of the text summary
  --quiet                         print nothing but errors
  --debug                         show stack traces
  -h, --help, --version

Exit codes: 0 passed (warnings allowed), 1 a gate failed, 2 invalid input.`

export interface CliIO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  cwd: string
  runnerEnv?: RunnerEnvironment
  context?: Partial<Omit<RunContext, 'startedAt' | 'durationSeconds'>>
}

/** `modelgate …` as a function of argv: returns the exit code, prints through `io`. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let debug = argv.includes('--debug')
  try {
    const [command, ...rest] = argv
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      io.stdout(USAGE)
      return command === undefined ? EXIT_INVALID_INPUT : 0
    }
    if (command === '--version' || command === '-v') {
      io.stdout(VERSION)
      return 0
    }
    if (command !== 'validate') throw new UserError(`unknown command "${command}"; try: modelgate validate --help`)
    return await validateCommand(rest, io, (d) => (debug = d))
  } catch (e) {
    if (isUserError(e)) {
      io.stderr(`modelgate: ${e.message}`)
      if (debug && e.stack) io.stderr(e.stack)
      return EXIT_INVALID_INPUT
    }
    io.stderr(`modelgate: internal error: ${errorText(e)}`)
    io.stderr((e as Error)?.stack ?? '')
    return 1
  }
}

async function validateCommand(args: string[], io: CliIO, setDebug: (d: boolean) => void): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>
  try {
    values = parseArgs({
      args,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        model: { type: 'string' },
        runner: { type: 'string' },
        data: { type: 'string' },
        label: { type: 'string' },
        features: { type: 'string' },
        task: { type: 'string' },
        threshold: { type: 'string', multiple: true },
        baseline: { type: 'string' },
        'reference-predictions': { type: 'string' },
        'fail-on': { type: 'string' },
        'batch-size': { type: 'string' },
        header: { type: 'string', multiple: true },
        report: { type: 'string' },
        junit: { type: 'string' },
        summary: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        debug: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
  } catch (e) {
    throw new UserError(`${errorText(e).replace(/\. To specify.*$/s, '')}; see modelgate validate --help`)
  }
  setDebug(Boolean(values.debug))
  if (values.help) {
    io.stdout(USAGE)
    return 0
  }
  const str = (k: string) => values[k] as string | undefined
  // Flags carry the action's input names, but for the two repeatable ones.
  const flag = (name: string) => ({ thresholds: 'threshold', 'http-headers': 'header' })[name] ?? name
  const overrides = readOverrides({
    value: (name) => values[flag(name)] as string | undefined,
    lines: (name) => values[flag(name)] as string[] | undefined,
    label: (name) => `--${flag(name)}`,
  })
  const settings = resolveSettings(overrides, io.cwd)
  const outputs = { reportPath: str('report'), junitPath: str('junit'), summaryPath: str('summary') }
  checkOutputPaths(outputs, { report: '--report', junit: '--junit', summary: '--summary' })
  const result = await validate(settings, {
    context: { tool: TOOL, version: VERSION, ...io.context },
    runnerEnv: io.runnerEnv,
    log: values.quiet || values.json ? undefined : (line) => io.stderr(line),
  })
  writeReportFiles(result, outputs)
  if (outputs.summaryPath)
    writeFileAtomic(outputs.summaryPath, renderSummary(result, { title: `modelgate validate: ${result.model.name}` }))
  if (values.json) io.stdout(JSON.stringify(result, null, 2))
  else if (!values.quiet) io.stdout(renderText(result))
  return exitCodeFor(result.status, settings.failOn)
}
