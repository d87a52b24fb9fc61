import { describe, expect, it } from '@jest/globals'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { Ajv } from 'ajv'
import { parse } from 'yaml'

const root = path.resolve(import.meta.dirname, '..')
const schema = (name: string) => JSON.parse(readFileSync(path.join(root, '__tests__/fixtures/schemastore', name), 'utf8')) as object
const ajv = new Ajv({ strict: false, allErrors: true })
const validateAction = ajv.compile(schema('github-action.schema.json'))
const validateWorkflow = ajv.compile(schema('github-workflow.schema.json'))

const actionFiles = ['action.yml', ...readdirSync(path.join(root, 'actions')).map((a) => `actions/${a}/action.yml`)]
const workflows = readdirSync(path.join(root, '.github/workflows')).map((f) => `.github/workflows/${f}`)

interface ActionMeta {
  runs: { using: string; main: string }
  branding?: object
  inputs: Record<string, { description?: string }>
  outputs: Record<string, { description?: string }>
}

describe('action metadata', () => {
  for (const file of actionFiles) {
    it(`${file} is valid against SchemaStore's github-action schema, runs node24 from dist/, and describes everything`, () => {
      const meta = parse(readFileSync(path.join(root, file), 'utf8')) as ActionMeta
      expect(validateAction(meta)).toBe(true)
      expect(validateAction.errors ?? []).toEqual([])
      expect(meta.runs.using).toBe('node24')
      const main = path.resolve(root, path.dirname(file), meta.runs.main)
      expect(path.relative(root, main)).toMatch(/^dist\/[a-z-]+\/index\.js$/)
      expect(meta.branding).toBeDefined()
      for (const [k, v] of [...Object.entries(meta.inputs), ...Object.entries(meta.outputs)])
        expect([k, v.description?.length ?? 0]).not.toEqual([k, 0])
    })
  }

  for (const file of workflows) {
    it(`${file} is valid against SchemaStore's github-workflow schema`, () => {
      const wf = parse(readFileSync(path.join(root, file), 'utf8')) as object
      expect(validateWorkflow(wf)).toBe(true)
    })
  }
})
