/**
 * @carve/insights-domain: the insights context's framework-free rules. Validation and list
 * queries come from @carve/shared-kernel, the same code the monolith uses, so bodies get the same
 * errors and cursors page on across the two sides; they are re-exported here.
 */
export * from './enums';
export * from '@carve/shared-kernel';
export * from './resources';
export * from './stages';
export * from './projection';
