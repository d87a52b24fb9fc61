import { EXCERPT_CHARS, excerpt } from '../data/files.js'
import type { Comparator, Severity } from '../result/types.js'

/**
 * One gate, parsed from a line such as:
 *   accuracy >= 0.9                 absolute bound
 *   log_loss <= 0.3 warn            with a severity (default: fail)
 *   roc_auc >= baseline - 0.01      change against the baseline, absolute: a bounded regression is allowed
 *   accuracy >= baseline - 1%       change, relative to the baseline value
 *   mae <= baseline                 no regression at all
 */
export interface GateSpec {
  metric: string
  op: Comparator
  severity: Severity
  /** The text the user wrote, normalised; used in ids and messages. */
  expression: string
  bound: AbsoluteBound | ChangeBound
}

export interface AbsoluteBound {
  kind: 'absolute'
  value: number
}

/** bound = baseline + delta (absolute) or baseline × (1 + delta) (relative, delta as a fraction). */
export interface ChangeBound {
  kind: 'change'
  delta: number
  relative: boolean
}

const COMPARATORS: readonly Comparator[] = ['>=', '<=', '==', '>', '<']
/*
 * Each run of spaces and digits can be matched one way only: two quantifiers side by side over the
 * same characters (`\d+\.?\d*`, `\s*(%)?\s*`, `\s*\(?\s*`) make a line that almost matches cost
 * quadratic or cubic time, and a manifest may hold a gate line of a megabyte.
 */
const NUMBER = String.raw`[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?`
const LINE = new RegExp(
  // Dotted names are the data's: drift.share_drifted, drift.<column>.psi, integrity.leakage_share.
  String.raw`^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*)\s*(>=|<=|==|>|<)\s*` +
    String.raw`(?:(${NUMBER})|baseline(?:\s*([+-])\s*(${NUMBER})(?:\s*(%))?)?)` +
    String.raw`(?:\s*(?:\(\s*)?(fail|warn)(?:\s*\))?)?\s*$`,
)

export const GATE_SYNTAX =
  '`<metric> <op> <number>` or `<metric> <op> baseline [+|- <number>[%]]`, optionally followed by `warn` or `fail`; op is one of >=, >, <=, <, =='

/** Parses one gate line; returns an error text (not thrown) so callers can name the file and field. */
export function parseGate(line: string): GateSpec | string {
  const m = LINE.exec(line)
  if (!m) return `cannot read gate ${excerpt(line.trim())}: expected ${GATE_SYNTAX}`
  const [, metric, opText, abs, sign, deltaText, percent, sev] = m
  const op = opText as Comparator
  const severity = (sev ?? 'fail') as Severity
  // Number() makes 1e400 infinite: a bound no metric can be compared with, and that JSON reports would show as null.
  const literal = abs ?? deltaText
  if (literal !== undefined && !Number.isFinite(Number(literal))) {
    const shown = literal.length <= EXCERPT_CHARS ? literal : `${literal.slice(0, EXCERPT_CHARS)}… (${literal.length} characters)`
    return `cannot read gate ${excerpt(line.trim())}: ${shown} is out of the range of a double (the largest is about 1.8e308)`
  }
  let bound: GateSpec['bound']
  if (abs !== undefined) {
    bound = { kind: 'absolute', value: Number(abs) }
  } else {
    const magnitude = deltaText === undefined ? 0 : Number(deltaText)
    const delta = (sign === '-' ? -1 : 1) * (percent ? magnitude / 100 : magnitude)
    bound = { kind: 'change', delta, relative: Boolean(percent) }
  }
  return { metric, op, severity, bound, expression: formatGate({ metric, op, bound }) }
}

export function formatGate(g: Pick<GateSpec, 'metric' | 'op' | 'bound'>): string {
  if (g.bound.kind === 'absolute') return `${g.metric} ${g.op} ${g.bound.value}`
  const { delta, relative } = g.bound
  if (delta === 0) return `${g.metric} ${g.op} baseline`
  const magnitude = relative ? `${round(Math.abs(delta) * 100)}%` : `${Math.abs(delta)}`
  return `${g.metric} ${g.op} baseline ${delta < 0 ? '-' : '+'} ${magnitude}`
}

function round(x: number): number {
  return Number(x.toPrecision(12))
}

export function compare(value: number, op: Comparator, bound: number): boolean {
  switch (op) {
    case '>=':
      return value >= bound
    case '>':
      return value > bound
    case '<=':
      return value <= bound
    case '<':
      return value < bound
    case '==':
      return value === bound
  }
}

export function isComparator(s: string): s is Comparator {
  return (COMPARATORS as readonly string[]).includes(s)
}
