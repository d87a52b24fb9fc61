import * as core from '@actions/core'
import type { ActionIO } from '../../ports/io.js'
import { scrub, secrets } from '../../core/secrets.js'
import { sanitizeLogText, stripTerminalControls } from '../../core/report/escape.js'

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
      const text = stripTerminalControls(scrub(message))
      if (level === 'error') core.error(text, props)
      else if (level === 'warning') core.warning(text, props)
      else core.notice(text, props)
    },
    // A new secret reaches core.setSecret through the subscription above; a short or known one directly.
    setSecret: (secret) => {
      if (!secrets.add(secret)) core.setSecret(secret)
    },
    // A log line is printed as it is, so a line of it that starts with `::` would be obeyed: sanitised.
    info: (message) => core.info(sanitizeLogText(scrub(message))),
    warning: (message) => core.warning(stripTerminalControls(scrub(message))),
    // A title is one line of the log, like an info line: sanitised the same way.
    startGroup: (title) => core.startGroup(sanitizeLogText(scrub(title))),
    endGroup: () => core.endGroup(),
    setFailed: (message, exitCode) => {
      core.setFailed(stripTerminalControls(scrub(message)))
      process.exitCode = exitCode
    },
  }
}
