/**
 * @carve/roadmaps-domain: the roadmaps context's framework-free rules. Validation and list
 * queries are byte-compatible with the monolith's (@carve/legacy-domain), so bodies get the same
 * errors and cursors page on across the two sides.
 */
export * from './context';
export * from './enums';
export * from './validation';
export * from './list-query';
export * from './resources';
