/**
 * @carve/legacy-domain: the monolith's framework-free rules. Validation and list queries come
 * from @carve/shared-kernel (shared with every carved context) and are re-exported here.
 */
export * from './enums';
export * from './ids';
export * from './resources';
export { monolithOperations } from './api';
// The monolith's permissions add `administer` to the kernel's: this export wins over the kernel's.
export { permissions } from './roles';
export * from '@carve/shared-kernel';
