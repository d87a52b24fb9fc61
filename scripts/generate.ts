/*
 * Every generated file and README section, computed from its source of truth:
 * - schemas/modelgate.schema.json from the manifest's zod schema,
 * - schemas/result.schema.json from the result's zod schema,
 * - the README's input/output tables from actions/<name>/action.yml, its manifest reference from the schema,
 *   and its metric table from the metric catalogue (src/core/metrics/catalog.ts).
 * __tests__/generated.test.ts fails on any drift; `npm run generate` rewrites them.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { parse } from 'yaml'
import { manifestSchema } from '../src/core/manifest/schema.js'
import { resultSchema } from '../src/core/result/schema.js'
import { METRIC_CATALOGUE, metricNames } from '../src/core/metrics/catalog.js'

export const ROOT = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..')

function json(x: unknown): string {
  return `${JSON.stringify(x, null, 2)}\n`
}

export function manifestJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(manifestSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>
  return {
    $schema: schema.$schema,
    $id: 'https://github.com/modelgate/modelgate/raw/main/schemas/modelgate.schema.json',
    title: 'modelgate manifest (modelgate.yml)',
    ...schema,
  }
}

export function resultJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(resultSchema, { target: 'draft-2020-12' }) as Record<string, unknown>
  return {
    $schema: schema.$schema,
    $id: 'https://github.com/modelgate/modelgate/raw/main/schemas/result.schema.json',
    title: 'modelgate result (validate-model report JSON)',
    ...schema,
  }
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

interface ActionYml {
  inputs?: Record<string, { description: string; required?: boolean; default?: string }>
  outputs?: Record<string, { description: string }>
}

export function actionTables(name: string): string {
  const file = name === '.' ? path.join(ROOT, 'action.yml') : path.join(ROOT, 'actions', name, 'action.yml')
  const action = parse(readFileSync(file, 'utf8')) as ActionYml
  const rows = ['| input | default | description |', '|---|---|---|']
  for (const [k, v] of Object.entries(action.inputs ?? {}))
    rows.push(`| \`${k}\` | ${v.default ? `\`${cell(v.default)}\`` : ''} | ${cell(v.description)} |`)
  rows.push('', '| output | description |', '|---|---|')
  for (const [k, v] of Object.entries(action.outputs ?? {})) rows.push(`| \`${k}\` | ${cell(v.description)} |`)
  return rows.join('\n')
}

interface JsonSchemaNode {
  type?: string | string[]
  description?: string
  default?: unknown
  enum?: unknown[]
  anyOf?: JsonSchemaNode[]
  items?: JsonSchemaNode
  properties?: Record<string, JsonSchemaNode>
  additionalProperties?: JsonSchemaNode | boolean
  required?: string[]
}

function typeOf(n: JsonSchemaNode): string {
  if (n.enum) return n.enum.map((e) => `\`${String(e)}\``).join(' | ')
  if (n.anyOf) return [...new Set(n.anyOf.map(typeOf))].join(' or ')
  if (n.type === 'array') return `list of ${n.items ? typeOf(n.items) : 'values'}`
  return Array.isArray(n.type) ? n.type.join(' or ') : (n.type ?? 'any')
}

function propertyRows(node: JsonSchemaNode, prefix: string, nested = false): string[] {
  const rows: string[] = []
  for (const [k, v] of Object.entries(node.properties ?? {})) {
    if (k === '$schema') continue
    const required = node.required?.includes(k) && v.default === undefined ? ' (required)' : ''
    const def = v.default === undefined ? '' : `\`${JSON.stringify(v.default)}\``
    rows.push(`| \`${prefix}${k}\`${required} | ${cell(typeOf(v))} | ${def} | ${cell(v.description ?? '')} |`)
    if (!nested) continue
    // Further down for the keys that group settings: an object's own keys, a map's per-entry keys.
    const form = v.properties ? v : objectForm(v)
    if (form?.properties) rows.push(...propertyRows(form, `${prefix}${k}.`, true))
    else if (typeof v.additionalProperties === 'object' && v.additionalProperties.properties) {
      rows.push(...propertyRows(v.additionalProperties, `${prefix}${k}.<name>.`, true))
    }
  }
  return rows
}

/** The object form of a key that also accepts a shorthand (e.g. `model: path` or `model: {…}`). */
function objectForm(n: JsonSchemaNode): JsonSchemaNode | undefined {
  if (n.properties) return n
  for (const branch of [...(n.anyOf ?? []), ...(n.items ? [n.items] : [])]) {
    const found = objectForm(branch)
    if (found) return found
  }
  return undefined
}

export function manifestTable(): string {
  const schema = manifestJsonSchema() as JsonSchemaNode
  const rows = ['| key | type | default | description |', '|---|---|---|---|', ...propertyRows(schema, '')]
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    const obj = objectForm(v)
    if (!obj) continue
    const arrayOf = v.type === 'array' || v.anyOf?.some((b) => b.type === 'array')
    // The lifecycle keys nest their settings one level deeper (deploy.environments.<name>.target).
    rows.push(...propertyRows(obj, `${k}${arrayOf ? '[]' : ''}.`, k === 'registry' || k === 'deploy'))
  }
  return rows.join('\n')
}

/** Which tasks report each metric, which direction is better, and what it is: binary's metrics first, as a report lists them. */
export function metricsTable(): string {
  const tasks = ['binary', 'multiclass', 'regression'] as const
  const names = [...new Set(tasks.flatMap((t) => metricNames(t)))]
  const rows = ['| metric | binary | multiclass | regression | better | definition (scikit-learn) |', '|---|:-:|:-:|:-:|---|---|']
  for (const m of names) {
    const entry = METRIC_CATALOGUE[m]
    const marks = tasks.map((t) => (entry.tasks.includes(t) ? '✓' : ''))
    rows.push(`| \`${m}\` | ${marks.join(' | ')} | ${entry.better} | ${cell(entry.definition)} |`)
  }
  return rows.join('\n')
}

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (n, e) => n + (e.isDirectory() ? folderBytes(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).size),
    0,
  )
}

/** The size of the committed dist/, so the README says what users download. */
export function distSize(): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`
  const lib = path.join(ROOT, 'dist/lib')
  const wasm = statSync(path.join(lib, 'ort-wasm-simd-threaded.wasm')).size
  const main = statSync(path.join(lib, 'index.js')).size
  return `\`dist/\` is ${mb(folderBytes(path.join(ROOT, 'dist')))} in all: onnxruntime-web's WASM ${mb(wasm)}, shipped once; the shared bundle \`dist/lib/index.js\` ${mb(main)}; \`@actions/artifact\` in a chunk loaded only when uploading, and the GitHub adapters (\`@actions/core\`, \`@actions/github\`) in chunks only the actions load; a stub per action and for the CLI that turns on Node's compile cache (Node 22.1 and later) and imports the bundle.`
}

/** README sections between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`. */
export function readmeSections(): Record<string, string> {
  return {
    'validate-model': actionTables('validate-model'),
    'test-robustness': actionTables('test-robustness'),
    'register-version': actionTables('register-version'),
    'deploy-model': actionTables('deploy-model'),
    modelgate: actionTables('.'),
    manifest: manifestTable(),
    metrics: metricsTable(),
    'dist-size': distSize(),
  }
}

export function renderReadme(readme: string): string {
  let out = readme
  for (const [name, body] of Object.entries(readmeSections())) {
    const re = new RegExp(`(<!-- generated:${name} -->\\n)[\\s\\S]*?(<!-- /generated:${name} -->)`)
    if (!re.test(out)) throw new Error(`README.md has no <!-- generated:${name} --> section`)
    out = out.replace(re, `$1${body}\n$2`)
  }
  return out
}

/** path (relative to the repository) → expected content. */
export function generatedFiles(): Record<string, string> {
  return {
    'schemas/modelgate.schema.json': json(manifestJsonSchema()),
    'schemas/result.schema.json': json(resultJsonSchema()),
    'README.md': renderReadme(readFileSync(path.join(ROOT, 'README.md'), 'utf8')),
  }
}
