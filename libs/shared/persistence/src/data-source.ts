/** A TypeORM DataSource per schema: entities and the migrations table live in that schema. */
import type { DataSource, DataSourceOptions, EntitySchema, LoggerOptions, MixedList } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { assertIdentifier } from './sql';

export type SslOption = boolean | { rejectUnauthorized: boolean; ca?: string };

export interface DataSourceSpec {
  /** postgres:// connection string. */
  url: string;
  /** The schema this service owns: entities and the `migrations` table go there. */
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities?: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations?: MixedList<Function | string>;
  /** Shown in pg_stat_activity.application_name. */
  applicationName?: string;
  /** TLS: `{ rejectUnauthorized: false }` on Heroku Postgres, `true` (verify) on RDS with the CA bundle. */
  ssl?: SslOption;
  /** Pool size (pg `max`). Default 10. */
  poolSize?: number;
  /**
   * Also pin `search_path` to `<schema>, public` per connection (startup parameter), so raw SQL in
   * migrations and queries finds the schema's tables even as a superuser. Default true; turn it
   * off behind poolers that reject startup options.
   */
  pinSearchPath?: boolean;
  logging?: LoggerOptions;
  /** Default `migrations`. */
  migrationsTableName?: string;
}

/** The options createDataSource uses; handy for @nestjs/typeorm's `forRootAsync` factory. */
export function dataSourceOptions(spec: DataSourceSpec): PostgresConnectionOptions {
  const schema = assertIdentifier(spec.schema, 'schema name');
  const extra: Record<string, unknown> = { max: spec.poolSize ?? 10 };
  if (spec.pinSearchPath !== false) extra.options = `-c search_path=${schema},public`;
  return {
    type: 'postgres',
    url: spec.url,
    schema,
    entities: spec.entities ?? [],
    migrations: spec.migrations ?? [],
    migrationsTableName: spec.migrationsTableName ?? 'migrations',
    migrationsRun: false,
    synchronize: false,
    dropSchema: false,
    // Tables use gen_random_uuid() (core since Postgres 13); never CREATE EXTENSION at connect.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    applicationName: spec.applicationName,
    ssl: spec.ssl,
    logging: spec.logging ?? false,
    extra,
  };
}

export function createDataSource(spec: DataSourceSpec): DataSource {
  // Loaded here, not at the top: importing this library (the CLI's status, a test harness) then
  // costs nothing for TypeORM's few hundred modules until a data source is made.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const typeorm = require('typeorm') as typeof import('typeorm');
  return new typeorm.DataSource(dataSourceOptions(spec) as DataSourceOptions);
}
