import type { ActionIO } from '../../src/ports/io.js'

/** An in-memory ActionIO: the action code run from source, with everything it says recorded in order. */
export function memoryIO(inputs: Record<string, string>) {
  const said = {
    outputs: {} as Record<string, string>,
    summary: '',
    secrets: [] as string[],
    failed: [] as { message: string; code: number }[],
    /** info, warning and annotation lines, in order. */
    lines: [] as string[],
    warnings: [] as string[],
  }
  const io: ActionIO = {
    getInput: (name) => inputs[name] ?? '',
    setOutput: (name, value) => void (said.outputs[name] = value),
    appendSummary: async (markdown) => void (said.summary += markdown),
    annotate: (level, message, title) => void said.lines.push(`${level} ${title ?? ''}: ${message}`),
    setSecret: (secret) => void said.secrets.push(secret),
    info: (message) => void said.lines.push(message),
    warning: (message) => {
      said.warnings.push(message)
      said.lines.push(`warning: ${message}`)
    },
    setFailed: (message, code) => void said.failed.push({ message, code }),
  }
  /** Everything a reader of the log, the summary or the outputs could see. */
  const everything = () => [...said.failed.map((f) => f.message), said.summary, ...said.lines, ...Object.values(said.outputs)].join('\n')
  return { io, said, everything }
}
