/**
 * Applying the monolith's state to the insights schema, version-guarded. One function per kind of
 * change, each safe to call in any order and any number of times:
 *
 * - a row is only written when the incoming `aggregate_version` is not older than the stored one
 *   (`<=`: the same version again rewrites the same state, which also corrects an approximate
 *   `updated_at` set by a link event, below);
 * - deletions leave a tombstone (type, id, version): an older state (a late event, a backfilled
 *   row read before the delete) never brings the row back; a workspace tombstone stops
 *   everything of that workspace;
 * - no foreign key between synced rows: the monolith's topics are not ordered with each other,
 *   so a link may arrive before its note.
 *
 * - a note's events and its links' events take the note's row lock before any link row (the
 *   order the service's own writes take them in), and forward sync serialises them per note
 *   (`noteOfEvent`): the two topics, applied concurrently, never wait on each other in a cycle;
 * - an event of the monolith at the version of a note the service wrote itself is a conflict
 *   (`forwardSyncConflict`): neither applied nor skipped, recorded by the consumer with both
 *   payloads (see @carve/shared-messaging conflicts.ts).
 *
 * The forward-sync consumer calls `applyLegacyEvent` (inside its inbox transaction); a backfill
 * calls the same functions with rows read from `legacy` (`applyNoteSnapshot` for a note with its
 * links). `ex` is any executor of the caller's transaction: a pg client, a TypeORM manager.
 */
import { INSIGHTS_ORIGIN } from '@carve/insights-events';
import type { FeatureStateV1, NoteFeatureLinkStateV1, NoteStateV1, WorkspaceStateV1 } from '@carve/legacy-events';
import { type Envelope, queryRows, type SqlExecutor, type SyncConflict, wroteVersionHere } from '@carve/shared-messaging';
import { type ApplyResult, featureTitles, tombstones } from '@carve/shared-persistence';
import { INSIGHTS_SCHEMA as S } from './schema';

export type { ApplyResult } from '@carve/shared-persistence';

type TombstoneType = 'workspace' | 'feature' | 'note' | 'note-feature-link';

const linkKey = (noteId: string, featureId: string) => `${noteId}:${featureId}`;

async function one<R>(ex: SqlExecutor, sql: string, params: unknown[]): Promise<R | undefined> {
  return (await queryRows<R>(ex, sql, params))[0];
}

/** The schema's tombstones (@carve/shared-persistence): a workspace's buries everything of it, an aggregate's the versions up to its own. */
const { buried, bury } = tombstones<TombstoneType>(S);
/** The read model of the monolith's features (@carve/shared-persistence): title and status. */
const titles = featureTitles(S);

// ---- workspaces -------------------------------------------------------------------------------

export async function applyWorkspaceState(ex: SqlExecutor, w: WorkspaceStateV1, version: number): Promise<ApplyResult> {
  if (await buried(ex, w.id, [], version)) return 'stale';
  const rows = await queryRows(
    ex,
    `INSERT INTO ${S}.workspaces (id, name, slug, aggregate_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, slug = EXCLUDED.slug, aggregate_version = EXCLUDED.aggregate_version,
       created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
     WHERE workspaces.aggregate_version <= EXCLUDED.aggregate_version
     RETURNING 1`,
    [w.id, w.name, w.slug, version, w.createdAt, w.updatedAt],
  );
  return rows.length ? 'applied' : 'stale';
}

/** A deleted workspace takes everything of it along (the monolith cascades the same way). */
export async function applyWorkspaceDeleted(ex: SqlExecutor, d: { id: string }, version: number): Promise<ApplyResult> {
  for (const t of ['note_features', 'notes', 'customers', 'feature_titles']) {
    await ex.query(`DELETE FROM ${S}.${t} WHERE workspace_id = $1`, [d.id]);
  }
  await ex.query(`DELETE FROM ${S}.workspaces WHERE id = $1`, [d.id]);
  await bury(ex, 'workspace', d.id, d.id, version);
  return 'applied';
}

// ---- features (read model: title and status) ----------------------------------------------------

export const applyFeatureState = (ex: SqlExecutor, f: Pick<FeatureStateV1, 'id' | 'workspaceId' | 'title' | 'status'>, version: number): Promise<ApplyResult> => titles.applyState(ex, f, version);

/** The feature's links go too (the monolith's foreign key cascades them, without bumping the notes). */
export async function applyFeatureDeleted(ex: SqlExecutor, d: { id: string; workspaceId: string }, version: number): Promise<ApplyResult> {
  await ex.query(`DELETE FROM ${S}.note_features WHERE feature_id = $1 AND workspace_id = $2`, [d.id, d.workspaceId]);
  return titles.applyDeleted(ex, d, version);
}

// ---- customers ------------------------------------------------------------------------------------

/**
 * The customer of (workspace, email), created if new. Name and company follow the newest note
 * written with that email (by the note's updatedAt, then id): the same answer whatever order the
 * notes' events arrive in.
 */
export async function upsertCustomer(
  ex: SqlExecutor,
  /** noteUpdatedAt null: the writing transaction's now() (a note written in this transaction). */
  c: { workspaceId: string; email: string; name: string | null; company: string | null; noteId: string; noteUpdatedAt: string | Date | null; version: number },
): Promise<string> {
  const params = [c.workspaceId, c.email.toLowerCase(), c.name, c.company, c.noteId, c.noteUpdatedAt, c.version];
  const row = await one<{ id: string }>(
    ex,
    `INSERT INTO ${S}.customers (workspace_id, email, name, company, source_note_id, source_updated_at, aggregate_version)
     VALUES ($1, $2, $3, $4, $5, COALESCE($6::timestamptz, now()), $7)
     ON CONFLICT (workspace_id, lower(email)) DO UPDATE SET name = EXCLUDED.name, company = EXCLUDED.company,
       source_note_id = EXCLUDED.source_note_id, source_updated_at = EXCLUDED.source_updated_at,
       aggregate_version = EXCLUDED.aggregate_version, updated_at = now()
     WHERE (customers.source_updated_at, customers.source_note_id) <= (EXCLUDED.source_updated_at, EXCLUDED.source_note_id)
     RETURNING id`,
    params,
  );
  if (row) return row.id;
  const existing = await one<{ id: string }>(ex, `SELECT id FROM ${S}.customers WHERE workspace_id = $1 AND lower(email) = $2`, [c.workspaceId, c.email.toLowerCase()]);
  return existing!.id;
}

// ---- notes ------------------------------------------------------------------------------------------

/** A note's whole state, in the monolith's shape (customer inline), at `version`. */
export async function applyNoteState(ex: SqlExecutor, n: NoteStateV1, version: number): Promise<ApplyResult> {
  if (await buried(ex, n.workspaceId, [['note', n.id]], version)) return 'stale';
  const current = await one<{ v: number }>(ex, `SELECT aggregate_version AS v FROM ${S}.notes WHERE id = $1 FOR UPDATE`, [n.id]);
  if (current && current.v > version) return 'stale';
  const customerId = n.customerEmail
    ? await upsertCustomer(ex, {
        workspaceId: n.workspaceId,
        email: n.customerEmail,
        name: n.customerName,
        company: n.customerCompany,
        noteId: n.id,
        noteUpdatedAt: n.updatedAt,
        version,
      })
    : null;
  const rows = await queryRows(
    ex,
    `INSERT INTO ${S}.notes (id, workspace_id, title, content, source, customer_id, tags, state, aggregate_version, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10, $11)
     ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, content = EXCLUDED.content, source = EXCLUDED.source,
       customer_id = EXCLUDED.customer_id, tags = EXCLUDED.tags, state = EXCLUDED.state, aggregate_version = EXCLUDED.aggregate_version,
       created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
     WHERE notes.aggregate_version <= EXCLUDED.aggregate_version
     RETURNING 1`,
    [n.id, n.workspaceId, n.title, n.content, n.source, customerId, n.tags, n.state, version, n.createdAt, n.updatedAt],
  );
  return rows.length ? 'applied' : 'stale';
}

/** The note and its links go; `version` is the one the delete gave it. */
export async function applyNoteDeleted(ex: SqlExecutor, d: { id: string; workspaceId: string }, version: number): Promise<ApplyResult> {
  const current = await one<{ v: number }>(ex, `SELECT aggregate_version AS v FROM ${S}.notes WHERE id = $1 FOR UPDATE`, [d.id]);
  if (current && current.v > version) return 'stale';
  await ex.query(`DELETE FROM ${S}.note_features WHERE note_id = $1`, [d.id]);
  await ex.query(`DELETE FROM ${S}.notes WHERE id = $1`, [d.id]);
  await bury(ex, 'note', d.id, d.workspaceId, version);
  return 'applied';
}

/** Takes the note's row lock first (before any link row), as every writer of a note and its links does. */
async function lockNoteRow(ex: SqlExecutor, noteId: string): Promise<void> {
  await ex.query(`SELECT 1 FROM ${S}.notes WHERE id = $1 FOR UPDATE`, [noteId]);
}

/** A link change moved the note to `version` (the monolith bumps the note with each link change). */
async function bumpNote(ex: SqlExecutor, noteId: string, version: number, at: string | Date): Promise<void> {
  await ex.query(`UPDATE ${S}.notes SET aggregate_version = $2, updated_at = $3 WHERE id = $1 AND aggregate_version < $2`, [noteId, version, at]);
}

export async function applyNoteLinkState(ex: SqlExecutor, l: NoteFeatureLinkStateV1, version: number): Promise<ApplyResult> {
  const checks: Array<[TombstoneType, string]> = [['note-feature-link', linkKey(l.noteId, l.featureId)], ['note', l.noteId], ['feature', l.featureId]];
  // A feature tombstone holds at any version: the feature's versions are not the note's.
  if (await buried(ex, l.workspaceId, checks.slice(0, 2), version)) return 'stale';
  if (await buried(ex, l.workspaceId, [checks[2]], 0)) return 'stale';
  await lockNoteRow(ex, l.noteId);
  const rows = await queryRows(
    ex,
    `INSERT INTO ${S}.note_features (note_id, feature_id, workspace_id, importance, aggregate_version, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (note_id, feature_id) DO UPDATE SET importance = EXCLUDED.importance, aggregate_version = EXCLUDED.aggregate_version,
       created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
     WHERE note_features.aggregate_version <= EXCLUDED.aggregate_version
     RETURNING 1`,
    [l.noteId, l.featureId, l.workspaceId, l.importance, version, l.createdAt, l.updatedAt],
  );
  await bumpNote(ex, l.noteId, version, l.updatedAt);
  return rows.length ? 'applied' : 'stale';
}

/** `at`: when the unlink happened (the envelope's occurredAt; the event carries no timestamps). */
export async function applyNoteLinkDeleted(ex: SqlExecutor, d: { noteId: string; featureId: string; workspaceId: string }, version: number, at: string | Date): Promise<ApplyResult> {
  await lockNoteRow(ex, d.noteId);
  await ex.query(`DELETE FROM ${S}.note_features WHERE note_id = $1 AND feature_id = $2 AND aggregate_version <= $3`, [d.noteId, d.featureId, version]);
  await bury(ex, 'note-feature-link', linkKey(d.noteId, d.featureId), d.workspaceId, version);
  await bumpNote(ex, d.noteId, version, at);
  return 'applied';
}

export interface LinkSnapshot {
  featureId: string;
  importance: NoteFeatureLinkStateV1['importance'];
  createdAt: string | Date;
  updatedAt: string | Date;
}

/**
 * For a backfill: a note with its whole set of links as read from `legacy` at `version`. Links
 * are written at the note's version (the legacy table has no version of its own); links the
 * service holds at an older version and the snapshot lacks are removed. Everything newer that
 * forward sync already applied wins.
 */
export async function applyNoteSnapshot(ex: SqlExecutor, n: NoteStateV1, version: number, links: LinkSnapshot[]): Promise<ApplyResult> {
  const result = await applyNoteState(ex, n, version);
  if (result !== 'applied') return result;
  for (const l of links) {
    await applyNoteLinkState(ex, { noteId: n.id, featureId: l.featureId, workspaceId: n.workspaceId, importance: l.importance, createdAt: toIso(l.createdAt), updatedAt: toIso(l.updatedAt) }, version);
  }
  await ex.query(
    `DELETE FROM ${S}.note_features WHERE note_id = $1 AND aggregate_version < $2 AND NOT (feature_id = ANY($3::uuid[]))`,
    [n.id, version, links.map((l) => l.featureId)],
  );
  return 'applied';
}

const toIso = (t: string | Date) => (t instanceof Date ? t.toISOString() : t);

// ---- events -------------------------------------------------------------------------------------------

/** The monolith's event types forward sync applies (anything else is ignored). */
export const FORWARD_SYNC_TYPES = [
  'workspace.created', 'workspace.updated', 'workspace.deleted',
  'feature.created', 'feature.updated', 'feature.deleted',
  'note.created', 'note.updated', 'note.deleted',
  'note-feature-link.created', 'note-feature-link.updated', 'note-feature-link.deleted',
] as const;

/** The note an event belongs to: a note event's own, a link event's note; null for workspaces and features. */
export function noteOfEvent(e: Pick<Envelope, 'type' | 'data'>): string | null {
  const d = e.data as { id?: string; noteId?: string } | null;
  if (e.type.startsWith('note-feature-link.')) return d?.noteId ?? null;
  if (e.type.startsWith('note.')) return d?.id ?? null;
  return null;
}

/**
 * Whether an event of the monolith hits a version of a note the service wrote itself (see
 * @carve/shared-messaging conflicts.ts): the stored note (or its tombstone) is at the event's
 * version, and `insights.written_versions` says the service wrote that version. A link event
 * carries its note's version, so it is checked against the note. Locks the note's row. Null:
 * apply as usual.
 */
export async function forwardSyncConflict(ex: SqlExecutor, e: Pick<Envelope, 'type' | 'aggregateVersion' | 'data'>): Promise<SyncConflict | null> {
  const noteId = noteOfEvent(e);
  if (!noteId || e.type === 'note.created') return null;
  const row = await one<{ v: number }>(ex, `SELECT aggregate_version AS v FROM ${S}.notes WHERE id = $1 FOR UPDATE`, [noteId]);
  const stored = row
    ? Number(row.v)
    : Number((await one<{ v: number }>(ex, `SELECT aggregate_version AS v FROM ${S}.tombstones WHERE aggregate_type = 'note' AND aggregate_id = $1`, [noteId]))?.v ?? 0);
  if (stored !== e.aggregateVersion || !(await wroteVersionHere(ex, S, 'note', noteId, stored))) return null;
  const local = await one<{ payload: unknown }>(
    ex,
    `SELECT CASE WHEN n.id IS NULL THEN jsonb_build_object('deleted', true, 'id', $1::text, 'aggregate_version', $2::int)
            ELSE to_jsonb(n) || jsonb_build_object('customer', to_jsonb(c), 'links',
                   COALESCE((SELECT jsonb_agg(to_jsonb(l) ORDER BY l.feature_id) FROM ${S}.note_features l WHERE l.note_id = n.id), '[]'::jsonb)) END AS payload
       FROM (SELECT 1) one LEFT JOIN ${S}.notes n ON n.id = $1::uuid LEFT JOIN ${S}.customers c ON c.id = n.customer_id`,
    [noteId, stored],
  );
  return { context: 'insights', aggregateType: 'note', aggregateId: noteId, localOrigin: INSIGHTS_ORIGIN, localPayload: local?.payload ?? null };
}

/** One event of the monolith (or a note/link event in the same shape), applied with its version guard. */
export async function applyLegacyEvent(ex: SqlExecutor, e: Pick<Envelope, 'type' | 'aggregateVersion' | 'occurredAt' | 'data'>): Promise<ApplyResult> {
  const v = e.aggregateVersion;
  const d = e.data as any;
  switch (e.type) {
    case 'workspace.created':
    case 'workspace.updated':
      return applyWorkspaceState(ex, d, v);
    case 'workspace.deleted':
      return applyWorkspaceDeleted(ex, d, v);
    case 'feature.created':
    case 'feature.updated':
      return applyFeatureState(ex, d, v);
    case 'feature.deleted':
      return applyFeatureDeleted(ex, d, v);
    case 'note.created':
    case 'note.updated':
      return applyNoteState(ex, d, v);
    case 'note.deleted':
      return applyNoteDeleted(ex, d, v);
    case 'note-feature-link.created':
    case 'note-feature-link.updated':
      return applyNoteLinkState(ex, d, v);
    case 'note-feature-link.deleted':
      return applyNoteLinkDeleted(ex, d, v, e.occurredAt);
    default:
      return 'ignored';
  }
}
