import { createGitHubArtifactPort } from '../adapters/github/artifact.js'
import { bundledCliCommand, bundledWasmDir } from '../adapters/wasm.js'
import type { ActionDeps } from './frame.js'

/** Runs an action's logic on a GitHub runner: wires the GitHub adapters in and sets the exit code. */
export async function runOnGitHub(action: (deps: ActionDeps) => Promise<number>): Promise<void> {
  // Imported here, not at the top: the CLI shares the bundle and never needs @actions/* (see adapters/github/index.ts).
  const { createGitHubIO, gitHubRunContext, createGitHubCommentPort, createGitHubDeploymentLedger } =
    await import('../adapters/github/index.js')
  const { owner, repo, ...context } = gitHubRunContext()
  const code = await action({
    io: createGitHubIO(),
    workspace: process.env.GITHUB_WORKSPACE || process.cwd(),
    env: process.env,
    context,
    runnerEnv: { wasmDir: bundledWasmDir() },
    comments: (token) =>
      owner && repo && context.pullRequest ? createGitHubCommentPort({ token, owner, repo, issueNumber: context.pullRequest }) : undefined,
    artifacts: process.env.ACTIONS_RUNTIME_TOKEN ? createGitHubArtifactPort() : undefined,
    deployments: (token) => createGitHubDeploymentLedger({ token, owner, repo, sha: context.sha ?? '', runId: context.runId }),
    cliCommand: bundledCliCommand(),
  })
  process.exitCode = code
}
