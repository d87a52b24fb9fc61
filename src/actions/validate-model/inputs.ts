import type { ActionIO } from '../../ports/io.js'
import type { Overrides } from '../../core/settings.js'
import { parseBoolean, parseLines } from '../../core/options.js'
import { readOverrides } from '../../core/overrides.js'

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
  const opt = (name: string) => io.getInput(name).trim() || undefined
  const token = opt('github-token')
  if (token) io.setSecret(token)
  const overrides = readOverrides({ value: opt, lines: (name) => parseLines(io.getInput(name)), label: (name) => `input ${name}` })
  for (const v of Object.values(overrides.headers ?? {})) if (v) io.setSecret(v)
  return {
    overrides,
    reportPath: opt('report-path') ?? 'modelgate-report.json',
    junitPath: opt('junit-path'),
    comment: parseBoolean(opt('comment'), 'input comment') ?? true,
    githubToken: token,
    artifactName: opt('artifact-name'),
  }
}
