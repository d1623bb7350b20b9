import { Client } from 'pg';
import { databaseExists, dropDatabase } from './admin';
import { specDatabase } from './spec-support';

async function connected(url: string): Promise<{ client: Client; errors: string[] }> {
  const client = new Client({ connectionString: url });
  const errors: string[] = [];
  client.on('error', (err: Error & { code?: string }) => errors.push(err.code ?? err.message));
  await client.connect();
  return { client, errors };
}

describe('dropDatabase', () => {
  it('lets a session that is closing leave by itself: it gets no FATAL error', async () => {
    const db = await specDatabase('persistence_drop_grace');
    try {
      const { client, errors } = await connected(db.url);
      // The client closes 80 ms into the drop, within the grace period: Postgres never has to
      // terminate it, so it sees no "terminating connection due to administrator command".
      const closing = new Promise<void>((resolve) => setTimeout(() => void client.end().then(resolve), 80));
      await dropDatabase(db.adminUrl, db.name, { graceMs: 2_000 });
      await closing;
      expect(errors).toEqual([]);
      expect(await databaseExists(db.adminUrl, db.name)).toBe(false);
    } finally {
      await db.drop();
    }
  });

  it('forces out a session that stays past the grace period', async () => {
    const db = await specDatabase('persistence_drop_force');
    try {
      const { client, errors } = await connected(db.url);
      const t0 = Date.now();
      await dropDatabase(db.adminUrl, db.name, { graceMs: 100 });
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(await databaseExists(db.adminUrl, db.name)).toBe(false);
      await expect(client.query('SELECT 1')).rejects.toThrow();
      // 57P01: admin_shutdown, which is what a client whose database is dropped under it sees.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(errors).toContain('57P01');
      await client.end().catch(() => undefined);
    } finally {
      await db.drop();
    }
  });
});
