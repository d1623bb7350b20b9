/**
 * Migrations never change after they ship. Each migration's SQL is written out in it, or comes
 * from a versioned builder (`...SqlV1`) whose text is pinned here by hash (the outbox, inbox and
 * sync-conflict builders) or in @carve/shared-persistence's write-fence.frozen.spec.ts (the write
 * fence's): a change to such a text is a new version beside it, run by a new migration.
 * `outboxMigrationSql` / `inboxMigrationSql` are CREATE SCHEMA plus the versions, for tests and
 * tools, never for a migration.
 *
 * The second half reads every migrations folder of the repository (the monolith's, each
 * context's, the control plane's, the context generator's template, and any added later) and
 * checks that its files import nothing but TypeORM's types, each other and pinned builders.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { dropSyncConflictsSqlV1, syncConflictsSqlV1 } from './conflicts';
import { inboxMigrationSql, inboxTablesSqlV1 } from './inbox';
import { outboxMigrationSql, outboxTablesSqlV1 } from './outbox';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the frozen messaging DDL', () => {
  it('keeps version 1 of the outbox, inbox and sync-conflict tables to the letter', () => {
    expect(sha256(outboxTablesSqlV1('frozen'))).toBe('beacb149b2bf7a2a1da45175414d8910d46c731b923b9d69b0208d57ed35f12d');
    expect(sha256(inboxTablesSqlV1('frozen'))).toBe('7911808ec916693b8d74b6760675d5139594ca91177f5e0372af683f7f1f79b7');
    expect(sha256(syncConflictsSqlV1('frozen', 'origin'))).toBe('4c57089889b0a22a8f5ae163d61c9063640a898bfa03f3eebe3ad698664d9989');
    expect(sha256(dropSyncConflictsSqlV1('frozen'))).toBe('5b47e25f6930ae71a9193dc1739d74db27c8d6487d73b337d1126c20f7ad6551');
  });

  it('builds the full DDL from CREATE SCHEMA and the versions', () => {
    expect(outboxMigrationSql('frozen')).toBe(`\nCREATE SCHEMA IF NOT EXISTS frozen;${outboxTablesSqlV1('frozen')}`);
    expect(outboxMigrationSql('frozen', { createSchema: false })).toBe(outboxTablesSqlV1('frozen'));
    expect(inboxMigrationSql('frozen')).toBe(`\nCREATE SCHEMA IF NOT EXISTS frozen;${inboxTablesSqlV1('frozen')}`);
    expect(inboxMigrationSql('frozen', { createSchema: false })).toBe(inboxTablesSqlV1('frozen'));
  });
});

const ROOT = path.resolve(__dirname, '../../../..');
const PERSISTENCE_PINS = 'libs/shared/persistence/src/write-fence.frozen.spec.ts';

/** The builders a migration may call, by package, and the spec that pins each one's text. */
const PINNED: Readonly<Record<string, { module: string; spec: string }>> = {
  outboxTablesSqlV1: { module: '@carve/shared-messaging', spec: 'libs/shared/messaging/src/ddl-frozen.spec.ts' },
  inboxTablesSqlV1: { module: '@carve/shared-messaging', spec: 'libs/shared/messaging/src/ddl-frozen.spec.ts' },
  syncConflictsSqlV1: { module: '@carve/shared-messaging', spec: 'libs/shared/messaging/src/ddl-frozen.spec.ts' },
  dropSyncConflictsSqlV1: { module: '@carve/shared-messaging', spec: 'libs/shared/messaging/src/ddl-frozen.spec.ts' },
  writeFenceSchemaSqlV1: { module: '@carve/shared-persistence', spec: PERSISTENCE_PINS },
  writeFenceTablesSqlV1: { module: '@carve/shared-persistence', spec: PERSISTENCE_PINS },
  dropWriteFenceSqlV1: { module: '@carve/shared-persistence', spec: PERSISTENCE_PINS },
  writeFenceLockdownSqlV1: { module: '@carve/shared-persistence', spec: PERSISTENCE_PINS },
  undoWriteFenceLockdownSqlV1: { module: '@carve/shared-persistence', spec: PERSISTENCE_PINS },
};

/** Every folder named `migrations` under apps/, libs/ and tools/ that holds TypeScript (or its templates). */
function migrationFolders(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
      const sub = path.posix.join(dir, entry.name);
      if (entry.name === 'migrations' && migrationFiles(sub).length > 0) found.push(sub);
      walk(sub);
    }
  };
  for (const top of ['apps', 'libs', 'tools']) walk(top);
  return found.sort();
}

function migrationFiles(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder))
    .filter((f) => /\.ts(\.template)?$/.test(f) && !/\.spec\.ts/.test(f))
    .map((f) => path.posix.join(folder, f));
}

/** What a file imports: each name with its module (`*` for a default or namespace import). */
function importsOf(source: string): Array<{ module: string; name: string }> {
  const found: Array<{ module: string; name: string }> = [];
  for (const m of source.matchAll(/^import\s+(type\s+)?([^'"]*?)\s*from\s*['"]([^'"]+)['"]/gm)) {
    const clause = m[2] ?? '';
    const module = m[3] ?? '';
    const named = /\{([^}]*)\}/.exec(clause);
    if (!named || clause.replace(/\{[^}]*\}/, '').replace(/[\s,]/g, '') !== '') found.push({ module, name: '*' });
    for (const part of named?.[1]?.split(',') ?? []) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0];
      if (name) found.push({ module, name });
    }
  }
  for (const m of source.matchAll(/\brequire\(\s*['"]([^'"]+)['"]/g)) found.push({ module: m[1] ?? '', name: '*' });
  return found;
}

describe('every migrations folder', () => {
  const folders = migrationFolders();

  it('is found: the monolith, each context, the control plane and the generator template', () => {
    expect(folders).toEqual(
      expect.arrayContaining([
        'apps/legacy-monolith/src/migrations',
        'libs/insights/data-access/src/migrations',
        'libs/roadmaps/data-access/src/migrations',
        'libs/shared/control-plane/src/migrations',
        'tools/nx-plugin/src/generators/context/files/libs/__name__/data-access/src/migrations',
      ]),
    );
  });

  it('imports only TypeORM, its own files and pinned V1 builders: no live DDL builder runs in a migration', () => {
    const offences: string[] = [];
    for (const file of folders.flatMap(migrationFiles)) {
      for (const { module, name } of importsOf(readFileSync(path.join(ROOT, file), 'utf8'))) {
        if (module === 'typeorm' || module.startsWith('./')) continue;
        if (PINNED[name]?.module === module) continue;
        offences.push(`${file}: ${name} from ${module}`);
      }
    }
    expect(offences).toEqual([]);
  });

  it('has each builder it may call pinned by hash', () => {
    const unpinned = Object.entries(PINNED).filter(([name, { spec }]) => !readFileSync(path.join(ROOT, spec), 'utf8').includes(`sha256(${name}(`));
    expect(unpinned).toEqual([]);
  });

  it('reads imports as a migration writes them', () => {
    expect(importsOf(`import { a, type B, c as d } from '@x/y';\nimport type { MigrationInterface } from 'typeorm';\nimport z from 'zz';\nconst q = require('qq');`)).toEqual([
      { module: '@x/y', name: 'a' },
      { module: '@x/y', name: 'B' },
      { module: '@x/y', name: 'c' },
      { module: 'typeorm', name: 'MigrationInterface' },
      { module: 'zz', name: '*' },
      { module: 'qq', name: '*' },
    ]);
  });
});
