import path from 'node:path'
import { answeredHelp, cliWorkspace, flagSource, parseCommand } from './args.js'
import { ALLOW_OUTSIDE_WORKSPACE, confine, confinementFor, type WorkspacePolicy } from '../core/workspace.js'
import { UserError, errorText, isUserError, EXIT_INVALID_INPUT } from '../core/errors.js'
import {
  readOverrides,
  readRobustnessOverrides,
  resolveSettings,
  withRobustnessOverrides,
  type OptionSource,
  type Overrides,
  type Settings,
} from '../core/settings/index.js'
import { validate, validateShard } from '../core/validate/run.js'
import { expandShardFiles, shardFileName, shardStateText, type ShardState } from '../core/shard/state.js'
import { mergeShards } from '../core/shard/merge.js'
import { robustnessShard, runRobustness } from '../core/robustness/run.js'
import { checkOutputPaths, checkOutputsAgainstInputs, writeErrorJUnitFile, writeReportFiles } from '../core/validate/outputs.js'
import { predictionsPathFor } from '../core/validate/run.js'
import { StagedFiles, checkOutputPath } from '../core/files.js'
import { runInit } from './init.js'
import { exitCodeFor } from '../core/gates/evaluate.js'
import type { RunnerEnvironment } from '../core/runners/index.js'
import type { RunContext, ValidationResult } from '../core/result/types.js'
import { renderSummary } from '../core/report/markdown.js'
import { stripTerminalControls } from '../core/report/escape.js'
import { renderText } from './text.js'
import { TOOL, VERSION } from '../version.js'
import { scrub, scrubError, secrets } from '../core/secrets.js'
import { runRegister, runRegistry } from './registry.js'
import { runServe } from './serve.js'
import { runDeploy } from './deploy.js'
import { NO_PROGRESS, createProgress, runWithProgress, type Progress } from '../core/progress.js'

/** The flags every command shares, in two runs around each command's own. */
const MODEL_FLAGS = `  --config <file>                 manifest (default: modelgate.yml in the working directory, if present)
  --model <path|url|command>      model: an .onnx file, a predictions file (.csv, .jsonl, .parquet), an http(s)
                                  URL, or a command line with --runner command, e.g.
                                  --runner command --model "python3 model.py" (it speaks the JSON Lines protocol
                                  in the README's section "The command protocol")
  --runner <onnx|command|http|predictions>
                                  how to run the model (default: from --model)
  --data <file>                   evaluation data (.csv, .jsonl, .parquet)
  --label <column>                label column
  --features <a,b,c>              feature columns, in the model's order (default: an ONNX model's input names
                                  when it takes one input per column; for one N×W input, the W columns besides
                                  the label, in the file's order, with a warning)
  --task <binary|multiclass|regression>`

const OUTPUT_FLAGS = `  --fail-on <fail|warn|never>     which status exits 1 (default: fail)
  --batch-size <n>                rows per model call (default 1024)
  --header "Name: value"          repeatable: HTTP header for an http model (e.g. Authorization)
  --report <file.json>            write the result JSON
  --junit <file.xml>              write JUnit XML
  --summary <file.md>             write the Markdown summary (what the action puts in the job summary)
  --json                          print the result JSON instead of the text summary
  --quiet                         print nothing but errors
  --allow-outside-workspace       allow paths outside the working directory and the manifest's folder
  --debug                         show stack traces
  -h, --help, --version`

export const VALIDATE_USAGE = `Usage: modelgate validate [options]

Validates a model on evaluation data: metrics, gates, report. Options override modelgate.yml.

${MODEL_FLAGS}
  --threshold <gate>              repeatable, e.g. --threshold "accuracy >= 0.9"
  --baseline <what>               what to compare with: a model, a report.json, or a registered version:
                                  stage:prod, version:1.2.0, or production (the last stage of registry.promotion)
  --registry <uri>                where a registered baseline is (default: the manifest's registry.uri)
  --registry-token <token>        its token (default: $MODELGATE_REGISTRY_TOKEN, else $GITHUB_TOKEN for oci://ghcr.io)
  --reference-predictions <file>  source-framework predictions, for conversion parity
  --predictions <file.csv|.parquet>
                                  write the model's per-row predictions (row_index, id, label, probability_<class>
                                  or value); the predictions runner reads the file back as a model or a baseline
  --drift-reference <file>        compare each data set with this one for drift (the manifest's drift.reference)
  --shard <i/n>                   score only shard i of n (blocks of --batch-size rows dealt in turn) and write
                                  its state for modelgate merge instead of a verdict
  --shard-state <file.json>       where the shard's state goes (default: modelgate-shard-<i>-of-<n>.json)
${OUTPUT_FLAGS}

Exit codes: 0 passed (warnings allowed), 1 a gate failed, 2 invalid input.`

export const MERGE_USAGE = `Usage: modelgate merge [options] <shard state files or folders…>

Merges the states of a sharded run (modelgate validate or robustness --shard i/n, one per job of a matrix)
into the verdict one unsharded run gives: the same metrics, intervals, slices, tests and gates. Every shard
1..n must be given once, made with the same settings, model and data; a folder stands for every .json
beneath it. Give the same manifest and options as the shards; the models and data are not read again.

${MODEL_FLAGS}
  --threshold <gate>              repeatable, e.g. --threshold "accuracy >= 0.9"
  --baseline <what>               as the shards were given it
  --registry <uri>                as the shards were given it
  --reference-predictions <file>  as the shards were given it
  --seed, --rows, --time-budget   robustness: as the shards were given them
${OUTPUT_FLAGS}

Exit codes: 0 passed (warnings allowed), 1 a gate failed, 2 invalid input (a shard missing, given twice,
or made with other settings, model or data).`

export const ROBUSTNESS_USAGE = `Usage: modelgate robustness [options]

Tests a model on perturbed, shifted and hostile copies of its data: flip rates, degradation, directional
expectations, sensitivity, stress, determinism. Options override modelgate.yml and its robustness key.

${MODEL_FLAGS}
  --seed <n>                      seed of the row sample and every perturbation
  --rows <n>                      row budget: a seeded sample of this many rows (default 2000)
  --time-budget <seconds>         tests that would not fit are skipped (default 300)
  --shard <i/n>                   run only shard i of n of the tests (each on the whole sample) and write its
                                  state for modelgate merge instead of a verdict
  --shard-state <file.json>       where the shard's state goes
                                  (default: modelgate-robustness-shard-<i>-of-<n>.json)
  --baseline <what>               a model to compare flip rates with, on the same rows and perturbed inputs:
                                  a model file or URL, or a registered version: stage:prod, version:1.2.0, or
                                  production (the last stage of registry.promotion); gates such as
                                  "flip_rate <= baseline + 0.02" need one (a report.json cannot be perturbed)
  --registry <uri>                where a registered baseline is (default: the manifest's registry.uri)
  --registry-token <token>        its token (default: $MODELGATE_REGISTRY_TOKEN, else $GITHUB_TOKEN for oci://ghcr.io)
${OUTPUT_FLAGS}

Exit codes: 0 passed (warnings allowed), 1 a test failed, 2 invalid input.`

export const USAGE = `Usage: modelgate <command> [options]

Commands:
  init         write a first modelgate.yml for a model and its data (features, task, classes, starter gates)
  validate     metrics, gates and a report for a model on evaluation data
  merge        the verdict of a sharded validate or robustness run, from its shards' states
  robustness   perturbation, invariance, sensitivity and stress tests of a model
  register     record a version of a model, with its evidence, in a registry
  registry     list, show, promote or deprecate registered versions
  deploy       put a registered version in an environment, verify it, roll back on failure
  serve        serve an environment's versions over the Open Inference Protocol (the local target)

Run modelgate <command> --help for its options. Exit codes: 0 passed, 1 a check failed, 2 invalid input.`

/** stderr as a stream, for progress on long runs (src/core/progress.ts); without it, no progress is shown. */
export interface ProgressStream {
  /** A terminal, where one line can be rewritten in place (and not a CI log). */
  isTTY: boolean
  /** Writes raw text: no line end is added. */
  write: (text: string) => void
  /** The terminal's width. */
  columns?: number
  /** The progress lines' clock, in milliseconds (default performance.now; tests pass a fake one). */
  now?: () => number
}

export interface CliIO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  /** Progress of long runs: on a terminal, one line updated in place; otherwise a line every few seconds on stderr. */
  progress?: ProgressStream
  cwd: string
  runnerEnv?: RunnerEnvironment
  context?: Partial<Omit<RunContext, 'startedAt' | 'durationSeconds'>>
}

type RunOptions = {
  context: Omit<RunContext, 'startedAt' | 'durationSeconds'>
  /** merge: the shards' state files. */
  files: string[]
  runnerEnv?: RunnerEnvironment
  log?: (line: string) => void
  predictionsPath?: string
  staged?: StagedFiles
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
  /** With --shard: one shard's state instead of a verdict; commands without it refuse --shard. */
  shard?(settings: Settings, opts: RunOptions): Promise<ShardState>
  /** The default state file is `<shardPrefix>-<i>-of-<n>.json` (default prefix modelgate-shard). */
  shardPrefix?: string
  /** Takes the shards' state files as arguments (merge). */
  positionals?: boolean
  /** The action whose report the result is, when it depends on the result (merge: validate's or robustness's). */
  actionFor?(result: ValidationResult): string
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
  [ALLOW_OUTSIDE_WORKSPACE]: { type: 'boolean' },
  registry: { type: 'string' },
  'registry-token': { type: 'string' },
} as const

/** validate's own flags, which its merge takes too (the shards' settings must be given again). */
const VALIDATE_OPTIONS = {
  threshold: { type: 'string', multiple: true },
  baseline: { type: 'string' },
  'reference-predictions': { type: 'string' },
} as const

const COMMANDS: Record<string, Command> = {
  validate: {
    usage: VALIDATE_USAGE,
    action: 'validate-model',
    options: {
      ...VALIDATE_OPTIONS,
      predictions: { type: 'string' },
      'drift-reference': { type: 'string' },
      shard: { type: 'string' },
      'shard-state': { type: 'string' },
    },
    flags: { thresholds: 'threshold', 'http-headers': 'header' },
    run: (settings, opts) => validate(settings, opts),
    shard: (settings, opts) => validateShard(settings, { ...opts, tool: { name: TOOL, version: VERSION } }),
  },
  merge: {
    usage: MERGE_USAGE,
    action: 'validate-model',
    options: {
      ...VALIDATE_OPTIONS,
      seed: { type: 'string' },
      rows: { type: 'string' },
      'time-budget': { type: 'string' },
    },
    flags: { thresholds: 'threshold', 'http-headers': 'header' },
    positionals: true,
    settings: (settings, src) => withRobustnessOverrides(settings, readRobustnessOverrides(src)),
    run: (settings, opts) => mergeShards(settings, opts.files, opts),
    actionFor: (result) => (result.robustness ? 'test-robustness' : 'validate-model'),
  },
  robustness: {
    usage: ROBUSTNESS_USAGE,
    action: 'test-robustness',
    options: {
      seed: { type: 'string' },
      rows: { type: 'string' },
      'time-budget': { type: 'string' },
      baseline: { type: 'string' },
      shard: { type: 'string' },
      'shard-state': { type: 'string' },
    },
    flags: { 'http-headers': 'header' },
    settings: (settings, src) => withRobustnessOverrides(settings, readRobustnessOverrides(src)),
    run: (settings, opts) => runRobustness(settings, opts),
    shard: (settings, opts) => robustnessShard(settings, { ...opts, tool: { name: TOOL, version: VERSION } }),
    shardPrefix: 'modelgate-robustness-shard',
  },
}

/**
 * `modelgate …` as a function of argv: returns the exit code, prints through `io`. Everything printed, on
 * stdout and stderr, is scrubbed of the registered secrets (core/secrets.ts): header values and their
 * parts, URL userinfo in any argument, `${VAR}` values substituted into manifest headers.
 */
export async function runCli(argv: string[], given: CliIO): Promise<number> {
  for (const arg of argv) secrets.addUrl(arg)
  // What came from data, servers or files can neither drive the terminal nor leak a credential.
  const io: CliIO = {
    ...given,
    stdout: (text) => given.stdout(stripTerminalControls(scrub(text))),
    stderr: (text) => given.stderr(stripTerminalControls(scrub(text))),
  }
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
    if (command === 'init') return await runInit(rest, io, (d) => (debug = d))
    if (command === 'register') return await runRegister(rest, io, (d) => (debug = d))
    if (command === 'registry') return await runRegistry(rest, io, (d) => (debug = d))
    if (command === 'serve') return await runServe(rest, io, (d) => (debug = d))
    if (command === 'deploy') return await runDeploy(rest, io, (d) => (debug = d))
    const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
    if (!spec) throw new UserError(`unknown command "${command}"; try: modelgate --help`)
    return await runCommand(command, spec, rest, io, (d) => (debug = d))
  } catch (caught) {
    // Its message may quote a server, a child process or a file; scrubbed here as well as by io.
    const e = scrubError(caught)
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

/** A registry baseline's token: the flag, else $MODELGATE_REGISTRY_TOKEN (kept out of shell history); $GITHUB_TOKEN for ghcr.io. */
function registryCredentials(o: Overrides): Overrides {
  const token = o.registryToken ?? process.env.MODELGATE_REGISTRY_TOKEN
  for (const t of [token, process.env.GITHUB_TOKEN]) if (t) secrets.add(t)
  return {
    ...o,
    ...(token ? { registryToken: token } : {}),
    ...(process.env.GITHUB_TOKEN ? { githubToken: process.env.GITHUB_TOKEN } : {}),
  }
}

/** Progress on the CLI's stderr: in place on a terminal, else plain lines (scrubbed as every line is). */
function cliProgress(io: CliIO): Progress {
  const stream = io.progress
  if (!stream) return NO_PROGRESS
  return stream.isTTY
    ? createProgress(
        {
          tty: true,
          write: (text) => stream.write(text),
          get columns() {
            return stream.columns
          },
        },
        { now: stream.now },
      )
    : createProgress({ tty: false, write: (line) => io.stderr(line) }, { now: stream.now })
}

/** The run's progress and log lines on stderr; neither with --quiet or --json. */
function cliLogging(values: Record<string, unknown>, io: CliIO): { progress: Progress; log?: (line: string) => void } {
  if (values.quiet || values.json) return { progress: NO_PROGRESS }
  const progress = cliProgress(io)
  // A log line goes on a line of its own: the progress line is cleared first.
  return {
    progress,
    log: (line) => {
      progress.clear()
      io.stderr(line)
    },
  }
}

async function runCommand(name: string, spec: Command, args: string[], io: CliIO, setDebug: (d: boolean) => void): Promise<number> {
  const { values, positionals } = parseCommand(name, args, { ...COMMON_OPTIONS, ...spec.options }, { positionals: spec.positionals })
  if (answeredHelp(values, spec.usage, io, setDebug)) return 0
  const str = (k: string) => values[k] as string | undefined
  // Flags carry the action's input names, but for the repeatable ones.
  const src = flagSource(values, spec.flags)
  // Relative outputs are resolved where relative inputs are: from the working directory.
  const at = (k: string) => (str(k) ? path.resolve(io.cwd, str(k)!) : undefined)
  const outputs = { reportPath: at('report'), junitPath: at('junit'), summaryPath: at('summary') }
  const predictionsPath = str('predictions')
  const workspace = cliWorkspace(io.cwd, values[ALLOW_OUTSIDE_WORKSPACE] === true)
  const startedAt = new Date()
  // Every output of the run is staged and moved into place together, or none is.
  const staged = new StagedFiles()
  try {
    const resolved = resolveSettings({ ...registryCredentials(readOverrides(src)), workspace, env: process.env }, io.cwd)
    const settings = spec.settings ? spec.settings(resolved, src) : resolved
    if (settings.shard) return await runShard(name, spec, settings, { values, io, staged, predictionsPath, workspace })
    const files = spec.positionals ? shardFiles(positionals, io.cwd, workspace) : []
    const predictionFiles = predictionsPath
      ? settings.data.map((d) => predictionsPathFor(path.resolve(io.cwd, predictionsPath), d.name, settings.data.length))
      : []
    // Confinement and inputs first: checking that an output can be written creates its folder.
    checkOutputsAgainstInputs(
      [
        { path: outputs.reportPath, label: '--report' },
        { path: outputs.junitPath, label: '--junit' },
        { path: outputs.summaryPath, label: '--summary' },
        ...predictionFiles.map((p) => ({ path: p, label: '--predictions' })),
      ],
      settings,
      files,
    )
    checkOutputPaths(outputs, { report: '--report', junit: '--junit', summary: '--summary' })
    for (const p of predictionFiles) checkOutputPath(p, '--predictions')
    const { progress, log } = cliLogging(values, io)
    let result: ValidationResult
    try {
      result = await runWithProgress(progress, () =>
        spec.run(settings, {
          context: { tool: TOOL, version: VERSION, ...io.context },
          runnerEnv: io.runnerEnv,
          log,
          predictionsPath: predictionsPath && path.resolve(io.cwd, predictionsPath),
          staged,
          files,
        }),
      )
    } finally {
      progress.close()
    }
    writeReportFiles(result, outputs, { action: spec.actionFor?.(result) ?? spec.action, staged })
    if (outputs.summaryPath) staged.write(outputs.summaryPath, renderSummary(result, { title: `modelgate ${name}: ${result.model.name}` }))
    staged.commit()
    // The text output carries the warnings; with --json they go to stderr, where a person still sees them.
    if (values.json && !values.quiet) for (const w of result.warnings ?? []) io.stderr(`warning: ${w}`)
    if (values.json) io.stdout(JSON.stringify(result, null, 2))
    else if (!values.quiet) io.stdout(renderText(result))
    return exitCodeFor(result.status, settings.failOn)
  } catch (e) {
    staged.abort()
    if (outputs.junitPath)
      writeErrorJUnitFile(path.resolve(io.cwd, outputs.junitPath), {
        action: spec.action,
        error: e,
        startedAt,
        cwd: io.cwd,
        manifest: str('config'),
        confinement: confinementFor(workspace, str('config') && path.resolve(io.cwd, str('config')!)),
      })
    throw e
  }
}

/** merge's arguments: at least one, each a file or folder inside the workspace (unless opted out). */
function shardFiles(positionals: string[], cwd: string, workspace: WorkspacePolicy): string[] {
  if (positionals.length === 0)
    throw new UserError("merge: give the shards' state files (or the folder they were downloaded to), e.g. modelgate merge shards/")
  const files = expandShardFiles(positionals, cwd)
  const rule = confinementFor(workspace)
  for (const f of files) confine(f, rule, { field: 'merge' })
  if (files.length === 0) throw new UserError(`merge: no .json files in ${positionals.join(', ')}`)
  return files
}

/** One shard of a sharded run: its state file, written atomically; a verdict is the merge's to give. */
async function runShard(
  name: string,
  spec: Command,
  settings: Settings,
  ctx: { values: Record<string, unknown>; io: CliIO; staged: StagedFiles; predictionsPath?: string; workspace: WorkspacePolicy },
): Promise<number> {
  const { values, io, staged } = ctx
  for (const flag of ['report', 'junit', 'summary'])
    if (values[flag] !== undefined)
      throw new UserError(`--${flag}: a shard writes its state (--shard-state), not a report; give --${flag} to modelgate merge`, {
        field: `--${flag}`,
      })
  const shard = settings.shard!
  const statePath = path.resolve(io.cwd, (values['shard-state'] as string | undefined) ?? shardFileName(shard, spec.shardPrefix))
  const predictionFiles = ctx.predictionsPath
    ? settings.data.map((d) => predictionsPathFor(path.resolve(io.cwd, ctx.predictionsPath!), d.name, settings.data.length))
    : []
  checkOutputsAgainstInputs(
    [{ path: statePath, label: '--shard-state' }, ...predictionFiles.map((p) => ({ path: p, label: '--predictions' }))],
    settings,
  )
  checkOutputPath(statePath, '--shard-state')
  const { progress, log } = cliLogging(values, io)
  try {
    const state = await runWithProgress(progress, () =>
      spec.shard!(settings, {
        context: { tool: TOOL, version: VERSION, ...io.context },
        runnerEnv: io.runnerEnv,
        log,
        predictionsPath: ctx.predictionsPath && path.resolve(io.cwd, ctx.predictionsPath),
        staged,
        files: [],
      }),
    )
    staged.write(statePath, shardStateText(state))
    staged.commit()
    const shown = path.relative(io.cwd, statePath) || statePath
    const scored = state.data
      .map((d) => `${d.name}: ${d.scored.toLocaleString('en-US')} of ${d.rows.toLocaleString('en-US')} rows`)
      .join('; ')
    if (values.json) io.stdout(JSON.stringify({ shard: `${shard.index}/${shard.count}`, state: shown, data: state.data }, null, 2))
    else if (!values.quiet)
      io.stdout(`shard ${shard.index}/${shard.count}: ${scored}; state written to ${shown} (merge the shards with modelgate merge)`)
    return 0
  } catch (e) {
    staged.abort()
    throw e
  } finally {
    progress.close()
  }
}
