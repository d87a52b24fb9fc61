import { UserError } from './errors.js'
import { secrets } from './secrets.js'

/** One enum-valued option (input or flag), checked with a message that names it and the allowed values. */
export function parseEnum<T extends string>(value: string | undefined, allowed: readonly T[], where: string): T | undefined {
  if (value === undefined || value === '') return undefined
  const v = value.trim()
  if ((allowed as readonly string[]).includes(v)) return v as T
  throw new UserError(`${where}: "${value}" is not one of ${allowed.join(', ')}`, { field: where })
}

export function parseBoolean(value: string | undefined, where: string): boolean | undefined {
  if (value === undefined || value === '') return undefined
  const v = value.trim().toLowerCase()
  if (v === 'true') return true
  if (v === 'false') return false
  throw new UserError(`${where}: "${value}" is not true or false`, { field: where })
}

export function parsePositiveInt(value: string | undefined, where: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${where}: "${value}" is not a positive whole number`, { field: where })
  return n
}

/** `a, b,c` or one per line → ['a','b','c']. */
export function parseList(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  return value
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean)
}

/** One entry per non-empty line (thresholds contain commas? no, but they do contain spaces). */
export function parseLines(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  return value
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('#'))
}

export const RUNNERS = ['onnx', 'command', 'http', 'predictions'] as const
export const TASKS = ['binary', 'multiclass', 'regression'] as const
export const FAIL_ON = ['fail', 'warn', 'never'] as const

/**
 * `Name: value` lines (action input) or flags → headers. Every value's credential parts are registered
 * as secrets (core/secrets.ts). A malformed line is never echoed, not even in part (it is most likely
 * `Authorization Bearer <token>` without its colon): the error names the option and which header it is.
 */
export function parseHeaders(lines: string[] | undefined, where: string): Record<string, string> | undefined {
  if (!lines || lines.length === 0) return undefined
  const out: Record<string, string> = {}
  for (const [n, line] of lines.entries()) {
    const i = line.indexOf(':')
    const name = line.slice(0, i).trim()
    if (i <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      // Registered all the same, in case some other message quotes it.
      secrets.addHeader(line)
      const which = lines.length > 1 ? `, header ${n + 1} of ${lines.length}` : ''
      throw new UserError(
        `${where}${which}: expected "Name: value" (a header name such as Authorization, a colon, then the value, e.g. "Authorization: Bearer <token>"); the text given is not shown, as it may hold a credential`,
        { field: where },
      )
    }
    out[name] = line.slice(i + 1).trim()
    secrets.addHeader(out[name])
  }
  return out
}
