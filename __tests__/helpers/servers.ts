import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

/**
 * Stops every `modelgate serve` that deploy-model's local target started under `workspace`
 * (`.modelgate/environments/**\/server.json`), as the end of a job would on a runner.
 */
export function stopEnvironmentServers(workspace: string): void {
  const root = path.join(workspace, '.modelgate', 'environments')
  if (!existsSync(root)) return
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const p = path.join(dir, entry)
      if (statSync(p).isDirectory()) walk(p)
      else if (entry === 'server.json') {
        try {
          process.kill((JSON.parse(readFileSync(p, 'utf8')) as { pid: number }).pid, 'SIGTERM')
        } catch {
          // Already gone.
        }
      }
    }
  }
  walk(root)
}
