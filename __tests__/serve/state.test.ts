import { describe, it, expect } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { UserError } from '../../src/core/errors.js'
import { nextGeneration, readEnvironmentState, writeEnvironmentState } from '../../src/core/serve/state.js'
import { sha256, stateOf, workspace } from './helpers.js'

function thrown(f: () => unknown): UserError {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(UserError)
    return e as UserError
  }
  throw new Error('expected a UserError')
}

describe('environment state file', () => {
  it('writes atomically, reads back, and counts generations', () => {
    const ws = workspace()
    expect(nextGeneration(ws.stateFile)).toBe(1)
    const state = stateOf(1, { version: '1', path: ws.v1 }, { version: '2', path: ws.v2, percent: 12.5 })
    writeEnvironmentState(ws.stateFile, state)
    expect(readEnvironmentState(ws.stateFile)).toEqual(state)
    expect(JSON.parse(readFileSync(ws.stateFile, 'utf8'))).toEqual({
      schemaVersion: '1.0',
      name: 'bc',
      environment: 'local',
      generation: 1,
      stable: { version: '1', path: ws.v1, digest: sha256(ws.v1) },
      canary: { version: '2', path: ws.v2, digest: sha256(ws.v2), percent: 12.5 },
    })
    expect(nextGeneration(ws.stateFile)).toBe(2)
  })

  it('refuses a generation that does not increase, and leaves the file as it was', () => {
    const ws = workspace()
    writeEnvironmentState(ws.stateFile, stateOf(4, { version: '1', path: ws.v1 }))
    const before = readFileSync(ws.stateFile, 'utf8')
    const e = thrown(() => writeEnvironmentState(ws.stateFile, stateOf(4, { version: '2', path: ws.v2 })))
    expect(e.message).toBe(`${ws.stateFile}: generation 4 does not increase on the file's generation 4`)
    expect(e.field).toBe('generation')
    expect(readFileSync(ws.stateFile, 'utf8')).toBe(before)
  })

  it('names the file and the field of bad content', () => {
    const ws = workspace()
    const good = stateOf(1, { version: '1', path: ws.v1 }, { version: '2', path: ws.v2, percent: 10 })
    const cases: [unknown, string, string][] = [
      [{ ...good, stable: { ...good.stable, digest: 'sha256:abc' } }, 'stable.digest', 'expected "sha256:" and 64 lowercase hex digits'],
      [{ ...good, stable: { ...good.stable, path: 'models/v1.onnx' } }, 'stable.path', 'must be an absolute path'],
      [{ ...good, canary: { ...good.canary, percent: 101 } }, 'canary.percent', 'Too big: expected number to be <=100'],
      [{ ...good, canary: { ...good.canary, version: '1' } }, 'canary.version', 'the canary must be a different version than stable'],
      [{ ...good, generation: 1.5 }, 'generation', 'expected int, received number'],
      [{ ...good, extra: true }, 'extra', 'unknown key'],
      [{ ...good, name: undefined }, 'name', 'expected string, received undefined'],
    ]
    for (const [content, field, what] of cases) {
      writeFileSync(ws.stateFile, JSON.stringify(content))
      const e = thrown(() => readEnvironmentState(ws.stateFile))
      expect([e.message, e.file, e.field]).toEqual([`${ws.stateFile}: invalid environment state: ${field}: ${what}`, ws.stateFile, field])
    }
    writeFileSync(ws.stateFile, '{"schemaVersion": ')
    expect(thrown(() => readEnvironmentState(ws.stateFile)).message).toMatch(
      new RegExp(`^${ws.stateFile}: the environment state is not valid JSON \\(.+\\)$`),
    )
    expect(thrown(() => readEnvironmentState(`${ws.dir}/missing.json`)).message).toBe(
      `${ws.dir}/missing.json: cannot read the environment state (file not found)`,
    )
    // A bad state is never written.
    const e = thrown(() => writeEnvironmentState(`${ws.dir}/new.json`, { ...good, generation: -1 }))
    expect(e.field).toBe('generation')
    expect(() => readFileSync(`${ws.dir}/new.json`)).toThrow()
  })
})
