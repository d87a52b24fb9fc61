import type { PredictionBatch } from '../../runners/types.js'
import { plural } from '../../report/common.js'
import type { RobustnessTest } from '../types.js'
import { failedCallTest, pickRows, sliceColumns, sliceOutputs, type TestContext } from './common.js'

/** Rows scored one at a time for batch consistency. */
export const SINGLE_ROWS = 20
/** Largest difference between a row scored alone and in a batch (probabilities; values: relative). */
export const BATCH_TOLERANCE = 1e-6

/**
 * determinism: the first chunk of the sample scored again, exactly as in the clean pass, must give
 * identical outputs (bit for bit). batch-consistency: up to 20 rows spread over the sample, each scored
 * alone, must agree with the batched clean pass: the same labels, probabilities and values within 1e-6
 * (values relative to their magnitude when above 1).
 */
export async function runDeterminism(ctx: TestContext): Promise<RobustnessTest[]> {
  return [await repeatTest(ctx), await singleRowTest(ctx)]
}

async function repeatTest(ctx: TestContext): Promise<RobustnessTest> {
  const n = Math.min(ctx.batchSize, ctx.clean.length)
  const base = { id: 'determinism', kind: 'determinism' as const, parameters: { rows: n } }
  const r = await ctx.session.tryPredict(sliceColumns(ctx.columns, 0, n), ctx.probe)
  if (!r.ok) return failedCallTest(base, r, 'rows it had scored before')
  const clean = sliceOutputs(ctx.clean, 0, n)
  const rows = Array.from({ length: n }, (_, i) => i)
  return judgeAgreement(ctx, base, rows, clean, r.out, 0, 'scored twice')
}

async function singleRowTest(ctx: TestContext): Promise<RobustnessTest> {
  const n = ctx.clean.length
  const m = Math.min(SINGLE_ROWS, n)
  const rows = Array.from({ length: m }, (_, k) => Math.floor((k * n) / m))
  const base = { id: 'batch-consistency', kind: 'batch-consistency' as const, parameters: { rows: m } }
  const parts: PredictionBatch[] = []
  for (const i of rows) {
    const r = await ctx.session.tryPredict(pickRows(ctx.columns, [i]), ctx.probe)
    if (!r.ok) return failedCallTest(base, r, `row ${ctx.rowNumbers[i]} scored alone`)
    parts.push(r.out)
  }
  const clean = rows.map((i) => sliceOutputs(ctx.clean, i, i + 1))
  let violations = 0
  const examples: { row: number; message: string }[] = []
  rows.forEach((i, k) => {
    const diff = difference(clean[k], parts[k], 0, BATCH_TOLERANCE)
    if (diff === undefined) return
    violations++
    if (examples.length < 5) examples.push({ row: ctx.rowNumbers[i], message: `row ${ctx.rowNumbers[i]}: ${diff} (batched vs alone)` })
  })
  return verdict(base, m, violations, examples, 'scored one by one agree with the batch (within 1e-6)')
}

function judgeAgreement(
  ctx: TestContext,
  base: Pick<RobustnessTest, 'id' | 'kind' | 'parameters'>,
  rows: number[],
  first: PredictionBatch,
  second: PredictionBatch,
  tolerance: number,
  how: string,
): RobustnessTest {
  let violations = 0
  const examples: { row: number; message: string }[] = []
  rows.forEach((i, k) => {
    const diff = difference(first, second, k, tolerance)
    if (diff === undefined) return
    violations++
    if (examples.length < 5) examples.push({ row: ctx.rowNumbers[i], message: `row ${ctx.rowNumbers[i]}: ${diff}` })
  })
  return verdict(base, rows.length, violations, examples, `${how} give identical outputs`)
}

function verdict(
  base: Pick<RobustnessTest, 'id' | 'kind' | 'parameters'>,
  rows: number,
  violations: number,
  examples: { row: number; message: string }[],
  claim: string,
): RobustnessTest {
  return {
    ...base,
    rows,
    violations,
    examples,
    status: violations === 0 ? 'pass' : 'fail',
    message:
      violations === 0
        ? `all ${plural(rows, 'row')} ${claim}`
        : `${violations} of ${plural(rows, 'row')} differ, e.g. ${examples[0].message}; expected: rows ${claim}`,
  }
}

/** How row `i` of `a` and `b` differ beyond the tolerance (0: exactly, NaN equal to NaN), or undefined. */
function difference(a: PredictionBatch, b: PredictionBatch, i: number, tolerance: number): string | undefined {
  const same = (x: number, y: number, scale: number) => Object.is(x, y) || x === y || Math.abs(x - y) <= tolerance * scale
  if (a.labels && b.labels && a.labels[i] !== b.labels[i]) return `label ${String(a.labels[i])} vs ${String(b.labels[i])}`
  if (a.probabilities && b.probabilities) {
    const k = a.classes?.length ?? 0
    for (let c = 0; c < k; c++) {
      const x = a.probabilities[i * k + c]
      const y = b.probabilities[i * k + c]
      if (!same(x, y, 1)) return `p(${String(a.classes![c])}) ${String(x)} vs ${String(y)}`
    }
  }
  if (a.values && b.values) {
    const x = a.values[i]
    const y = b.values[i]
    if (!same(x, y, Math.max(1, Math.abs(x)))) return `value ${String(x)} vs ${String(y)}`
  }
  return undefined
}
