import { describe, it, expect, afterAll } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import path from 'node:path'
import { GitBackend, type GitBackendOptions } from '../../src/core/registry/backends/git.js'
import { UserError } from '../../src/core/errors.js'
import type { RegistrationPlan, VersionRecord } from '../../src/core/registry/types.js'
import { backendConformance, planFor, tmp, writeArtifact } from './conformance.js'

/*
 * The git registry against real repositories: a bare repository as the remote and one clone per
 * writer, with the real git CLI on both sides.
 */

// GTO's tag grammar, copied from iterative/gto `gto/constants.py` (Python syntax; `(?P<` becomes `(?<` below).
const gtoDirname = '[a-zA-Z0-9-_./]+'
const gtoName = String.raw`[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?`
const gtoSemver = String.raw`(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?`
const gtoCounter = '?P<counter>[0-9]+'
const gtoFullname = `(?P<dirname>${gtoDirname}:)?(?P<name>${gtoName})`
const gtoFullnameInTag = gtoFullname.replaceAll(':', '=')
const GTO_TAG_RE = new RegExp(
  `^(?P<artifact>${gtoFullnameInTag})(((#(?P<stage>${gtoName})|@(?P<version>v${gtoSemver}))(?P<cancel>!?))|@((?P<deprecated>deprecated)|(?P<created>created)))(#(${gtoCounter}))?$`.replaceAll(
    '(?P<',
    '(?<',
  ),
)

const IDENTITY = ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false']

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', [...IDENTITY, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

const roots: string[] = []
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true })
})

/** A bare remote and lazily made clones, one per writer. */
class Fixture {
  readonly root = tmp('modelgate-git-')
  readonly remote = path.join(this.root, 'remote.git')

  constructor() {
    roots.push(this.root)
    git(this.root, 'init', '-q', '--bare', '-b', 'main', this.remote)
  }

  clone(i: number): string {
    const dir = path.join(this.root, `clone-${i}`)
    if (!existsSync(dir)) git(this.root, 'clone', '-q', this.remote, dir)
    return dir
  }

  backend(i: number, opts: Partial<GitBackendOptions> = {}): GitBackend {
    return new GitBackend({ repoDir: this.clone(i), ...opts })
  }

  /** Writes the model at a fixed path of clone `i` and commits it. */
  commit(i: number, content: string, kind: 'file' | 'directory' = 'file'): string {
    const dir = this.clone(i)
    const models = path.join(dir, 'models')
    mkdirSync(models, { recursive: true })
    if (kind === 'directory') rmSync(path.join(models, 'model'), { recursive: true, force: true })
    const artifact = writeArtifact(models, content, kind)
    git(dir, 'add', '-A', 'models')
    git(dir, 'commit', '-q', '--allow-empty', '-m', content)
    return artifact
  }

  remoteTags(): string[] {
    return lines(git(this.remote, 'for-each-ref', '--format=%(refname:strip=2)', 'refs/tags/'))
  }

  localRefs(i: number): string[] {
    return lines(git(this.clone(i), 'for-each-ref', '--format=%(refname)', 'refs/tags/', 'refs/modelgate/'))
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter(Boolean)
}

let conformance: Fixture | undefined
backendConformance('git', {
  make: async (writer = 0) => (conformance ??= new Fixture()).backend(writer),
  artifact: async (writer, content, kind) => (conformance ??= new Fixture()).commit(writer, content, kind),
  tag: (n, v) => `${n}@v${v}`,
})

describe('git backend: GTO tags', () => {
  it('writes annotated tags that GTO’s own tag grammar parses to the expected artifact, version, stage, cancel and counter', async () => {
    const f = new Fixture()
    const reg = f.backend(1)
    const first = await reg.register('fraud', await planFor(f.commit(1, 'one'), 'fraud'))
    const second = await reg.register('fraud', await planFor(f.commit(1, 'two', 'directory'), 'fraud', { version: '1.1.0' }))
    await reg.assign('fraud', '1.0.0', 'staging', () => {})
    const prod = await reg.assign('fraud', '1.1.0', 'team/prod', () => {})
    const off = await reg.unassign('fraud', 'staging')
    await reg.deprecate('fraud', '1.0.0')
    await reg.deprecate('fraud', '1.0.0')

    expect(prod.ref).toBe('fraud#team/prod#2')
    expect(off.ref).toBe('fraud#staging!#3')
    const tags = f.remoteTags().sort()
    expect(tags).toEqual(['fraud#staging!#3', 'fraud#staging#1', 'fraud#team/prod#2', 'fraud@v1.0.0', 'fraud@v1.0.0!', 'fraud@v1.1.0'])
    const parsed = Object.fromEntries(
      tags.map((t) => {
        const g = GTO_TAG_RE.exec(t)?.groups
        return [t, g && [g.artifact, g.version, g.stage, g.cancel, g.counter]]
      }),
    )
    expect(parsed).toEqual({
      'fraud@v1.0.0': ['fraud', 'v1.0.0', undefined, '', undefined],
      'fraud@v1.1.0': ['fraud', 'v1.1.0', undefined, '', undefined],
      'fraud#staging#1': ['fraud', undefined, 'staging', '', '1'],
      'fraud#team/prod#2': ['fraud', undefined, 'team/prod', '', '2'],
      'fraud#staging!#3': ['fraud', undefined, 'staging', '!', '3'],
      'fraud@v1.0.0!': ['fraud', 'v1.0.0', undefined, '!', undefined],
    })
    // GTO ignores lightweight tags: every tag must be a tag object, on the commit of the version it is about.
    expect(lines(git(f.remote, 'for-each-ref', '--format=%(objecttype)', 'refs/tags/'))).toEqual(Array(6).fill('tag'))
    const peel = (t: string) => git(f.remote, 'rev-parse', `refs/tags/${t}^{commit}`).trim()
    expect(peel('fraud#staging#1')).toBe(first.record.git?.commit)
    expect(peel('fraud#staging!#3')).toBe(first.record.git?.commit)
    expect(peel('fraud#team/prod#2')).toBe(second.record.git?.commit)
    expect(peel('fraud@v1.0.0!')).toBe(first.record.git?.commit)

    // Each counted tag carries its claim on the counter, so two writers cannot both take one number.
    expect(lines(git(f.remote, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/modelgate/'))).toEqual([
      `refs/modelgate/fraud/counter.1 ${git(f.remote, 'rev-parse', 'refs/tags/fraud#staging#1').trim()}`,
      `refs/modelgate/fraud/counter.2 ${git(f.remote, 'rev-parse', 'refs/tags/fraud#team/prod#2').trim()}`,
      `refs/modelgate/fraud/counter.3 ${git(f.remote, 'rev-parse', 'refs/tags/fraud#staging!#3').trim()}`,
      `refs/modelgate/fraud/v1.0.0 ${git(f.remote, 'rev-parse', 'refs/modelgate/fraud/v1.0.0').trim()}`,
      `refs/modelgate/fraud/v1.1.0 ${git(f.remote, 'rev-parse', 'refs/modelgate/fraud/v1.1.0').trim()}`,
    ])
    const state = await f.backend(2).stages('fraud')
    expect(state.current).toEqual({ 'team/prod': '1.1.0' })
    expect(state.history.map((h) => [h.ref, h.action, h.stage, h.version])).toEqual([
      ['fraud#staging#1', 'assign', 'staging', '1.0.0'],
      ['fraud#team/prod#2', 'assign', 'team/prod', '1.1.0'],
      ['fraud#staging!#3', 'unassign', 'staging', undefined],
    ])
    expect(state.history.slice(1)).toEqual([prod, off])
    expect((await f.backend(2).list('fraud')).map((r) => [r.version, r.deprecated ?? false])).toEqual([
      ['1.0.0', true],
      ['1.1.0', false],
    ])
  })

  it('stores the version record as the tag message, and the record, card and evidence in a parentless commit', async () => {
    const f = new Fixture()
    const evidence = path.join(f.root, 'report.json')
    writeFileSync(evidence, '{"status":"pass"}\n')
    const artifact = f.commit(1, 'weights')
    const out = await f.backend(1).register('churn', await planFor(artifact, 'churn', { evidence }))
    const head = git(f.clone(1), 'rev-parse', 'HEAD').trim()
    expect(out.record.git).toEqual({ commit: head, path: 'models/model.onnx' })
    expect(out.tag).toBe('churn@v1.0.0')
    expect(out.uri).toBe(`${f.remote}#refs/tags/churn@v1.0.0`)

    const tagObject = git(f.remote, 'cat-file', 'tag', 'churn@v1.0.0')
    const message = tagObject.slice(tagObject.indexOf('\n\n') + 2)
    expect(JSON.parse(message)).toEqual(out.record)
    expect(git(f.remote, 'rev-parse', 'churn@v1.0.0^{commit}').trim()).toBe(head)

    const ref = 'refs/modelgate/churn/v1.0.0'
    expect(lines(git(f.remote, 'ls-tree', '-r', '--name-only', ref))).toEqual([
      'MODEL_CARD.md',
      'evidence/validate-model.json',
      'record.json',
    ])
    expect(git(f.remote, 'rev-list', '--parents', '-n', '1', ref).trim()).toBe(git(f.remote, 'rev-parse', ref).trim())
    expect(JSON.parse(git(f.remote, 'show', `${ref}:record.json`))).toEqual(out.record)
    expect(git(f.remote, 'show', `${ref}:MODEL_CARD.md`)).toBe('# churn 1.0.0\n')

    const reader = f.backend(2)
    expect(await reader.get('churn', '1.0.0')).toEqual({ record: out.record, uri: out.uri, tag: out.tag })
    expect((await reader.readEvidence('churn', '1.0.0', 'validate-model.json')).toString()).toBe('{"status":"pass"}\n')
    await expect(reader.readEvidence('churn', '1.0.0', 'other.json')).rejects.toThrow('churn 1.0.0 has no evidence file other.json')
    await expect(reader.readEvidence('churn', '1.0.0', '../record.json')).rejects.toThrow(UserError)
    // Nothing was committed to a branch or written to the working tree.
    expect(git(f.remote, 'for-each-ref', '--format=%(refname)', 'refs/heads/')).toBe('')
    expect(git(f.clone(1), 'status', '--porcelain')).toBe('')
  })

  it('refuses names and stages outside GTO’s grammar', async () => {
    const f = new Fixture()
    const reg = f.backend(1)
    await expect(reg.list('bad name')).rejects.toThrow(/'bad name' is not a valid model name/)
    await expect(reg.list('-churn')).rejects.toThrow(UserError)
    await reg.register('ok', await planFor(f.commit(1, 'x'), 'ok'))
    await expect(reg.assign('ok', '1.0.0', 'prod!', () => {})).rejects.toThrow(/'prod!' is not a valid stage name/)
    await expect(reg.unassign('ok', 'staging')).rejects.toThrow('ok: stage staging is not assigned')
    expect(f.remoteTags()).toEqual(['ok@v1.0.0'])
  })
})

describe('git backend: only committed models', () => {
  async function refused(f: Fixture, artifact: string, pattern: RegExp): Promise<UserError> {
    const e = await f
      .backend(1)
      .register('m', await planFor(artifact, 'm'))
      .catch((err: unknown) => err)
    expect(e).toBeInstanceOf(UserError)
    expect((e as UserError).message).toMatch(pattern)
    expect(f.remoteTags()).toEqual([])
    expect(f.localRefs(1)).toEqual([])
    return e as UserError
  }

  it('refuses an untracked, modified, ignored or outside-the-repository model, and writes nothing', async () => {
    const f = new Fixture()
    const clone = f.clone(1)
    f.commit(1, 'base')
    const untracked = path.join(clone, 'models', 'new.onnx')
    writeFileSync(untracked, 'not added')
    const e = await refused(f, untracked, /models\/new\.onnx: is not committed/)
    expect(e.file).toBe(path.join(realpathSync(clone), 'models', 'new.onnx'))

    const committed = path.join(clone, 'models', 'model.onnx')
    writeFileSync(committed, 'edited after the commit')
    await refused(f, committed, /models\/model\.onnx: has uncommitted changes/)
    git(clone, 'checkout', '--', 'models/model.onnx')

    writeFileSync(path.join(clone, '.gitignore'), '*.tmp\n')
    git(clone, 'add', '.gitignore')
    git(clone, 'commit', '-q', '-m', 'ignore')
    const folder = f.commit(1, 'folder', 'directory')
    writeFileSync(path.join(folder, 'scratch.tmp'), 'ignored file inside the model folder')
    await refused(f, folder, /models\/model\/scratch\.tmp: is ignored by git/)

    const outside = path.join(f.root, 'outside.onnx')
    writeFileSync(outside, 'elsewhere')
    await refused(f, outside, /outside the git repository/)
  })

  it('refuses a model whose committed bytes differ from the working tree (a clean filter, as Git LFS uses)', async () => {
    const f = new Fixture()
    const clone = f.clone(1)
    git(clone, 'config', 'filter.upper.clean', 'tr a-z A-Z')
    git(clone, 'config', 'filter.upper.smudge', 'cat')
    writeFileSync(path.join(clone, '.gitattributes'), '*.onnx filter=upper\n')
    const artifact = f.commit(1, 'lowercase bytes')
    expect(git(clone, 'show', 'HEAD:models/model.onnx')).toBe('LOWERCASE BYTES')
    await refused(f, artifact, /models\/model\.onnx: the committed file is not the one that was hashed/)
  })
})

describe('git backend: without a remote', () => {
  it('keeps tags in the repository when it has no remote, with the same records and stages', async () => {
    const dir = tmp('modelgate-git-solo-')
    roots.push(dir)
    git(dir, 'init', '-q', '-b', 'main')
    mkdirSync(path.join(dir, 'models'))
    const artifact = writeArtifact(path.join(dir, 'models'), 'solo')
    git(dir, 'add', '-A')
    git(dir, 'commit', '-q', '-m', 'model')
    const reg = new GitBackend({ repoDir: path.join(dir, 'models') })
    const out = await reg.register('solo', await planFor(artifact, 'solo'))
    expect(out.uri).toBe(`${realpathSync(dir)}#refs/tags/solo@v1.0.0`)
    expect(reg.location).toBe(realpathSync(dir))
    await reg.assign('solo', '1.0.0', 'prod', () => {})
    expect((await reg.stages('solo')).current).toEqual({ prod: '1.0.0' })
    expect(lines(git(dir, 'for-each-ref', '--format=%(refname)', 'refs/tags/', 'refs/modelgate/'))).toEqual([
      'refs/modelgate/solo/counter.1',
      'refs/modelgate/solo/v1.0.0',
      'refs/tags/solo#prod#1',
      'refs/tags/solo@v1.0.0',
    ])
    const fetched = await new GitBackend({ repoDir: dir }).fetch('solo', '1.0.0', path.join(dir, 'out'))
    expect(readFileSync(fetched, 'utf8')).toBe('solo')
  })

  it('refuses a version number held by a lightweight tag, which GTO ignores but git will not overwrite', async () => {
    const f = new Fixture()
    const artifact = f.commit(1, 'x')
    git(f.clone(1), 'tag', 'm@v1.0.0')
    const reg = f.backend(1, { remote: false })
    expect(await reg.list('m')).toEqual([])
    await expect(reg.register('m', await planFor(artifact, 'm'))).rejects.toThrow(
      'version 1.0.0 of m is taken by a tag that is not an annotated tag on a commit (tag m@v1.0.0)',
    )
    const out = await reg.register('m', await planFor(artifact, 'm', { version: '1.0.1' }))
    expect(out.created).toBe(true)
  })

  it('with remote: false, leaves the remote untouched', async () => {
    const f = new Fixture()
    const out = await f.backend(1, { remote: false }).register('m', await planFor(f.commit(1, 'x'), 'm'))
    expect(out.created).toBe(true)
    expect(f.remoteTags()).toEqual([])
    expect(f.localRefs(1)).toEqual(['refs/modelgate/m/v1.0.0', 'refs/tags/m@v1.0.0'])
    await expect(f.backend(1, { remote: 'upstream' }).list('m')).rejects.toThrow("has no remote 'upstream'")
  })

  it('re-reads and takes the next number when another writer creates the tag between the read and the write', async () => {
    const dir = tmp('modelgate-git-solo-')
    roots.push(dir)
    git(dir, 'init', '-q', '-b', 'main')
    const artifact = writeArtifact(dir, 'mine')
    git(dir, 'add', '-A')
    git(dir, 'commit', '-q', '-m', 'model')
    const inner = await planFor(artifact, 'iris')
    const seen: string[][] = []
    const racing = (existing: VersionRecord[]): RegistrationPlan => {
      seen.push(existing.map((r) => r.version))
      // Another tool (gto register) tags 1.0.0 on the parent-less empty tree commit after we read.
      if (seen.length === 1)
        git(
          dir,
          'tag',
          '-a',
          'iris@v1.0.0',
          '-m',
          'Registering artifact iris version v1.0.0',
          git(dir, 'commit-tree', '-m', 'other', git(dir, 'write-tree').trim()).trim(),
        )
      return inner(existing)
    }
    const out = await new GitBackend({ repoDir: dir }).register('iris', racing)
    expect(seen).toEqual([[], ['1.0.0']])
    expect(out.record.version).toBe('1.0.1')
    const listed = await new GitBackend({ repoDir: dir }).list('iris')
    expect(listed.map((r) => [r.version, r.digest === '' ? 'foreign' : r.digest])).toEqual([
      ['1.0.0', 'foreign'],
      ['1.0.1', out.record.digest],
    ])
    await expect(new GitBackend({ repoDir: dir }).fetch('iris', '1.0.0', path.join(dir, 'out'))).rejects.toThrow(
      /holds no modelgate record/,
    )
  })
})

describe('git backend: concurrent writers on a remote', () => {
  it('gives two clones assigning stages at once distinct counters, and loses neither assignment', async () => {
    const f = new Fixture()
    await f.backend(1).register('churn', await planFor(f.commit(1, 'm'), 'churn'))
    const stages = ['dev', 'qa', 'staging', 'prod']
    const events = await Promise.all(stages.map((s, i) => f.backend(i + 2).assign('churn', '1.0.0', s, () => {})))
    const counters = events.map((e) => Number(e.ref?.split('#').at(-1))).sort((a, b) => a - b)
    expect(counters).toEqual([1, 2, 3, 4])
    events.forEach((e, i) => expect(e.ref).toMatch(new RegExp(`^churn#${stages[i]}#[1-4]$`)))
    const state = await f.backend(9).stages('churn')
    expect(state.current).toEqual({ dev: '1.0.0', qa: '1.0.0', staging: '1.0.0', prod: '1.0.0' })
    expect(state.history.map((h) => Number(h.ref?.split('#').at(-1)))).toEqual([1, 2, 3, 4])
  })

  it('retries a registration whose tag another clone pushed first, deleting its own local refs', async () => {
    const f = new Fixture()
    const inner = await planFor(f.commit(1, 'mine'), 'churn')
    f.commit(2, 'theirs')
    let calls = 0
    const racing = (existing: VersionRecord[]): RegistrationPlan => {
      if (++calls === 1) {
        git(f.clone(2), 'tag', '-a', 'churn@v1.0.0', '-m', 'Registering artifact churn version v1.0.0')
        git(f.clone(2), 'push', '-q', 'origin', 'refs/tags/churn@v1.0.0')
      }
      return inner(existing)
    }
    const out = await f.backend(1).register('churn', racing)
    expect(calls).toBe(2)
    expect(out.record.version).toBe('1.0.1')
    expect(f.remoteTags().sort()).toEqual(['churn@v1.0.0', 'churn@v1.0.1'])
    expect(f.localRefs(1)).toEqual(['refs/modelgate/churn/v1.0.1', 'refs/tags/churn@v1.0.0', 'refs/tags/churn@v1.0.1'])
    expect(git(f.clone(1), 'rev-parse', 'churn@v1.0.0^{commit}').trim()).toBe(git(f.clone(2), 'rev-parse', 'HEAD').trim())
  })

  it('gives up with "registry busy" after maxAttempts lost races, leaving no local tag', async () => {
    const f = new Fixture()
    const inner = await planFor(f.commit(1, 'mine'), 'churn')
    f.commit(2, 'theirs')
    let n = 0
    const alwaysBeaten = (existing: VersionRecord[]): RegistrationPlan => {
      const plan = inner(existing)
      const tag = `churn@v${plan.record.version}`
      git(f.clone(2), 'commit', '-q', '--allow-empty', '-m', `other ${n++}`)
      git(f.clone(2), 'tag', '-a', tag, '-m', 'other writer')
      git(f.clone(2), 'push', '-q', 'origin', `refs/tags/${tag}`)
      return plan
    }
    await expect(f.backend(1, { maxAttempts: 2 }).register('churn', alwaysBeaten)).rejects.toThrow(
      /registry busy: registering a version of churn lost the race to other writers 2 times/,
    )
    // Only what the remote has: the other writer's 1.0.0, fetched on the second attempt; none of ours.
    expect(f.localRefs(1)).toEqual(['refs/tags/churn@v1.0.0'])
    expect(git(f.clone(1), 'rev-parse', 'refs/tags/churn@v1.0.0')).toBe(git(f.remote, 'rev-parse', 'refs/tags/churn@v1.0.0'))
    expect(f.remoteTags().sort()).toEqual(['churn@v1.0.0', 'churn@v1.0.1'])
  })
})

describe('git backend: integrity and broken repositories', () => {
  it('refuses to fetch a model whose tag was moved to other bytes, and leaves nothing behind', async () => {
    const f = new Fixture()
    await f.backend(1).register('churn', await planFor(f.commit(1, 'good model'), 'churn'))
    const clone = f.clone(1)
    const message = path.join(f.root, 'message.txt')
    writeFileSync(message, git(clone, 'for-each-ref', '--format=%(contents)', 'refs/tags/churn@v1.0.0'))
    f.commit(1, 'evil model')
    git(clone, 'tag', '-f', '-a', 'churn@v1.0.0', '-F', message, 'HEAD')
    git(clone, 'push', '-q', '-f', 'origin', 'refs/tags/churn@v1.0.0')

    const dest = path.join(f.root, 'fetched')
    const e = await f
      .backend(2)
      .fetch('churn', '1.0.0', dest)
      .catch((err: unknown) => err)
    expect(e).toBeInstanceOf(UserError)
    expect((e as UserError).message).toMatch(
      /^churn@v1\.0\.0: models\/model\.onnx at commit [0-9a-f]{12} has digest sha256:[0-9a-f]{64}, the version record says sha256:/,
    )
    expect(readdirSync(dest)).toEqual([])
  })

  it('refuses a version record whose file list does not add up to its digest', async () => {
    const f = new Fixture()
    const out = await f.backend(1).register('churn', await planFor(f.commit(1, 'files', 'directory'), 'churn'))
    const forged = { ...out.record, artifact: { ...out.record.artifact, files: out.record.artifact.files.slice(1) } }
    const message = path.join(f.root, 'forged.json')
    writeFileSync(message, JSON.stringify(forged))
    git(f.clone(1), 'tag', '-f', '-a', 'churn@v1.0.0', '-F', message, 'churn@v1.0.0^{commit}')
    git(f.clone(1), 'push', '-q', '-f', 'origin', 'refs/tags/churn@v1.0.0')
    await expect(f.backend(2).fetch('churn', '1.0.0', path.join(f.root, 'out'))).rejects.toThrow(
      "churn@v1.0.0: the version record's file list does not match its digest",
    )
  })

  it('reports a folder that is not a repository, an unreachable remote and a refused push as UserErrors, with no stray tag', async () => {
    const notRepo = tmp('modelgate-git-none-')
    roots.push(notRepo)
    await expect(new GitBackend({ repoDir: notRepo }).list('m')).rejects.toThrow(/not a git working tree/)
    await expect(new GitBackend({ repoDir: path.join(notRepo, 'missing') }).list('m')).rejects.toThrow(/does not exist/)

    const f = new Fixture()
    const artifact = f.commit(1, 'x')
    git(f.clone(1), 'remote', 'set-url', 'origin', path.join(f.root, 'gone.git'))
    await expect(f.backend(1).list('m')).rejects.toThrow(/cannot fetch the registry tags from remote 'origin'/)
    await expect(f.backend(1).register('m', await planFor(artifact, 'm'))).rejects.toThrow(UserError)
    expect(f.localRefs(1)).toEqual([])

    git(f.clone(1), 'remote', 'set-url', 'origin', f.remote)
    const hook = path.join(f.remote, 'hooks', 'pre-receive')
    writeFileSync(hook, '#!/bin/sh\necho "tags are protected" >&2\nexit 1\n')
    chmodSync(hook, 0o755)
    const e = await f
      .backend(1)
      .register('m', await planFor(artifact, 'm'))
      .catch((err: unknown) => err)
    expect(e).toBeInstanceOf(UserError)
    expect((e as UserError).message).toMatch(
      /remote 'origin' refused the push of refs\/tags\/m@v1\.0\.0, refs\/modelgate\/m\/v1\.0\.0: .*pre-receive hook declined/,
    )
    expect(f.localRefs(1)).toEqual([])
    expect(f.remoteTags()).toEqual([])
  })

  it('tags as modelgate on a runner with no git identity', async () => {
    const f = new Fixture()
    const artifact = f.commit(1, 'x')
    const saved = { global: process.env.GIT_CONFIG_GLOBAL, system: process.env.GIT_CONFIG_NOSYSTEM }
    process.env.GIT_CONFIG_GLOBAL = path.join(f.root, 'empty-gitconfig')
    process.env.GIT_CONFIG_NOSYSTEM = '1'
    writeFileSync(process.env.GIT_CONFIG_GLOBAL, '')
    try {
      expect(() => execFileSync('git', ['config', 'user.name'], { cwd: f.clone(1), stdio: 'pipe', env: process.env })).toThrow()
      await f.backend(1).register('m', await planFor(artifact, 'm'))
    } finally {
      for (const [key, value] of [
        ['GIT_CONFIG_GLOBAL', saved.global],
        ['GIT_CONFIG_NOSYSTEM', saved.system],
      ] as const) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
    }
    expect(git(f.remote, 'for-each-ref', '--format=%(taggername) %(taggeremail)', 'refs/tags/m@v1.0.0').trim()).toBe(
      'modelgate <modelgate@users.noreply.github.com>',
    )
    expect(git(f.remote, 'log', '-1', '--format=%cn <%ce>', 'refs/modelgate/m/v1.0.0').trim()).toBe(
      'modelgate <modelgate@users.noreply.github.com>',
    )
  })
})
