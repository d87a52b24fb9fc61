import { GitBackend } from './backends/git.js'
import { LocalBackend } from './backends/local.js'
import { OciBackend } from './backends/oci.js'
import { MlflowBackend } from './backends/mlflow.js'
import type { RegistryLocation } from './location.js'
import type { RegistryBackend } from './types.js'

/** Credentials for remote registries: GHCR takes any user name with a GITHUB_TOKEN. */
export interface RegistryCredentials {
  username?: string
  token?: string
  /** Where a backend says what it did on the user's behalf (a stale lock broken): the action's warnings. */
  onWarning?: (message: string) => void
}

/** The one place a registry location maps to its backend. */
export async function openRegistry(location: RegistryLocation, credentials: RegistryCredentials = {}): Promise<RegistryBackend> {
  switch (location.kind) {
    case 'local':
      return new LocalBackend(location.root, credentials.onWarning ? { onWarning: credentials.onWarning } : {})
    case 'git':
      return new GitBackend({ repoDir: location.repoDir, ...(location.remote ? { remote: location.remote } : {}) })
    case 'oci':
      return new OciBackend({ reference: location.reference, credentials })
    case 'mlflow':
      return new MlflowBackend({ trackingUri: location.trackingUri, credentials })
  }
}
