import { describe, expect, it } from '@jest/globals'
import { z } from 'zod'
import { UserError } from '../../src/core/errors.js'
import {
  checkSliceColumns,
  checkSliceMetrics,
  discoveryFeatures,
  sliceColumns,
  slicesSchema,
  type SlicesInput,
} from '../../src/core/slices/schema.js'
import { whereProblem, whereSyntax } from '../../src/core/slices/where.js'

const parse = (c: SlicesInput) => slicesSchema.parse(c)

/** Each problem as `path: message`. */
function problems(c: unknown): string[] {
  const r = slicesSchema.safeParse(c)
  if (r.success) return []
  return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

function thrown(f: () => void): UserError {
  try {
    f()
  } catch (e) {
    if (e instanceof UserError) return e
    throw e
  }
  throw new Error('expected a UserError')
}

describe('slicesSchema', () => {
  it('fills the defaults and keeps every definition kind', () => {
    const c = parse({
      define: [
        {
          name: 'large tumours',
          where: 'mean_area >= 1000 and mean_smoothness < 0.1',
          thresholds: ['accuracy >= 0.9', 'recall >= 0.95 warn'],
        },
        { name: 'women', column: 'sex', equals: 'F' },
        { name: 'women, any case', column: 'sex', in: ['F', 'f'] },
        { name: 'young', column: 'age', range: [18, 30] },
        { name: 'old', column: 'age', range: [65, null] },
      ],
      discover: {},
    })
    expect(c['min-size']).toBe(30)
    expect(c.fdr).toBe(0.05)
    expect(c['max-regression']).toBeUndefined()
    expect(c.metrics).toBeUndefined()
    expect(c.define.map((d) => d.thresholds.length)).toEqual([2, 0, 0, 0, 0])
    expect(c.discover).toEqual({ bins: 4, pairs: true, top: 5 })
    expect(parse({}).define).toEqual([])
  })

  it('says what is wrong, at the definition field', () => {
    expect(problems({ define: [{ name: 'a', where: 'x > 1', column: 'x' }] })).toEqual([
      'define.0.name: give exactly one of "where" (an expression) or "column" (with equals, in or range)',
    ])
    expect(problems({ define: [{ name: 'a' }] })).toEqual([
      'define.0.name: give exactly one of "where" (an expression) or "column" (with equals, in or range)',
    ])
    expect(problems({ define: [{ name: 'a', column: 'x' }] })).toEqual([
      'define.0.column: with "column", give exactly one of "equals", "in" or "range"',
    ])
    expect(problems({ define: [{ name: 'a', column: 'x', equals: 1, in: [1] }] })).toEqual([
      'define.0.column: with "column", give exactly one of "equals", "in" or "range" (got equals, in)',
    ])
    expect(problems({ define: [{ name: 'a', where: 'x > 1', equals: 1 }] })).toEqual([
      'define.0.equals: "equals" goes with "column", not with "where"',
    ])
    expect(problems({ define: [{ name: 'a', column: 'x', range: [30, 18] }] })).toEqual([
      'define.0.range: a range [low, high) needs low < high; got [30, 18)',
    ])
    expect(problems({ define: [{ name: 'a', column: 'x', range: [null, null] }] })).toEqual([
      'define.0.range: a range needs at least one end: [low, high), null for an open end',
    ])
    expect(
      problems({
        define: [
          { name: 'a', column: 'x', equals: 1 },
          { name: 'a', column: 'y', equals: 2 },
        ],
      }),
    ).toEqual(['define.1.name: duplicate slice name "a"'])
    expect(problems({ define: [{ name: 'a', column: 'x', equals: 1, thresholds: ['accuracy >= high'] }] })[0]).toMatch(
      /^define\.0\.thresholds\.0: cannot read gate "accuracy >= high"/,
    )
    expect(problems({ define: [{ name: 'a', column: 'x', equals: 1, thresholds: ['latency_p50_ms <= 3'] }] })).toEqual([
      'define.0.thresholds.0: unknown metric "latency_p50_ms" in "latency_p50_ms <= 3"',
    ])
    expect(problems({ metrics: ['acuracy'] })[0]).toMatch(/^metrics\.0: unknown metric; known: accuracy, /)
    expect(problems({ fdr: 1 })[0]).toMatch(/^fdr: /)
    expect(problems({ define: [{ name: 'a', column: 'x', equals: 1, where2: 'x' }] })[0]).toMatch(/unrecognized key/i)
  })

  it('rejects an expression that does not compile, or that calls an unknown function', () => {
    expect(problems({ define: [{ name: 'big', where: 'mean_area >= 1000 1' }] })).toEqual([
      'define.0.where: cannot read the expression "mean_area >= 1000 1": unexpected Number at character 19',
    ])
    expect(problems({ define: [{ name: 'big', where: 'mean_area >=' }] })).toEqual([
      'define.0.where: cannot read the expression "mean_area >=": unexpected end at character 13',
    ])
    expect(problems({ define: [{ name: 'big', where: 'exp(mean_area) > 3' }] })[0]).toBe(
      'define.0.where: unknown function exp() in "exp(mean_area) > 3"; known: abs, ceil, floor, log, log2, log10, max, min, round, sqrt, exists, empty',
    )
    expect(problems({ define: [{ name: 'big', where: 'a of b > 3' }] })[0]).toBe(
      'define.0.where: "of" (property access) is not supported in "a of b > 3": columns hold plain values',
    )
    expect(problems({ define: [{ name: 'big', where: '1 > 0' }] })[0]).toBe('define.0.where: the expression "1 > 0" reads no column')
  })

  it('has a JSON Schema with a description on every key', () => {
    const schema = z.toJSONSchema(slicesSchema, { io: 'input' }) as { properties: Record<string, { description?: string }> }
    for (const [k, v] of Object.entries(schema.properties)) expect([k, typeof v.description]).toEqual([k, 'string'])
  })
})

describe('where expressions', () => {
  it('finds the columns an expression reads, not its strings, functions or keywords', () => {
    expect(whereSyntax(`abs(mean_area - 3) >= 1000 and sex in ("F", "f") or not 'mean radius' < 2.5 and flag == true`)).toEqual({
      columns: ['mean_area', 'sex', 'mean radius', 'flag'],
      unknownFunctions: [],
      usesOf: false,
    })
    expect(whereSyntax('if a.b > 1 then c else d').columns).toEqual(['a.b', 'c', 'd'])
    expect(whereProblem('x > 1 and y == "a"')).toBeUndefined()
  })
})

describe('columns', () => {
  const c = parse({
    define: [
      { name: 'big', where: `mean_area >= 1000 and 'mean smoothness' < 0.1` },
      { name: 'women', column: 'sex', equals: 'F' },
      { name: 'young', column: 'age', range: [18, 30] },
      { name: 'big women', where: 'sex == "F" and mean_area > 500' },
    ],
    discover: { features: ['age', 'mean_area'] },
  })

  it('lists the columns the pipeline must keep', () => {
    expect(sliceColumns(c)).toEqual(['mean_area', 'mean smoothness', 'sex', 'age'])
    expect(discoveryFeatures(c, ['a', 'b'])).toEqual(['age', 'mean_area'])
    expect(discoveryFeatures(parse({}), ['a', 'b'])).toEqual(['a', 'b'])
  })

  it('names the slice, the column and the columns there are when one is missing', () => {
    const e = thrown(() => checkSliceColumns(c, ['mean_area', 'sex', 'age'], 'modelgate.yml'))
    expect(e.message).toBe(
      'modelgate.yml: slices.define[0].where: slice "big" reads column "mean smoothness", which the data does not have; columns: mean_area, sex, age',
    )
    expect(e.field).toBe('slices.define[0].where')
    expect(e.file).toBe('modelgate.yml')
    const d = thrown(() => checkSliceColumns(c, ['mean_area', 'mean smoothness', 'sex'], 'modelgate.yml'))
    expect(d.message).toBe(
      'modelgate.yml: slices.define[2].column: slice "young" reads column "age", which the data does not have; columns: mean_area, mean smoothness, sex',
    )
    const f = thrown(() => checkSliceColumns(parse({ discover: { features: ['zz'] } }), ['a']))
    expect(f.message).toBe('slices.discover.features: slice discovery reads column "zz", which the data does not have; columns: a')
    expect(() => checkSliceColumns(c, ['mean_area', 'mean smoothness', 'sex', 'age'])).not.toThrow()
  })

  it('checks that the metrics belong to the task', () => {
    const r = parse({ metrics: ['mae'], define: [{ name: 'w', column: 'sex', equals: 'F', thresholds: ['rmse <= 3'] }] })
    expect(() => checkSliceMetrics(r, 'regression')).not.toThrow()
    expect(thrown(() => checkSliceMetrics(r, 'binary', 'm.yml')).message).toMatch(
      /^m\.yml: slices\.metrics\[0\]: unknown metric "mae" for a binary model; known: accuracy, /,
    )
    const e = thrown(() => checkSliceMetrics(parse({ define: [{ ...r.define[0], thresholds: ['roc_auc >= 0.9'] }] }), 'regression'))
    expect(e.field).toBe('slices.define[0].thresholds[0]')
    expect(thrown(() => checkSliceMetrics(parse({ discover: { metric: 'accuracy' } }), 'regression')).field).toBe('slices.discover.metric')
  })
})
