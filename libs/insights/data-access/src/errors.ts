import type { FieldError } from '@carve/insights-domain';

/** An expected failure of a read or write, mapped to HTTP at the edge (404, 400, 409). */
export type InsightsFailure =
  | { kind: 'not_found'; what: string }
  | { kind: 'validation'; errors: FieldError[] }
  | { kind: 'conflict'; code: string; detail: string };

/** Thrown inside a transaction (so it rolls back) and caught at the edge. */
export class InsightsRejection extends Error {
  constructor(readonly failure: InsightsFailure) {
    super(failure.kind === 'not_found' ? `${failure.what} was not found.` : failure.kind === 'conflict' ? failure.detail : 'The request is not valid.');
    this.name = 'InsightsRejection';
  }
}

export const NOTE = 'The note';
export const LINK = 'The link between this note and feature';
export const WORKSPACE = 'The workspace';

export const notFound = (what: string) => new InsightsRejection({ kind: 'not_found', what });
export const invalid = (errors: FieldError[]) => new InsightsRejection({ kind: 'validation', errors });
export const conflict = (code: string, detail: string) => new InsightsRejection({ kind: 'conflict', code, detail });
