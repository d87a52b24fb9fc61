import * as core from '@actions/core'
import type { ActionIO } from '../../ports/io.js'

/** ActionIO over @actions/core: the only place an action touches the runner's commands. */
export function createGitHubIO(): ActionIO {
  return {
    getInput: (name) => core.getInput(name),
    setOutput: (name, value) => core.setOutput(name, value),
    appendSummary: async (markdown) => {
      await core.summary.addRaw(markdown, true).write()
    },
    annotate: (level, message, title) => {
      const props = title ? { title } : {}
      if (level === 'error') core.error(message, props)
      else if (level === 'warning') core.warning(message, props)
      else core.notice(message, props)
    },
    setSecret: (secret) => core.setSecret(secret),
    info: (message) => core.info(message),
    warning: (message) => core.warning(message),
    setFailed: (message, exitCode) => {
      core.setFailed(message)
      process.exitCode = exitCode
    },
  }
}
