import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { UserError } from '../../core/errors.js'
import { parseList } from '../../core/options.js'
import type { ActionIO } from '../../ports/io.js'
import { runValidateAction } from '../validate-model/main.js'
import { runRobustnessAction } from '../test-robustness/main.js'
import { runRegisterAction } from '../register-version/main.js'
import { runDeployAction } from '../deploy-model/main.js'
import { actionWorkspace, reportActionError, type ActionDeps } from '../shared.js'
import { ALLOW_OUTSIDE_WORKSPACE, confine, confinementFor } from '../../core/workspace.js'

/*
 * The root action: the whole lifecycle from one manifest. It runs the stages a workflow asks for
 * (e.g. `validate,robustness` on pull requests, `validate,robustness,register` on main, `deploy` on a
 * release), each through the very action code the sub-actions run, and hands each stage's results to
 * the next: the reports become the register stage's evidence, the registered version is what the
 * deploy stage deploys. A stage that fails stops the ones after it.
 */

export const ACTION = 'modelgate'
export const STAGES = ['validate', 'robustness', 'register', 'deploy'] as const
type Stage = (typeof STAGES)[number]

const RUNNERS: Record<Stage, (deps: ActionDeps) => Promise<number>> = {
  validate: runValidateAction,
  robustness: runRobustnessAction,
  register: runRegisterAction,
  deploy: runDeployAction,
}

/** The pipeline's outputs: each stage's under its own prefix; register's and deploy's best-known names kept plain. */
const OUTPUT_NAMES: Record<Stage, Record<string, string>> = {
  validate: { status: 'validate-status', metrics: 'metrics', 'report-path': 'validate-report' },
  robustness: { status: 'robustness-status', 'flip-rate': 'flip-rate', 'report-path': 'robustness-report' },
  register: { version: 'version', digest: 'digest', uri: 'uri', tag: 'tag', created: 'created', 'report-path': 'register-report' },
  deploy: { status: 'deploy-status', url: 'url', 'rolled-back': 'rolled-back', 'report-path': 'deploy-report', version: 'version' },
}

export function parseStages(text: string | undefined): Stage[] {
  const items = parseList(text) ?? ['validate']
  const out: Stage[] = []
  for (const item of items) {
    if (!(STAGES as readonly string[]).includes(item)) {
      throw new UserError(`input stages: unknown stage '${item}'; use ${STAGES.join(', ')} (comma-separated, in that order)`, {
        field: 'stages',
      })
    }
    if (out.includes(item as Stage)) throw new UserError(`input stages: '${item}' is listed twice`, { field: 'stages' })
    out.push(item as Stage)
  }
  const order = out.map((s) => STAGES.indexOf(s))
  if (order.some((o, i) => i > 0 && o < order[i - 1]!)) {
    throw new UserError(`input stages: '${items.join(',')}' is out of order; stages run as ${STAGES.join(' → ')}`, { field: 'stages' })
  }
  return out
}

/**
 * The root inputs a stage sees, with the pipeline's own values laid over: per-stage report paths in
 * one folder, and what the earlier stages produced.
 */
function stageIO(
  io: ActionIO,
  stage: Stage,
  given: Record<string, string>,
  outputs: Map<string, string>,
  failed: (message: string) => void,
): ActionIO {
  return {
    ...io,
    getInput: (name) => (Object.hasOwn(given, name) ? given[name]! : io.getInput(name)),
    setOutput: (name, value) => {
      outputs.set(name, value)
      const exposed = OUTPUT_NAMES[stage][name]
      if (exposed) io.setOutput(exposed, value)
    },
    // A stage's failure is the pipeline's to report, once, after deciding what runs next.
    setFailed: (message) => {
      failed(message)
      io.warning(`${stage}: ${message}`)
    },
  }
}

export async function runPipelineAction(deps: ActionDeps): Promise<number> {
  const { io } = deps
  try {
    const stages = parseStages(io.getInput('stages'))
    // Found out now, not after validating and registering: the deploy stage cannot run without it.
    if (stages.includes('deploy') && !io.getInput('environment').trim()) {
      throw new UserError('input environment is required when stages include deploy (e.g. environment: staging); no stage was run', {
        field: 'environment',
      })
    }
    const dir = io.getInput('report-dir').trim() || 'modelgate-reports'
    // Checked as the pipeline's own input, before any stage: a stage would name it by its report-path.
    const reportDir = path.resolve(deps.workspace, dir)
    const allowOutside = io.getInput(ALLOW_OUTSIDE_WORKSPACE).trim().toLowerCase() === 'true'
    confine(reportDir, confinementFor(actionWorkspace(deps.workspace, allowOutside)), { field: 'input report-dir' })
    if (existsSync(reportDir) && !statSync(reportDir).isDirectory())
      throw new UserError(`input report-dir: ${dir} is a file; give a folder for the stages' reports`, { field: 'report-dir' })
    const report = (name: string) => path.join(dir, `${name}.json`)
    const produced: Partial<Record<Stage, Map<string, string>>> = {}
    for (const stage of stages) {
      const given: Record<string, string> = { 'report-path': report(stage) }
      if (stage === 'robustness') given['junit-path'] = ''
      // A registered baseline is read from the same registry, with the same token, as register and deploy use.
      if (stage === 'validate' || stage === 'robustness') given['registry-token'] = io.getInput('token')
      if (stage === 'register') {
        const evidence = [produced.validate?.get('report-path'), produced.robustness?.get('report-path')].filter((p): p is string => !!p)
        if (evidence.length > 0) given.evidence = [io.getInput('evidence'), ...evidence].filter(Boolean).join('\n')
        // The pipeline's `stage` input is the stage the deploy starts from; register's stage is register-stage.
        given.stage = io.getInput('register-stage')
        // Its `version` input is the version to deploy; the register stage numbers the version itself.
        given.version = ''
      }
      if (stage === 'deploy') {
        const version = produced.register?.get('version')
        if (version) {
          given.version = version
          given.stage = ''
        }
      }
      const outputs = new Map<string, string>()
      produced[stage] = outputs
      io.info(`modelgate: stage ${stage}`)
      let why = ''
      const code = await RUNNERS[stage]({ ...deps, io: stageIO(io, stage, given, outputs, (m) => (why ||= m)) })
      if (code !== 0) {
        const later = stages.slice(stages.indexOf(stage) + 1)
        io.setOutput('status', code === 2 ? 'error' : 'fail')
        // Invalid input: the stage's own message is the cause, and the error annotation must carry it.
        const cause = code === 2 && why ? `: ${why}` : ''
        io.setFailed(
          `modelgate: the ${stage} stage ${code === 2 ? 'could not run (invalid input)' : 'failed'}${cause}${later.length ? `; not run: ${later.join(', ')}` : ''}`,
          code,
        )
        return code
      }
    }
    io.setOutput('status', 'pass')
    return 0
  } catch (e) {
    return reportActionError(io, ACTION, e)
  }
}
