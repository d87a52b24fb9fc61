// Rebuilds dist/ and fails on any difference from what is committed (actions/typescript-action's check-dist).
import { execFileSync } from 'node:child_process'

execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
const status = execFileSync('git', ['status', '--porcelain', '--', 'dist'], { encoding: 'utf8' })
if (status.trim() !== '') {
  console.error('dist/ is not what the sources build. Run `npm run build` and commit dist/.\n')
  console.error(status)
  console.error(execFileSync('git', ['diff', '--stat', '--', 'dist'], { encoding: 'utf8' }))
  process.exit(1)
}
console.log('dist/ matches a fresh build')
