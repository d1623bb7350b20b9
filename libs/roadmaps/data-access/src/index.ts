/**
 * @carve/roadmaps-data-access: schema `roadmaps`. Migrations (`migrateRoadmaps`), the
 * version-guarded apply functions forward sync and the backfill share (`sync`), the reads of the
 * service's API (`state.repository`), and its own events (`outbox`).
 */
export * from './schema';
export * from './migrations';
export * from './migrate';
export * from './sync';
export * from './state.repository';
export * from './outbox';
