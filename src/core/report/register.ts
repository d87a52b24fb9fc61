import type { RegisterResult } from '../registry/register.js'
import type { StageState, VersionRecord } from '../registry/types.js'
import { renderModelCard } from '../registry/card.js'
import { evidenceState } from '../registry/golden.js'
import { escapeMarkdownCell as cell, formatBytes } from './escape.js'
import { tableLines } from './common.js'

/** The job summary of register-version: what was decided, where it lives, and the model card. */
export function renderRegisterSummary(r: RegisterResult): string {
  const head = r.created
    ? `## 📦 modelgate register-version: ${cell(r.name)} ${r.version} registered`
    : `## 📦 modelgate register-version: ${cell(r.name)} already registered as ${r.version}`
  const facts: [string, string][] = [
    ['Version', `\`${r.version}\`${r.created ? '' : ' (this digest was already registered: nothing was written)'}`],
    ['Why this number', cell(`${r.record.bump.kind}: ${r.record.bump.reasons.join('; ')}`)],
    ['Digest', `\`${r.digest}\``],
    ['Size', formatBytes(r.record.size)],
    ['Registry', `${r.registry.kind}: \`${cell(r.registry.location)}\``],
    ['URI', `\`${cell(r.uri)}\``],
    ['Tag', `\`${cell(r.tag)}\``],
  ]
  if (r.stage) facts.push(['Stage', `\`${cell(r.stage.stage)}\` → ${r.version}`])
  const evidence = r.record.evidence.map((e) => `${e.kind} ${evidenceState(e)}`).join(', ')
  facts.push(['Evidence', evidence || 'none attached'])
  const out = [head, '', ...tableLines(['', ''], facts), '']
  for (const w of r.warnings) out.push(`> [!WARNING]\n> ${cell(w)}`, '')
  out.push('<details><summary>Model card</summary>', '', renderModelCard(r.record).replace(/^# /, '### '), '</details>', '')
  return out.join('\n')
}

/** `modelgate register`'s text output. */
export function renderRegisterText(r: RegisterResult): string {
  const lines = [
    r.created
      ? `registered ${r.name} ${r.version} (${r.record.bump.kind}: ${r.record.bump.reasons.join('; ')})`
      : `${r.name}: this model is already registered as ${r.version}; nothing written`,
    `  digest    ${r.digest}`,
    `  registry  ${r.registry.kind}: ${r.registry.location}`,
    `  uri       ${r.uri}`,
    `  tag       ${r.tag}`,
    `  evidence  ${r.record.evidence.map((e) => `${e.kind} ${evidenceState(e)}`).join(', ') || 'none'}`,
  ]
  if (r.stage) lines.push(`  stage     ${r.stage.stage} → ${r.version}`)
  for (const w of r.warnings) lines.push(`warning: ${w}`)
  return lines.join('\n')
}

/** `modelgate registry list`: one line per version, with the stages pointing at it. */
export function renderVersionList(name: string, records: VersionRecord[], stages: StageState): string {
  if (records.length === 0) return `${name}: no versions registered`
  const byVersion = new Map<string, string[]>()
  for (const [stage, version] of Object.entries(stages.current)) byVersion.set(version, [...(byVersion.get(version) ?? []), stage])
  const rows = records.map((r) => [
    r.version,
    r.digest.slice(0, 19),
    r.createdAt.slice(0, 19).replace('T', ' '),
    (byVersion.get(r.version) ?? []).join(',') || '-',
    r.evidence.map((e) => `${e.kind}:${evidenceState(e)}`).join(',') || '-',
    r.deprecated ? 'deprecated' : '',
  ])
  const header = ['VERSION', 'DIGEST', 'CREATED (UTC)', 'STAGES', 'EVIDENCE', '']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  return [header, ...rows]
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}
