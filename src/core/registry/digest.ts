import { createHash } from 'node:crypto'
import { createReadStream, lstatSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { Transform } from 'node:stream'
import { UserError, errorText } from '../errors.js'
import type { ArtifactDigest, ArtifactFile } from './types.js'

/** `sha256:<hex>` of a file, streamed: memory does not grow with the file. */
export function sha256File(file: string): Promise<{ digest: string; size: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    let size = 0
    createReadStream(file)
      .on('data', (chunk) => {
        size += chunk.length
        hash.update(chunk)
      })
      .on('error', reject)
      .on('end', () => resolve({ digest: `sha256:${hash.digest('hex')}`, size }))
  })
}

export function sha256Bytes(bytes: Buffer | Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/**
 * The digest of a folder: SHA-256 over its canonical file list, one `<hex>  <path>\n` line per file
 * (the format of `sha256sum`), sorted by path in byte order. Unlike OpenSSF model signing's subject
 * digest (file digests alone), the names are hashed too: renaming a file changes the model.
 */
export function directoryDigest(files: ArtifactFile[]): string {
  const lines = [...files]
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
    .map((f) => `${f.digest.slice('sha256:'.length)}  ${f.path}\n`)
    .join('')
  return sha256Bytes(lines)
}

/**
 * Hashes a model artifact: a file, or a folder file by file. Symbolic links are refused (their target
 * could change under the same digest), and so are empty folders.
 */
export async function digestArtifact(artifactPath: string, field = 'model'): Promise<ArtifactDigest> {
  let st
  try {
    st = statSync(artifactPath)
  } catch (e) {
    throw new UserError(`${artifactPath}: model not found (${errorText(e)})`, { file: artifactPath, field })
  }
  const name = path.basename(path.resolve(artifactPath))
  if (st.isFile()) {
    const { digest, size } = await sha256File(artifactPath)
    return { kind: 'file', name, digest, size, files: [{ path: name, digest, size }] }
  }
  if (!st.isDirectory()) throw new UserError(`${artifactPath}: the model must be a file or a folder`, { file: artifactPath, field })
  const rel = listFiles(artifactPath, field)
  if (rel.length === 0) throw new UserError(`${artifactPath}: the model folder is empty`, { file: artifactPath, field })
  const files: ArtifactFile[] = []
  for (const p of rel) files.push({ path: p, ...(await sha256File(path.join(artifactPath, ...p.split('/')))) })
  return { kind: 'directory', name, digest: directoryDigest(files), size: files.reduce((s, f) => s + f.size, 0), files }
}

/** Relative POSIX paths of every regular file under `root`, in byte order. */
function listFiles(root: string, field: string): string[] {
  const out: string[] = []
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir)) {
      const abs = path.join(dir, entry)
      const rel = prefix ? `${prefix}/${entry}` : entry
      const st = lstatSync(abs)
      if (st.isSymbolicLink()) throw new UserError(`${abs}: symbolic links are not allowed in a model folder`, { file: abs, field })
      if (st.isDirectory()) walk(abs, rel)
      else if (st.isFile()) out.push(rel)
    }
  }
  walk(root, '')
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

/** A pass-through stream that hashes what flows through it: for verifying a download while it is written. */
export function digestTap(): { stream: Transform; digest: () => string; size: () => number } {
  const hash = createHash('sha256')
  let size = 0
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk)
      size += chunk.length
      done(null, chunk)
    },
  })
  return { stream, digest: () => `sha256:${hash.digest('hex')}`, size: () => size }
}
