#!/usr/bin/env node
/*
 * `npm run release -- <x.y.z>`: makes the tags the README's `modelgate/modelgate/...@v1` references
 * resolve to, as actions/typescript-action's release script does. In the repository of the working
 * directory, on a clean tree: checks that dist/ matches a fresh build, sets package.json's version,
 * writes the CHANGELOG entry (the commit subjects since the last release), commits "Release vX.Y.Z",
 * tags vX.Y.Z and moves the major tag vX to it. It pushes nothing: it prints the push command.
 *
 * Exit codes: 0 released, 2 refused (nothing changed). MODELGATE_RELEASE_CHECK replaces the dist check's
 * command (tests run it on repositories without a build).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/

function refuse(message) {
  console.error(`release: ${message}`)
  process.exit(2)
}

const git = (...args) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
const gitOk = (...args) => spawnSync('git', args, { stdio: 'ignore' }).status === 0

const [version, ...rest] = process.argv.slice(2)
if (!version || rest.length > 0) refuse('usage: npm run release -- <x.y.z>')
const m = SEMVER.exec(version)
if (!m) refuse(`'${version}' is not a version x.y.z (no prefix, no pre-release)`)
if (!gitOk('rev-parse', '--show-toplevel')) refuse('not inside a git repository')
process.chdir(git('rev-parse', '--show-toplevel'))
if (git('status', '--porcelain') !== '') refuse('the working tree has changes: commit or stash them first')
const tag = `v${version}`
if (gitOk('rev-parse', '-q', '--verify', `refs/tags/${tag}`)) refuse(`${tag} exists already`)

const pkgFile = path.resolve('package.json')
const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'))
const newer = (a, b) => {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i]
  return false
}
const previous = git('tag', '--list', 'v*.*.*', '--sort=-v:refname')
  .split('\n')
  .find((t) => SEMVER.test(t.slice(1)))
if (previous && !newer(version, previous.slice(1))) refuse(`${tag} is not newer than the last release, ${previous}`)

// The bundle must be what the source builds: the tag is what users run.
const check = process.env.MODELGATE_RELEASE_CHECK ?? 'npm run check-dist'
if (spawnSync(check, { shell: true, stdio: 'inherit' }).status !== 0)
  refuse(`\`${check}\` failed: rebuild dist/ (npm run build) and commit it`)

const subjects = git('log', '--format=%s', '--no-merges', ...(previous ? [`${previous}..HEAD`] : ['HEAD']))
  .split('\n')
  .filter((s) => s !== '')
const date = new Date().toISOString().slice(0, 10)
const entry = `## ${tag} (${date})\n\n${subjects.map((s) => `- ${s}`).join('\n') || '- (no changes)'}\n`
const changelog = existsSync('CHANGELOG.md') ? readFileSync('CHANGELOG.md', 'utf8') : '# Changelog\n'
const [head, ...older] = changelog.split(/\n(?=## )/)
writeFileSync('CHANGELOG.md', [head.trimEnd(), '', entry, ...older.map((o) => o.trimEnd() + '\n')].join('\n').trimEnd() + '\n')

pkg.version = version
writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`)
const files = ['package.json', 'CHANGELOG.md']
if (existsSync('package-lock.json')) {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'))
  lock.version = version
  if (lock.packages?.['']) lock.packages[''].version = version
  writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`)
  files.push('package-lock.json')
}
git('add', ...files)
git('commit', '-q', '-m', `Release ${tag}`)
git('tag', '-a', tag, '-m', `Release ${tag}`)
const major = `v${m[1]}`
git('tag', '-f', major, tag + '^{}')
console.log(`released ${tag} (${subjects.length} changes since ${previous ?? 'the start'}); ${major} → ${tag}`)
console.log(`push with: git push origin HEAD ${tag} && git push --force origin ${major}`)
