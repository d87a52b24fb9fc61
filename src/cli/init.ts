import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { UserError, errorText } from '../core/errors.js'
import { initManifest } from '../core/manifest/init.js'
import { parseList, parseEnum, RUNNERS } from '../core/settings/index.js'
import { DEFAULT_MANIFEST } from '../core/manifest/load.js'
import { TOOL, VERSION } from '../version.js'
import type { CliIO } from './main.js'
import { answeredHelp, cliWorkspace, parseCommand } from './args.js'
import { ALLOW_OUTSIDE_WORKSPACE, displayPath } from '../core/workspace.js'

export const INIT_USAGE = `Usage: modelgate init --model <model> --data <file> --label <column> [options]

Writes a first manifest for a model and its data: the features in the model's order, the task and classes
(inferred by validating once), starter gates a little below what the model scores now, and the JSON Schema
line for editors. Never overwrites an existing file.

  --model <path|url|command>      the model (as for modelgate validate)
  --runner <onnx|command|http|predictions>
  --data <file>                   evaluation data (.csv, .jsonl, .parquet)
  --label <column>                label column
  --features <a,b,c>              feature columns in the model's order (default: inferred, as for validate)
  --config <file>                 where to write the manifest (default: ${DEFAULT_MANIFEST})
  --quiet                         print nothing but errors
  --allow-outside-workspace       allow paths outside the working directory
  --debug                         show stack traces
  -h, --help

Then: modelgate validate (it reads ${DEFAULT_MANIFEST} from the working directory).`

export async function runInit(args: string[], io: CliIO, setDebug: (d: boolean) => void): Promise<number> {
  const { values } = parseCommand('init', args, {
    model: { type: 'string' },
    runner: { type: 'string' },
    data: { type: 'string' },
    label: { type: 'string' },
    features: { type: 'string' },
    config: { type: 'string' },
    quiet: { type: 'boolean' },
    [ALLOW_OUTSIDE_WORKSPACE]: { type: 'boolean' },
  })
  if (answeredHelp(values, INIT_USAGE, io, setDebug)) return 0
  const str = (k: string) => (values[k] as string | undefined)?.trim() || undefined
  for (const required of ['model', 'data', 'label'])
    if (!str(required)) throw new UserError(`--${required} is required; see modelgate init --help`, { field: required })
  const out = str('config') ?? DEFAULT_MANIFEST
  const made = await initManifest({
    model: str('model')!,
    data: str('data')!,
    label: str('label')!,
    features: parseList(str('features')),
    runner: parseEnum(str('runner'), RUNNERS, '--runner'),
    out,
    cwd: io.cwd,
    workspace: cliWorkspace(io.cwd, values[ALLOW_OUTSIDE_WORKSPACE] === true),
    origin: (name) => `--${name}`,
    runnerEnv: io.runnerEnv,
    context: { tool: TOOL, version: VERSION, ...io.context },
    log: values.quiet ? undefined : (line) => io.stderr(line),
  })
  try {
    // 'wx': created here or not at all, so a file that appeared meanwhile is not overwritten either.
    mkdirSync(path.dirname(made.path), { recursive: true })
    writeFileSync(made.path, made.text, { flag: 'wx' })
  } catch (e) {
    throw new UserError(`${out}: cannot write the manifest (${errorText(e)})`, { file: out })
  }
  if (!values.quiet) {
    for (const w of made.result.warnings ?? []) io.stderr(`warning: ${w}`)
    io.stdout(
      `wrote ${displayPath(made.path, io.cwd)}: ${made.result.task}, ${made.result.features?.length ?? 0} features, ${made.text.split('\n').filter((l) => /^ {2}- \w+ [<>]=/.test(l)).length} starter gates. Next: modelgate validate${out === DEFAULT_MANIFEST ? '' : ` --config ${out}`}`,
    )
  }
  return 0
}
