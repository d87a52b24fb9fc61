/**
 * Many tests read fixtures from the repository and write into a temporary folder, a layout the
 * workspace confinement (src/core/workspace.ts) refuses by default. They opt out, as a user with that
 * layout would; the confinement itself is proved by __tests__/e2e/confinement.test.ts and the corpus.
 */
const CONFINED = new Set(['validate', 'robustness', 'register', 'registry', 'init', 'deploy'])

/** `args` with --allow-outside-workspace added when the command takes it (not to --help or --version runs). */
export function outside(args: string[]): string[] {
  return CONFINED.has(args[0] ?? '') && !args.includes('--help') && !args.includes('-h') ? [...args, '--allow-outside-workspace'] : args
}
