/** Data-derived text reaches logs, terminals and pull requests as text, never as commands or markup (issue 12). */
import { describe, expect, it } from '@jest/globals'
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/main.js'
import { runAction } from '../helpers/action-harness.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const FIX = path.join(ROOT, '__tests__/fixtures/exported')

function workspace(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-inject-'))
  copyFileSync(path.join(FIX, 'rf.onnx'), path.join(dir, 'model.onnx'))
  copyFileSync(path.join(FIX, 'breast-cancer-test.csv'), path.join(dir, 'test.csv'))
  writeFileSync(
    path.join(dir, 'modelgate.yml'),
    `name: rf\nmodel: model.onnx\nlabel: target\ndata: [{name: ${JSON.stringify(name)}, path: test.csv}]\nthresholds: [accuracy >= 0.5]\n`,
  )
  return dir
}

describe('a hostile data set name', () => {
  it('cannot emit workflow commands from the action log, nor mention people or link from the summary', async () => {
    const dir = workspace('x\n::warning title=pwned::pwned by data\n@octocat [click](https://evil.example)')
    const r = await runAction('validate-model', { comment: 'false' }, { GITHUB_WORKSPACE: dir })
    expect(r.code).toBe(0)
    expect(r.commands.filter((c) => c.message.includes('pwned'))).toEqual([])
    expect(r.stdout).toContain(':\u200b:warning title=pwned::pwned by data')
    // Mermaid charts are code blocks, drawn as images: GitHub looks for mentions everywhere else.
    const prose = r.summary.split('\n').filter((l) => !/^\s+title "/.test(l))
    const mentions = prose.filter((l) => /(^|[^\w])@octocat/.test(l))
    expect(mentions).toEqual([])
    expect(r.summary).not.toMatch(/(?<!\\)\]\(https:\/\/evil/)
  })

  it('cannot drive the terminal through the CLI', async () => {
    const dir = workspace('red\u001b[31m\u001b]0;owned\u0007')
    const out: string[] = []
    const code = await runCli(['validate'], { stdout: (t) => out.push(t), stderr: (t) => out.push(t), cwd: dir })
    expect(code).toBe(0)
    const printed = out.join('\n')
    expect(printed.includes('\u001b') || printed.includes('\u0007')).toBe(false)
    expect(out.join('\n')).toContain('red: scored 171 rows')
  })
})
