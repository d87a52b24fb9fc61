import { readFileSync } from 'node:fs'
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { Ajv2020 } from 'ajv/dist/2020.js'
import formatsModule from 'ajv-formats'
import { UserError, errorText } from '../errors.js'
import { parseJsonFile } from '../files.js'
import { fileProblem } from './files.js'
import { cellAt, type Batch } from './types.js'

/** Violating rows quoted in a summary. */
export const CONTRACT_EXAMPLES = 5

export interface ContractSummary {
  /** The schema file. */
  schema: string
  violations: number
  rowsChecked: number
  /** The first violating rows (1-based data row numbers), at most CONTRACT_EXAMPLES. */
  examples: { row: number; message: string }[]
}

export interface ContractChecker {
  readonly path: string
  /** The parsed schema, for `contractColumns`. */
  readonly schema: AnySchemaObject
  /** Validates every row of the batch as an object of its columns (missing values as null). */
  check(batch: Batch): void
  summary(): ContractSummary
}

/** The columns a row schema names: its `properties` keys, then any other `required` names. */
export function contractColumns(schema: unknown): string[] {
  if (schema === null || typeof schema !== 'object') return []
  const { properties, required } = schema as { properties?: unknown; required?: unknown }
  const names = properties !== null && typeof properties === 'object' && !Array.isArray(properties) ? Object.keys(properties) : []
  if (Array.isArray(required)) names.push(...required.filter((name): name is string => typeof name === 'string'))
  return [...new Set(names)]
}

/**
 * A checker for a data contract: a JSON Schema (draft-07, 2019-09 or 2020-12, chosen by its
 * `$schema`; draft-07 when absent) describing one row. Each violating row counts once; its
 * first error is quoted, e.g. `row 12: /mean_area must be >= 0`.
 */
export function createContractChecker(schemaPath: string): ContractChecker {
  const schema = readSchema(schemaPath)
  const validate = compile(schemaPath, schema)
  let rowsChecked = 0
  let violations = 0
  const examples: ContractSummary['examples'] = []

  return {
    path: schemaPath,
    schema,
    check(batch: Batch): void {
      const entries = Object.entries(batch.columns)
      for (let i = 0; i < batch.length; i++) {
        const row: Record<string, unknown> = {}
        for (const [name, cells] of entries) row[name] = cellAt(cells, i)
        rowsChecked++
        if (validate(row)) continue
        violations++
        if (examples.length < CONTRACT_EXAMPLES) {
          const number = batch.offset + i + 1
          examples.push({ row: number, message: `row ${number}: ${describe(validate.errors)}` })
        }
      }
    },
    summary(): ContractSummary {
      return { schema: schemaPath, violations, rowsChecked, examples: examples.map((e) => ({ ...e })) }
    },
  }
}

function readSchema(path: string): AnySchemaObject {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new UserError(`${path}: cannot read the data contract (${fileProblem(e)})`, { file: path, cause: e })
  }
  const schema = parseJsonFile(text, path, 'the data contract')
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw new UserError(`${path}: the data contract must be a JSON Schema object describing one row`, { file: path })
  }
  return schema as AnySchemaObject
}

function compile(path: string, schema: AnySchemaObject): ValidateFunction {
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : ''
  // Unknown keywords (annotations such as "units") are tolerated; malformed known ones still fail.
  const options = { allErrors: false, strict: false }
  const ajv = dialect.includes('2020-12')
    ? new Ajv2020(options)
    : dialect.includes('2019-09')
      ? new Ajv2019(options)
      : dialect === '' || dialect.includes('draft-07')
        ? new Ajv(options)
        : undefined
  if (ajv === undefined) {
    throw new UserError(`${path}: unsupported JSON Schema dialect "${dialect}" in $schema; use draft-07, 2019-09 or 2020-12`, {
      file: path,
      field: '$schema',
    })
  }
  // Node hands over ajv-formats' module.exports, whose `default` is the plugin itself.
  formatsModule.default(ajv)
  try {
    return ajv.compile(schema)
  } catch (e) {
    throw new UserError(`${path}: not a valid JSON Schema (${errorText(e)})`, { file: path, cause: e })
  }
}

function describe(errors: ErrorObject[] | null | undefined): string {
  const first = errors?.[0]
  if (first === undefined) return 'does not match the data contract'
  return first.instancePath === '' ? `${first.message}` : `${first.instancePath} ${first.message}`
}

/** Shards' summaries of one data set as one pass over all its rows gives it: counts add, the first violating rows kept. */
export function mergeContractSummaries(parts: ContractSummary[]): ContractSummary {
  const examples = parts.flatMap((p) => p.examples).sort((a, b) => a.row - b.row)
  return {
    schema: parts[0].schema,
    violations: parts.reduce((n, p) => n + p.violations, 0),
    rowsChecked: parts.reduce((n, p) => n + p.rowsChecked, 0),
    examples: examples.slice(0, CONTRACT_EXAMPLES),
  }
}
