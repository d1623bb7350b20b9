/** The monolith's data source: schema `legacy`, its entities and migrations. */
import { type DataSourceSpec, type LogSink, type MigrationReport, runMigrations, type SslOption } from '@carve/shared-persistence';
import { FeatureComment } from '../features/feature-comment.entity';
import { Feature } from '../features/feature.entity';
import { legacyMigrations } from '../migrations';
import { NoteFeature } from '../notes/note-feature.entity';
import { Note } from '../notes/note.entity';
import { ReleaseFeature } from '../releases/release-feature.entity';
import { Release } from '../releases/release.entity';
import { Member } from '../workspaces/member.entity';
import { Workspace } from '../workspaces/workspace.entity';
import { LEGACY_SCHEMA } from './schema';

export const legacyEntities = [Workspace, Member, Feature, FeatureComment, Note, NoteFeature, Release, ReleaseFeature];

export function legacyDataSourceSpec(url: string, opts: { ssl?: SslOption; poolSize?: number; applicationName?: string } = {}): DataSourceSpec {
  return {
    url,
    schema: LEGACY_SCHEMA,
    entities: legacyEntities,
    migrations: legacyMigrations,
    applicationName: opts.applicationName ?? 'legacy-monolith',
    ssl: opts.ssl,
    poolSize: opts.poolSize,
  };
}

/** Applies pending migrations of the legacy schema under the advisory lock (see @carve/shared-persistence). */
export function migrateLegacy(url: string, opts: { ssl?: SslOption; log?: LogSink; lockTimeoutMs?: number } = {}): Promise<MigrationReport> {
  return runMigrations(legacyDataSourceSpec(url, { ssl: opts.ssl, applicationName: 'legacy-monolith-migrate' }), {
    log: opts.log,
    lockTimeoutMs: opts.lockTimeoutMs,
  });
}
