import { bundledWasmDir } from '../adapters/wasm.js'
import { runCli } from './main.js'

/** CI=true (GitHub Actions, most CI services) or CI=1; not CI=false or CI=0. */
export function isCI(value: string | undefined): boolean {
  return value !== undefined && value !== '' && !['0', 'false'].includes(value.toLowerCase())
}

/** The `modelgate` command. */
export async function runModelgateCli(argv: string[] = process.argv.slice(2)): Promise<void> {
  process.exitCode = await runCli(argv, {
    stdout: (t) => process.stdout.write(`${t}\n`),
    stderr: (t) => process.stderr.write(`${t}\n`),
    progress: {
      // In CI the log is a file even where stderr looks like a terminal: plain lines there.
      isTTY: process.stderr.isTTY === true && !isCI(process.env.CI),
      write: (t) => process.stderr.write(t),
      // Read at each update: the terminal may be resized during a long run.
      get columns() {
        return process.stderr.columns
      },
    },
    cwd: process.cwd(),
    runnerEnv: { wasmDir: bundledWasmDir() },
  })
}
