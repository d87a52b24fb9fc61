import { describe, it, expect, beforeEach, afterEach } from '@jest/globals'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createDirectoryArtifactPort, validateArtifactName } from '../../src/adapters/github/artifact.js'
import { UserError } from '../../src/core/errors.js'

describe('createDirectoryArtifactPort', () => {
  let tmp: string
  let reports: string
  let store: string
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-artifact-'))
    reports = path.join(tmp, 'reports')
    store = path.join(tmp, 'artifacts')
    mkdirSync(path.join(reports, 'junit'), { recursive: true })
    writeFileSync(path.join(reports, 'result.json'), '{"status":"pass"}')
    writeFileSync(path.join(reports, 'summary.md'), '## ✅ validate-model passed\n')
    writeFileSync(path.join(reports, 'junit', 'junit.xml'), '<testsuites/>')
  })
  afterEach(() => rmSync(tmp, { recursive: true, force: true }))

  it('copies the files under dir/<name>/, keeping their paths relative to the root', async () => {
    const port = createDirectoryArtifactPort(store)
    const files = ['result.json', path.join(reports, 'summary.md'), path.join(reports, 'junit', 'junit.xml')]
    const uploaded = await port.upload('validate-model-report', files, reports)
    expect(uploaded).toEqual({ location: path.join(store, 'validate-model-report') })
    expect(readdirSync(uploaded.location).sort()).toEqual(['junit', 'result.json', 'summary.md'])
    expect(readFileSync(path.join(uploaded.location, 'junit', 'junit.xml'), 'utf8')).toBe('<testsuites/>')
    expect(readFileSync(path.join(uploaded.location, 'summary.md'), 'utf8')).toBe('## ✅ validate-model passed\n')
  })

  it('replaces an earlier upload of the same name', async () => {
    const port = createDirectoryArtifactPort(store)
    await port.upload('report', [path.join(reports, 'result.json'), path.join(reports, 'summary.md')], reports)
    const again = await port.upload('report', [path.join(reports, 'result.json')], reports)
    expect(readdirSync(again.location)).toEqual(['result.json'])
  })

  it('refuses files outside the root and missing files without writing anything', async () => {
    const port = createDirectoryArtifactPort(store)
    const outside = path.join(tmp, 'secret.txt')
    writeFileSync(outside, 'x')
    await expect(port.upload('report', [path.join(reports, 'result.json'), outside], reports)).rejects.toThrow(
      `Cannot store ${outside} in an artifact: it is not inside ${reports}.`,
    )
    await expect(port.upload('report', ['missing.json'], reports)).rejects.toThrow(
      'Cannot store missing.json in an artifact: it is not a file.',
    )
    expect(existsSync(path.join(store, 'report'))).toBe(false)
  })

  it('rejects names the artifact service would reject or that would leave the directory', async () => {
    const port = createDirectoryArtifactPort(store)
    for (const name of ['', '..', 'a/b', 'a\\b', 'x:y', 'r|s', 'a\nb']) {
      await expect(port.upload(name, [path.join(reports, 'result.json')], reports)).rejects.toBeInstanceOf(UserError)
    }
    expect(() => validateArtifactName('..')).toThrow('Invalid artifact name ".."')
    expect(() => validateArtifactName('validate-model report (1)')).not.toThrow()
    expect(existsSync(store)).toBe(false)
  })
})
