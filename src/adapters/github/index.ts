/**
 * The adapters over @actions/core and @actions/github, in one module: src/actions/github.ts imports it when an
 * action runs, so that ncc puts it (with undici under @actions/*) in a chunk of the shared bundle of its own
 * and the CLI never loads it.
 */
export { createGitHubIO } from './io.js'
export { gitHubRunContext } from './context.js'
export { createGitHubCommentPort } from './comment.js'
export { createGitHubDeploymentLedger } from './deployments.js'
