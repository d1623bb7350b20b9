import { inboxMigrationSql, outboxMigrationSql, postgresTransportMigrationSql } from './index';

describe('DDL', () => {
  it('creates the schema unless told not to (a migrating owner role may not create schemas)', () => {
    for (const ddl of [outboxMigrationSql, inboxMigrationSql]) {
      expect(ddl('legacy')).toMatch(/^\s*CREATE SCHEMA IF NOT EXISTS legacy;/);
      expect(ddl('legacy', { createSchema: false })).not.toMatch(/CREATE SCHEMA/);
      expect(ddl('legacy', { createSchema: false })).toMatch(/CREATE TABLE IF NOT EXISTS legacy\.(outbox|inbox)/);
    }
    expect(postgresTransportMigrationSql()).toContain('carve.messaging_offsets');
  });

  it('refuses schema names that are not plain identifiers (they are spliced into SQL)', () => {
    expect(() => outboxMigrationSql('legacy; DROP TABLE x')).toThrow('schema name must be a lower-case SQL identifier');
  });
});
