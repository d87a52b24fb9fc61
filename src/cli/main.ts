import { parseArgs } from 'node:util'
import { UserError, errorText, isUserError, EXIT_INVALID_INPUT } from '../core/errors.js'
import { resolveSettings, type Settings } from '../core/settings.js'
import { validate } from '../core/validate/run.js'
import { runRobustness } from '../core/robustness/run.js'
import { checkOutputPaths, writeReportFiles } from '../core/validate/outputs.js'
import { exitCodeFor } from '../core/gates/evaluate.js'
import { readOverrides, readRobustnessOverrides, withRobustnessOverrides, type OptionSource } from '../core/overrides.js'
import type { RunnerEnvironment } from '../core/runners/index.js'
import type { RunContext, ValidationResult } from '../core/result/types.js'
import { renderSummary } from '../core/report/markdown.js'
import { writeFileAtomic } from '../core/files.js'
import { renderText } from './text.js'
import { TOOL, VERSION } from '../version.js'
import { runRegister, runRegistry } from './registry.js'
import { runServe } from './serve.js'
import { runDeploy } from './deploy.js'

/** The flags every command shares, in two runs around each command's own. */
const MODEL_FLAGS = `  --config <file>                 manifest (default: modelgate.yml if present)
  --model <path|url>              model: .onnx file, predictions file, or http(s) URL
  --runner <onnx|command|http|predictions>
  --data <file>                   evaluation data (.csv, .jsonl, .parquet)
  --label <column>                label column
  --features <a,b,c>              feature columns, in the model's order
  --task <binary|multiclass|regression>`

const OUTPUT_FLAGS = `  --fail-on <fail|warn|never>     which status exits 1 (default: fail)
  --batch-size <n>                rows per model call (default 1024)
  --header "Name: value"          repeatable: HTTP header for an http model (e.g. Authorization)
  --report <file.json>            write the result JSON
  --junit <file.xml>              write JUnit XML
  --summary <file.md>             write the Markdown summary (what the action puts in the job summary)
  --json                          print the result JSON instead of the text summary
  --quiet                         print nothing but errors
  --debug                         show stack traces
  -h, --help, --version`

export const VALIDATE_USAGE = `Usage: modelgate validate [options]

Validates a model on evaluation data: metrics, gates, report. Options override modelgate.yml.

${MODEL_FLAGS}
  --threshold <gate>              repeatable, e.g. --threshold "accuracy >= 0.9"
  --baseline <model|report.json>  what to compare with
  --reference-predictions <file>  source-framework predictions, for conversion parity
${OUTPUT_FLAGS}

Exit codes: 0 passed (warnings allowed), 1 a gate failed, 2 invalid input.`

export const ROBUSTNESS_USAGE = `Usage: modelgate robustness [options]

Tests a model on perturbed, shifted and hostile copies of its data: flip rates, degradation, directional
expectations, sensitivity, stress, determinism. Options override modelgate.yml and its robustness key.

${MODEL_FLAGS}
  --seed <n>                      seed of the row sample and every perturbation
  --rows <n>                      row budget: a seeded sample of this many rows (default 2000)
  --time-budget <seconds>         tests that would not fit are skipped (default 300)
${OUTPUT_FLAGS}

Exit codes: 0 passed (warnings allowed), 1 a test failed, 2 invalid input.`

export const USAGE = `Usage: modelgate <command> [options]

Commands:
  validate     metrics, gates and a report for a model on evaluation data
  robustness   perturbation, invariance, sensitivity and stress tests of a model
  register     record a version of a model, with its evidence, in a registry
  registry     list, show, promote or deprecate registered versions
  deploy       put a registered version in an environment, verify it, roll back on failure
  serve        serve an environment's versions over the Open Inference Protocol (the local target)

Run modelgate <command> --help for its options. Exit codes: 0 passed, 1 a check failed, 2 invalid input.`

export interface CliIO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  cwd: string
  runnerEnv?: RunnerEnvironment
  context?: Partial<Omit<RunContext, 'startedAt' | 'durationSeconds'>>
}

type RunOptions = {
  context: Omit<RunContext, 'startedAt' | 'durationSeconds'>
  runnerEnv?: RunnerEnvironment
  log?: (line: string) => void
}

/** What makes a command itself; everything else (flags, outputs, exit codes) the commands share. */
interface Command {
  usage: string
  /** The action whose report this is: names the JUnit suite. */
  action: string
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>
  /** Action input names whose flag differs (the repeatable ones). */
  flags: Record<string, string>
  settings?(settings: Settings, src: OptionSource): Settings
  run(settings: Settings, opts: RunOptions): Promise<ValidationResult>
}

const COMMON_OPTIONS = {
  config: { type: 'string' },
  model: { type: 'string' },
  runner: { type: 'string' },
  data: { type: 'string' },
  label: { type: 'string' },
  features: { type: 'string' },
  task: { type: 'string' },
  'fail-on': { type: 'string' },
  'batch-size': { type: 'string' },
  header: { type: 'string', multiple: true },
  report: { type: 'string' },
  junit: { type: 'string' },
  summary: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  debug: { type: 'boolean' },
} as const

const COMMANDS: Record<string, Command> = {
  validate: {
    usage: VALIDATE_USAGE,
    action: 'validate-model',
    options: { threshold: { type: 'string', multiple: true }, baseline: { type: 'string' }, 'reference-predictions': { type: 'string' } },
    flags: { thresholds: 'threshold', 'http-headers': 'header' },
    run: (settings, opts) => validate(settings, opts),
  },
  robustness: {
    usage: ROBUSTNESS_USAGE,
    action: 'test-robustness',
    options: { seed: { type: 'string' }, rows: { type: 'string' }, 'time-budget': { type: 'string' } },
    flags: { 'http-headers': 'header' },
    settings: (settings, src) => withRobustnessOverrides(settings, readRobustnessOverrides(src)),
    run: (settings, opts) => runRobustness(settings, opts),
  },
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
    if (command === 'register') return await runRegister(rest, io, (d) => (debug = d))
    if (command === 'registry') return await runRegistry(rest, io, (d) => (debug = d))
    if (command === 'serve') return await runServe(rest, io, (d) => (debug = d))
    if (command === 'deploy') return await runDeploy(rest, io, (d) => (debug = d))
    const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
    if (!spec) throw new UserError(`unknown command "${command}"; try: modelgate --help`)
    return await runCommand(command, spec, rest, io, (d) => (debug = d))
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

async function runCommand(name: string, spec: Command, args: string[], io: CliIO, setDebug: (d: boolean) => void): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>
  try {
    values = parseArgs({
      args,
      allowPositionals: false,
      options: { ...COMMON_OPTIONS, ...spec.options, help: { type: 'boolean', short: 'h' } },
    }).values
  } catch (e) {
    throw new UserError(`${errorText(e).replace(/\. To specify.*$/s, '')}; see modelgate ${name} --help`)
  }
  setDebug(Boolean(values.debug))
  if (values.help) {
    io.stdout(spec.usage)
    return 0
  }
  const str = (k: string) => values[k] as string | undefined
  // Flags carry the action's input names, but for the repeatable ones.
  const flag = (input: string) => spec.flags[input] ?? input
  const src: OptionSource = {
    value: (input) => values[flag(input)] as string | undefined,
    lines: (input) => values[flag(input)] as string[] | undefined,
    label: (input) => `--${flag(input)}`,
  }
  const resolved = resolveSettings(readOverrides(src), io.cwd)
  const settings = spec.settings ? spec.settings(resolved, src) : resolved
  const outputs = { reportPath: str('report'), junitPath: str('junit'), summaryPath: str('summary') }
  checkOutputPaths(outputs, { report: '--report', junit: '--junit', summary: '--summary' })
  const result = await spec.run(settings, {
    context: { tool: TOOL, version: VERSION, ...io.context },
    runnerEnv: io.runnerEnv,
    log: values.quiet || values.json ? undefined : (line) => io.stderr(line),
  })
  writeReportFiles(result, outputs, { action: spec.action })
  if (outputs.summaryPath) writeFileAtomic(outputs.summaryPath, renderSummary(result, { title: `modelgate ${name}: ${result.model.name}` }))
  if (values.json) io.stdout(JSON.stringify(result, null, 2))
  else if (!values.quiet) io.stdout(renderText(result))
  return exitCodeFor(result.status, settings.failOn)
}
