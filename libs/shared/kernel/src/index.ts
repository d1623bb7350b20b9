/**
 * @carve/shared-kernel: the framework-free code every context's domain shares (a DDD shared
 * kernel). Validation messages and list cursors are part of the API contract: the monolith and
 * the carved services answer the same bad body with the same per-field errors, and a cursor from
 * one side pages on in the other while traffic moves between them (the contract suites and the
 * golden-cursor tests check it). Change them here, once, for every context.
 */
export * from './validation';
export * from './list-query';
export * from './context';
export * from './time';
