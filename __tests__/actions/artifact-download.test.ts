import { describe, it, expect, beforeEach, afterEach, jest } from '@jest/globals'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { artifactNamePattern, createDirectoryArtifactPort, createGitHubArtifactPort } from '../../src/adapters/github/artifact.js'
import { UserError } from '../../src/core/errors.js'
import type { ArtifactPort } from '../../src/ports/sinks.js'
import { readZip, startArtifactService, writeZip, type FakeArtifactService } from '../helpers/artifact-service.js'

const RUN_BACKEND_ID = '8f1e2d3c-4b5a-4697-8877-665544332211'
const JOB_BACKEND_ID = '0a1b2c3d-4e5f-4061-9273-8495a6b7c8d9'
const MERGE_JOB_BACKEND_ID = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b'
const SHARDS = ['modelgate-shard-1-of-3', 'modelgate-shard-2-of-3', 'modelgate-shard-3-of-3']

/** Every variable `@actions/artifact` or the adapter reads; the ones not set here are cleared so the host's cannot leak in. */
const ENV_KEYS = [
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_RESULTS_URL',
  'GITHUB_SERVER_URL',
  'GITHUB_REPOSITORY',
  'GITHUB_RUN_ID',
  'GITHUB_WORKSPACE',
  'GITHUB_RETENTION_DAYS',
  'ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY',
  'ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS',
  'ACTIONS_ARTIFACT_MAX_ARTIFACT_COUNT',
  // Neither the Azure SDK nor the download's HTTP client may send 127.0.0.1 through the host's proxy.
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
] as const

/** Per shard: a state file with bytes that survive only a byte-exact round trip, and a nested file. */
function shardFiles(index: number): Record<string, Buffer> {
  return {
    'state.json': Buffer.from(`${JSON.stringify({ shard: index, of: 3, rows: [index * 10, index * 10 + 9], note: 'ü ≥ 0.9' })}\n`),
    [path.join('predictions', `part-${index}.bin`)]: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31 + index) & 0xff)),
  }
}

/** Writes each artifact's files under `<root>/<name>/` and uploads them through `port`. */
async function uploadAll(port: ArtifactPort, root: string, artifacts: Record<string, Record<string, Buffer>>): Promise<void> {
  for (const [name, contents] of Object.entries(artifacts)) {
    const base = path.join(root, name)
    const files = Object.entries(contents).map(([relative, bytes]) => {
      const file = path.join(base, relative)
      mkdirSync(path.dirname(file), { recursive: true })
      writeFileSync(file, bytes)
      return file
    })
    await port.upload(name, files, base)
  }
}

const ARTIFACTS: Record<string, Record<string, Buffer>> = {
  // Uploaded out of order: the result is sorted by name, not by upload.
  [SHARDS[1]]: shardFiles(2),
  other: { 'report.json': Buffer.from('{"status":"pass"}\n') },
  [SHARDS[0]]: shardFiles(1),
  [SHARDS[2]]: shardFiles(3),
}

/** What every port must do with the four artifacts uploaded. */
function expectShards(downloaded: Awaited<ReturnType<ArtifactPort['download']>>, dest: string): void {
  expect(downloaded.map((a) => a.name)).toEqual(SHARDS)
  for (const [i, artifact] of downloaded.entries()) {
    const dir = path.join(dest, artifact.name)
    expect(artifact.dir).toBe(dir)
    expect(artifact.files).toEqual([path.join(dir, 'predictions', `part-${i + 1}.bin`), path.join(dir, 'state.json')])
    for (const [relative, bytes] of Object.entries(ARTIFACTS[artifact.name])) {
      expect(readFileSync(path.join(dir, relative)).equals(bytes)).toBe(true)
    }
  }
}

describe('artifactNamePattern', () => {
  it('matches whole names with * and ? as wildcards and everything else literally', () => {
    const shard = artifactNamePattern('modelgate-shard-*')
    expect(SHARDS.every((name) => shard.test(name))).toBe(true)
    expect(shard.test('other')).toBe(false)
    expect(shard.test('x-modelgate-shard-1')).toBe(false)
    expect(artifactNamePattern('shard-?-of-3').test('shard-2-of-3')).toBe(true)
    expect(artifactNamePattern('shard-?-of-3').test('shard-12-of-3')).toBe(false)
    expect(artifactNamePattern('a.b+(c)').test('a.b+(c)')).toBe(true)
    expect(artifactNamePattern('a.b').test('axb')).toBe(false)
    expect(artifactNamePattern('*').test('anything at all')).toBe(true)
  })

  it.each(['', '  ', '.', '..', 'shards/*', 'a\\b', 'a:b', 'a|b', 'a"b', "a'b", 'a<b', 'a>b', 'a\nb'])(
    'refuses %j as a UserError',
    (pattern) => {
      expect(() => artifactNamePattern(pattern)).toThrow(UserError)
    },
  )
})

describe('createGitHubArtifactPort().download against a local artifact service', () => {
  let service: FakeArtifactService
  let tmp: string
  let savedEnv: Record<string, string | undefined>

  beforeEach(async () => {
    service = await startArtifactService({
      workflowRunBackendId: RUN_BACKEND_ID,
      workflowJobRunBackendId: JOB_BACKEND_ID,
      firstArtifactId: 42,
    })
    savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]))
    for (const k of ENV_KEYS) delete process.env[k]
    tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-gh-download-'))
    Object.assign(process.env, {
      ACTIONS_RUNTIME_TOKEN: service.token,
      ACTIONS_RESULTS_URL: `${service.url}/`,
      // Any host other than github.com / *.ghe.com makes the client refuse to run (GHES is unsupported).
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/models',
      GITHUB_RUN_ID: '987654321',
      // Only the default download path; the port always passes its own.
      GITHUB_WORKSPACE: path.join(tmp, 'workspace'),
    })
    // The client logs each step and `::add-mask::` commands straight to stdout; keep the test output readable.
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
  })

  afterEach(async () => {
    jest.restoreAllMocks()
    for (const k of ENV_KEYS) {
      if (savedEnv[k] === undefined) delete process.env[k]
      else process.env[k] = savedEnv[k]
    }
    rmSync(tmp, { recursive: true, force: true })
    await service.close()
  })

  it('downloads exactly the matching artifacts, sorted by name, byte for byte, with their ids', async () => {
    await uploadAll(createGitHubArtifactPort(), path.join(tmp, 'up'), ARTIFACTS)
    service.twirpCalls.length = 0
    const dest = path.join(tmp, 'down')

    const downloaded = await createGitHubArtifactPort().download('modelgate-shard-*', dest)

    expectShards(downloaded, dest)
    // Ids in upload order: shard 2 was first (42), `other` second (43).
    expect(downloaded.map((a) => a.id)).toEqual([44, 42, 45])
    const [list, ...rest] = service.twirpCalls
    expect(list.method).toBe('ListArtifacts')
    expect(list.body).toEqual({ workflow_run_backend_id: RUN_BACKEND_ID, workflow_job_run_backend_id: JOB_BACKEND_ID })
    // Per artifact: the client looks it up by id, then asks for a read URL naming the uploading job.
    expect(rest.map((c) => [c.method, c.body.id_filter ?? c.body.name])).toEqual([
      ['ListArtifacts', '44'],
      ['GetSignedArtifactURL', SHARDS[0]],
      ['ListArtifacts', '42'],
      ['GetSignedArtifactURL', SHARDS[1]],
      ['ListArtifacts', '45'],
      ['GetSignedArtifactURL', SHARDS[2]],
    ])
    expect(rest.filter((c) => c.method === 'GetSignedArtifactURL').map((c) => c.body.workflow_job_run_backend_id)).toEqual([
      JOB_BACKEND_ID,
      JOB_BACKEND_ID,
      JOB_BACKEND_ID,
    ])
    expect(service.blobRequests.filter((r) => r.method === 'GET')).toHaveLength(3)
  })

  it('downloads from another job of the run, as a merge job does after the shard jobs', async () => {
    await uploadAll(createGitHubArtifactPort(), path.join(tmp, 'up'), ARTIFACTS)
    process.env.ACTIONS_RUNTIME_TOKEN = service.jobToken(MERGE_JOB_BACKEND_ID)
    const dest = path.join(tmp, 'down')

    expectShards(await createGitHubArtifactPort().download('modelgate-shard-?-of-3', dest), dest)
    const lists = service.twirpCalls.filter((c) => c.method === 'ListArtifacts')
    expect(lists.every((c) => c.body.workflow_job_run_backend_id === MERGE_JOB_BACKEND_ID)).toBe(true)
  })

  it('replaces what an earlier download left in <dir>/<name>', async () => {
    await uploadAll(createGitHubArtifactPort(), path.join(tmp, 'up'), ARTIFACTS)
    const dest = path.join(tmp, 'down')
    mkdirSync(path.join(dest, SHARDS[0]), { recursive: true })
    writeFileSync(path.join(dest, SHARDS[0], 'stale.json'), '{}')

    expectShards(await createGitHubArtifactPort().download('modelgate-shard-*', dest), dest)
  })

  it('returns an empty list when nothing matches, without downloading anything', async () => {
    await uploadAll(createGitHubArtifactPort(), path.join(tmp, 'up'), ARTIFACTS)
    const dest = path.join(tmp, 'down')
    expect(await createGitHubArtifactPort().download('modelgate-shard-*-of-4', dest)).toEqual([])
    expect(service.blobRequests.filter((r) => r.method === 'GET')).toEqual([])
  })

  it('returns an empty list for a run with no artifacts', async () => {
    expect(await createGitHubArtifactPort().download('*', path.join(tmp, 'down'))).toEqual([])
  })

  it('refuses an invalid pattern as a UserError before calling the service', async () => {
    await expect(createGitHubArtifactPort().download('shards/*', path.join(tmp, 'down'))).rejects.toBeInstanceOf(UserError)
    expect(service.twirpCalls).toEqual([])
  })

  it('refuses an artifact whose contents do not match the digest recorded at upload', async () => {
    await uploadAll(createGitHubArtifactPort(), path.join(tmp, 'up'), ARTIFACTS)
    // A valid zip, but another artifact's: only the digest can tell.
    service.blobs.set(SHARDS[0], service.blobs.get(SHARDS[1])!)
    const dest = path.join(tmp, 'down')

    await expect(createGitHubArtifactPort().download('modelgate-shard-1-of-3', dest)).rejects.toThrow(/digest/)
  })

  it('keeps every file of a hostile zip inside <dir>/<name>', async () => {
    const zip = writeZip([
      { name: '../escape.txt', data: Buffer.from('up one') },
      { name: 'nested/../../../escape2.txt', data: Buffer.from('up three') },
      { name: '/absolute.txt', data: Buffer.from('absolute') },
      { name: 'fine.txt', data: Buffer.from('fine') },
    ])
    expect(readZip(zip).map((e) => e.name)).toHaveLength(4)
    const id = service.seedArtifact('modelgate-shard-1-of-1', zip)
    const dest = path.join(tmp, 'down')

    const [artifact] = await createGitHubArtifactPort().download('modelgate-shard-*', dest)

    expect(artifact).toMatchObject({ name: 'modelgate-shard-1-of-1', id, dir: path.join(dest, 'modelgate-shard-1-of-1') })
    // unzip-stream turns each `..` into `.` and joins absolute names onto the directory.
    expect(artifact.files.map((f) => path.relative(artifact.dir, f))).toEqual([
      'absolute.txt',
      'escape.txt',
      'fine.txt',
      path.join('nested', 'escape2.txt'),
    ])
    expect(readdirSync(tmp).sort()).toEqual(['down'])
    expect(readdirSync(dest)).toEqual(['modelgate-shard-1-of-1'])
  })

  it('passes on the service refusing the listing', async () => {
    service.failNext('ListArtifacts', 403, 'permission_denied', 'no read access')
    await expect(createGitHubArtifactPort().download('*', path.join(tmp, 'down'))).rejects.toThrow(/403/)
  })
})

describe('createDirectoryArtifactPort().download', () => {
  let tmp: string
  let store: string
  let port: ArtifactPort

  beforeEach(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-dir-download-'))
    store = path.join(tmp, 'store')
    port = createDirectoryArtifactPort(store)
    await uploadAll(port, path.join(tmp, 'up'), ARTIFACTS)
  })

  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true })
  })

  it('copies exactly the matching artifacts, sorted by name, byte for byte, without ids', async () => {
    const dest = path.join(tmp, 'down')
    const downloaded = await port.download('modelgate-shard-*', dest)
    expectShards(downloaded, dest)
    expect(downloaded.every((a) => a.id === undefined)).toBe(true)
    // The store is left as it was.
    expect(readFileSync(path.join(store, SHARDS[0], 'state.json')).equals(ARTIFACTS[SHARDS[0]]['state.json'])).toBe(true)
  })

  it('replaces what an earlier download left in <dest>/<name>', async () => {
    const dest = path.join(tmp, 'down')
    mkdirSync(path.join(dest, SHARDS[2]), { recursive: true })
    writeFileSync(path.join(dest, SHARDS[2], 'stale.json'), '{}')
    expectShards(await port.download('modelgate-shard-*', dest), dest)
  })

  it('lists the stored files in place when the destination is the store itself', async () => {
    expectShards(await port.download('modelgate-shard-*', store), store)
  })

  it('returns an empty list when nothing matches, or nothing was ever stored', async () => {
    expect(await port.download('modelgate-shard-*-of-4', path.join(tmp, 'down'))).toEqual([])
    expect(await createDirectoryArtifactPort(path.join(tmp, 'nowhere')).download('*', path.join(tmp, 'down'))).toEqual([])
  })

  it('refuses an invalid pattern as a UserError', async () => {
    await expect(port.download('../*', path.join(tmp, 'down'))).rejects.toBeInstanceOf(UserError)
    await expect(port.download('', path.join(tmp, 'down'))).rejects.toBeInstanceOf(UserError)
  })

  it('refuses a stored artifact holding a symbolic link', async () => {
    symlinkSync(path.join(tmp, 'up', 'other', 'report.json'), path.join(store, SHARDS[1], 'link.json'))
    await expect(port.download('modelgate-shard-*', path.join(tmp, 'down'))).rejects.toBeInstanceOf(UserError)
  })

  it('refuses a destination inside the store', async () => {
    await expect(port.download('modelgate-shard-*', path.join(store, SHARDS[0]))).rejects.toBeInstanceOf(UserError)
  })
})
