/** A build or lint failure with one line of what went wrong and one of what to do next. */
export class BuildToolError extends Error {
  constructor(message: string, readonly hint?: string, readonly details?: string) {
    super(message);
    this.name = 'BuildToolError';
  }
}
