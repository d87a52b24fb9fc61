import type { DeployResult } from '../deploy/run.js'
import { escapeMarkdownCell as cell } from './escape.js'
import { tableLines } from './common.js'

const MARK = { pass: '✅', fail: '❌', skipped: '⏭️' } as const

function headline(r: DeployResult): string {
  if (r.status === 'success') return `${r.name} ${r.version} deployed to ${r.environment} and verified`
  if (r.status === 'dry-run') return `dry run: ${r.name} ${r.version} to ${r.environment} (nothing applied)`
  if (r.rolledBack) return `${r.name} ${r.version} failed in ${r.environment}; rolled back to ${r.rolledBackTo} (verified)`
  return `${r.name} ${r.version} failed in ${r.environment}${r.previous ? '; the rollback did not verify' : ''}`
}

/** The job summary of deploy-model: the decision first, then every step with its verification. */
export function renderDeploySummary(r: DeployResult): string {
  const icon = r.status === 'success' ? '🚀' : r.status === 'dry-run' ? '📝' : r.rolledBack ? '↩️' : '💥'
  const out = [`## ${icon} modelgate deploy-model: ${cell(headline(r))}`, '']
  const facts: [string, string][] = [
    ['Version', `\`${r.version}\``],
    ['Digest', `\`${r.digest}\``],
    ['Environment', cell(r.environment)],
    ['Target', cell(`${r.target.kind}: ${r.target.description}`)],
    ['Previous version', r.previous ? `\`${r.previous.version}\`` : '(none)'],
  ]
  if (r.url) facts.push(['URL', cell(r.url)])
  if (r.stage) facts.push(['Stage', `\`${cell(r.stage.stage)}\` → ${r.version}`])
  out.push(...tableLines(['', ''], facts), '')
  out.push('### Steps', '')
  out.push(
    ...tableLines(
      ['', 'Step', 'Result', 'Time'],
      r.steps.map((s) => [MARK[s.status], cell(s.name), cell(s.message), `${(s.durationMs / 1000).toFixed(1)} s`]),
    ),
    '',
  )
  const verified = r.steps.filter((s) => s.verify)
  if (verified.length > 0) {
    out.push('<details><summary>Verification</summary>', '')
    for (const s of verified) {
      const v = s.verify!
      out.push(`**${cell(s.name)}** (${cell(v.url)}, version ${cell(v.version)})`, '')
      const rows = v.checks.map((c) => [MARK[c.status], c.id, cell(c.message)])
      out.push(...tableLines(['', 'Check', 'Result'], rows), '')
    }
    out.push('</details>', '')
  }
  for (const n of r.notes) out.push(`> [!NOTE]\n> ${cell(n)}`, '')
  return out.join('\n')
}

/** `modelgate deploy`'s text output. */
export function renderDeployText(r: DeployResult): string {
  const lines = [headline(r)]
  for (const s of r.steps) lines.push(`  ${s.status.toUpperCase().padEnd(7)} ${s.name}: ${s.message}`)
  if (r.url) lines.push(`  url  ${r.url}`)
  for (const n of r.notes) lines.push(`note: ${n}`)
  return lines.join('\n')
}
