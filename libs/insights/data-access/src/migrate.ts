import { type DataSourceSpec, type LogSink, type MigrationReport, runMigrations, type SslOption } from '@carve/shared-persistence';
import { insightsMigrations } from './migrations';
import { INSIGHTS_SCHEMA } from './schema';

export function insightsDataSourceSpec(url: string, opts: { ssl?: SslOption; applicationName?: string } = {}): DataSourceSpec {
  return { url, schema: INSIGHTS_SCHEMA, migrations: insightsMigrations, applicationName: opts.applicationName ?? 'insights-service-migrate', ssl: opts.ssl };
}

/**
 * Applies pending migrations of schema `insights` under the persistence lib's advisory lock.
 * Run as the migrator role (`carve db provision insights` prints its URL), or as any role that
 * may create the schema (dev, tests).
 */
export function migrateInsights(url: string, opts: { ssl?: SslOption; log?: LogSink; lockTimeoutMs?: number } = {}): Promise<MigrationReport> {
  return runMigrations(insightsDataSourceSpec(url, { ssl: opts.ssl }), { log: opts.log, lockTimeoutMs: opts.lockTimeoutMs });
}
