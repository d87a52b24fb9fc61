import { describe, it, expect, beforeEach, afterEach, jest } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createGitHubArtifactPort } from '../../src/adapters/github/artifact.js'
import { UserError } from '../../src/core/errors.js'
import { readZip, startArtifactService, type FakeArtifactService } from '../helpers/artifact-service.js'

const RUN_BACKEND_ID = '8f1e2d3c-4b5a-4697-8877-665544332211'
const JOB_BACKEND_ID = '0a1b2c3d-4e5f-4061-9273-8495a6b7c8d9'
const REPORT_JSON = `${JSON.stringify(
  { status: 'pass', model: { name: 'breast-cancer', metrics: { accuracy: 0.9649122807017544, f1: 0.9722222222222222 } } },
  null,
  2,
)}\n`
const JUNIT_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="modelgate" tests="2" failures="0">\n' +
  '  <testsuite name="gates" tests="2"><testcase name="accuracy ≥ 0.9"/><testcase name="f1 ≥ 0.9"/></testsuite>\n</testsuites>\n'

/** Every variable `@actions/artifact` or the adapter reads; the ones not set here are cleared so the host's cannot leak in. */
const ENV_KEYS = [
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_RESULTS_URL',
  'GITHUB_SERVER_URL',
  'GITHUB_REPOSITORY',
  'GITHUB_RUN_ID',
  'GITHUB_RETENTION_DAYS',
  'ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY',
  'ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS',
  // The Azure SDK, unlike @actions/http-client, would send even 127.0.0.1 through a configured proxy.
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
] as const

describe('createGitHubArtifactPort against a local artifact service', () => {
  let service: FakeArtifactService
  let tmp: string
  let files: string[]
  let savedEnv: Record<string, string | undefined>

  beforeEach(async () => {
    service = await startArtifactService({
      workflowRunBackendId: RUN_BACKEND_ID,
      workflowJobRunBackendId: JOB_BACKEND_ID,
      firstArtifactId: 42,
    })
    savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]))
    for (const k of ENV_KEYS) delete process.env[k]
    Object.assign(process.env, {
      ACTIONS_RUNTIME_TOKEN: service.token,
      ACTIONS_RESULTS_URL: `${service.url}/`,
      // Any host other than github.com / *.ghe.com makes the client refuse to run (GHES is unsupported).
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/models',
      GITHUB_RUN_ID: '987654321',
    })
    tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-gh-artifact-'))
    mkdirSync(path.join(tmp, 'junit'))
    files = [path.join(tmp, 'report.json'), path.join(tmp, 'junit', 'junit.xml')]
    writeFileSync(files[0], REPORT_JSON)
    writeFileSync(files[1], JUNIT_XML)
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

  it('creates the artifact, uploads a zip of exactly the given files to the signed URL, and finalizes it with its size and hash', async () => {
    const uploaded = await createGitHubArtifactPort().upload('modelgate-report', files, tmp)

    expect(uploaded).toEqual({ id: 42, location: 'https://github.com/acme/models/actions/runs/987654321/artifacts/42' })
    expect(service.twirpCalls.map((c) => c.method)).toEqual(['CreateArtifact', 'FinalizeArtifact'])
    const [create, finalize] = service.twirpCalls
    expect(create.authorization).toBe(`Bearer ${service.token}`)
    expect(create.contentType).toBe('application/json')
    expect(create.body).toEqual({
      workflow_run_backend_id: RUN_BACKEND_ID,
      workflow_job_run_backend_id: JOB_BACKEND_ID,
      name: 'modelgate-report',
      mime_type: 'application/zip',
      version: 7,
    })

    const zip = service.blobs.get('modelgate-report')
    if (!zip) throw new Error('nothing was committed to the blob URL')
    expect(finalize.body).toEqual({
      workflow_run_backend_id: RUN_BACKEND_ID,
      workflow_job_run_backend_id: JOB_BACKEND_ID,
      name: 'modelgate-report',
      size: String(zip.length),
      hash: `sha256:${createHash('sha256').update(zip).digest('hex')}`,
    })

    const entries = readZip(zip).map((e) => ({ name: e.name, text: e.data.toString('utf8') }))
    expect(entries.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'junit/junit.xml', text: JUNIT_XML },
      { name: 'report.json', text: REPORT_JSON },
    ])

    // Block blob protocol: staged blocks, then one commit naming them, carrying the content type.
    // The zip is far below the client's 8 MiB block size, so it takes exactly one block.
    expect(service.blobRequests.map((r) => new URL(r.url, service.url).searchParams.get('comp'))).toEqual(['block', 'blocklist'])
    expect(service.blobRequests.at(-1)?.headers['x-ms-blob-content-type']).toBe('application/zip')
  })

  it('names the artifact in the location when the run cannot be linked', async () => {
    delete process.env.GITHUB_RUN_ID
    const uploaded = await createGitHubArtifactPort().upload('modelgate-report', files, tmp)
    expect(uploaded).toEqual({ id: 42, location: 'artifact modelgate-report' })
  })

  it('retries CreateArtifact after a 500 and then completes the upload', async () => {
    service.failNext('CreateArtifact', 500, 'internal', 'the results service is restarting')
    const uploaded = await createGitHubArtifactPort().upload('modelgate-report', files, tmp)
    expect(uploaded.id).toBe(42)
    expect(service.twirpCalls.map((c) => c.method)).toEqual(['CreateArtifact', 'CreateArtifact', 'FinalizeArtifact'])
    expect(
      readZip(service.blobs.get('modelgate-report') ?? Buffer.alloc(0))
        .map((e) => e.name)
        .sort(),
    ).toEqual(['junit/junit.xml', 'report.json'])
  })

  it('fails with the service message when CreateArtifact is refused, without uploading anything', async () => {
    const port = createGitHubArtifactPort()
    await port.upload('modelgate-report', files, tmp)
    const blobRequestsBefore = service.blobRequests.length

    await expect(port.upload('modelgate-report', files, tmp)).rejects.toThrow(
      'Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run',
    )
    expect(service.twirpCalls.map((c) => c.method)).toEqual(['CreateArtifact', 'FinalizeArtifact', 'CreateArtifact'])
    expect(service.blobRequests.length).toBe(blobRequestsBefore)
  })

  it('rejects an invalid name before calling the service', async () => {
    await expect(createGitHubArtifactPort().upload('reports/modelgate', files, tmp)).rejects.toBeInstanceOf(UserError)
    expect(service.twirpCalls).toEqual([])
  })

  // @actions/artifact resolves relative paths against the process cwd and checks containment with a string
  // prefix; the port must resolve against rootDir and check containment by path, as the directory port does.
  it('accepts file paths relative to the root, as the directory port does', async () => {
    await createGitHubArtifactPort().upload('modelgate-report', ['report.json', path.join('junit', 'junit.xml')], tmp)
    expect(
      readZip(service.blobs.get('modelgate-report') ?? Buffer.alloc(0))
        .map((e) => e.name)
        .sort(),
    ).toEqual(['junit/junit.xml', 'report.json'])
  })

  it('refuses a file in a sibling directory whose name starts with the root name', async () => {
    const root = path.join(tmp, 'jun')
    mkdirSync(root)
    const error = await createGitHubArtifactPort()
      .upload('modelgate-report', [files[1]], root)
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).message).toBe(`Cannot store ${files[1]} in an artifact: it is not inside ${root}.`)
    expect(service.twirpCalls).toEqual([])
  })
})
