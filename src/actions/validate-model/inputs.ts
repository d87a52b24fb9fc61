import type { ActionIO } from '../../ports/io.js'
import type { Overrides } from '../../core/settings.js'
import {
  FAIL_ON,
  RUNNERS,
  TASKS,
  parseBoolean,
  parseEnum,
  parseHeaders,
  parseLines,
  parseList,
  parsePositiveInt,
} from '../../core/options.js'

/** All of validate-model's inputs, parsed once into one typed object (actions/checkout's pattern). */
export interface ValidateInputs {
  overrides: Overrides
  reportPath: string
  junitPath?: string
  comment: boolean
  githubToken?: string
  artifactName?: string
}

export function readValidateInputs(io: ActionIO): ValidateInputs {
  const get = (name: string) => io.getInput(name).trim()
  const opt = (name: string) => get(name) || undefined
  const token = opt('github-token')
  if (token) io.setSecret(token)
  const headers = parseHeaders(parseLines(io.getInput('http-headers')), 'input http-headers')
  for (const v of Object.values(headers ?? {})) if (v) io.setSecret(v)
  return {
    overrides: {
      config: opt('config'),
      model: opt('model'),
      runner: parseEnum(get('runner'), RUNNERS, 'input runner'),
      data: opt('data'),
      label: opt('label'),
      features: parseList(get('features')),
      task: parseEnum(get('task'), TASKS, 'input task'),
      thresholds: parseLines(io.getInput('thresholds')),
      baseline: opt('baseline'),
      referencePredictions: opt('reference-predictions'),
      failOn: parseEnum(get('fail-on'), FAIL_ON, 'input fail-on'),
      batchSize: parsePositiveInt(get('batch-size'), 'input batch-size'),
      headers,
    },
    reportPath: opt('report-path') ?? 'modelgate-report.json',
    junitPath: opt('junit-path'),
    comment: parseBoolean(get('comment'), 'input comment') ?? true,
    githubToken: token,
    artifactName: opt('artifact-name'),
  }
}
