/**
 * @carve/roadmaps-data-access: schema `roadmaps`. Migrations (`migrateRoadmaps`), the releases
 * API's reads and owner-mode writes (`releases.repository`, with their events in the outbox), and
 * the version-guarded apply functions forward sync shares with tests and tools (`sync`).
 */
export * from './schema';
export * from './migrations';
export * from './migrate';
export * from './errors';
export * from './views';
export * from './sync';
export * from './outbox';
export * from './releases.repository';
