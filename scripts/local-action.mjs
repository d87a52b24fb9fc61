// npm run local-action -- <action> <env file>: runs an action from its TypeScript source under GitHub's
// @github/local-action (its @actions/* stubs, the inputs from the env file as INPUT_<NAME>=value), the
// way a developer tries a change before building dist/. <action>: validate-model, test-robustness,
// register-version, deploy-model, or pipeline (the root action).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const [action, envFile] = process.argv.slice(2)
const ACTIONS = ['validate-model', 'test-robustness', 'register-version', 'deploy-model', 'pipeline']
if (!ACTIONS.includes(action) || !envFile || !existsSync(envFile)) {
  console.error(`usage: npm run local-action -- <${ACTIONS.join('|')}> <env file>`)
  process.exit(2)
}
// The root action's metadata is action.yml at the top; each sub-action's is actions/<name>/action.yml.
const dir = action === 'pipeline' ? root : path.join(root, 'actions', action)
const entry = path.relative(dir, path.join(root, 'src/actions', action, 'index.ts'))
const r = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules/@github/local-action/bin/local-action.js'), 'run', dir, entry, path.resolve(envFile)],
  {
    cwd: root,
    stdio: 'inherit',
    // local-action finds the @actions/* packages to stub through npm.
    env: { ...process.env, NODE_PACKAGE_MANAGER: 'npm' },
  },
)
process.exit(r.status ?? 1)
