/**
 * A failure of the local broker tooling: one line saying what went wrong, and a hint saying
 * what to do next (the CLI prints it as `CliError(message, hint)`).
 */
export class KafkaBrokerError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'KafkaBrokerError';
  }
}
