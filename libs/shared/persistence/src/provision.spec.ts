import crypto from 'node:crypto';
import { Client } from 'pg';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { withClient } from './admin';
import { runMigrations } from './migrations';
import { provisionSchema, roleNames } from './provision';
import { specDatabase } from './spec-support';

class CreateWidgets1700000000001 implements MigrationInterface {
  name = 'CreateWidgets1700000000001';
  async up(q: QueryRunner) {
    await q.query('CREATE TABLE widgets (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL, n serial)');
  }
  async down(q: QueryRunner) {
    await q.query('DROP TABLE widgets');
  }
}

describe('provisionSchema', () => {
  let db: Awaited<ReturnType<typeof specDatabase>>;
  const prefix = `t${crypto.randomBytes(3).toString('hex')}`;
  const schema = 'shop';
  const roles = roleNames(schema, prefix);
  const passwords = { appPassword: 'app-secret-1', migratorPassword: 'migrator-secret-1', rolePrefix: prefix };

  beforeAll(async () => {
    db = await specDatabase('persistence_provision');
    await withClient(db.url, (c) => c.query('CREATE SCHEMA other; CREATE TABLE other.secrets (x int); INSERT INTO other.secrets VALUES (42)'));
  });
  afterAll(async () => {
    if (!db) return;
    // Dropping the database drops every privilege in it; the roles are cluster-wide.
    await db.drop((adminUrl) =>
      withClient(adminUrl, async (c) => {
        for (const r of [roles.app, roles.migrator, roles.owner]) await c.query(`DROP ROLE IF EXISTS "${r}"`);
      }),
    );
  });

  async function as<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  it('creates owner/migrator/app; migrations as the migrator leave objects owned by the owner', async () => {
    const p = await provisionSchema(db.url, schema, passwords);
    expect(p.roles).toEqual({ owner: `${prefix}_owner`, migrator: `${prefix}_migrator`, app: `${prefix}_app` });
    const report = await runMigrations({ url: p.migratorUrl, schema, migrations: [CreateWidgets1700000000001], pinSearchPath: false });
    expect(report.applied).toEqual(['CreateWidgets1700000000001']);
    const owners = await as(db.url, async (c) =>
      (await c.query(`SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = $1 AND c.relkind IN ('r','S') ORDER BY 1`, [schema])).rows,
    );
    expect(owners.map((o) => o.owner)).toEqual(owners.map(() => roles.owner));
    const [{ login }] = await as(db.url, async (c) => (await c.query('SELECT rolcanlogin AS login FROM pg_roles WHERE rolname = $1', [roles.owner])).rows);
    expect(login).toBe(false);
  });

  it('lets the app role read and write the schema tables through its search_path', async () => {
    const { appUrl } = await provisionSchema(db.url, schema, passwords);
    await as(appUrl, async (c) => {
      await c.query("INSERT INTO widgets (name) VALUES ('a'), ('b')");
      await c.query("UPDATE widgets SET name = 'c' WHERE name = 'b'");
      await c.query("DELETE FROM widgets WHERE name = 'a'");
      expect((await c.query('SELECT name FROM widgets')).rows).toEqual([{ name: 'c' }]);
    });
  });

  it('gives the app role nothing else: no DDL in its schema, no other schema, not public', async () => {
    const { appUrl } = await provisionSchema(db.url, schema, passwords);
    await as(appUrl, async (c) => {
      await expect(c.query('CREATE TABLE shop.sneaky (x int)')).rejects.toThrow(/permission denied/);
      await expect(c.query('DROP TABLE widgets')).rejects.toThrow(/must be owner/);
      await expect(c.query('SELECT * FROM other.secrets')).rejects.toThrow(/permission denied/);
      await expect(c.query('CREATE TABLE public.sneaky (x int)')).rejects.toThrow(/permission denied/);
    });
  });

  it('is idempotent, and a re-run sets the passwords again', async () => {
    const again = await provisionSchema(db.url, schema, { ...passwords, appPassword: 'app-secret-2' });
    await expect(as(again.appUrl, (c) => c.query('SELECT count(*) FROM widgets'))).resolves.toBeDefined();
    const oldUrl = again.appUrl.replace('app-secret-2', 'app-secret-1');
    const embedded = !process.env.DATABASE_URL; // the embedded server checks passwords; a trust-auth server does not
    if (embedded) await expect(as(oldUrl, (c) => c.query('SELECT 1'))).rejects.toThrow(/password authentication failed/);
    const report = await runMigrations({ url: again.migratorUrl, schema, migrations: [CreateWidgets1700000000001], pinSearchPath: false });
    expect(report.applied).toEqual([]);
  });

  it('survives concurrent provisioning of the same schema', async () => {
    await Promise.all([1, 2, 3].map(() => provisionSchema(db.url, schema, passwords)));
  });
});
