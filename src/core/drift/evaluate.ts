import { benjaminiHochbergTest } from '../slices/fdr.js'
import type { ColumnDrift, DriftResult } from '../result/types.js'
import { BASELINE_COLUMN, LABEL_COLUMN, PREDICTION_COLUMN, type DriftSide } from './collect.js'
import type { DriftConfig } from './schema.js'
import { defaultTest, defaultThreshold, isDrifted, isPValueTest, type DriftTest } from './select.js'
import { binnedShares, chi2Contingency, fillZeroShares, jensenShannon, ks2samp, normedWasserstein, psi, zTestProportions } from './stats.js'

/*
 * Reference vs current, column by column: the test Evidently would choose (or the manifest's), its
 * statistic and p-value, the PSI beside it for every column, Benjamini–Hochberg across the p-value tests,
 * and the share of drifted columns, the data set's verdict. Prediction and label drift are judged the same
 * way but are not among the columns whose share decides.
 */

/** Distinct values beyond which no choice of test changes (Evidently's thresholds are 5 and 20). */
const UNIQUE_ENOUGH = 21

/** Distinct values of two sorted samples together, counted up to `cap`. */
function distinctSorted(a: Float64Array, b: Float64Array, cap: number): number {
  let i = 0
  let j = 0
  let count = 0
  let last = NaN
  while ((i < a.length || j < b.length) && count < cap) {
    const v = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++]
    if (v !== last) {
      count++
      last = v
    }
  }
  return count
}

/** Distinct values (numbers by their text) of both sides, counted up to `cap`. */
function distinctText(sides: { numbers: Float64Array; text: string[] }[], cap: number): number {
  const seen = new Set<string>()
  for (const side of sides) {
    for (const t of side.text) if (seen.add(t).size >= cap) return cap
    for (const x of side.numbers) if (seen.add(String(x)).size >= cap) return cap
  }
  return seen.size
}

/** Categories shown in a histogram; the rest are summed as "other". */
const SHOWN_CATEGORIES = 8

interface Compared {
  column: string
  kind: 'numeric' | 'categorical'
  test: DriftTest
  statistic: number
  pValue?: number
  threshold: number
  psi: number
  histogram: ColumnDrift['histogram']
  unseen?: { categories: number; rows: number; examples: string[] }
  referenceRows: number
  currentRows: number
}

function compare(
  column: string,
  reference: DriftSide,
  current: DriftSide,
  config: DriftConfig,
  currentColumn = column,
): Compared | undefined {
  const ref = reference.values(column)
  const cur = current.values(currentColumn)
  const refN = ref.numbers.length + ref.text.length
  const curN = cur.numbers.length + cur.text.length
  if (refN === 0 || curN === 0) return undefined
  const textual = ref.text.length > 0 || cur.text.length > 0
  // Sorted once: every statistic after this reads sorted samples (stats.ts skips its own sort then).
  ref.numbers.sort()
  cur.numbers.sort()
  // Evidently counts distinct values over both sides together; only "more than 5" and "more than 20" matter.
  const unique = textual ? distinctText([ref, cur], UNIQUE_ENOUGH) : distinctSorted(ref.numbers, cur.numbers, UNIQUE_ENOUGH)
  const chosen = config.tests?.[column]?.test ?? defaultTest(textual ? 'categorical' : 'numeric', refN, unique)
  // A numeric test on a column with text cannot run: its categories are compared instead.
  const numericTest = chosen === 'ks' || chosen === 'wasserstein'
  // A distance on a numeric column is taken over bins only when it has more than 20 values (Evidently's get_binned_data).
  const kind: Compared['kind'] = textual || !(numericTest || unique > 20) ? 'categorical' : 'numeric'
  const test: DriftTest = textual && numericTest ? defaultTest('categorical', refN, unique) : chosen
  const threshold = config.tests?.[column]?.threshold ?? defaultThreshold(test)
  if (kind === 'numeric') {
    // PSI and Jensen–Shannon on Evidently's bins (Sturges', pooled; PSI with empty bins filled); the report's histogram on `bins`.
    const filled = binnedShares(ref.numbers, cur.numbers)
    const shown = binnedShares(ref.numbers, cur.numbers, config.bins, false)
    const stability = psi(filled.reference, filled.current)
    const outcome: { statistic: number; pValue?: number } =
      test === 'ks'
        ? ks2samp(ref.numbers, cur.numbers)
        : test === 'wasserstein'
          ? { statistic: normedWasserstein(ref.numbers, cur.numbers) }
          : test === 'psi'
            ? { statistic: stability }
            : (() => {
                const raw = binnedShares(ref.numbers, cur.numbers, 'sturges', false)
                return { statistic: jensenShannon(raw.reference, raw.current) }
              })()
    return {
      column,
      kind,
      test,
      statistic: outcome.statistic,
      ...(outcome.pValue !== undefined ? { pValue: outcome.pValue } : {}),
      threshold,
      psi: stability,
      histogram: { edges: shown.edges, reference: shown.reference, current: shown.current },
      referenceRows: refN,
      currentRows: curN,
    }
  }
  // Categories: numbers as their text, so a column of 0/1 and one of "0"/"1" are compared alike.
  const count = (v: { numbers: Float64Array; text: string[] }) => {
    const m = new Map<string, number>()
    for (const x of v.numbers) {
      const key = String(x)
      m.set(key, (m.get(key) ?? 0) + 1)
    }
    for (const x of v.text) m.set(x, (m.get(x) ?? 0) + 1)
    return m
  }
  const rc = count(ref)
  const cc = count(cur)
  const categories = [...new Set([...rc.keys(), ...cc.keys()])].sort((a, b) => (rc.get(b) ?? 0) - (rc.get(a) ?? 0) || (a < b ? -1 : 1))
  const refCounts = categories.map((c) => rc.get(c) ?? 0)
  const curCounts = categories.map((c) => cc.get(c) ?? 0)
  const share = (counts: number[], n: number) => counts.map((x) => x / n)
  const refShares = share(refCounts, refN)
  const curShares = share(curCounts, curN)
  const stability = psi(fillZeroShares(refShares), fillZeroShares(curShares))
  let outcome: { statistic: number; pValue?: number }
  // chi2_contingency, the two-sample test of homogeneity (Evidently's chisquare treats the reference counts as
  // exact expectations); the z test compares one proportion: with a third category, the counts are compared instead.
  if (test === 'chisquare' || (test === 'z' && categories.length !== 2)) outcome = chi2Contingency([refCounts, curCounts])
  else if (test === 'z') outcome = zTestProportions(refCounts[0], refN, curCounts[0], curN)
  else if (test === 'psi') outcome = { statistic: stability }
  else outcome = { statistic: jensenShannon(refShares, curShares) }
  const unseen = categories.filter((c) => !rc.has(c))
  const shown = categories.slice(0, SHOWN_CATEGORIES)
  const rest = (counts: number[], n: number) => counts.slice(SHOWN_CATEGORIES).reduce((a, b) => a + b, 0) / n
  return {
    column,
    kind,
    test,
    statistic: outcome.statistic,
    ...(outcome.pValue !== undefined ? { pValue: outcome.pValue } : {}),
    threshold,
    psi: stability,
    histogram: {
      categories: categories.length > SHOWN_CATEGORIES ? [...shown, 'other'] : shown,
      reference: categories.length > SHOWN_CATEGORIES ? [...refShares.slice(0, SHOWN_CATEGORIES), rest(refCounts, refN)] : refShares,
      current: categories.length > SHOWN_CATEGORIES ? [...curShares.slice(0, SHOWN_CATEGORIES), rest(curCounts, curN)] : curShares,
    },
    ...(unseen.length > 0
      ? { unseen: { categories: unseen.length, rows: unseen.reduce((n, c) => n + (cc.get(c) ?? 0), 0), examples: unseen.slice(0, 5) } }
      : {}),
    referenceRows: refN,
    currentRows: curN,
  }
}

function judged(c: Compared, adjusted?: number): ColumnDrift {
  // Evidently's rules: KS drifts at p ≤ threshold, chi-square and z at p < threshold, distances at ≥ threshold.
  const drifted = isDrifted(c.test, isPValueTest(c.test) ? (adjusted ?? c.pValue ?? 1) : c.statistic, c.threshold)
  return {
    ...c,
    ...(adjusted !== undefined ? { adjustedPValue: adjusted } : {}),
    drifted,
  }
}

/** One data set against the reference. */
export function evaluateDrift(
  reference: DriftSide,
  current: DriftSide,
  config: DriftConfig,
  meta: { path: string; digest: string },
): DriftResult {
  const compared = reference.columns.map((c) => compare(c, reference, current, config)).filter((c): c is Compared => c !== undefined)
  // Benjamini–Hochberg across the columns' p-value tests: m columns tested at 0.05 each would flag m/20 by chance.
  const tested = compared.filter((c) => isPValueTest(c.test) && c.pValue !== undefined)
  const adjusted =
    tested.length > 0
      ? benjaminiHochbergTest(
          tested.map((c) => c.pValue!),
          0.05,
        ).adjusted
      : []
  const columns = compared.map((c) => {
    const i = tested.indexOf(c)
    return judged(c, i >= 0 ? adjusted[i] : undefined)
  })
  const drifted = columns.filter((c) => c.drifted).length
  const share = columns.length > 0 ? drifted / columns.length : 0
  const single = (column: string, shown: string, enabled: boolean) => {
    if (!enabled || !reference.has(column) || !current.has(column)) return undefined
    const c = compare(column, reference, current, config)
    return c && judged({ ...c, column: shown })
  }
  const prediction = single(PREDICTION_COLUMN, 'prediction', config.predictions)
  const label = single(LABEL_COLUMN, 'label', config.labels)
  // The baseline model's outputs on the same rows as the reference side, the candidate's as the current one.
  const versus =
    config.predictions && current.has(BASELINE_COLUMN) && current.has(PREDICTION_COLUMN)
      ? compare(BASELINE_COLUMN, current, current, config, PREDICTION_COLUMN)
      : undefined
  return {
    reference: { path: meta.path, digest: meta.digest, rows: reference.rows, sampled: reference.sampled ? reference.size : undefined },
    rows: current.rows,
    ...(current.sampled ? { sampled: current.size } : {}),
    columns: columns.sort((a, b) => Number(b.drifted) - Number(a.drifted) || severity(b) - severity(a)),
    drifted,
    share,
    threshold: config.share,
    datasetDrift: columns.length > 0 && share >= config.share,
    ...(prediction ? { prediction } : {}),
    ...(versus ? { predictionVsBaseline: judged({ ...versus, column: 'prediction_vs_baseline' }) } : {}),
    ...(label ? { label } : {}),
  }
}

/** How far past its threshold a column is, for the order of the report (worst first). */
function severity(c: ColumnDrift): number {
  return isPValueTest(c.test)
    ? -Math.log10(Math.max(c.adjustedPValue ?? c.pValue ?? 1, 1e-300)) / -Math.log10(c.threshold)
    : c.statistic / c.threshold
}

/** The gate metrics of a drift result: `drift.share_drifted`, `drift.<column>.psi`, … (a name the gate grammar reads). */
export function driftMetrics(d: DriftResult): Record<string, number> {
  const out: Record<string, number> = {
    'drift.share_drifted': d.share,
    'drift.drifted_columns': d.drifted,
    'drift.dataset_drift': d.datasetDrift ? 1 : 0,
  }
  const add = (name: string, c: ColumnDrift) => {
    out[`drift.${name}.statistic`] = c.statistic
    out[`drift.${name}.${c.test}`] = c.statistic
    out[`drift.${name}.psi`] = c.psi
    out[`drift.${name}.drifted`] = c.drifted ? 1 : 0
    if (c.pValue !== undefined) out[`drift.${name}.p_value`] = c.adjustedPValue ?? c.pValue
  }
  for (const c of d.columns) add(c.column, c)
  if (d.prediction) add('prediction', d.prediction)
  if (d.predictionVsBaseline) add('prediction_vs_baseline', d.predictionVsBaseline)
  if (d.label) add('label', d.label)
  return out
}
