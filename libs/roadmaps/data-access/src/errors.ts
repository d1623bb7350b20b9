/** An expected failure of a read or write, and its rejection: the kernel's, under this context's names. */
export { type Failure as RoadmapsFailure, Rejection as RoadmapsRejection, conflict, invalid, notFound } from '@carve/shared-kernel';

export const RELEASE = 'The release';
export const PLANNED_FEATURE = 'The feature in this release';
export const WORKSPACE = 'The workspace';
