/** One line saying what went wrong, then what to do next (the CLI prints both). */
export class HelmToolError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly details?: string,
  ) {
    super(message);
    this.name = 'HelmToolError';
  }
}
