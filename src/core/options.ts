import { UserError } from './errors.js'

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

/** `Name: value` lines (action input) or flags → headers; a line without a colon names itself in the error. */
export function parseHeaders(lines: string[] | undefined, where: string): Record<string, string> | undefined {
  if (!lines || lines.length === 0) return undefined
  const out: Record<string, string> = {}
  for (const line of lines) {
    const i = line.indexOf(':')
    const name = line.slice(0, i).trim()
    if (i <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UserError(`${where}: expected "Name: value", got a line starting "${line.slice(0, 20)}"`, { field: where })
    }
    out[name] = line.slice(i + 1).trim()
  }
  return out
}
