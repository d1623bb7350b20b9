import { type DataSourceSpec, type LogSink, type MigrationReport, runMigrations, type SslOption } from '@carve/shared-persistence';
import { roadmapsMigrations } from './migrations';
import { ROADMAPS_SCHEMA } from './schema';

export function roadmapsDataSourceSpec(url: string, opts: { ssl?: SslOption; applicationName?: string } = {}): DataSourceSpec {
  return { url, schema: ROADMAPS_SCHEMA, migrations: roadmapsMigrations, applicationName: opts.applicationName ?? 'roadmaps-service-migrate', ssl: opts.ssl };
}

/**
 * Applies pending migrations of schema `roadmaps` under the persistence lib's advisory lock.
 * Run as the migrator role (`carve db provision roadmaps` prints its URL), or as any role that
 * may create the schema (dev, tests).
 */
export function migrateRoadmaps(url: string, opts: { ssl?: SslOption; log?: LogSink; lockTimeoutMs?: number } = {}): Promise<MigrationReport> {
  return runMigrations(roadmapsDataSourceSpec(url, { ssl: opts.ssl }), { log: opts.log, lockTimeoutMs: opts.lockTimeoutMs });
}
