/** An expected failure of a read or write, and its rejection: the kernel's, under this context's names. */
export { type Failure as InsightsFailure, Rejection as InsightsRejection, conflict, invalid, notFound } from '@carve/shared-kernel';

export const NOTE = 'The note';
export const LINK = 'The link between this note and feature';
export const WORKSPACE = 'The workspace';
