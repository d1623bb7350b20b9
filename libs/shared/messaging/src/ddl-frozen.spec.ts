/**
 * Version 1 of the outbox's and inbox's DDL is frozen: migrations that shipped run it, so its
 * text must not change (a change is a new version, run by a new migration). The hashes below are
 * of the text the first migrations ran; `outboxMigrationSql` / `inboxMigrationSql` are CREATE
 * SCHEMA plus the versions.
 */
import { createHash } from 'node:crypto';
import { inboxMigrationSql, inboxTablesSqlV1 } from './inbox';
import { outboxMigrationSql, outboxTablesSqlV1 } from './outbox';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the frozen messaging DDL', () => {
  it('keeps version 1 of the outbox and inbox tables to the letter', () => {
    expect(sha256(outboxTablesSqlV1('frozen'))).toBe('beacb149b2bf7a2a1da45175414d8910d46c731b923b9d69b0208d57ed35f12d');
    expect(sha256(inboxTablesSqlV1('frozen'))).toBe('7911808ec916693b8d74b6760675d5139594ca91177f5e0372af683f7f1f79b7');
  });

  it('builds the full DDL from CREATE SCHEMA and the versions', () => {
    expect(outboxMigrationSql('frozen')).toBe(`\nCREATE SCHEMA IF NOT EXISTS frozen;${outboxTablesSqlV1('frozen')}`);
    expect(outboxMigrationSql('frozen', { createSchema: false })).toBe(outboxTablesSqlV1('frozen'));
    expect(inboxMigrationSql('frozen')).toBe(`\nCREATE SCHEMA IF NOT EXISTS frozen;${inboxTablesSqlV1('frozen')}`);
    expect(inboxMigrationSql('frozen', { createSchema: false })).toBe(inboxTablesSqlV1('frozen'));
  });
});
