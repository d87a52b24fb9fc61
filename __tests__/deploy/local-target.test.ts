import { describe, it, expect } from '@jest/globals'
import { LocalTarget } from '../../src/core/deploy/targets/local.js'
import { tmp } from '../registry/conformance.js'

describe('local target: two deploys to one environment never interleave', () => {
  const make = (dir: string, lockTimeoutMs?: number) =>
    new LocalTarget({ name: 'm', environment: 'staging', dir, port: 0, serveCommand: [process.execPath], lockTimeoutMs })

  it('a second deploy waits for the first to release the environment', async () => {
    const dir = tmp()
    const release = await make(dir).lock()
    const order: string[] = []
    const second = make(dir)
      .lock()
      .then((r) => {
        order.push('second acquired')
        return r
      })
    await new Promise((r) => setTimeout(r, 200))
    order.push('first released')
    await release()
    await (
      await second
    )()
    expect(order).toEqual(['first released', 'second acquired'])
  })

  it('refuses, naming the holder, when the environment stays busy', async () => {
    const dir = tmp()
    const release = await make(dir).lock()
    await expect(make(dir, 300).lock()).rejects.toThrow(new RegExp(`environment staging of m is busy: locked by process ${process.pid}`))
    await release()
  })

  it('refuses a version that is not an ONNX file, before writing anything', async () => {
    const t = make(tmp())
    await expect(
      t.apply(
        { stable: { name: 'm', version: '1.0.0', digest: 'sha256:x', uri: '', artifactPath: '/x/model.pkl' } },
        { dryRun: false, log: () => {} },
      ),
    ).rejects.toThrow('the local target serves ONNX files; version 1.0.0 is not one (/x/model.pkl)')
    expect(await t.current()).toBeUndefined()
  })
})
