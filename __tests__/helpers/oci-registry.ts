import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

/*
 * A real OCI registry for tests: CNCF distribution 2.8 (Debian's `docker-registry`), the same server
 * GHCR's protocol is tested against, on 127.0.0.1 with a free port and its own storage folder.
 */

export const REGISTRY_BIN = '/usr/bin/docker-registry'
export const SKOPEO_BIN = '/usr/bin/skopeo'
const INSTALL = 'apt-get install docker-registry skopeo'

/** Runs `skopeo <args>` (an independent OCI client) and returns its stdout. */
export function skopeo(...args: string[]): string {
  if (!existsSync(SKOPEO_BIN)) throw new Error(`${SKOPEO_BIN} is missing: the OCI tests read pushes back with skopeo (${INSTALL})`)
  return execFileSync(SKOPEO_BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

export interface TestRegistry {
  host: string
  port: number
  /** `127.0.0.1:<port>` */
  address: string
  /** Storage root: blobs live under `docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data`. */
  root: string
  /** The path of a stored blob's bytes, for tamper tests. */
  blobPath(digest: string): string
  /** Everything the server wrote to stderr, for failure messages. */
  log(): string
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

export async function startRegistry(): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(`${REGISTRY_BIN} is missing: the OCI tests need a real registry and skopeo (${INSTALL})`)
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-oci-'))
  const root = path.join(dir, 'storage')
  // The port can be taken between freePort() and the server's bind: try a few.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const config = path.join(dir, 'config.yml')
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: error',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${root}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '  secret: modelgate-test-secret',
        '',
      ].join('\n'),
    )
    const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    const ready = await waitReady(port, child, exited)
    if (!ready) {
      if (attempt < 3 && /address already in use/.test(stderr)) continue
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`docker-registry did not start on 127.0.0.1:${port}:\n${stderr}`)
    }
    return {
      host: '127.0.0.1',
      port,
      address: `127.0.0.1:${port}`,
      root,
      blobPath: (digest) => {
        const hex = digest.replace(/^sha256:/, '')
        return path.join(root, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data')
      },
      log: () => stderr,
      stop: () => stop(child, exited, dir),
    }
  }
}

async function waitReady(port: number, child: ChildProcess, exited: Promise<number | null>): Promise<boolean> {
  let gone = false
  void exited.then(() => (gone = true))
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline && !gone) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`)
      if (res.status === 200) return true
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  if (!gone) child.kill('SIGKILL')
  return false
}

async function stop(child: ChildProcess, exited: Promise<number | null>, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
  rmSync(dir, { recursive: true, force: true })
}
