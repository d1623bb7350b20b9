/**
 * The CLI's exit codes, the same for every command (listed in `carve --help`), so a script can
 * tell a typo from a refused move, drift, or a database it cannot reach.
 */
export const EXIT = {
  ok: 0,
  /** Anything else that failed (the message says what). */
  failed: 1,
  /** Bad command line: unknown command or option, a bad value. */
  usage: 2,
  /** A move the rules refuse (a stage transition, a cutover whose checks fail, a seed into a context the service owns). */
  refused: 3,
  /** verify found drift. */
  drift: 4,
  /** The database or the gateway's admin API did not answer. */
  unreachable: 5,
  /** A whole-context move refused because workspaces at a stage of their own would be moved against it (per-tenant carving). */
  overrides: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI prints as one line plus a hint saying what to do next. */
export class CliError extends Error {
  constructor(message: string, readonly hint?: string, readonly exitCode: number = EXIT.failed) {
    super(message);
    this.name = 'CliError';
  }
}
