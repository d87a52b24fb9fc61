import { parseArgs } from 'node:util'
import { UserError, errorText } from '../core/errors.js'
import type { CliIO } from './main.js'
import { ALLOW_OUTSIDE_WORKSPACE, type WorkspacePolicy } from '../core/workspace.js'
import type { OptionSource } from '../core/settings/index.js'

export type Values = Record<string, string | string[] | boolean | undefined>
export type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>

/**
 * Every command's flags, parsed one way: node's parseArgs, with its advice on option-like values cut and
 * the command's --help named instead, and --debug and --help/-h known to all.
 */
export function parseCommand(
  command: string,
  args: string[],
  options: OptionSpec,
  opts: { positionals?: boolean } = {},
): { values: Values; positionals: string[] } {
  // `--seed -1`: node reads a value starting with a dash as another option and calls it ambiguous; a
  // negative number after a string option is that option's value (and its range check then speaks).
  const joined: string[] = []
  for (let i = 0; i < args.length; i++) {
    const name = /^--([^=]+)$/.exec(args[i]!)?.[1]
    const next = args[i + 1]
    if (name && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      joined.push(`--${name}=${next}`)
      i++
    } else joined.push(args[i]!)
  }
  try {
    const parsed = parseArgs({
      args: joined,
      options: { ...options, debug: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: opts.positionals ?? false,
    })
    return { values: parsed.values as Values, positionals: parsed.positionals }
  } catch (e) {
    throw new UserError(
      `${errorText(e)
        .replace(/\. To specify.*$/s, '')
        .replace(/\s*\n\s*/g, ' ')}; see modelgate ${command} --help`,
    )
  }
}

/** Applies --debug, and prints the usage for --help: true when the command has nothing more to do. */
export function answeredHelp(values: Values, usage: string, io: CliIO, setDebug: (d: boolean) => void): boolean {
  setDebug(Boolean(values.debug))
  if (!values.help) return false
  io.stdout(usage)
  return true
}

/** The CLI's confinement (core/workspace.ts): the working directory and the manifest's folder tree. */
export function cliWorkspace(cwd: string, allowOutside: boolean): WorkspacePolicy {
  return { roots: [cwd], allowOutside, optOut: `--${ALLOW_OUTSIDE_WORKSPACE}`, manifestFolder: true }
}

/**
 * The flags as the settings layer reads options (core/settings/options.ts): by the action's input names,
 * `repeatable` naming the repeatable flag of an input (`thresholds` is `--threshold`). As with an input,
 * an empty value is unset; a boolean flag reads as 'true'.
 */
export function flagSource(values: Values, repeatable: Record<string, string> = {}): OptionSource {
  const flag = (input: string) => repeatable[input] ?? input
  return {
    value: (input) => {
      const v = values[flag(input)]
      return typeof v === 'boolean' ? String(v) : (v as string | undefined) || undefined
    },
    lines: (input) => values[flag(input)] as string[] | undefined,
    label: (input) => `--${flag(input)}`,
  }
}
