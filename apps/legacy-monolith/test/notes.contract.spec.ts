/**
 * The notes HTTP contract (@carve/insights-notes-contract), run against the monolith: the same
 * suite the insights service passes (apps/insights-service/test/notes.contract.spec.ts), so
 * both sides answer every case the same way. Features go through the monolith's own API; the
 * tied notes and their links are inserted as rows, as old data would be.
 */
import { randomUUID } from 'node:crypto';
import { describeNotesContract } from '@carve/insights-notes-contract';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { type Harness, startHarness } from './support';

let h: Harness;
let baseUrl: string;
beforeAll(async () => {
  h = await startHarness('legacy_notes_contract');
  await h.app.listen(0, '127.0.0.1');
  baseUrl = (await h.app.getUrl()).replace('[::1]', '127.0.0.1');
});
afterAll(async () => {
  await h?.close();
});

describeNotesContract({
  name: 'legacy-monolith',
  baseUrl: () => baseUrl,
  async workspace() {
    const id = randomUUID();
    await h.ds.query('INSERT INTO legacy.workspaces (id, name, slug) VALUES ($1, $2, $3)', [id, 'Contract', `contract-${id.slice(0, 8)}`]);
    const users = { admin: randomUUID(), maker: randomUUID(), viewer: randomUUID() };
    return { id, token: (role = 'admin') => signToken({ sub: users[role], tid: id, role }, DEV_JWT_SECRET) };
  },
  async features(ws, titles) {
    const ids: string[] = [];
    for (const title of titles) {
      const res = await h.api('POST', `/api/v1/workspaces/${ws.id}/features`, { token: ws.token(), body: { title } });
      if (res.status !== 201) throw new Error(`feature ${title}: ${res.status} ${JSON.stringify(res.body)}`);
      ids.push(res.body.id);
    }
    return ids;
  },
  async seedNotes(ws, notes) {
    for (const n of notes) {
      await h.ds.query(
        `INSERT INTO legacy.notes (id, workspace_id, title, content, source, customer_email, customer_name, customer_company, tags, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [n.id, ws.id, n.title, n.content, n.source, n.customer?.email ?? null, n.customer?.name ?? null, n.customer?.company ?? null, n.tags, n.state, n.createdAt, n.updatedAt],
      );
    }
  },
  async seedLinks(ws, links) {
    for (const l of links) {
      await h.ds.query(
        `INSERT INTO legacy.note_features (note_id, feature_id, workspace_id, created_at, updated_at)
         SELECT $1, $2, $3, created_at, created_at FROM legacy.notes WHERE id = $1`,
        [l.noteId, l.featureId, ws.id],
      );
    }
  },
  bodyLimitBytes: 256 * 1024,
});
