import { createGitHubIO } from '../../adapters/github/io.js'
import { gitHubRunContext } from '../../adapters/github/context.js'
import { createGitHubCommentPort } from '../../adapters/github/comment.js'
import { createGitHubArtifactPort } from '../../adapters/github/artifact.js'
import { bundledWasmDir } from '../../adapters/wasm.js'
import { runValidateAction } from './main.js'

/** The validate-model action's entry: wires the GitHub adapters into the action's logic. */
export async function runValidateModel(): Promise<void> {
  const { owner, repo, ...context } = gitHubRunContext()
  const code = await runValidateAction({
    io: createGitHubIO(),
    workspace: process.env.GITHUB_WORKSPACE || process.cwd(),
    context,
    runnerEnv: { wasmDir: bundledWasmDir() },
    comments: (token) =>
      owner && repo && context.pullRequest ? createGitHubCommentPort({ token, owner, repo, issueNumber: context.pullRequest }) : undefined,
    artifacts: process.env.ACTIONS_RUNTIME_TOKEN ? createGitHubArtifactPort() : undefined,
  })
  process.exitCode = code
}
