import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Ajv, type AnySchemaObject } from 'ajv'

/*
 * The KServe InferenceService CRD's v1beta1 schema (__tests__/fixtures/kserve, with its source and
 * licence), compiled once, for every test that renders an InferenceService.
 */

const K8S_KEYWORDS = [
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
]

/**
 * The API server prunes or (kubectl's default `--validate=strict`) rejects fields a structural schema
 * does not declare; JSON Schema lets them through. Closing every object that lists properties (and does
 * not preserve unknown fields) makes a misspelt field fail here as it would on a cluster.
 */
function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, closeObjects(s)])) : closeObjects(v)
  }
  if (out.properties && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false
  }
  return out
}

const schemaFile = path.resolve(import.meta.dirname, '../fixtures/kserve/inferenceservice-v1beta1.schema.json')
const crdSchema = JSON.parse(readFileSync(schemaFile, 'utf8')) as AnySchemaObject
// code.optimize off: ajv's optimiser takes ~20 s on this 0.6 MB schema and ~4 s without it.
const ajv = new Ajv({ strict: false, allErrors: true, code: { optimize: false } })
for (const k of K8S_KEYWORDS) ajv.addKeyword(k)
ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 })
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) })
ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) })
const validate = ajv.compile(closeObjects(crdSchema) as AnySchemaObject)

/** What the schema says is wrong with `manifest` ([] when it is valid). */
export function schemaErrors(manifest: unknown): string[] {
  return validate(manifest) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`)
}
