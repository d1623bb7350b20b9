/**
 * The apply functions against real Postgres: version guards, tombstones, customers by
 * (workspace, email) with the newest note's name, link events moving the note's version, and
 * the backfill's snapshot apply.
 */
import { randomUUID } from 'node:crypto';
import type { NoteStateV1 } from '@carve/legacy-events';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Pool } from 'pg';
import { migrateInsights } from './migrate';
import { getNote, listNotes } from './notes.repository';
import { applyFeatureDeleted, applyFeatureState, applyLegacyEvent, applyNoteDeleted, applyNoteLinkDeleted, applyNoteLinkState, applyNoteSnapshot, applyNoteState, applyWorkspaceDeleted, applyWorkspaceState } from './sync';
import { parseListQuery, noteList } from '@carve/insights-domain';

let db: TestDatabase;
let pool: Pool;
beforeAll(async () => {
  db = await createTestDatabase('insights_sync');
  await migrateInsights(db.url);
  // The apply functions run as forward sync runs them: in a transaction marked as a sync apply,
  // which the write fence of the service's tables lets pass (here every session of the pool).
  pool = new Pool({ connectionString: db.url, max: 4, options: '-c carve.sync_apply=on' });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const ws = () => randomUUID();
const note = (workspaceId: string, patch: Partial<NoteStateV1> = {}): NoteStateV1 => ({
  id: randomUUID(),
  workspaceId,
  title: 'Wants dark mode',
  content: 'c',
  source: 'email',
  customerEmail: 'sam@globex.test',
  customerName: 'Sam',
  customerCompany: 'Globex',
  tags: ['ui'],
  state: 'unprocessed',
  createdAt: '2025-01-14T09:30:00.000Z',
  updatedAt: '2025-01-14T09:30:00.000Z',
  ...patch,
});
const row = async (sql: string, params: unknown[]) => (await pool.query(sql, params)).rows[0];
const count = async (sql: string, params: unknown[]) => Number((await pool.query(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0].n);

describe('migrations', () => {
  it('are idempotent under the advisory lock, concurrent runners included', async () => {
    const reports = await Promise.all([migrateInsights(db.url), migrateInsights(db.url)]);
    expect(reports.map((r) => r.applied)).toEqual([[], []]);
    const tables = (await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'insights' ORDER BY 1`)).rows.map((r) => r.table_name);
    expect(tables).toEqual(['aggregate_versions', 'customers', 'feature_titles', 'inbox', 'migrations', 'note_features', 'notes', 'outbox', 'sync_conflicts', 'tombstones', 'workspaces', 'write_fence', 'written_versions']);
  });
});

describe('notes', () => {
  it('applies newer states, skips older ones, and rewrites the same version', async () => {
    const n = note(ws());
    expect(await applyNoteState(pool, n, 2)).toBe('applied');
    expect(await applyNoteState(pool, { ...n, title: 'older' }, 1)).toBe('stale');
    expect(await applyNoteState(pool, { ...n, title: 'same version again' }, 2)).toBe('applied');
    expect(await applyNoteState(pool, { ...n, title: 'newer', updatedAt: '2025-01-15T00:00:00.000Z' }, 3)).toBe('applied');
    expect(await row('SELECT title, aggregate_version FROM insights.notes WHERE id = $1', [n.id])).toEqual({ title: 'newer', aggregate_version: 3 });
  });

  it('never brings a deleted note back (late event, older backfilled row), nor its links', async () => {
    const w = ws();
    const n = note(w);
    const f = randomUUID();
    await applyNoteState(pool, n, 1);
    await applyNoteLinkState(pool, { noteId: n.id, featureId: f, workspaceId: w, importance: 'high', createdAt: n.createdAt, updatedAt: n.updatedAt }, 2);
    expect(await applyNoteDeleted(pool, { id: n.id, workspaceId: w }, 3)).toBe('applied');
    expect(await applyNoteState(pool, n, 2)).toBe('stale');
    expect(await applyNoteLinkState(pool, { noteId: n.id, featureId: f, workspaceId: w, importance: 'low', createdAt: n.createdAt, updatedAt: n.updatedAt }, 2)).toBe('stale');
    expect(await count('insights.notes WHERE id = $1', [n.id])).toBe(0);
    expect(await count('insights.note_features WHERE note_id = $1', [n.id])).toBe(0);
  });

  it('keeps one customer per (workspace, email), named after the newest note whatever the arrival order', async () => {
    const w = ws();
    const older = note(w, { customerEmail: 'Ana@Example.com', customerName: 'Ana (old)', updatedAt: '2025-01-01T00:00:00.000Z' });
    const newer = note(w, { customerEmail: 'ana@example.com', customerName: 'Ana', customerCompany: null, updatedAt: '2025-02-01T00:00:00.000Z' });
    await applyNoteState(pool, newer, 1);
    await applyNoteState(pool, older, 1);
    expect(await count('insights.customers WHERE workspace_id = $1', [w])).toBe(1);
    expect(await row('SELECT email, name, company FROM insights.customers WHERE workspace_id = $1', [w])).toEqual({ email: 'ana@example.com', name: 'Ana', company: null });
    const a = await getNote(pool, w, older.id);
    expect(a.customer).toEqual({ email: 'ana@example.com', name: 'Ana', company: null });
    const other = ws();
    await applyNoteState(pool, note(other, { customerEmail: 'ana@example.com' }), 1);
    expect(await count('insights.customers WHERE lower(email) = $1', ['ana@example.com'])).toBeGreaterThanOrEqual(2);
  });

  it('lets a link event move the note to its version; an equal-version note event then sets the exact state', async () => {
    const w = ws();
    const n = note(w);
    const f = randomUUID();
    await applyNoteState(pool, n, 1);
    await applyNoteLinkState(pool, { noteId: n.id, featureId: f, workspaceId: w, importance: 'high', createdAt: '2025-01-20T00:00:00.000Z', updatedAt: '2025-01-20T00:00:00.000Z' }, 2);
    let view = await getNote(pool, w, n.id);
    expect(view).toMatchObject({ version: 2, features: [{ featureId: f, importance: 'high' }] });
    expect(view.updatedAt.toISOString()).toBe('2025-01-20T00:00:00.000Z');
    await applyNoteLinkDeleted(pool, { noteId: n.id, featureId: f, workspaceId: w }, 3, '2025-01-21T00:00:00.000Z');
    await applyNoteState(pool, { ...n, updatedAt: '2025-01-21T00:00:00.123Z' }, 3);
    view = await getNote(pool, w, n.id);
    expect(view).toMatchObject({ version: 3, features: [] });
    expect(view.updatedAt.toISOString()).toBe('2025-01-21T00:00:00.123Z');
    // A link event that arrives before its note (topics are not ordered with each other).
    const early = note(w);
    expect(await applyNoteLinkState(pool, { noteId: early.id, featureId: f, workspaceId: w, importance: 'low', createdAt: early.createdAt, updatedAt: early.updatedAt }, 1)).toBe('applied');
    await applyNoteState(pool, early, 1);
    expect((await getNote(pool, w, early.id)).features).toEqual([{ featureId: f, importance: 'low' }]);
  });

  it('applies a backfilled snapshot under the same guards, removing links the snapshot no longer has', async () => {
    const w = ws();
    const n = note(w);
    const [f1, f2, f3] = [randomUUID(), randomUUID(), randomUUID()];
    await applyNoteState(pool, n, 1);
    await applyNoteLinkState(pool, { noteId: n.id, featureId: f1, workspaceId: w, importance: 'low', createdAt: n.createdAt, updatedAt: n.updatedAt }, 2);
    const at = { createdAt: new Date(n.createdAt), updatedAt: new Date(n.updatedAt) };
    expect(await applyNoteSnapshot(pool, { ...n, title: 'snap' }, 4, [{ featureId: f2, importance: 'high', ...at }, { featureId: f3, importance: 'medium', ...at }])).toBe('applied');
    expect((await getNote(pool, w, n.id)).features.map((f) => f.featureId).sort()).toEqual([f2, f3].sort());
    // Forward sync got further meanwhile: an older snapshot changes nothing.
    expect(await applyNoteSnapshot(pool, { ...n, title: 'older snap' }, 3, [])).toBe('stale');
    expect(await getNote(pool, w, n.id)).toMatchObject({ title: 'snap', version: 4 });
  });
});

describe('features and workspaces', () => {
  it('feature deletion removes its links and stops late links; workspace deletion removes everything of it', async () => {
    const w = ws();
    const n = note(w);
    const f = randomUUID();
    await applyWorkspaceState(pool, { id: w, name: 'W', slug: `w-${w.slice(0, 8)}`, createdAt: n.createdAt, updatedAt: n.updatedAt }, 1);
    expect(await applyFeatureState(pool, { id: f, workspaceId: w, title: 'Export', status: 'new' }, 1)).toBe('applied');
    expect(await applyFeatureState(pool, { id: f, workspaceId: w, title: 'Old', status: 'new' }, 1)).toBe('applied');
    expect(await applyFeatureState(pool, { id: f, workspaceId: w, title: 'Export v2', status: 'planned' }, 3)).toBe('applied');
    expect(await applyFeatureState(pool, { id: f, workspaceId: w, title: 'Stale', status: 'new' }, 2)).toBe('stale');
    await applyNoteState(pool, n, 1);
    await applyNoteLinkState(pool, { noteId: n.id, featureId: f, workspaceId: w, importance: 'high', createdAt: n.createdAt, updatedAt: n.updatedAt }, 2);
    await applyFeatureDeleted(pool, { id: f, workspaceId: w }, 4);
    expect(await count('insights.note_features WHERE feature_id = $1', [f])).toBe(0);
    expect(await getNote(pool, w, n.id)).toMatchObject({ version: 2 }); // the cascade does not bump the note
    expect(await applyNoteLinkState(pool, { noteId: n.id, featureId: f, workspaceId: w, importance: 'high', createdAt: n.createdAt, updatedAt: n.updatedAt }, 5)).toBe('stale');
    expect(await applyFeatureState(pool, { id: f, workspaceId: w, title: 'Back?', status: 'new' }, 3)).toBe('stale');

    await applyWorkspaceDeleted(pool, { id: w }, 2);
    for (const t of ['notes', 'customers', 'feature_titles', 'note_features']) expect(await count(`insights.${t} WHERE workspace_id = $1`, [w])).toBe(0);
    expect(await applyNoteState(pool, note(w), 1)).toBe('stale');
    expect(await applyWorkspaceState(pool, { id: w, name: 'W', slug: 'w', createdAt: n.createdAt, updatedAt: n.updatedAt }, 3)).toBe('stale');
  });

  it('dispatches the monolith\'s events by type and ignores the rest', async () => {
    const w = ws();
    const n = note(w);
    expect(await applyLegacyEvent(pool, { type: 'note.created', aggregateVersion: 1, occurredAt: n.updatedAt, data: n })).toBe('applied');
    expect(await applyLegacyEvent(pool, { type: 'member.created', aggregateVersion: 1, occurredAt: n.updatedAt, data: {} })).toBe('ignored');
    const q = parseListQuery(noteList, {});
    if (!q.ok) throw new Error('query');
    expect((await listNotes(pool, w, q.value)).items.map((x) => x.id)).toEqual([n.id]);
  });
});

describe('lock order across the note and link topics', () => {
  /**
   * Forward sync applies the notes topic and the links topic concurrently. A link's deletion and
   * its note's deletion (or update) used to take the link's row and the note's row in opposite orders: with
   * the link handler paused just before it touches the note (after its link row), the note
   * handler locked the note and waited for the link row, and the link handler then waited for
   * the note: a deadlock. Every handler now takes the note's row first.
   */
  it.each(['deleted', 'updated'] as const)('a link deleted and its note %s by two concurrent transactions: both commit, no deadlock', async (what) => {
    const w = ws();
    const n = note(w);
    const f = randomUUID();
    await applyWorkspaceState(pool, { id: w, name: 'W', slug: `w-${w.slice(0, 8)}`, createdAt: n.createdAt, updatedAt: n.updatedAt }, 1);
    await applyFeatureState(pool, { id: f, workspaceId: w, title: 'Export', status: 'new' }, 1);
    await applyNoteState(pool, n, 1);
    await applyNoteLinkState(pool, { noteId: n.id, featureId: f, workspaceId: w, importance: 'high', createdAt: n.createdAt, updatedAt: n.updatedAt }, 2);

    const linkTx = await pool.connect();
    const noteTx = await pool.connect();
    try {
      await linkTx.query('BEGIN');
      await noteTx.query('BEGIN');
      // The link handler, paused right before it moves its note's version (its last statement).
      let reached!: () => void;
      const atGate = new Promise<void>((r) => (reached = r));
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      const paused = {
        query: async (text: string, params?: unknown[]) => {
          if (/UPDATE insights\.notes SET aggregate_version/.test(text)) {
            reached();
            await gate;
          }
          return linkTx.query(text, params);
        },
      };
      const unlink = applyNoteLinkDeleted(paused, { noteId: n.id, featureId: f, workspaceId: w }, 3, '2025-01-15T00:00:00.000Z').then(() => linkTx.query('COMMIT'));
      await atGate;
      // The note's deletion or update (the other topic, another transaction) starts meanwhile and waits for a lock.
      const noteTxPid = (await noteTx.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const other = what === 'deleted' ? applyNoteDeleted(noteTx, { id: n.id, workspaceId: w }, 4) : applyNoteState(noteTx, { ...n, title: 'renamed while unlinked' }, 4);
      const remove = other.then(() => noteTx.query('COMMIT'));
      const deadline = Date.now() + 10_000;
      while ((await pool.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [noteTxPid])).rows[0]?.wait_event_type !== 'Lock') {
        if (Date.now() > deadline) throw new Error(`the note ${what === 'deleted' ? 'deletion' : 'update'} never waited for a lock`);
        await new Promise((r) => setTimeout(r, 20));
      }
      open();
      const results = await Promise.allSettled([unlink, remove]);
      expect(results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : 'committed'))).toEqual(['committed', 'committed']);
    } finally {
      await linkTx.query('ROLLBACK').catch(() => undefined);
      await noteTx.query('ROLLBACK').catch(() => undefined);
      linkTx.release();
      noteTx.release();
    }
    expect(await count('insights.note_features WHERE note_id = $1', [n.id])).toBe(0);
    if (what === 'deleted') {
      expect(await count('insights.notes WHERE id = $1', [n.id])).toBe(0);
      expect(await count(`insights.tombstones WHERE aggregate_id IN ($1, $2)`, [n.id, `${n.id}:${f}`])).toBe(2);
    } else {
      expect((await pool.query('SELECT title FROM insights.notes WHERE id = $1', [n.id])).rows[0].title).toBe('renamed while unlinked');
      expect(await count(`insights.tombstones WHERE aggregate_id = $1`, [`${n.id}:${f}`])).toBe(1);
    }
  });
});
