/**
 * `carve seed` against the monolith's write fence (real Postgres, the CLI as a process): when the
 * monolith no longer owns a context's writes, or a handover holds them, and the control plane's
 * stage did not stop the seed first (a handover between the check and the seed's transaction),
 * the database refuses the seed's rows; the CLI says so in one readable line, exits 3 (refused),
 * and nothing was written.
 */
import { setSideOwner, fenceSide, unfenceSide } from '@carve/shared-persistence';
import { carve, createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Pool } from 'pg';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('carve_seed_fence');
  pool = new Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const counts = async () => (await pool.query(`SELECT (SELECT count(*)::int FROM legacy.workspaces) AS workspaces, (SELECT count(*)::int FROM legacy.notes) AS notes`)).rows[0];

it('turns a refusal of the monolith\'s write fence into a clear refusal (exit 3), writing nothing', async () => {
  // A first seed migrates the monolith's schema (its write fence included) and writes rows.
  const first = await carve(db.url, ['seed', '--workspaces', '1', '--notes', '5']);
  expect({ code: first.code, stderr: first.stderr }).toMatchObject({ code: 0 });
  const before = await counts();

  // The service owns the writes of insights (as a completed cutover leaves the monolith's fence).
  await setSideOwner(pool, 'legacy', { context: 'insights', scopes: [], owner: false, handoverId: null });
  const notOwner = await carve(db.url, ['seed', '--workspaces', '1', '--notes', '5']);
  expect(notOwner.code).toBe(3);
  expect(notOwner.stderr).toContain("seed refused by the monolith's write fence: the monolith no longer owns the writes of insights (its service does); nothing was written");
  expect(notOwner.stderr).toContain("carve: refused: the monolith's write fence refused the seed");
  expect(notOwner.stderr).not.toMatch(/CV409|seeding failed/);
  expect(await counts()).toEqual(before);

  // A handover holds the writes.
  await setSideOwner(pool, 'legacy', { context: 'insights', scopes: [], owner: true, handoverId: null });
  await fenceSide(pool, 'legacy', { context: 'insights', scopes: [], ttlMs: 120_000, handoverId: 'test-seed-handover', ownerIfNew: true });
  try {
    const fenced = await carve(db.url, ['seed', '--workspaces', '1', '--notes', '5']);
    expect(fenced.code).toBe(3);
    expect(fenced.stderr).toContain("seed refused by the monolith's write fence: a handover of the writes of insights is in progress; nothing was written");
    expect(await counts()).toEqual(before);
  } finally {
    await unfenceSide(pool, 'legacy', { context: 'insights', handoverId: 'test-seed-handover' });
  }
}, 240_000);
