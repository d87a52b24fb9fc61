import { bundledWasmDir } from '../adapters/wasm.js'
import { runCli } from './main.js'

/** The `modelgate` command. */
export async function runModelgateCli(argv: string[] = process.argv.slice(2)): Promise<void> {
  process.exitCode = await runCli(argv, {
    stdout: (t) => process.stdout.write(`${t}\n`),
    stderr: (t) => process.stderr.write(`${t}\n`),
    cwd: process.cwd(),
    runnerEnv: { wasmDir: bundledWasmDir() },
  })
}
