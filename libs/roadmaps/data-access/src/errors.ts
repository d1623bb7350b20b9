import type { FieldError } from '@carve/roadmaps-domain';

/** An expected failure of a read or write, mapped to HTTP at the edge (404, 400, 409). */
export type RoadmapsFailure =
  | { kind: 'not_found'; what: string }
  | { kind: 'validation'; errors: FieldError[] }
  | { kind: 'conflict'; code: string; detail: string };

/** Thrown inside a transaction (so it rolls back) and caught at the edge. */
export class RoadmapsRejection extends Error {
  constructor(readonly failure: RoadmapsFailure) {
    super(failure.kind === 'not_found' ? `${failure.what} was not found.` : failure.kind === 'conflict' ? failure.detail : 'The request is not valid.');
    this.name = 'RoadmapsRejection';
  }
}

/** How the monolith names what was not found (its messages are part of the contract). */
export const RELEASE = 'The release';
export const PLANNED_FEATURE = 'The feature in this release';
export const WORKSPACE = 'The workspace';

export const notFound = (what: string) => new RoadmapsRejection({ kind: 'not_found', what });
export const invalid = (errors: FieldError[]) => new RoadmapsRejection({ kind: 'validation', errors });
export const conflict = (code: string, detail: string) => new RoadmapsRejection({ kind: 'conflict', code, detail });
