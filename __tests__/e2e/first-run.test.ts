import { describe, it, expect } from '@jest/globals'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { ROOT, runActionOutside } from '../helpers/action-harness.js'
import { tmp } from '../registry/conformance.js'

/* What a new user meets first: each ends in one message that says what to do. */

const run = promisify(execFile)
const CLI = path.join(ROOT, 'dist/cli/index.js')
const CONFIG = path.join(ROOT, 'examples/breast-cancer/modelgate.yml')

describe('a first run', () => {
  it('with no manifest at all: says where it looked and what to give', async () => {
    const dir = tmp('mg-first-')
    const err = (await run(process.execPath, [CLI, 'validate'], { cwd: dir }).catch((e: { code: number; stderr: string }) => e)) as {
      code: number
      stderr: string
    }
    expect(err.code).toBe(2)
    expect(err.stderr.trim()).toBe(
      `modelgate: no manifest: modelgate.yml is not in ${dir}. Point to yours with --config (the config input), or write one with modelgate init --model <model.onnx> --data <data.csv> --label <column>, or give --model, --data and --label`,
    )
  })

  it('with a wrong manifest path: names it and says the path is relative to the repository', async () => {
    const r = await runActionOutside('validate-model', { config: 'model/modelgate.yml' }, { GITHUB_WORKSPACE: tmp('mg-first-') })
    expect(r.code).toBe(2)
    expect(r.commands.filter((c) => c.command === 'error').map((c) => c.message)).toEqual([
      'model/modelgate.yml: manifest not found; check the path given with input config, relative to the repository root (the workspace)',
    ])
  })

  it('on a pull request from a fork, with no token: passes, and says why there is no comment', async () => {
    const event = path.join(tmp('mg-first-'), 'event.json')
    writeFileSync(
      event,
      JSON.stringify({
        pull_request: { number: 7, head: { repo: { fork: true } } },
        repository: { name: 'models', owner: { login: 'acme' } },
      }),
    )
    const r = await runActionOutside(
      'validate-model',
      { config: CONFIG, 'github-token': '' },
      { GITHUB_WORKSPACE: tmp('mg-first-'), GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_REPOSITORY: 'acme/models' },
    )
    expect(r.code).toBe(0)
    expect(r.commands.filter((c) => c.command === 'warning').map((c) => c.message)).toContain(
      'No pull-request comment: github-token is empty (pull requests from forks get no token with write access). The report is in the job summary; to comment, set github-token and permissions: pull-requests: write.',
    )
  }, 60_000)
})
