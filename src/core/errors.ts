/**
 * Errors a user can fix (bad manifest, unreadable model or data, unknown column).
 * Adapters print `message` alone and exit 2: never a stack trace for these.
 */
export class UserError extends Error {
  /** The file the problem is in, when there is one. */
  readonly file?: string
  /** The place inside the file: a manifest path such as `thresholds[2]`, a column, a line. */
  readonly field?: string

  constructor(message: string, opts: { file?: string; field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'UserError'
    this.file = opts.file
    this.field = opts.field
  }
}

export const EXIT_PASS = 0
export const EXIT_GATE_FAILED = 1
export const EXIT_INVALID_INPUT = 2

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError
}

/** The text of any thrown value, for messages. */
export function errorText(e: unknown): string {
  // Not `instanceof Error`: errors from another realm (vm contexts, jest) would print as "TypeError [CODE]: …".
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') return (e as Error).message
  return String(e)
}

/**
 * A value in the data that a model cannot take. The runner knows the column and row; the pipeline,
 * which knows the data file, re-raises it naming that file.
 */
export class CellError extends UserError {
  constructor(
    readonly column: string,
    /** 1-based data row (the header is not counted). */
    readonly row: number,
    readonly reason: string,
    source: string,
  ) {
    super(`${source}: column '${column}', data row ${row}: ${reason}`, { file: source, field: column })
    this.name = 'CellError'
  }
}
