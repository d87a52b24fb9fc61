import { existsSync } from 'node:fs'
import path from 'node:path'
import { stringify } from 'yaml'
import { UserError } from '../errors.js'
import type { RunnerEnvironment } from '../runners/index.js'
import type { RunContext, ValidationResult } from '../result/types.js'
import { confine, confinementFor, type WorkspacePolicy } from '../workspace.js'
import { resolveSettings, type Overrides } from '../settings/index.js'
import { validate } from '../validate/run.js'
import { parseManifest } from './load.js'

export const SCHEMA_LINE = '# yaml-language-server: $schema=https://github.com/modelgate/modelgate/raw/main/schemas/modelgate.schema.json'

export interface InitOptions {
  model: string
  data: string
  label: string
  features?: string[]
  runner?: Overrides['runner']
  /** Where to write the manifest, relative to `cwd`. */
  out: string
  cwd: string
  /** Where the model, the data and the manifest may be (core/workspace.ts); undefined: anywhere. */
  workspace?: WorkspacePolicy
  /** How messages name an option: `--data` in the CLI. */
  origin?: (name: string) => string
  runnerEnv?: RunnerEnvironment
  context: Omit<RunContext, 'startedAt' | 'durationSeconds'>
  log?: (line: string) => void
}

/**
 * A first manifest for a model and its data, made by validating once: the features as the run used them,
 * the task and classes the model and the labels showed, and starter gates a little below what the model
 * scores now, so that the first `modelgate validate` passes and a regression does not.
 */
export async function initManifest(opts: InitOptions): Promise<{ path: string; text: string; result: ValidationResult }> {
  const out = path.resolve(opts.cwd, opts.out)
  if (opts.workspace) confine(out, confinementFor(opts.workspace, out), { field: '--config' })
  if (existsSync(out))
    throw new UserError(
      `${opts.out}: already exists; modelgate init never overwrites a manifest (move it away, or give --config <new file>)`,
      {
        file: opts.out,
      },
    )
  const settings = resolveSettings(
    {
      model: opts.model,
      data: opts.data,
      label: opts.label,
      features: opts.features,
      runner: opts.runner,
      ignoreManifest: true,
      workspace: opts.workspace,
      ...(opts.origin ? { origin: opts.origin } : {}),
    },
    opts.cwd,
  )
  const result = await validate(settings, { context: opts.context, runnerEnv: opts.runnerEnv, log: opts.log })
  const dir = path.dirname(out)
  const rel = (p: string) => path.relative(dir, path.resolve(opts.cwd, p)).split(path.sep).join('/') || '.'
  const features = result.features ?? []
  const classes = result.task === 'regression' ? undefined : result.data[0].confusionMatrix?.labels
  const gates = starterGates(result)
  const body: Record<string, unknown> = {
    name: path.basename(opts.model).replace(/\.[^.]+$/, ''),
    task: result.task,
    model: /^https?:\/\//i.test(opts.model) || opts.runner === 'command' ? opts.model : rel(opts.model),
    features,
    label: opts.label,
    ...(classes ? { classes } : {}),
    data: [{ name: path.basename(opts.data).replace(/\.[^.]+$/, ''), path: rel(opts.data) }],
    thresholds: gates.map((g) => g.line),
  }
  const yaml = stringify(body, { lineWidth: 0, flowCollectionPadding: false })
  const text = [
    SCHEMA_LINE,
    '# Written by modelgate init. Every key is described in the README ("The manifest") and in the schema above.',
    `# features: ${result.warnings?.length ? "taken in the data file's column order" : "the model's inputs"}; keep them in the model's input order.`,
    `# thresholds: starter gates a little below what the model scored on ${opts.data} at init:`,
    ...gates.map((g) => `#   ${g.metric} = ${g.measured}`),
    '# Tighten them, and add a baseline (the model in production) to gate on change: roc_auc >= baseline - 0.005.',
    yaml.trimEnd(),
    '',
  ].join('\n')
  // What init writes must load: the same parser as every run.
  parseManifest(text, opts.out)
  return { path: out, text, result }
}

/** Starter gates per task: a floor 0.02 below the measured value (rounded down), or a ceiling 10% above for errors. */
function starterGates(result: ValidationResult): { metric: string; measured: string; line: string }[] {
  const m = result.metrics
  const pick =
    result.task === 'regression'
      ? [
          ['r2', 'floor'],
          ['rmse', 'ceiling'],
        ]
      : result.task === 'binary'
        ? [
            ['accuracy', 'floor'],
            ['roc_auc', 'floor'],
            ['log_loss', 'ceiling-warn'],
          ]
        : [
            ['accuracy', 'floor'],
            ['f1_macro', 'floor'],
          ]
  const gates: { metric: string; measured: string; line: string }[] = []
  for (const [metric, kind] of pick) {
    const v = m[metric]
    if (typeof v !== 'number' || !Number.isFinite(v)) continue
    const measured = String(Number(v.toPrecision(6)))
    if (kind === 'floor') gates.push({ metric, measured, line: `${metric} >= ${Math.max(0, Math.floor((v - 0.02) * 100) / 100)}` })
    else {
      const bound = Number((Math.abs(v) * 1.1 + 1e-12).toPrecision(3))
      gates.push({ metric, measured, line: `${metric} <= ${bound}${kind === 'ceiling-warn' ? ' warn' : ''}` })
    }
  }
  return gates
}
