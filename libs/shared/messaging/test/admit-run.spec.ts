/**
 * The consumer's set-based inbox step (`admitRun`, two statements per run) must decide exactly
 * what the per-event step (`applyEvent`, one statement per event) decides, event by event, and
 * leave the same inbox and version rows behind. Both run here on real Postgres over the same
 * sequences, in two schemas, and are compared.
 */
import { Client } from 'pg';
import { admitRun, applyEvent, type ApplyOutcome, type Envelope, inboxMigrationSql } from '../src';
import { noteEvent, testSource } from './support/events';
import { createTestDatabase, type TestDatabase } from './support/infra';

const src = testSource('admitsrc');
const meta = { topic: src.topic, partition: 0, offset: '0' };
const ev = (aggregate: string, version: number, extra: Partial<Envelope> = {}) => noteEvent(src, aggregate, version, extra).envelope;

describe('admitRun (set-based inbox) against applyEvent (per event)', () => {
  let db: TestDatabase;
  let c: Client;

  beforeAll(async () => {
    db = await createTestDatabase('admit_run');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(inboxMigrationSql('per_event'));
    await c.query(inboxMigrationSql('per_run'));
  });
  afterAll(async () => {
    await c?.end();
    await db?.drop();
  });

  /** Runs `runs` through both paths (each run one transaction); returns both outcome lists and handler calls. */
  async function both(runs: Envelope[][], skipOrigins?: string[]) {
    const perEvent: ApplyOutcome[] = [];
    const perRun: ApplyOutcome[] = [];
    const handledPerEvent: string[] = [];
    for (const run of runs) {
      await c.query('BEGIN');
      for (const event of run) {
        perEvent.push(
          await applyEvent(c, { schema: 'per_event', consumer: 'g', event, meta, skipOrigins, handle: async (e) => void handledPerEvent.push(e.id) }),
        );
      }
      await c.query('COMMIT');
      await c.query('BEGIN');
      perRun.push(...(await admitRun(c, { schema: 'per_run', consumer: 'g', run: run.map((event) => ({ event, meta })), skipOrigins })));
      await c.query('COMMIT');
    }
    const handledPerRun = runs.flat().filter((_, i) => perRun[i] === 'applied').map((e) => e.id);
    return { perEvent, perRun, handledPerEvent, handledPerRun };
  }

  async function state(schema: string) {
    const inbox = (await c.query(`SELECT event_id::text, outcome, aggregate_version::int AS v FROM ${schema}.inbox ORDER BY event_id`)).rows;
    const versions = (await c.query(`SELECT aggregate_type, aggregate_id, version::int FROM ${schema}.aggregate_versions ORDER BY 1, 2`)).rows;
    return { inbox, versions };
  }

  it('gives the same outcome per event and leaves the same inbox and versions', async () => {
    const a1 = ev('a', 1);
    const a2 = ev('a', 2);
    const a3 = ev('a', 3);
    const b5 = ev('b', 5);
    const b4 = ev('b', 4); // older than b5, arriving after it
    const own = ev('c', 1, { origin: 'mirror' });
    const runs = [
      [a1, a2, b5], // new aggregates, two versions of one in a run
      [a2, a3, a3, b4], // a redelivery, a copy inside the run, an older version
      [own, ev('c', 2)], // an ignored origin, then a real event of the same aggregate
      [ev('d', 7), ev('d', 7)], // two different events with the same version: the second is stale
      [ev('a', 3)], // a different event at the stored version
    ];
    const r = await both(runs, ['mirror']);
    expect(r.perRun).toEqual(r.perEvent);
    expect(r.handledPerRun).toEqual(r.handledPerEvent);
    expect(r.perRun).toEqual([
      'applied', 'applied', 'applied',
      'duplicate', 'applied', 'duplicate', 'stale',
      'own-origin', 'applied',
      'applied', 'stale',
      'stale',
    ]);
    const perEventState = await state('per_event');
    const perRunState = await state('per_run');
    expect(perRunState.inbox).toEqual(perEventState.inbox);
    expect(perRunState.versions.map(({ aggregate_id, version }) => [aggregate_id, version])).toEqual([
      ['a', 3],
      ['b', 5],
      ['c', 2],
      ['d', 7],
    ]);
    expect(perRunState.versions).toEqual(perEventState.versions);
  });

  it('rolls back with the transaction: nothing of a failed run stays', async () => {
    const e = ev('rolled', 1);
    await c.query('BEGIN');
    expect(await admitRun(c, { schema: 'per_run', consumer: 'g', run: [{ event: e, meta }, { event: ev('rolled', 2), meta }] })).toEqual(['applied', 'applied']);
    await c.query('ROLLBACK');
    expect((await c.query(`SELECT count(*)::int AS n FROM per_run.inbox WHERE aggregate_id = 'rolled'`)).rows[0].n).toBe(0);
    expect((await c.query(`SELECT count(*)::int AS n FROM per_run.aggregate_versions WHERE aggregate_id = 'rolled'`)).rows[0].n).toBe(0);
  });

  it('serialises with a concurrent delivery of the same aggregate: the later one waits and sees its version', async () => {
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await c.query('BEGIN');
      expect(await admitRun(c, { schema: 'per_run', consumer: 'g', run: [{ event: ev('race', 1), meta }, { event: ev('race', 9), meta }] })).toEqual([
        'applied',
        'applied',
      ]);
      // The other transaction delivers version 5 of the same aggregate while the first is open.
      await other.query('BEGIN');
      const pending = admitRun(other, { schema: 'per_run', consumer: 'g', run: [{ event: ev('race', 5), meta }, { event: ev('race2', 1), meta }] });
      let settled = false;
      void pending.then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe(false); // blocked on the first transaction's lock
      await c.query('COMMIT');
      expect(await pending).toEqual(['stale', 'applied']); // it sees version 9, committed meanwhile
      await other.query('COMMIT');
      expect((await c.query(`SELECT version::int AS v FROM per_run.aggregate_versions WHERE aggregate_id = 'race'`)).rows[0].v).toBe(9);
    } finally {
      await other.end();
    }
  });
});
