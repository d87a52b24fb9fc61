import { compileExpression } from 'filtrex'
import type { Cell } from '../data/types.js'

/*
 * `where:` expressions, compiled by filtrex: a small expression language that builds a function from a
 * grammar and never evaluates the user's text as JavaScript. Its lexer rules are mirrored here only to
 * know, before any data is read, which names are columns and which are function calls.
 */

/** filtrex's built-in functions; any other call is an error before the run starts. */
const FUNCTIONS = new Set(['abs', 'ceil', 'floor', 'log', 'log2', 'log10', 'max', 'min', 'round', 'sqrt', 'exists', 'empty'])
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'of', 'if', 'then', 'else', 'mod'])
/** filtrex has no boolean literals; these let a boolean column compare with them (`flag == true`). */
const CONSTANTS = { true: true, false: false }

/** Tokens that can hold a name: double-quoted strings (skipped), single-quoted and bare symbols. */
const TOKEN = /"(?:\\"|\\\\|[^"\\])*"|'((?:\\'|\\\\|[^'\\])*)'|([a-zA-Z$_][.a-zA-Z0-9$_]*)|[0-9]+(?:\.[0-9]+)?/g

export interface WhereSyntax {
  /** Column names the expression reads, in order of first use. */
  columns: string[]
  /** Calls to functions filtrex does not have. */
  unknownFunctions: string[]
  /** `a of b`: property access, which plain column values do not have. */
  usesOf: boolean
}

export function whereSyntax(expression: string): WhereSyntax {
  const columns: string[] = []
  const unknownFunctions: string[] = []
  let usesOf = false
  for (const m of expression.matchAll(TOKEN)) {
    const quoted = m[1]
    const bare = m[2]
    if (quoted !== undefined) {
      add(columns, quoted.replace(/\\(['\\])/g, '$1'))
      continue
    }
    if (bare === undefined) continue
    if (KEYWORDS.has(bare)) {
      if (bare === 'of') usesOf = true
      continue
    }
    if (Object.hasOwn(CONSTANTS, bare)) continue
    const rest = expression.slice((m.index ?? 0) + bare.length)
    if (/^\s*\(/.test(rest)) {
      if (!FUNCTIONS.has(bare)) add(unknownFunctions, bare)
      continue
    }
    add(columns, bare)
  }
  return { columns, unknownFunctions, usesOf }
}

function add(list: string[], item: string): void {
  if (!list.includes(item)) list.push(item)
}

/** Why the expression cannot be used, or undefined when it compiles and only reads columns. */
export function whereProblem(expression: string): string | undefined {
  try {
    compileExpression(expression, { constants: CONSTANTS })
  } catch (e) {
    return `cannot read the expression "${expression}": ${parseErrorText(String((e as Error).message))}`
  }
  const syntax = whereSyntax(expression)
  if (syntax.unknownFunctions.length > 0) {
    return `unknown function ${syntax.unknownFunctions.map((f) => `${f}()`).join(', ')} in "${expression}"; known: ${[...FUNCTIONS].join(', ')}`
  }
  if (syntax.usesOf) return `"of" (property access) is not supported in "${expression}": columns hold plain values`
  if (syntax.columns.length === 0) return `the expression "${expression}" reads no column`
  return undefined
}

/** Jison's message is "Parse error on line 1:", the text, a caret line, "Expecting …, got 'X'". */
function parseErrorText(message: string): string {
  const lines = message.split('\n')
  const caret = lines.findIndex((l) => /^-*\^$/.test(l))
  const got = /got '([^']+)'/.exec(message)?.[1]
  if (caret < 0 || got === undefined) return lines[0]
  const what = got === 'EndOfExpression' ? 'unexpected end' : `unexpected ${got}`
  return `${what} at character ${lines[caret].length}`
}

/**
 * A row predicate. Rows where any column the expression reads is missing never match, so that
 * `not (x > 5)` and `x > 5` both leave those rows out. Throws the evaluation
 * problem (a text compared with a number) with the 0-based row.
 */
export function compileWhere(expression: string, columns: Record<string, Cell[]>): (row: number) => boolean {
  const fn = compileExpression(expression, { constants: CONSTANTS })
  const names = whereSyntax(expression).columns
  const data = names.map((name) => columns[name])
  return (row) => {
    const values: Record<string, Cell> = {}
    for (let k = 0; k < names.length; k++) {
      const cell = data[k][row]
      if (cell === null || cell === undefined) return false
      values[names[k]] = cell
    }
    const result: unknown = fn(values)
    if (result instanceof Error) throw new WhereError(row, result.message)
    return Boolean(result)
  }
}

export class WhereError extends Error {
  constructor(
    readonly row: number,
    readonly reason: string,
  ) {
    super(reason)
    this.name = 'WhereError'
  }
}
