import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'

export const ROOT = path.resolve(import.meta.dirname, '../..')

export interface ActionRun {
  code: number | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
  /** `::error ...::message` style workflow commands printed on stdout. */
  commands: { command: string; properties: string; message: string }[]
}

/** Parses GITHUB_OUTPUT's `name<<delimiter\nvalue\ndelimiter` records, as the runner does. */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (m) {
      const [, name, delim] = m
      const value: string[] = []
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i])
      out[name] = value.join('\n')
    } else if (lines[i].includes('=')) {
      const k = lines[i].indexOf('=')
      out[lines[i].slice(0, k)] = lines[i].slice(k + 1)
    }
  }
  return out
}

/**
 * Runs a bundled action the way the runner does: `node <runs.main>` with the action.yml defaults applied,
 * inputs as INPUT_<NAME> (upper-cased, hyphens kept), and fresh GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / GITHUB_STATE files.
 */
export async function runAction(action: string, inputs: Record<string, string>, env: Record<string, string> = {}): Promise<ActionRun> {
  // '.' is the root action (the lifecycle pipeline).
  const ymlPath = action === '.' ? path.join(ROOT, 'action.yml') : path.join(ROOT, 'actions', action, 'action.yml')
  const meta = parse(readFileSync(ymlPath, 'utf8')) as { inputs: Record<string, { default?: string }>; runs: { main: string } }
  const tmp = mkdtempSync(path.join(tmpdir(), `mg-action-${action}-`))
  const files = { GITHUB_OUTPUT: 'output', GITHUB_STEP_SUMMARY: 'summary', GITHUB_STATE: 'state', GITHUB_ENV: 'env', GITHUB_PATH: 'path' }
  const fileEnv: Record<string, string> = {}
  for (const [k, f] of Object.entries(files)) {
    fileEnv[k] = path.join(tmp, f)
    writeFileSync(fileEnv[k], '')
  }
  const inputEnv: Record<string, string> = {}
  for (const [name, spec] of Object.entries(meta.inputs)) {
    const def = (spec.default ?? '').replace('${{ github.token }}', 'ghs_test_token_from_default').replace('${{ github.actor }}', 'octocat')
    inputEnv[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = def
  }
  for (const [name, value] of Object.entries(inputs)) inputEnv[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  const base: Record<string, string> = {}
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[k]) base[k] = process.env[k]!
  const child = spawn(process.execPath, [path.resolve(path.dirname(ymlPath), meta.runs.main)], {
    cwd: env.GITHUB_WORKSPACE ?? ROOT,
    env: { ...base, GITHUB_ACTIONS: 'true', RUNNER_TEMP: tmp, ...fileEnv, ...inputEnv, ...env },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const commands = [...stdout.matchAll(/^::([a-z-]+)( [^:]*)?::(.*)$/gm)].map((m) => ({
    command: m[1],
    properties: (m[2] ?? '').trim(),
    message: m[3],
  }))
  return {
    code,
    stdout,
    stderr,
    outputs: parseFileCommands(readFileSync(fileEnv.GITHUB_OUTPUT, 'utf8')),
    summary: readFileSync(fileEnv.GITHUB_STEP_SUMMARY, 'utf8'),
    commands,
  }
}

/**
 * runAction for tests that read the repository's fixtures and write their reports into a temporary
 * folder: they opt out of the workspace confinement, as such a workflow would have to (see helpers/workspace.ts).
 */
export function runActionOutside(action: string, inputs: Record<string, string>, env: Record<string, string> = {}): Promise<ActionRun> {
  return runAction(action, { 'allow-outside-workspace': 'true', ...inputs }, env)
}
