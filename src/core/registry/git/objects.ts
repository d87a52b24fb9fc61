import { existsSync, realpathSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { UserError, errorText } from '../../errors.js'
import type { VersionPayload, VersionRecord } from '../types.js'
import { isPlainFileName } from './layout.js'
import type { GitRepo } from './repo.js'

/*
 * The two commits a git registry's version points at. The model's commit is the user's: it is found
 * (HEAD) and checked, never made, since a version must name the bytes that were hashed and
 * `fetch` must give them back, which rules out uncommitted changes, Git LFS and clean filters. The
 * evidence commit is modelgate's: a parentless commit of record.json, MODEL_CARD.md and evidence/,
 * built from objects alone so that registering never touches the working tree or the index.
 */

export class VersionObjects {
  constructor(private readonly repo: GitRepo) {}

  /**
   * Where the model is committed: its path from the repository root and HEAD. Refused when it is
   * outside the repository, not committed as it is on disk, or stored differently from what was hashed
   * (Git LFS or a clean filter), since `fetch` could then not give back the registered bytes.
   */
  async locate(artifactPath: string, record: VersionRecord): Promise<{ commit: string; path: string }> {
    const { top } = await this.repo.ready()
    let real: string
    try {
      real = realpathSync(artifactPath)
    } catch (e) {
      throw new UserError(`${artifactPath}: model not found (${errorText(e)})`, { file: artifactPath, field: 'model' })
    }
    const rel = path.relative(top, real)
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new UserError(`${artifactPath}: the model is outside the git repository ${top}; the git registry needs it committed there`, {
        file: artifactPath,
        field: 'model',
      })
    }
    const posix = rel.split(path.sep).join('/')
    const head = await this.repo.git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])
    if (head.code !== 0) throw new UserError(`${artifactPath}: ${top} has no commit yet; commit the model first`, { file: artifactPath })
    const commit = head.stdout.toString('utf8').trim()
    const status = await this.repo.ok(
      ['--literal-pathspecs', 'status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignored', '--', posix],
      'check the model is committed',
    )
    const first = status.stdout.toString('utf8').split('\0')[0]
    if (first) {
      const code = first.slice(0, 2)
      const file = path.join(top, first.slice(3))
      const why =
        code === '??' ? 'is not committed' : code === '!!' ? 'is ignored by git, so it is not committed' : 'has uncommitted changes'
      throw new UserError(`${file}: ${why}; commit the model before registering it in the git registry`, { file, field: 'model' })
    }
    await this.checkCommitted(commit, posix, record)
    return { commit, path: posix }
  }

  private async checkCommitted(commit: string, posix: string, record: VersionRecord): Promise<void> {
    const ls = await this.repo.ok(
      ['--literal-pathspecs', 'ls-tree', '-r', '-z', '--long', '--full-tree', commit, '--', posix],
      'list the model',
    )
    const committed = new Map<string, { type: string; mode: string; size: number }>()
    for (const entry of ls.stdout.toString('utf8').split('\0')) {
      const tab = entry.indexOf('\t')
      if (tab < 0) continue
      const [mode, type, , size] = entry.slice(0, tab).split(/\s+/)
      const p = entry.slice(tab + 1)
      const key = record.artifact.kind === 'file' ? (p === posix ? record.artifact.files[0]?.path : undefined) : p.slice(posix.length + 1)
      if (key !== undefined) committed.set(key, { type, mode, size: Number(size) })
    }
    const expected = new Set(record.artifact.files.map((f) => f.path))
    const extra = [...committed.keys()].find((k) => !expected.has(k))
    if (extra !== undefined)
      throw new UserError(`${posix}: ${extra} is committed but not part of the hashed model`, { file: posix, field: 'model' })
    for (const f of record.artifact.files) {
      const inRepo = record.artifact.kind === 'file' ? posix : `${posix}/${f.path}`
      const c = committed.get(f.path)
      const got = c?.type === 'blob' && c.mode !== '120000' && c.size === f.size ? await this.repo.blob(`${commit}:${inRepo}`) : undefined
      if (got?.digest !== f.digest) {
        throw new UserError(
          `${inRepo}: the committed file is not the one that was hashed (${c ? 'Git LFS, a filter or a symbolic link?' : 'not in the commit'}); the git registry stores models committed as plain files`,
          { file: inRepo, field: 'model' },
        )
      }
    }
  }

  /** The `evidence/` tree: the same on every attempt of a registration, so built once. */
  async evidenceTree(evidence: VersionPayload['evidence']): Promise<string | undefined> {
    if (evidence.length === 0) return undefined
    const seen = new Set<string>()
    for (const e of evidence) {
      if (!isPlainFileName(e.file) || seen.has(e.file)) {
        throw new UserError(`${e.path}: '${e.file}' is not a unique plain file name for stored evidence`, {
          file: e.path,
          field: 'evidence',
        })
      }
      seen.add(e.file)
      if (!existsSync(e.path)) throw new UserError(`${e.path}: evidence file not found`, { file: e.path, field: 'evidence' })
    }
    const blobs = await this.repo.hashFiles(evidence.map((e) => path.resolve(e.path)))
    const entries = evidence.map((e, i) => `100644 blob ${blobs[i]}\t${e.file}\0`)
    return (await this.repo.ok(['mktree', '-z'], 'store the evidence', entries.join(''))).stdout.toString('utf8').trim()
  }

  /** The parentless commit holding the record, the model card and the evidence, built without touching the working tree. */
  async evidenceCommit(record: VersionRecord, card: string, evidence: string | undefined): Promise<string> {
    const scratch = await mkdtemp(path.join(tmpdir(), 'modelgate-git-'))
    try {
      await writeFile(path.join(scratch, 'record.json'), `${JSON.stringify(record, null, 2)}\n`)
      await writeFile(path.join(scratch, 'MODEL_CARD.md'), card)
      const [recordBlob, cardBlob] = await this.repo.hashFiles([path.join(scratch, 'record.json'), path.join(scratch, 'MODEL_CARD.md')])
      const root = [`100644 blob ${recordBlob}\trecord.json\0`, `100644 blob ${cardBlob}\tMODEL_CARD.md\0`]
      if (evidence) root.push(`040000 tree ${evidence}\tevidence\0`)
      const tree = (await this.repo.ok(['mktree', '-z'], 'store the evidence', root.join(''))).stdout.toString('utf8').trim()
      const message = `modelgate: ${record.name} v${record.version}: record, model card and evidence\n`
      return (await this.repo.ok(['commit-tree', tree, '-m', message], 'store the evidence')).stdout.toString('utf8').trim()
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }
}
