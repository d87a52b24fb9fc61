import type { RegistryLocation } from './location.js'

/**
 * The token a registry gets: the one given for it, else the GitHub token, but only for ghcr.io, so
 * that a workflow's GITHUB_TOKEN is never sent to another registry that asks for credentials.
 */
export function registryToken(location: RegistryLocation, given: string | undefined, githubToken: string | undefined): string | undefined {
  if (given) return given
  if (location.kind === 'oci' && /^oci:\/\/ghcr\.io\//i.test(location.reference)) return githubToken || undefined
  return undefined
}
