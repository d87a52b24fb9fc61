/*
 * The gates: `thresholds` lines from an option (each parsed, a bad one named by its line) or the
 * manifest's `thresholds:` (already checked by its schema), in one form.
 */
import { UserError } from '../errors.js'
import { formatGate, parseGate, type GateSpec } from '../gates/expression.js'
import { DEFAULT_MANIFEST } from '../manifest/load.js'
import type { Manifest } from '../manifest/schema.js'

export function resolveGates(
  given: string[] | undefined,
  manifest: Manifest | undefined,
  file: string | undefined,
  origin: (name: string) => string,
): { gates: GateSpec[]; thresholdsFrom: string } {
  const thresholdsFrom = given ? origin('thresholds') : `${file ?? DEFAULT_MANIFEST}: thresholds`
  const gates = given
    ? given.map((line, i) => {
        const g = parseGate(line)
        if (typeof g === 'string') throw new UserError(`${thresholdsFrom}, line ${i + 1}: ${g}`, { field: 'thresholds' })
        return g
      })
    : (manifest?.thresholds ?? []).map((t) => gateFromManifest(t))
  return { gates, thresholdsFrom }
}

function gateFromManifest(t: Manifest['thresholds'][number]): GateSpec {
  if (typeof t === 'string') return parseGate(t) as GateSpec // the schema has already checked the line
  const bound: GateSpec['bound'] =
    t.value !== undefined
      ? { kind: 'absolute', value: t.value }
      : typeof t.change === 'string'
        ? { kind: 'change', delta: Number(t.change.replace('%', '')) / 100, relative: true }
        : { kind: 'change', delta: t.change ?? 0, relative: false }
  const gate = { metric: t.metric, op: t.op, bound }
  return { ...gate, severity: t.severity, expression: formatGate(gate) }
}
