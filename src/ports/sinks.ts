/** Where a rendered report goes. Adapters implement these; the core never talks to GitHub itself. */

export interface CommentUpsertResult {
  url?: string
  action: 'created' | 'updated' | 'skipped'
  /** Why nothing was posted, when `action` is `skipped`. */
  reason?: string
}

/** One comment per marker on a pull request: created the first time, edited in place afterwards. */
export interface CommentPort {
  upsert(body: string, marker: string): Promise<CommentUpsertResult>
}

export interface ArtifactUploadResult {
  id?: number
  /** Where the files can be found: a URL or a directory. */
  location: string
}

/** One artifact fetched by `ArtifactPort.download`. */
export interface DownloadedArtifact {
  name: string
  /** The service's id for it, when it has one. */
  id?: number
  /** Where its files were put: `<dir>/<name>`, absolute. */
  dir: string
  /** Absolute paths of every file in `dir`, sorted. */
  files: string[]
}

/** Stores report files under a name; `files` are paths inside `rootDir`, kept relative to it. */
export interface ArtifactPort {
  upload(name: string, files: string[], rootDir: string): Promise<ArtifactUploadResult>
  /** Downloads every artifact of this workflow run whose name matches `pattern` (a glob: `*` and `?`), each into `<dir>/<name>/`; returns them sorted by name. None matching: an empty list. */
  download(pattern: string, dir: string): Promise<DownloadedArtifact[]>
}
