import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { UserError } from '../../core/errors.js'
import type { ActionIO } from '../../ports/io.js'
import { validateSpec } from '../validate-model/main.js'
import { robustnessSpec } from '../test-robustness/main.js'
import { registerSpec } from '../register-version/main.js'
import { deploySpec } from '../deploy-model/main.js'
import { runAction, type ActionDeps, type ActionSpec, type FrameInputs } from '../frame.js'
import { confine, confinementFor } from '../../core/workspace.js'
import { readPipelineInputs, type PipelineInputs, type Stage } from './inputs.js'

export { STAGES, parseStages } from './inputs.js'

/*
 * The root action: the whole lifecycle from one manifest. It runs the stages a workflow asks for
 * (e.g. `validate,robustness` on pull requests, `validate,robustness,register` on main, `deploy` on a
 * release), each through the very spec its sub-action runs, in the same frame, and hands each stage's
 * results to the next: the reports become the register stage's evidence, the registered version is what
 * the deploy stage deploys. A stage that fails stops the ones after it.
 */

export const ACTION = 'modelgate'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each stage's spec has its own inputs and result
const SPECS: Record<Stage, ActionSpec<FrameInputs, any>> = {
  validate: validateSpec,
  robustness: robustnessSpec,
  register: registerSpec,
  deploy: deploySpec,
}

/** The pipeline's outputs: each stage's under its own prefix; register's and deploy's best-known names kept plain. */
const OUTPUT_NAMES: Record<Stage, Record<string, string>> = {
  validate: { status: 'validate-status', metrics: 'metrics', 'report-path': 'validate-report' },
  robustness: { status: 'robustness-status', 'flip-rate': 'flip-rate', 'report-path': 'robustness-report' },
  register: { version: 'version', digest: 'digest', uri: 'uri', tag: 'tag', created: 'created', 'report-path': 'register-report' },
  deploy: { status: 'deploy-status', url: 'url', 'rolled-back': 'rolled-back', 'report-path': 'deploy-report', version: 'version' },
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

/** Where the pipeline stopped: the stage, its exit code and its message; none when every stage passed. */
interface PipelineRun {
  stopped?: { stage: Stage; code: number; why: string; later: Stage[] }
}

/** The stages' own inputs, from the pipeline's and the stages before. */
function stageInputs(stage: Stage, inputs: PipelineInputs, report: string, produced: Partial<Record<Stage, Map<string, string>>>) {
  const given: Record<string, string> = { 'report-path': report }
  if (stage === 'robustness') given['junit-path'] = ''
  // A registered baseline is read from the same registry, with the same token, as register and deploy use.
  if (stage === 'validate' || stage === 'robustness') given['registry-token'] = inputs.token
  if (stage === 'register') {
    const evidence = [produced.validate?.get('report-path'), produced.robustness?.get('report-path')].filter((p): p is string => !!p)
    if (evidence.length > 0) given.evidence = [inputs.evidence, ...evidence].filter(Boolean).join('\n')
    // The pipeline's `stage` input is the stage the deploy starts from; register's stage is register-stage.
    given.stage = inputs.registerStage
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
  return given
}

export const pipelineSpec: ActionSpec<PipelineInputs, PipelineRun> = {
  name: ACTION,
  readInputs: readPipelineInputs,
  async run(inputs, { deps, io, policy }) {
    // Checked as the pipeline's own input, before any stage: a stage would name it by its report-path.
    const reportDir = path.resolve(deps.workspace, inputs.reportDir)
    confine(reportDir, confinementFor(policy), { field: 'input report-dir' })
    if (existsSync(reportDir) && !statSync(reportDir).isDirectory())
      throw new UserError(`input report-dir: ${inputs.reportDir} is a file; give a folder for the stages' reports`, { field: 'report-dir' })
    const produced: Partial<Record<Stage, Map<string, string>>> = {}
    for (const stage of inputs.stages) {
      const given = stageInputs(stage, inputs, path.join(inputs.reportDir, `${stage}.json`), produced)
      const outputs = new Map<string, string>()
      produced[stage] = outputs
      io.info(`modelgate: stage ${stage}`)
      let why = ''
      const code = await runAction({ ...deps, io: stageIO(io, stage, given, outputs, (m) => (why ||= m)) }, SPECS[stage])
      if (code !== 0) return { stopped: { stage, code, why, later: inputs.stages.slice(inputs.stages.indexOf(stage) + 1) } }
    }
    return {}
  },
  outputs: ({ stopped }) => ({ status: !stopped ? 'pass' : stopped.code === 2 ? 'error' : 'fail' }),
  failure({ stopped }) {
    if (!stopped) return undefined
    const { stage, code, why, later } = stopped
    // Invalid input: the stage's own message is the cause, and the error annotation must carry it.
    const cause = code === 2 && why ? `: ${why}` : ''
    return {
      code,
      message: `modelgate: the ${stage} stage ${code === 2 ? 'could not run (invalid input)' : 'failed'}${cause}${later.length ? `; not run: ${later.join(', ')}` : ''}`,
    }
  },
}

export function runPipelineAction(deps: ActionDeps): Promise<number> {
  return runAction(deps, pipelineSpec)
}
