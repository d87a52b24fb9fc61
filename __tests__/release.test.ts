/**
 * scripts/release.mjs on real git repositories: the tags the README's `@v1` references resolve to, the
 * version in package.json, the CHANGELOG entry, and each refusal (exit 2, nothing changed).
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

const SCRIPT = path.resolve(import.meta.dirname, '../scripts/release.mjs')
const ENV = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' }

function repo(): { dir: string; git: (...a: string[]) => string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'mg-release-'))
  const git = (...a: string[]) => execFileSync('git', a, { cwd: dir, env: ENV, encoding: 'utf8' }).trim()
  git('init', '-q')
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'modelgate', version: '0.1.0' }, null, 2)}\n`)
  git('add', '-A')
  git('commit', '-qm', 'First commit')
  writeFileSync(path.join(dir, 'a.txt'), 'a\n')
  git('add', '-A')
  git('commit', '-qm', 'Validate models')
  return { dir, git }
}

function release(dir: string, args: string[], check = 'true') {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: dir, env: { ...ENV, MODELGATE_RELEASE_CHECK: check }, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('npm run release', () => {
  it('tags vX.Y.Z, moves vX, sets the version and writes the CHANGELOG entry; the next release moves vX again', () => {
    const { dir, git } = repo()
    const first = release(dir, ['1.0.0'])
    expect([first.code, first.stderr]).toEqual([0, ''])
    expect(first.stdout).toContain('released v1.0.0 (2 changes since the start); v1 → v1.0.0')
    expect(git('rev-parse', 'v1^{commit}')).toBe(git('rev-parse', 'HEAD'))
    expect(git('rev-parse', 'v1.0.0^{commit}')).toBe(git('rev-parse', 'HEAD'))
    expect(git('log', '-1', '--format=%s')).toBe('Release v1.0.0')
    expect(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version).toBe('1.0.0')
    expect(readFileSync(path.join(dir, 'CHANGELOG.md'), 'utf8')).toMatch(
      /^# Changelog\n\n## v1\.0\.0 \(\d{4}-\d\d-\d\d\)\n\n- Validate models\n- First commit\n$/,
    )

    writeFileSync(path.join(dir, 'b.txt'), 'b\n')
    git('add', '-A')
    git('commit', '-qm', 'Compare with production')
    const second = release(dir, ['1.1.0'])
    expect(second.code).toBe(0)
    expect(git('rev-parse', 'v1^{commit}')).toBe(git('rev-parse', 'HEAD'))
    expect(git('rev-parse', 'v1.0.0^{commit}')).not.toBe(git('rev-parse', 'HEAD'))
    const changelog = readFileSync(path.join(dir, 'CHANGELOG.md'), 'utf8')
    expect(changelog).toMatch(/^# Changelog\n\n## v1\.1\.0 \(.*\)\n\n- Compare with production\n\n## v1\.0\.0/)
  })

  it('refuses, changing nothing: a bad version, an older one, a dirty tree, a failing dist check', () => {
    const { dir, git } = repo()
    expect(release(dir, ['1.0.0']).code).toBe(0)
    const head = git('rev-parse', 'HEAD')
    const cases: [string[], string, RegExp][] = [
      [['v1.2'], 'true', /'v1\.2' is not a version x\.y\.z/],
      [['0.9.0'], 'true', /v0\.9\.0 is not newer than the last release, v1\.0\.0/],
      [['1.0.0'], 'true', /v1\.0\.0 exists already/],
      [['1.0.1'], 'false', /`false` failed: rebuild dist\//],
    ]
    for (const [args, check, message] of cases) {
      const r = release(dir, args, check)
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
    }
    writeFileSync(path.join(dir, 'a.txt'), 'changed\n')
    expect(release(dir, ['1.0.1']).stderr).toMatch(/the working tree has changes/)
    expect(git('rev-parse', 'HEAD')).toBe(head)
    expect(git('tag', '--list')).toBe('v1\nv1.0.0')
  })
})
