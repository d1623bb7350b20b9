/**
 * Reads of the notes API (keyset pages, filters, one note with its links) and, once the service
 * is the source of truth, its writes: each in the caller's transaction, with the events of the
 * change appended to `insights.outbox` in that same transaction (legacy-compatible data, origin
 * `insights-service`), so the monolith can apply them (reverse sync).
 */
import { randomUUID } from 'node:crypto';
import {
  InsightsNoteCreated,
  InsightsNoteDeleted,
  InsightsNoteLinkCreated,
  InsightsNoteLinkDeleted,
  InsightsNoteLinkUpdated,
  InsightsNoteUpdated,
  INSIGHTS_ORIGIN,
  noteLinkAggregateId,
} from '@carve/insights-events';
import { type Importance, type ListQuery, type NoteCreate, type NoteFilters, type NoteLinkCreate, type NoteLinkFilters, type NotePatch, type Page } from '@carve/insights-domain';
import type { NoteFeatureLinkStateV1, NoteStateV1 } from '@carve/legacy-events';
import { appendToOutbox, createEvent, type OutboxEvent, queryRows, type SqlExecutor } from '@carve/shared-messaging';
import { type KeysetSql, keysetPage, type SortColumn } from '@carve/shared-persistence';
import { invalid, LINK, NOTE, notFound, conflict, WORKSPACE } from './errors';
import { INSIGHTS_SCHEMA as S } from './schema';
import { upsertCustomer } from './sync';
import { type LinkRow, type NoteLinkView, noteLinkView, type NoteRow, noteView, type NoteView, type NoteWithLinksView, noteWithLinksView } from './views';
import { iso } from '@carve/shared-kernel';

const NOTE_COLUMNS = `n.id, n.workspace_id, n.title, n.content, n.source, c.email AS customer_email, c.name AS customer_name,
  c.company AS customer_company, n.tags, n.state, n.aggregate_version, n.created_at, n.updated_at`;
const NOTE_FROM = `${S}.notes n LEFT JOIN ${S}.customers c ON c.id = n.customer_id`;
const LINK_COLUMNS = 'l.note_id, l.feature_id, l.importance, l.created_at, l.updated_at';

const SORT_COLUMNS: Record<string, SortColumn> = {
  createdAt: { column: 'created_at', cast: 'timestamptz', value: (r) => r.created_at },
  updatedAt: { column: 'updated_at', cast: 'timestamptz', value: (r) => r.updated_at },
  title: { column: 'title', cast: 'text', value: (r) => r.title },
};

/** One keyset page of this repository's lists (@carve/shared-persistence `keysetPage`). */
const keyset = <R>(ex: SqlExecutor, sql: KeysetSql, query: ListQuery<any>): Promise<Page<R>> => keysetPage((text, params) => queryRows<R>(ex, text, params), sql, SORT_COLUMNS, query);

// ---- reads ----------------------------------------------------------------------------------------

export async function listNotes(ex: SqlExecutor, workspaceId: string, query: ListQuery<NoteFilters>): Promise<Page<NoteView>> {
  const where = ['n.workspace_id = $1'];
  const params: unknown[] = [workspaceId];
  const f = query.filters;
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (f.state) add((p) => `n.state = ${p}`, f.state);
  if (f.source) add((p) => `n.source = ${p}`, f.source);
  if (f.tag) add((p) => `n.tags @> ARRAY[${p}::text]`, f.tag);
  if (f.customerEmail) add((p) => `c.email = ${p}`, f.customerEmail);
  if (f.featureId) add((p) => `EXISTS (SELECT 1 FROM ${S}.note_features nf WHERE nf.note_id = n.id AND nf.feature_id = ${p}::uuid)`, f.featureId);
  const page = await keyset<NoteRow>(ex, { select: `SELECT ${NOTE_COLUMNS} FROM ${NOTE_FROM}`, where, params, alias: 'n', idColumn: 'id' }, query);
  return { items: page.items.map(noteView), nextCursor: page.nextCursor };
}

async function noteRow(ex: SqlExecutor, workspaceId: string, id: string, lock = false): Promise<NoteRow> {
  const [row] = await queryRows<NoteRow>(
    ex,
    `SELECT ${NOTE_COLUMNS} FROM ${NOTE_FROM} WHERE n.id = $1 AND n.workspace_id = $2${lock ? ' FOR UPDATE OF n' : ''}`,
    [id, workspaceId],
  );
  if (!row) throw notFound(NOTE);
  return row;
}

async function linkRows(ex: SqlExecutor, workspaceId: string, noteId: string): Promise<LinkRow[]> {
  return queryRows<LinkRow>(
    ex,
    `SELECT ${LINK_COLUMNS} FROM ${S}.note_features l WHERE l.note_id = $1 AND l.workspace_id = $2 ORDER BY l.created_at, l.feature_id`,
    [noteId, workspaceId],
  );
}

export async function getNote(ex: SqlExecutor, workspaceId: string, id: string): Promise<NoteWithLinksView> {
  const row = await noteRow(ex, workspaceId, id);
  return noteWithLinksView(row, await linkRows(ex, workspaceId, id));
}

export async function listNoteLinks(ex: SqlExecutor, workspaceId: string, noteId: string, query: ListQuery<NoteLinkFilters>): Promise<Page<NoteLinkView>> {
  await noteRow(ex, workspaceId, noteId);
  const where = ['l.workspace_id = $1', 'l.note_id = $2'];
  const params: unknown[] = [workspaceId, noteId];
  if (query.filters.importance) {
    params.push(query.filters.importance);
    where.push(`l.importance = $${params.length}`);
  }
  const page = await keyset<LinkRow>(ex, { select: `SELECT ${LINK_COLUMNS} FROM ${S}.note_features l`, where, params, alias: 'l', idColumn: 'feature_id' }, query);
  return { items: page.items.map(noteLinkView), nextCursor: page.nextCursor };
}

async function linkRow(ex: SqlExecutor, workspaceId: string, noteId: string, featureId: string): Promise<LinkRow> {
  const [row] = await queryRows<LinkRow>(
    ex,
    `SELECT ${LINK_COLUMNS} FROM ${S}.note_features l WHERE l.note_id = $1 AND l.feature_id = $2 AND l.workspace_id = $3`,
    [noteId, featureId, workspaceId],
  );
  if (!row) throw notFound(LINK);
  return row;
}

export async function getNoteLink(ex: SqlExecutor, workspaceId: string, noteId: string, featureId: string): Promise<NoteLinkView> {
  return noteLinkView(await linkRow(ex, workspaceId, noteId, featureId));
}

// ---- the legacy shape of a note and a link (the events' data) ------------------------------------------------


export function noteState(n: NoteRow): NoteStateV1 {
  return {
    id: n.id,
    workspaceId: n.workspace_id,
    title: n.title,
    content: n.content,
    source: n.source as NoteStateV1['source'],
    customerEmail: n.customer_email,
    customerName: n.customer_email ? n.customer_name : null,
    customerCompany: n.customer_email ? n.customer_company : null,
    tags: n.tags,
    state: n.state as NoteStateV1['state'],
    createdAt: iso(n.created_at),
    updatedAt: iso(n.updated_at),
  };
}

export function noteLinkState(workspaceId: string, l: LinkRow): NoteFeatureLinkStateV1 {
  return {
    noteId: l.note_id,
    featureId: l.feature_id,
    workspaceId,
    importance: l.importance as NoteFeatureLinkStateV1['importance'],
    createdAt: iso(l.created_at),
    updatedAt: iso(l.updated_at),
  };
}

// ---- writes (only while the service is the source of truth) ---------------------------------------------------

export interface WriteContext {
  /** The request this write serves: the events' correlation id. */
  correlationId?: string;
}

function envelopeArgs(workspaceId: string, aggregateId: string, version: number, ctx: WriteContext) {
  return { tenantId: workspaceId, aggregateId, aggregateVersion: version, origin: INSIGHTS_ORIGIN, correlationId: ctx.correlationId };
}

async function featuresKnown(ex: SqlExecutor, workspaceId: string, featureIds: string[]): Promise<Set<string>> {
  if (featureIds.length === 0) return new Set();
  const rows = await queryRows<{ feature_id: string }>(
    ex,
    `SELECT feature_id FROM ${S}.feature_titles WHERE workspace_id = $1 AND feature_id = ANY($2::uuid[])`,
    [workspaceId, featureIds],
  );
  return new Set(rows.map((r) => r.feature_id));
}

async function customerIdFor(ex: SqlExecutor, workspaceId: string, noteId: string, customer: NoteCreate['customer'], version: number): Promise<string | null> {
  if (!customer) return null;
  // The newest note written with this email sets the customer's name and company; this note's
  // updated_at is the transaction's now() (noteUpdatedAt null), read by Postgres in the upsert.
  return upsertCustomer(ex, { workspaceId, email: customer.email, name: customer.name, company: customer.company, noteId, noteUpdatedAt: null, version });
}

/** The note and its links in one transaction; a link to a feature the workspace does not have leaves nothing behind. */
export async function createNote(ex: SqlExecutor, workspaceId: string, input: NoteCreate, ctx: WriteContext = {}): Promise<NoteWithLinksView> {
  const [ws] = await queryRows(ex, `SELECT 1 FROM ${S}.workspaces WHERE id = $1`, [workspaceId]);
  if (!ws) throw notFound(WORKSPACE);
  const known = await featuresKnown(ex, workspaceId, input.features.map((l) => l.featureId));
  const bad = input.features.findIndex((l) => !known.has(l.featureId));
  if (bad >= 0) throw invalid([{ field: `features[${bad}].featureId`, message: 'is not a feature of this workspace' }]);
  const id = randomUUID();
  const customerId = await customerIdFor(ex, workspaceId, id, input.customer, 1);
  await ex.query(
    `INSERT INTO ${S}.notes (id, workspace_id, title, content, source, customer_id, tags, state, aggregate_version, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8, 1, now(), now())`,
    [id, workspaceId, input.title, input.content, input.source, customerId, input.tags, input.state],
  );
  if (input.features.length) {
    await ex.query(
      `INSERT INTO ${S}.note_features (note_id, feature_id, workspace_id, importance, aggregate_version, created_at, updated_at)
       SELECT $1, f, $2, i, 1, now(), now() FROM unnest($3::uuid[], $4::text[]) AS t(f, i)`,
      [id, workspaceId, input.features.map((l) => l.featureId), input.features.map((l) => l.importance)],
    );
  }
  const row = await noteRow(ex, workspaceId, id);
  const links = await linkRows(ex, workspaceId, id);
  const events: OutboxEvent[] = [createEvent(InsightsNoteCreated, { ...envelopeArgs(workspaceId, id, 1, ctx), data: noteState(row) })];
  for (const l of links) {
    events.push(createEvent(InsightsNoteLinkCreated, { ...envelopeArgs(workspaceId, noteLinkAggregateId(id, l.feature_id), 1, ctx), data: noteLinkState(workspaceId, l) }));
  }
  await appendToOutbox(ex, S, events);
  return noteWithLinksView(row, links);
}

/** Locks the note, moves it to the next version (applying `set`), returns the new row. */
async function bump(ex: SqlExecutor, workspaceId: string, id: string, set: { sql: string[]; params: unknown[] } = { sql: [], params: [] }): Promise<NoteRow> {
  await noteRow(ex, workspaceId, id, true); // 404 when missing; holds the row until commit
  await ex.query(
    `UPDATE ${S}.notes SET ${[...set.sql, 'aggregate_version = aggregate_version + 1', 'updated_at = now()'].join(', ')} WHERE id = $1 AND workspace_id = $2`,
    [id, workspaceId, ...set.params],
  );
  return noteRow(ex, workspaceId, id);
}

export async function updateNote(ex: SqlExecutor, workspaceId: string, id: string, patch: NotePatch, ctx: WriteContext = {}): Promise<NoteWithLinksView> {
  const current = await noteRow(ex, workspaceId, id, true);
  const sql: string[] = [];
  const params: unknown[] = [];
  const set = (column: string, value: unknown, cast = '') => {
    params.push(value);
    sql.push(`${column} = $${params.length + 2}${cast}`);
  };
  if (patch.title !== undefined) set('title', patch.title);
  if (patch.content !== undefined) set('content', patch.content);
  if (patch.source !== undefined) set('source', patch.source);
  if (patch.tags !== undefined) set('tags', patch.tags, '::text[]');
  if (patch.state !== undefined) set('state', patch.state);
  if (patch.customer !== undefined) set('customer_id', await customerIdFor(ex, workspaceId, id, patch.customer, current.aggregate_version + 1), '::uuid');
  const row = await bump(ex, workspaceId, id, { sql, params });
  const links = await linkRows(ex, workspaceId, id);
  await appendToOutbox(ex, S, [createEvent(InsightsNoteUpdated, { ...envelopeArgs(workspaceId, id, row.aggregate_version, ctx), data: noteState(row) })]);
  return noteWithLinksView(row, links);
}

export async function deleteNote(ex: SqlExecutor, workspaceId: string, id: string, ctx: WriteContext = {}): Promise<void> {
  const current = await noteRow(ex, workspaceId, id, true);
  const version = current.aggregate_version + 1;
  const links = await linkRows(ex, workspaceId, id);
  await ex.query(`DELETE FROM ${S}.note_features WHERE note_id = $1`, [id]);
  await ex.query(`DELETE FROM ${S}.notes WHERE id = $1`, [id]);
  await ex.query(
    `INSERT INTO ${S}.tombstones (aggregate_type, aggregate_id, workspace_id, aggregate_version) VALUES ('note', $1, $2, $3)
     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET aggregate_version = GREATEST(tombstones.aggregate_version, EXCLUDED.aggregate_version)`,
    [id, workspaceId, version],
  );
  // As the monolith: each link's deletion, then the note's, all at the version the delete gives it.
  await appendToOutbox(ex, S, [
    ...links.map((l) =>
      createEvent(InsightsNoteLinkDeleted, { ...envelopeArgs(workspaceId, noteLinkAggregateId(id, l.feature_id), version, ctx), data: { noteId: id, featureId: l.feature_id, workspaceId } }),
    ),
    createEvent(InsightsNoteDeleted, { ...envelopeArgs(workspaceId, id, version, ctx), data: { id, workspaceId } }),
  ]);
}

/** A link change is a change of the note: its version moves; note.updated goes out, then the link's event (as the monolith emits them). */
async function linkChanged(ex: SqlExecutor, workspaceId: string, note: NoteRow, linkEvent: OutboxEvent, ctx: WriteContext): Promise<void> {
  await appendToOutbox(ex, S, [createEvent(InsightsNoteUpdated, { ...envelopeArgs(workspaceId, note.id, note.aggregate_version, ctx), data: noteState(note) }), linkEvent]);
}

export async function linkFeature(ex: SqlExecutor, workspaceId: string, noteId: string, input: NoteLinkCreate, ctx: WriteContext = {}): Promise<NoteLinkView> {
  const note = await bump(ex, workspaceId, noteId);
  if (!(await featuresKnown(ex, workspaceId, [input.featureId])).has(input.featureId)) {
    throw invalid([{ field: 'featureId', message: 'is not a feature of this workspace' }]);
  }
  const inserted = await queryRows(
    ex,
    `INSERT INTO ${S}.note_features (note_id, feature_id, workspace_id, importance, aggregate_version, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, now(), now()) ON CONFLICT (note_id, feature_id) DO NOTHING RETURNING 1`,
    [noteId, input.featureId, workspaceId, input.importance, note.aggregate_version],
  );
  if (inserted.length === 0) throw conflict('already_linked', 'The note is already linked to this feature; PATCH the link to change its importance.');
  const link = await linkRow(ex, workspaceId, noteId, input.featureId);
  const aggregateId = noteLinkAggregateId(noteId, input.featureId);
  await linkChanged(ex, workspaceId, note, createEvent(InsightsNoteLinkCreated, { ...envelopeArgs(workspaceId, aggregateId, note.aggregate_version, ctx), data: noteLinkState(workspaceId, link) }), ctx);
  return noteLinkView(link);
}

export async function updateNoteLink(ex: SqlExecutor, workspaceId: string, noteId: string, featureId: string, importance: Importance, ctx: WriteContext = {}): Promise<NoteLinkView> {
  const note = await bump(ex, workspaceId, noteId);
  const updated = await queryRows(
    ex,
    `UPDATE ${S}.note_features SET importance = $4, aggregate_version = $5, updated_at = now()
      WHERE note_id = $1 AND feature_id = $2 AND workspace_id = $3 RETURNING 1`,
    [noteId, featureId, workspaceId, importance, note.aggregate_version],
  );
  if (updated.length === 0) throw notFound(LINK);
  const link = await linkRow(ex, workspaceId, noteId, featureId);
  const aggregateId = noteLinkAggregateId(noteId, featureId);
  await linkChanged(ex, workspaceId, note, createEvent(InsightsNoteLinkUpdated, { ...envelopeArgs(workspaceId, aggregateId, note.aggregate_version, ctx), data: noteLinkState(workspaceId, link) }), ctx);
  return noteLinkView(link);
}

export async function unlinkFeature(ex: SqlExecutor, workspaceId: string, noteId: string, featureId: string, ctx: WriteContext = {}): Promise<void> {
  const note = await bump(ex, workspaceId, noteId);
  const deleted = await queryRows(ex, `DELETE FROM ${S}.note_features WHERE note_id = $1 AND feature_id = $2 AND workspace_id = $3 RETURNING 1`, [noteId, featureId, workspaceId]);
  if (deleted.length === 0) throw notFound(LINK);
  const aggregateId = noteLinkAggregateId(noteId, featureId);
  await ex.query(
    `INSERT INTO ${S}.tombstones (aggregate_type, aggregate_id, workspace_id, aggregate_version) VALUES ('note-feature-link', $1, $2, $3)
     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET aggregate_version = GREATEST(tombstones.aggregate_version, EXCLUDED.aggregate_version)`,
    [aggregateId, workspaceId, note.aggregate_version],
  );
  await linkChanged(ex, workspaceId, note, createEvent(InsightsNoteLinkDeleted, { ...envelopeArgs(workspaceId, aggregateId, note.aggregate_version, ctx), data: { noteId, featureId, workspaceId } }), ctx);
}
