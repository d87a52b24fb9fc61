import { UserError } from '../../core/errors.js'
import { parseList } from '../../core/settings/index.js'
import type { ActionIO } from '../../ports/io.js'
import { ALLOW_OUTSIDE_WORKSPACE } from '../../core/workspace.js'
import type { FrameInputs } from '../frame.js'

export const STAGES = ['validate', 'robustness', 'register', 'deploy'] as const
export type Stage = (typeof STAGES)[number]

/** The root action's own inputs; every other input is read by the stage it belongs to. */
export interface PipelineInputs extends FrameInputs {
  stages: Stage[]
  /** The folder of the stages' reports (input report-dir), as given. */
  reportDir: string
  /** The registry's token: register's and deploy's `token`, a registered baseline's `registry-token`. */
  token: string
  /** Evidence given by the workflow, before the stages' own reports. */
  evidence: string
  registerStage: string
}

export function readPipelineInputs(io: ActionIO): PipelineInputs {
  const stages = parseStages(io.getInput('stages'))
  // Found out now, not after validating and registering: the deploy stage cannot run without it.
  if (stages.includes('deploy') && !io.getInput('environment').trim()) {
    throw new UserError('input environment is required when stages include deploy (e.g. environment: staging); no stage was run', {
      field: 'environment',
    })
  }
  const token = io.getInput('token')
  return {
    stages,
    reportDir: io.getInput('report-dir').trim() || 'modelgate-reports',
    token,
    evidence: io.getInput('evidence'),
    registerStage: io.getInput('register-stage'),
    // The stages parse it again, and refuse a bad value naming the input.
    allowOutsideWorkspace: io.getInput(ALLOW_OUTSIDE_WORKSPACE).trim().toLowerCase() === 'true',
    secrets: [],
  }
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
