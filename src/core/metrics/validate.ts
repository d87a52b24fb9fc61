/**
 * Input checks shared by every metric. Violations are programming errors (the pipeline passed inconsistent
 * arrays), so they throw a plain Error naming the argument and the offending index.
 */

export function assertNonEmpty(name: string, values: ArrayLike<unknown>): void {
  if (values.length === 0) throw new Error(`${name} is empty: metrics need at least one row`)
}

/** Same length and at least one row, like scikit-learn's `check_consistent_length` plus its empty-input check. */
export function assertPaired(aName: string, a: ArrayLike<unknown>, bName: string, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) {
    throw new Error(`${aName} has ${a.length} rows but ${bName} has ${b.length}; they must be the same length`)
  }
  assertNonEmpty(aName, a)
}

export function assertFinite(name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${name}[${i}] = ${String(v)} is not a finite number`)
  }
}

/** Binary metrics take indicators: 1 for the positive class, 0 for the negative one. */
export function assertIndicator(name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v !== 0 && v !== 1) throw new Error(`${name}[${i}] = ${String(v)}: expected 1 (positive class) or 0 (negative)`)
  }
}

/** Probabilities lie in [0, 1]; scikit-learn raises "y_prob contains values greater than 1" likewise. */
export function assertProbabilities(name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (!(v >= 0 && v <= 1)) throw new Error(`${name}[${i}] = ${String(v)} is not a probability in [0, 1]`)
  }
}

/** A row-major `rows × cols` matrix of probabilities. */
export function assertProbabilityMatrix(name: string, proba: ArrayLike<number>, rows: number, cols: number): void {
  if (cols < 1) throw new Error(`${name}: no classes given for the probability columns`)
  if (proba.length !== rows * cols) {
    throw new Error(`${name} has ${proba.length} values; expected ${rows} rows × ${cols} classes = ${rows * cols} (row-major)`)
  }
  assertProbabilities(name, proba)
}
