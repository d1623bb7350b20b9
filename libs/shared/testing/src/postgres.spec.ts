import { Client } from 'pg';
import { adminDatabaseUrl, createTestDatabase } from './postgres';

async function databases(url: string): Promise<string[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query('SELECT datname FROM pg_database')).rows.map((r) => r.datname);
  } finally {
    await c.end();
  }
}

describe('createTestDatabase', () => {
  it('creates a uniquely named database per call and drops it, even with connections still open', async () => {
    const [a, b] = await Promise.all([createTestDatabase('Suite A!'), createTestDatabase('suite-a')]);
    try {
      expect(a.name).not.toBe(b.name);
      expect(a.name).toMatch(/^suite_a__?[a-z0-9]+_[0-9a-f]{4}$/);
      expect(new URL(a.url).pathname).toBe(`/${a.name}`);
      const leftOpen = new Client({ connectionString: a.url });
      leftOpen.on('error', () => undefined);
      await leftOpen.connect();
      await a.drop();
      await a.drop(); // idempotent
      expect(await databases(b.url)).not.toContain(a.name);
      expect(await databases(b.url)).toContain(b.name);
      await leftOpen.end().catch(() => undefined);
    } finally {
      await b.drop();
    }
  });

  it('uses DATABASE_URL (set by the global setup when none is configured)', async () => {
    expect(process.env.DATABASE_URL).toBeTruthy();
    await expect(adminDatabaseUrl()).resolves.toBe(process.env.DATABASE_URL);
  });
});
