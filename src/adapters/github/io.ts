import * as core from '@actions/core'
import type { ActionIO } from '../../ports/io.js'
import { scrub, secrets } from '../../core/secrets.js'

/**
 * ActionIO over @actions/core: the only place an action touches the runner's commands.
 *
 * Every secret the core registers (core/secrets.ts: header parts, URL userinfo, `${VAR}` values) is
 * masked in the runner's logs as soon as it is known, and every text this adapter sends (log lines,
 * annotations, the failure, the job summary) is scrubbed of them first, so that nothing relies on the
 * runner's masking alone.
 */
export function createGitHubIO(): ActionIO {
  secrets.onAdd((secret) => core.setSecret(secret))
  return {
    getInput: (name) => core.getInput(name),
    setOutput: (name, value) => core.setOutput(name, value),
    appendSummary: async (markdown) => {
      await core.summary.addRaw(scrub(markdown), true).write()
    },
    annotate: (level, message, title) => {
      const props = title ? { title: scrub(title) } : {}
      if (level === 'error') core.error(scrub(message), props)
      else if (level === 'warning') core.warning(scrub(message), props)
      else core.notice(scrub(message), props)
    },
    // A new secret reaches core.setSecret through the subscription above; a short or known one directly.
    setSecret: (secret) => {
      if (!secrets.add(secret)) core.setSecret(secret)
    },
    info: (message) => core.info(scrub(message)),
    warning: (message) => core.warning(scrub(message)),
    setFailed: (message, exitCode) => {
      core.setFailed(scrub(message))
      process.exitCode = exitCode
    },
  }
}
