import { cellAt, type Cell } from '../data/types.js'
import { UserError } from '../errors.js'
import type { FeatureBatch, PredictionBatch } from './types.js'

/** A class label as models report it. */
export type Label = number | string

/** Tells apart a list of integer class labels from integer-valued regression outputs, which JSON cannot. */
export type Task = 'classification' | 'regression'

/** What a backend said about a batch, as decoded from JSON or a file, before any checking. */
export interface RawPredictions {
  labels?: unknown[]
  /** One array per row, columns in the order of `classes`. */
  probabilities?: unknown[]
  classes?: unknown[]
  values?: unknown[]
}

/** Where each part of a prediction came from (model output, reply field or file column). */
export type PredictionSources = PredictionBatch['sources']

/** The batch as rows, features in the model's order: what wire protocols send. */
export function featureRows(batch: FeatureBatch): Cell[][] {
  const rows: Cell[][] = []
  for (let i = 0; i < batch.length; i++) rows.push(batch.columns.map((column) => cellAt(column, i)))
  return rows
}

/**
 * Checks a backend's answer against the batch it was asked about and converts it.
 * `who` names the runner's source (command, URL or file) in every message.
 */
export function toPredictionBatch(
  who: string,
  batch: { offset: number; length: number },
  raw: RawPredictions,
  sources: PredictionSources,
): PredictionBatch {
  const { labels, probabilities, values } = raw
  if (labels === undefined && probabilities === undefined && values === undefined)
    throw new UserError(`${who}: the answer has no labels, probabilities or values`)
  const out: PredictionBatch = { length: batch.length, sources: {} }
  if (labels !== undefined) {
    checkLength(who, 'labels', labels, batch.length)
    out.labels = labels.map((v, i) => toLabel(who, v, `label of row ${batch.offset + i}`))
    out.sources.labels = sources.labels
  }
  if (probabilities !== undefined) {
    checkLength(who, 'probability rows', probabilities, batch.length)
    const classes = checkClasses(who, raw.classes)
    out.probabilities = probabilityMatrix(who, probabilities, classes.length, batch.offset)
    out.classes = classes
    out.sources.probabilities = sources.probabilities
  }
  if (values !== undefined) {
    checkLength(who, 'values', values, batch.length)
    const array = new Float64Array(batch.length)
    values.forEach((v, i) => (array[i] = toNumber(who, v, `value of row ${batch.offset + i}`)))
    out.values = array
    out.sources.values = sources.values
  }
  return out
}

function checkLength(who: string, what: string, list: unknown[], expected: number): void {
  if (!Array.isArray(list)) throw new UserError(`${who}: ${what} must be a list, got ${describeValue(list)}`)
  if (list.length !== expected) throw new UserError(`${who}: returned ${list.length} ${what} for a batch of ${expected} rows`)
}

function checkClasses(who: string, classes: unknown[] | undefined): Label[] {
  if (classes === undefined || !Array.isArray(classes) || classes.length === 0)
    throw new UserError(`${who}: probabilities were returned without the list of classes they belong to`)
  const labels = classes.map((c, i) => toLabel(who, c, `class ${i}`))
  const seen = new Set<Label>()
  for (const c of labels) {
    if (seen.has(c)) throw new UserError(`${who}: class ${JSON.stringify(c)} is listed twice in the classes`)
    seen.add(c)
  }
  return labels
}

function probabilityMatrix(who: string, rows: unknown[], width: number, offset: number): Float64Array {
  const matrix = new Float64Array(rows.length * width)
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== width)
      throw new UserError(
        `${who}: probabilities of row ${offset + i} must be a list of ${width} numbers (one per class), got ${describeValue(row)}`,
      )
    row.forEach((p, j) => (matrix[i * width + j] = toNumber(who, p, `probability ${j} of row ${offset + i}`)))
  })
  return matrix
}

function toLabel(who: string, v: unknown, what: string): Label {
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v
  throw new UserError(`${who}: ${what} must be a number or a string, got ${describeValue(v)}`)
}

function toNumber(who: string, v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v
  throw new UserError(`${who}: ${what} must be a finite number, got ${describeValue(v)}`)
}

/** A short rendering of a bad value for messages: enough to recognise it, never a whole payload. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing'
  const text = JSON.stringify(v) ?? String(v)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/** `probability_<class>` / `proba_<class>`: the naming convention for one column per class. */
const PROBABILITY_COLUMN = /^(?:probability|proba)_(.+)$/

/** The class a probability column is named after; integer-looking names become numbers, as labels usually are. */
function classOfColumn(name: string): Label {
  const suffix = PROBABILITY_COLUMN.exec(name)?.[1] ?? name
  return /^-?\d+$/.test(suffix) ? Number(suffix) : suffix
}

/** Which named columns hold which part of the predictions. */
export interface ColumnChoice {
  label?: string
  probabilities?: string[]
  classes?: Label[]
  value?: string
}

export interface ColumnOptions {
  labelColumn?: string
  probabilityColumns?: string[]
  valueColumn?: string
  /** Class labels of the probability columns, overriding the ones read from their names. */
  classes?: Label[]
  task?: Task
}

const LABEL_COLUMNS = ['label', 'prediction', 'predicted_label', 'output_label']
const VALUE_COLUMNS = ['value', 'prediction', 'predicted_value']

/**
 * Picks the label, probability and value columns among `available`: the named ones when given
 * (each must exist), else by convention. `where` names the file or reply for messages.
 */
export function chooseColumns(where: string, available: readonly string[], opts: ColumnOptions): ColumnChoice {
  const has = new Set(available)
  const requireColumn = (column: string, option: string): string => {
    if (!has.has(column))
      throw new UserError(`${where}: ${option} ${JSON.stringify(column)} is not a column; columns are ${available.join(', ')}`, {
        file: where,
        field: column,
      })
    return column
  }
  const choice: ColumnChoice = {}
  const explicit = opts.labelColumn !== undefined || opts.probabilityColumns !== undefined || opts.valueColumn !== undefined
  if (explicit) {
    if (opts.labelColumn !== undefined) choice.label = requireColumn(opts.labelColumn, 'labelColumn')
    if (opts.probabilityColumns !== undefined)
      choice.probabilities = opts.probabilityColumns.map((c) => requireColumn(c, 'probability column'))
    if (opts.valueColumn !== undefined) choice.value = requireColumn(opts.valueColumn, 'valueColumn')
  } else if (opts.task === 'regression') {
    choice.value = VALUE_COLUMNS.find((c) => has.has(c))
  } else {
    choice.label = LABEL_COLUMNS.find((c) => has.has(c))
    const probabilityColumns = available.filter((c) => PROBABILITY_COLUMN.test(c))
    if (probabilityColumns.length > 0) choice.probabilities = probabilityColumns
    if (opts.task === undefined && has.has('value')) choice.value = 'value'
  }
  if (choice.probabilities !== undefined) {
    if (choice.probabilities.length === 0) throw new UserError(`${where}: probabilityColumns is empty`)
    const classes = opts.classes ?? choice.probabilities.map(classOfColumn)
    if (classes.length !== choice.probabilities.length)
      throw new UserError(
        `${where}: ${classes.length} classes given for ${choice.probabilities.length} probability columns (${choice.probabilities.join(', ')})`,
      )
    choice.classes = classes
  }
  if (choice.label === undefined && choice.probabilities === undefined && choice.value === undefined)
    throw new UserError(
      `${where}: found no prediction columns among ${available.join(', ')}; expected ` +
        (opts.task === 'regression'
          ? `one of ${VALUE_COLUMNS.join(', ')}`
          : `one of ${LABEL_COLUMNS.join(', ')} or probability_<class> / proba_<class> columns`) +
        ', or name them explicitly',
      { file: where },
    )
  return choice
}

/** Reads the chosen columns through `column(name)` (a file batch or a list of reply records). */
export function fromColumns(choice: ColumnChoice, column: (name: string) => unknown[]): RawPredictions {
  const raw: RawPredictions = {}
  if (choice.label !== undefined) raw.labels = column(choice.label)
  if (choice.value !== undefined) raw.values = column(choice.value)
  if (choice.probabilities !== undefined) {
    const columns = choice.probabilities.map(column)
    const rows = columns[0]?.length ?? 0
    raw.probabilities = Array.from({ length: rows }, (_, i) => columns.map((c) => c[i]))
    raw.classes = choice.classes
  }
  return raw
}

/** The parts' sources when they come from named columns. */
export function columnSources(choice: ColumnChoice): PredictionSources {
  return {
    labels: choice.label,
    probabilities: choice.probabilities?.join(','),
    values: choice.value,
  }
}

/** Names of nested probability fields in reply records (`{"label": 1, "probabilities": [0.2, 0.8]}`). */
const NESTED_PROBABILITY_KEYS = ['probabilities', 'probability', 'output_probability', 'predict_proba']

/**
 * Interprets a `predictions` list as returned by KServe V1 and MLflow servers: labels, numbers
 * (regression), probability lists, or records with named fields. Scalars are labels when they are
 * strings or integers and regression values otherwise, unless `task` says which.
 */
export function fromPredictionList(
  who: string,
  list: unknown,
  opts: { task?: Task; classes?: Label[] },
): { raw: RawPredictions; sources: PredictionSources } {
  if (!Array.isArray(list)) throw new UserError(`${who}: "predictions" must be a list, got ${describeValue(list)}`)
  if (list.length > 0 && list.every((p) => Array.isArray(p))) {
    const rows = list as unknown[][]
    if (opts.task === 'regression') {
      if (rows.some((r) => r.length !== 1))
        throw new UserError(`${who}: a regression model must return one value per row, got ${describeValue(rows[0])}`)
      return { raw: { values: rows.map((r) => r[0]) }, sources: { values: 'predictions' } }
    }
    const width = rows[0]!.length
    return {
      raw: { probabilities: rows, classes: opts.classes ?? indexClasses(width) },
      sources: { probabilities: 'predictions' },
    }
  }
  if (list.length > 0 && list.every((p) => p !== null && typeof p === 'object' && !Array.isArray(p)))
    return fromRecords(who, list as Record<string, unknown>[], opts)
  const asValues =
    opts.task === 'regression' || (opts.task === undefined && list.some((p) => typeof p === 'number' && !Number.isInteger(p)))
  return asValues
    ? { raw: { values: list }, sources: { values: 'predictions' } }
    : { raw: { labels: list }, sources: { labels: 'predictions' } }
}

function fromRecords(
  who: string,
  records: Record<string, unknown>[],
  opts: { task?: Task; classes?: Label[] },
): { raw: RawPredictions; sources: PredictionSources } {
  const keys = Object.keys(records[0]!)
  const column = (key: string): unknown[] => records.map((r) => r[key])
  const nested = opts.task === 'regression' ? undefined : NESTED_PROBABILITY_KEYS.find((k) => keys.includes(k))
  if (nested !== undefined) {
    const rows = column(nested)
    const width = Array.isArray(rows[0]) ? rows[0].length : 0
    const label = LABEL_COLUMNS.find((k) => keys.includes(k))
    const raw: RawPredictions = { probabilities: rows, classes: opts.classes ?? indexClasses(width) }
    if (label !== undefined) raw.labels = column(label)
    return { raw, sources: { probabilities: nested, labels: label } }
  }
  const choice = chooseColumns(who, keys, { task: opts.task, classes: opts.classes })
  return { raw: fromColumns(choice, column), sources: columnSources(choice) }
}

/** Without class names, probability columns are taken to be classes 0..n-1 (scikit-learn's order for encoded targets). */
export function indexClasses(width: number): number[] {
  return Array.from({ length: width }, (_, i) => i)
}
