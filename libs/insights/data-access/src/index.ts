/**
 * @carve/insights-data-access: schema `insights`. Migrations (`migrateInsights`), the notes
 * API's reads and owner-mode writes (`notes.repository`), and the version-guarded apply
 * functions that forward sync and the backfill share (`sync`).
 */
export * from './schema';
export * from './migrations';
export * from './migrate';
export * from './errors';
export * from './views';
export * from './sync';
export * from './notes.repository';
