/**
 * @carve/legacy-domain: the monolith's framework-free rules. Validation and list queries come
 * from @carve/shared-kernel (shared with every carved context) and are re-exported here.
 */
export * from './enums';
export * from './ids';
export * from './resources';
export * from './roles';
export * from '@carve/shared-kernel';
