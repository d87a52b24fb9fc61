import { describe, expect, it } from '@jest/globals'
import { ProbabilityGuard, clipRounding, describeAdjustment, probabilityTolerance } from '../../src/core/validate/probabilities.js'
import { UserError } from '../../src/core/errors.js'

const f32 = (x: number) => Math.fround(x)

describe('probabilities from float32 runtimes', () => {
  it('the tolerance is 16 · classes · 2^-23', () => {
    expect(probabilityTolerance(2)).toBe(32 * 2 ** -23)
    expect(probabilityTolerance(10)).toBe(160 * 2 ** -23)
  })

  it("clips a tree ensemble's 1.0000001192092896 and −1.19e-7, counts rows and the largest excess", () => {
    const guard = new ProbabilityGuard(2, 'output_probability', 'test.csv')
    const m = new Float64Array([f32(1 + 2 ** -23), -(2 ** -23), 0.25, 0.75, 0.5, 0.5])
    expect(m[0]).toBe(1.0000001192092896)
    guard.check(m, 1)
    expect(Array.from(m)).toEqual([1, 0, 0.25, 0.75, 0.5, 0.5])
    expect(guard.summary()).toEqual({
      output: 'output_probability',
      tolerance: probabilityTolerance(2),
      clippedValues: 2,
      clippedRows: 1,
      maxExcess: 2 ** -23,
      offSumRows: 0,
      maxSumError: 0,
    })
    expect(describeAdjustment(guard.summary()!, 'the model')[0]).toBe(
      'the model: 1 row of "output_probability" had probabilities outside [0, 1] by float32 rounding (largest excess 1.19e-7, tolerance 3.8e-6); they were clipped to [0, 1] before the metrics.',
    )
  })

  it('counts rows that do not sum to 1 within the tolerance, without changing them', () => {
    const guard = new ProbabilityGuard(3, 'p', 'd.csv')
    const m = new Float64Array([0.2, 0.2, 0.2, 1 / 3, 1 / 3, 1 / 3])
    guard.check(m, 1)
    expect(Array.from(m)).toEqual([0.2, 0.2, 0.2, 1 / 3, 1 / 3, 1 / 3])
    expect(guard.summary()).toMatchObject({ clippedValues: 0, offSumRows: 1, maxSumError: expect.closeTo(0.4, 12) })
  })

  it('no note when nothing was adjusted', () => {
    const guard = new ProbabilityGuard(2, 'p', 'd.csv')
    guard.check(new Float64Array([0.1, 0.9]), 1)
    expect(guard.summary()).toBeUndefined()
  })

  for (const [bad, shown] of [
    [1.2, '1.2'],
    [-0.1, '-0.1'],
    [Number.NaN, 'NaN'],
    [1 + 1e-4, '1.0001'],
  ] as const) {
    it(`${shown} stays an error naming the file, the output, the data row and the value`, () => {
      const guard = new ProbabilityGuard(2, 'output_probability', 'test.csv')
      let error: unknown
      try {
        guard.check(new Float64Array([0.5, 0.5, 0.5, bad]), 41)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(UserError)
      expect((error as UserError).message).toBe(
        `test.csv: data row 42: the model's output "output_probability" gives probability ${shown} for class 2 of 2, which is not a probability in [0, 1] (nor within 3.8e-6 of it, float32 rounding)`,
      )
      expect((error as UserError).field).toBe('output_probability')
    })
  }

  it('clipRounding clips only within the tolerance and leaves the rest for the caller to judge', () => {
    const m = new Float64Array([1.0000001192092896, -1e-7, 1.5, -0.2, 0.3])
    expect(clipRounding(m, 2)).toBe(2)
    expect(Array.from(m)).toEqual([1, 0, 1.5, -0.2, 0.3])
  })
})
