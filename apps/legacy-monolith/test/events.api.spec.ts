/**
 * The monolith as an event producer, through its HTTP API: each write appends exactly its
 * events to legacy.outbox, in its own transaction (docs/events.md, "The monolith"). The relay
 * is off here, so the outbox shows exactly what the writes appended.
 */
import { validateLegacyEvent } from '@carve/legacy-events';
import { type Envelope, parseEnvelope } from '@carve/shared-messaging';
import { Client } from 'pg';
import { outboxMark, outboxRows, type OutboxRow } from './events-support';
import { type Harness, startHarness } from './support';

describe('monolith events (outbox, through the API)', () => {
  let h: Harness;
  let ws: string;
  let n = 0;
  /** Aggregates a test changed with raw SQL (no events): left out of the all-writes version check. */
  const rawlyChanged = new Set<string>();
  const rid = () => `evt-test-${++n}`;

  beforeAll(async () => {
    h = await startHarness('legacy_events_api', { CARVE_RELAY: 'off' });
    ws = `/api/v1/workspaces/${h.a.id}`;
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Runs one request with a fresh x-request-id; returns the response and the outbox rows it appended. */
  async function write(method: string, url: string, body?: unknown): Promise<{ status: number; body: any; rows: OutboxRow[]; requestId: string }> {
    const mark = await outboxMark(h.ds);
    const requestId = rid();
    const res = await h.api(method, url, { body, headers: { 'x-request-id': requestId } });
    return { status: res.status, body: res.body, rows: await outboxRows(h.ds, mark), requestId };
  }

  /** Checks the envelope rules every event must meet, and returns [type, aggregateVersion] pairs. */
  function checked(rows: OutboxRow[], requestId: string, tenantId = h.a.id): Array<[string, number]> {
    return rows.map((r) => {
      const e = parseEnvelope(JSON.stringify(r.envelope)) as Envelope<any>;
      expect(validateLegacyEvent(e)).toBeNull();
      expect(e).toMatchObject({ source: 'legacy', origin: 'legacy', version: '1.0', tenantId, correlationId: requestId, causationId: null });
      expect(r.key).toBe(e.aggregateId);
      expect(r.topic).toBe(`legacy.${{ 'note-feature-link': 'note-feature-links' }[e.aggregateType as string] ?? `${e.aggregateType}s`}.v1`);
      expect(r.publishedAt).toBeNull();
      return [e.type, e.aggregateVersion];
    });
  }

  it('workspace: PATCH emits workspace.updated with the new version, keyed and tenanted by the workspace id', async () => {
    const w = await write('PATCH', ws, { name: 'Alpha Renamed' });
    expect(w.status).toBe(200);
    expect(checked(w.rows, w.requestId)).toEqual([['workspace.updated', w.body.version]]);
    expect(w.rows[0].envelope).toMatchObject({ aggregateId: h.a.id, data: { id: h.a.id, name: 'Alpha Renamed', updatedAt: w.body.updatedAt } });
  });

  it('member: created 1, updated 2, deleted 3', async () => {
    const c = await write('POST', `${ws}/members`, { email: 'new@alpha.test', name: 'New', role: 'maker' });
    expect(c.status).toBe(201);
    expect(checked(c.rows, c.requestId)).toEqual([['member.created', 1]]);
    expect(c.rows[0].envelope.data).toMatchObject({ id: c.body.id, workspaceId: h.a.id, email: 'new@alpha.test', role: 'maker' });
    const u = await write('PATCH', `${ws}/members/${c.body.id}`, { role: 'viewer' });
    expect(checked(u.rows, u.requestId)).toEqual([['member.updated', 2]]);
    expect(u.rows[0].envelope.data.role).toBe('viewer');
    const d = await write('DELETE', `${ws}/members/${c.body.id}`);
    expect(d.status).toBe(204);
    expect(checked(d.rows, d.requestId)).toEqual([['member.deleted', 3]]);
    expect(d.rows[0].envelope.data).toEqual({ id: c.body.id, workspaceId: h.a.id });
  });

  it('feature: created, updated, each comment change as feature.updated, deleted; versions one by one', async () => {
    const c = await write('POST', `${ws}/features`, { title: 'Evented', tags: ['A'] });
    expect(checked(c.rows, c.requestId)).toEqual([['feature.created', 1]]);
    expect(c.rows[0].envelope.data).toMatchObject({ id: c.body.id, title: 'Evented', tags: ['a'], status: 'new', priority: 3, ownerId: null });
    const f = `${ws}/features/${c.body.id}`;
    const u = await write('PATCH', f, { status: 'planned', ownerId: h.a.users.maker });
    expect(checked(u.rows, u.requestId)).toEqual([['feature.updated', 2]]);
    expect(u.rows[0].envelope.data).toMatchObject({ status: 'planned', ownerId: h.a.users.maker });
    const c1 = await write('POST', `${f}/comments`, { body: 'hello' });
    expect(checked(c1.rows, c1.requestId)).toEqual([['feature.updated', 3]]);
    const c2 = await write('PATCH', `${f}/comments/${c1.body.id}`, { body: 'hello again' });
    expect(checked(c2.rows, c2.requestId)).toEqual([['feature.updated', 4]]);
    const c3 = await write('DELETE', `${f}/comments/${c1.body.id}`);
    expect(checked(c3.rows, c3.requestId)).toEqual([['feature.updated', 5]]);
    expect(c3.rows[0].envelope.data.updatedAt >= c1.rows[0].envelope.data.updatedAt).toBe(true);
    const d = await write('DELETE', f);
    expect(checked(d.rows, d.requestId)).toEqual([['feature.deleted', 6]]);
    expect(d.rows[0].envelope.data).toEqual({ id: c.body.id, workspaceId: h.a.id });
  });

  it('note and its links: the note stream counts every change; link events carry the note version', async () => {
    const f1 = (await h.api('POST', `${ws}/features`, { body: { title: 'F1' } })).body.id;
    const f2 = (await h.api('POST', `${ws}/features`, { body: { title: 'F2' } })).body.id;
    const c = await write('POST', `${ws}/notes`, {
      title: 'Customer wants dark mode',
      content: 'please',
      source: 'email',
      customer: { email: 'ann@example.com', name: 'Ann', company: 'Acme' },
      features: [{ featureId: f1, importance: 'high' }],
    });
    expect(c.status).toBe(201);
    expect(checked(c.rows, c.requestId)).toEqual([['note.created', 1], ['note-feature-link.created', 1]]);
    expect(c.rows[0].envelope.data).toMatchObject({ id: c.body.id, customerEmail: 'ann@example.com', customerName: 'Ann', customerCompany: 'Acme', state: 'unprocessed' });
    expect(c.rows[1].envelope).toMatchObject({ aggregateId: `${c.body.id}:${f1}`, data: { noteId: c.body.id, featureId: f1, importance: 'high' } });
    const note = `${ws}/notes/${c.body.id}`;

    const u = await write('PATCH', note, { state: 'processed', customer: null });
    expect(checked(u.rows, u.requestId)).toEqual([['note.updated', 2]]);
    expect(u.rows[0].envelope.data).toMatchObject({ state: 'processed', customerEmail: null });

    const l = await write('POST', `${note}/features`, { featureId: f2, importance: 'low' });
    expect(checked(l.rows, l.requestId)).toEqual([['note.updated', 3], ['note-feature-link.created', 3]]);
    const lu = await write('PATCH', `${note}/features/${f2}`, { importance: 'critical' });
    expect(checked(lu.rows, lu.requestId)).toEqual([['note.updated', 4], ['note-feature-link.updated', 4]]);
    expect(lu.rows[1].envelope.data.importance).toBe('critical');
    const ld = await write('DELETE', `${note}/features/${f2}`);
    expect(checked(ld.rows, ld.requestId)).toEqual([['note.updated', 5], ['note-feature-link.deleted', 5]]);
    expect(ld.rows[1].envelope.data).toEqual({ noteId: c.body.id, featureId: f2, workspaceId: h.a.id });

    const d = await write('DELETE', note);
    expect(checked(d.rows, d.requestId)).toEqual([['note-feature-link.deleted', 6], ['note.deleted', 6]]);
    expect(d.rows.map((r) => r.envelope.aggregateId)).toEqual([`${c.body.id}:${f1}`, c.body.id]);
  });

  it('release with its plan: created, updated, plan and unplan as release.updated with the whole plan, deleted', async () => {
    const f1 = (await h.api('POST', `${ws}/features`, { body: { title: 'R1' } })).body.id;
    const f2 = (await h.api('POST', `${ws}/features`, { body: { title: 'R2' } })).body.id;
    const c = await write('POST', `${ws}/releases`, { name: 'Q3', timeframe: { start: '2025-07-01', end: '2025-09-30' }, featureIds: [f1] });
    expect(c.status).toBe(201);
    expect(checked(c.rows, c.requestId)).toEqual([['release.created', 1]]);
    expect(c.rows[0].envelope.data).toMatchObject({ name: 'Q3', startsOn: '2025-07-01', endsOn: '2025-09-30', state: 'planned', featureIds: [f1] });
    const r = `${ws}/releases/${c.body.id}`;
    const u = await write('PATCH', r, { state: 'in-progress' });
    expect(checked(u.rows, u.requestId)).toEqual([['release.updated', 2]]);
    const p = await write('POST', `${r}/features`, { featureId: f2 });
    expect(p.status).toBe(201);
    expect(checked(p.rows, p.requestId)).toEqual([['release.updated', 3]]);
    expect(p.rows[0].envelope.data.featureIds).toEqual([f1, f2]);
    const up = await write('DELETE', `${r}/features/${f1}`);
    expect(checked(up.rows, up.requestId)).toEqual([['release.updated', 4]]);
    expect(up.rows[0].envelope.data.featureIds).toEqual([f2]);
    const d = await write('DELETE', r);
    expect(checked(d.rows, d.requestId)).toEqual([['release.deleted', 5]]);
  });

  it('a write that changes other aggregates emits their events too (deleting a feature, deleting a member)', async () => {
    const owner = (await h.api('POST', `${ws}/members`, { body: { email: 'owner@alpha.test', name: 'Owner', role: 'maker' } })).body.id;
    const f = (await h.api('POST', `${ws}/features`, { body: { title: 'Doomed', ownerId: owner } })).body.id;
    const keep = (await h.api('POST', `${ws}/features`, { body: { title: 'Kept' } })).body.id;
    const note = (await h.api('POST', `${ws}/notes`, { body: { title: 'n', content: 'c', features: [{ featureId: f }, { featureId: keep }] } })).body.id;
    const rel = (await h.api('POST', `${ws}/releases`, { body: { name: 'R', timeframe: { start: '2025-01-01', end: '2025-02-01' }, featureIds: [keep, f] } })).body.id;

    const d = await write('DELETE', `${ws}/features/${f}`);
    expect(d.status).toBe(204);
    expect(checked(d.rows, d.requestId)).toEqual([['note-feature-link.deleted', 2], ['note.updated', 2], ['release.updated', 2], ['feature.deleted', 2]]);
    expect(d.rows.map((r) => r.envelope.aggregateId)).toEqual([`${note}:${f}`, note, rel, f]);
    expect(d.rows[2].envelope.data.featureIds).toEqual([keep]);

    const f2 = (await h.api('POST', `${ws}/features`, { body: { title: 'Owned', ownerId: owner } })).body.id;
    const m = await write('DELETE', `${ws}/members/${owner}`);
    expect(checked(m.rows, m.requestId)).toEqual([['feature.updated', 2], ['member.deleted', 2]]);
    expect(m.rows[0].envelope).toMatchObject({ aggregateId: f2, data: { ownerId: null } });
  });

  it('deleting a feature while a link to it is being added concurrently: the link is seen, its note bumped, its deletion evented', async () => {
    const f = (await h.api('POST', `${ws}/features`, { body: { title: 'Contended' } })).body.id;
    const note = (await h.api('POST', `${ws}/notes`, { body: { title: 'Racing', content: 'c' } })).body.id;
    rawlyChanged.add(`note:${note}`);
    const c = new Client({ connectionString: h.db.url });
    await c.connect();
    try {
      // Another transaction links the note to the feature (as the link write does: bump, insert) and has not committed yet.
      await c.query('BEGIN');
      await c.query('UPDATE legacy.notes SET version = version + 1, updated_at = now() WHERE id = $1', [note]);
      await c.query('INSERT INTO legacy.note_features (note_id, feature_id, workspace_id) VALUES ($1, $2, $3)', [note, f, h.a.id]);
      const pending = write('DELETE', `${ws}/features/${f}`);
      await new Promise((r) => setTimeout(r, 300)); // the delete now waits for the feature row
      await c.query('COMMIT');
      const d = await pending;
      expect(d.status).toBe(204);
      expect(checked(d.rows, d.requestId)).toEqual([['note-feature-link.deleted', 3], ['note.updated', 3], ['feature.deleted', 2]]);
    } finally {
      await c.end();
    }
  });

  it('a failed write leaves no event: validation, a foreign key failing mid-transaction, a 404, a database error before and at commit', async () => {
    const note = (await h.api('POST', `${ws}/notes`, { body: { title: 'Stable', content: 'c' } })).body.id;
    const before = await outboxMark(h.ds);
    const notes = await h.count('notes');

    expect((await write('POST', `${ws}/notes`, { title: '' })).status).toBe(400);
    const fk = await write('POST', `${ws}/notes`, { title: 'Linked to nothing', content: 'c', features: [{ featureId: '00000000-0000-4000-a000-00000000beef' }] });
    expect(fk.status).toBe(400); // the note row was inserted, then the link failed: all rolled back
    expect((await write('PATCH', `${ws}/features/00000000-0000-4000-a000-00000000beef`, { title: 'x' })).status).toBe(404);
    expect((await write('DELETE', `${ws}/notes/${note}/features/00000000-0000-4000-a000-00000000beef`)).status).toBe(404);

    // A database error after the change, before the events are appended (the row update fails).
    await h.ds.query(`CREATE FUNCTION legacy.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.title = 'refuse me' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$`);
    await h.ds.query(`CREATE TRIGGER test_refuse BEFORE UPDATE ON legacy.notes FOR EACH ROW EXECUTE FUNCTION legacy.test_refuse()`);
    // A database error at COMMIT, after the change and its events were written in the transaction.
    await h.ds.query(`CREATE FUNCTION legacy.test_fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.envelope->'data'->>'title' = 'fail at commit' THEN RAISE EXCEPTION 'failed at commit by test'; END IF; RETURN NULL; END $$`);
    await h.ds.query(`CREATE CONSTRAINT TRIGGER test_fail_commit AFTER INSERT ON legacy.outbox DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION legacy.test_fail_commit()`);
    try {
      const refused = await write('PATCH', `${ws}/notes/${note}`, { title: 'refuse me' });
      expect(refused.status).toBe(500);
      const atCommit = await write('POST', `${ws}/notes`, { title: 'fail at commit', content: 'c' });
      expect(atCommit.status).toBe(500);
      const atCommitUpdate = await write('PATCH', `${ws}/notes/${note}`, { title: 'fail at commit' });
      expect(atCommitUpdate.status).toBe(500);
    } finally {
      await h.ds.query('DROP TRIGGER test_fail_commit ON legacy.outbox; DROP FUNCTION legacy.test_fail_commit()');
      await h.ds.query('DROP TRIGGER test_refuse ON legacy.notes; DROP FUNCTION legacy.test_refuse()');
    }

    expect(await outboxRows(h.ds, before)).toEqual([]);
    expect(await h.count('notes')).toBe(notes);
    expect((await h.api('GET', `${ws}/notes/${note}`)).body).toMatchObject({ title: 'Stable', version: 1 });
    // The same write succeeds afterwards, with its one event.
    const ok = await write('PATCH', `${ws}/notes/${note}`, { title: 'fail at commit' });
    expect(checked(ok.rows, ok.requestId)).toEqual([['note.updated', 2]]);
  });

  it('across everything written: per aggregate, versions in outbox order go up by exactly one from where they started', async () => {
    const byAggregate = new Map<string, number[]>();
    for (const r of await outboxRows(h.ds)) {
      if (r.envelope.aggregateType === 'note-feature-link') continue; // the note's version: only grows (checked below)
      const k = `${r.envelope.aggregateType}:${r.envelope.aggregateId}`;
      if (rawlyChanged.has(k)) continue;
      byAggregate.set(k, [...(byAggregate.get(k) ?? []), r.envelope.aggregateVersion]);
    }
    expect(byAggregate.size).toBeGreaterThan(10);
    for (const [k, versions] of byAggregate) {
      expect({ k, versions }).toEqual({ k, versions: versions.map((_, i) => versions[0] + i) });
    }
    const links = new Map<string, number[]>();
    for (const r of await outboxRows(h.ds)) {
      if (r.envelope.aggregateType !== 'note-feature-link') continue;
      links.set(r.envelope.aggregateId, [...(links.get(r.envelope.aggregateId) ?? []), r.envelope.aggregateVersion]);
    }
    for (const versions of links.values()) expect([...versions].sort((a, b) => a - b)).toEqual(versions);
  });

  it('reports the outbox backlog on /metrics and stays ready', async () => {
    const [{ n }] = await h.ds.query('SELECT count(*)::int AS n FROM legacy.outbox WHERE published_at IS NULL');
    expect(n).toBeGreaterThan(0);
    const metrics = await h.api('GET', '/metrics', { token: null });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(new RegExp(`carve_outbox_backlog\\{[^}]*schema="legacy"[^}]*\\} ${n}\\b`));
    expect(metrics.body).toMatch(/carve_outbox_oldest_unpublished_age_seconds\{[^}]*schema="legacy"[^}]*\} [0-9.]+/);
    expect((await h.api('GET', '/readyz', { token: null })).status).toBe(200);
  });
});
