import type { OptionSource } from '../core/settings/index.js'
import type { ActionIO } from '../ports/io.js'
import { inputSource, readAllowOutside, type FrameInputs } from './frame.js'

/**
 * What register-version and deploy-model read alike: their options, which the settings layer reads as it
 * reads the CLI's flags (settings/registry.ts, settings/deploy.ts), the report path and the credentials.
 */
export interface RegistryInputs extends FrameInputs {
  options: OptionSource
  reportPath: string
  /** The registry's token (input token), else the job's (github-token) for ghcr.io. */
  token?: string
  githubToken?: string
  username?: string
}

export function readRegistryInputs(io: ActionIO, defaultReport: string): RegistryInputs {
  const src = inputSource(io)
  const token = src.value('token')
  const githubToken = src.value('github-token')
  return {
    options: src,
    reportPath: src.value('report-path') ?? defaultReport,
    token,
    githubToken,
    username: src.value('username'),
    allowOutsideWorkspace: readAllowOutside(src),
    secrets: [token, githubToken].filter((s): s is string => !!s),
  }
}
