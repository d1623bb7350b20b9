/**
 * Reverse sync of Insights: once the insights service owns the writes of notes (`carve cutover
 * insights --writes`), the monolith applies the service's events to its own tables, so the
 * notes other modules read stay current and `carve rollback insights` loses nothing.
 *
 * Registered in `reverseSyncHandlers` (src/events/reverse-sync.ts): the monolith's consumer
 * `legacy-reverse-sync` runs them when CARVE_REVERSE_SYNC=true, each event inside its inbox
 * transaction (a redelivery, or an event not newer than the aggregate's last one, never gets
 * here), in a write context caused by the event: what the monolith emits in turn keeps the
 * origin `insights-service`, so the service skips it and nothing echoes.
 *
 * The events carry the monolith's own data shape (@carve/insights-events), the customer
 * inline again, so applying them is writing rows:
 * - note.created|updated: the note's whole state at `aggregateVersion` (upsert, only over an older
 *   version), then note.created|updated in legacy.outbox;
 * - note.deleted: the note (and, by cascade, its links) goes, unless the monolith already holds
 *   a newer version; link-deleted and note.deleted in legacy.outbox;
 * - note-feature-link.*: the link (the event's version is its note's). Topics are not ordered
 *   with each other, so a link can arrive before its note: it is parked
 *   (`legacy.reverse_sync_parked`, waiting for `note:<id>`) and applied with the note, in the
 *   note's transaction. A link to a feature the monolith has deleted is dropped (the monolith's
 *   own cascade removed such links too); a link of a note deleted meanwhile likewise.
 * - an event at the version of a note the monolith wrote itself (`legacy.written_versions`; a link
 *   event carries its note's version) is a conflict: returned to the consumer, which stores it in
 *   `legacy.sync_conflicts` with both payloads; the monolith's row stays as it is.
 */
import { NoteCreated, NoteFeatureLinkCreated, NoteFeatureLinkUpdated, type NoteFeatureLinkStateV1, type NoteStateV1, NoteUpdated } from '@carve/legacy-events';
import { INSIGHTS_NOTE_LINKS_TOPIC, INSIGHTS_NOTES_TOPIC } from '@carve/insights-events';
import { type Envelope, type SyncConflict, wroteVersionHere } from '@carve/shared-messaging';
import type { EntityManager } from 'typeorm';
import { LEGACY_SCHEMA as S } from '../../database/schema';
import { emitLegacyEvents, LEGACY_ORIGIN, type LegacyEvent, noteDeleted, noteEvent, noteFeatureLinkDeleted, noteFeatureLinkEvent } from '../../events/legacy-events';
import type { ReverseSyncHandler, ReverseSyncHandlers } from '../../events/reverse-sync';
import { NoteFeature } from '../../notes/note-feature.entity';
import { Note } from '../../notes/note.entity';

/** The consumer whose inbox and parking these handlers use (the monolith's reverse-sync group). */
const CONSUMER = 'legacy-reverse-sync';

type LinkIds = { noteId: string; featureId: string; workspaceId: string };

const waitsForNote = (noteId: string) => `note:${noteId}`;

/**
 * Events of one note (its state, its links) may be applied by concurrent transactions (Kafka
 * hands partitions over in parallel): each takes the note's lock first, so a link either sees
 * its note committed, or is parked before the note's handler looks for parked links.
 */
async function lockNote(em: EntityManager, noteId: string): Promise<void> {
  await em.query(`SELECT pg_advisory_xact_lock(hashtext('carve.reverse-sync.note'), hashtext($1))`, [noteId]);
}

async function rows<T = any>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const r = await em.query(sql, params);
  // TypeORM returns [rows, affected] for UPDATE/DELETE ... RETURNING, rows otherwise.
  return (Array.isArray(r) && r.length === 2 && Array.isArray(r[0]) && typeof r[1] === 'number' ? r[0] : r) as T[];
}

/**
 * The conflict of an event at `event.aggregateVersion` of note `noteId`, if the monolith wrote
 * that version itself: the note is at that version (or was deleted at it: the monolith deletes
 * rows outright) and `legacy.written_versions` says the monolith wrote it. Under the note's lock.
 */
async function conflictOf(event: Envelope, em: EntityManager, noteId: string): Promise<SyncConflict | null> {
  const v = event.aggregateVersion;
  const note = await rows<{ version: number }>(em, `SELECT version FROM ${S}.notes WHERE id = $1`, [noteId]);
  if (note.length && Number(note[0].version) !== v) return null;
  if (!(await wroteVersionHere(em, S, 'note', noteId, v))) return null;
  const [local] = await rows<{ payload: unknown }>(
    em,
    `SELECT CASE WHEN n.id IS NULL THEN jsonb_build_object('deleted', true, 'id', $1::text, 'version', $2::int)
            ELSE to_jsonb(n) || jsonb_build_object('links',
                   COALESCE((SELECT jsonb_agg(to_jsonb(l) ORDER BY l.feature_id) FROM ${S}.note_features l WHERE l.note_id = n.id), '[]'::jsonb)) END AS payload
       FROM (SELECT 1) one LEFT JOIN ${S}.notes n ON n.id = $1::uuid`,
    [noteId, v],
  );
  return { context: 'insights', aggregateType: 'note', aggregateId: noteId, localOrigin: LEGACY_ORIGIN, localPayload: local?.payload ?? null };
}

// ---- notes --------------------------------------------------------------------------------------

async function applyNoteState(event: Envelope, em: EntityManager): Promise<void | SyncConflict> {
  const n = event.data as NoteStateV1;
  await lockNote(em, n.id);
  const conflict = await conflictOf(event, em, n.id);
  if (conflict) return conflict;
  const written = await rows(
    em,
    `INSERT INTO ${S}.notes AS t (id, workspace_id, title, content, source, customer_email, customer_name, customer_company, tags, state, version, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], $10, $11, $12, $13)
     ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, content = EXCLUDED.content, source = EXCLUDED.source,
       customer_email = EXCLUDED.customer_email, customer_name = EXCLUDED.customer_name, customer_company = EXCLUDED.customer_company,
       tags = EXCLUDED.tags, state = EXCLUDED.state, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
     WHERE t.version < EXCLUDED.version AND t.workspace_id = EXCLUDED.workspace_id
     RETURNING (xmax = 0) AS inserted`,
    [n.id, n.workspaceId, n.title, n.content, n.source, n.customerEmail, n.customerName, n.customerCompany, n.tags, n.state, event.aggregateVersion, n.createdAt, n.updatedAt],
  );
  const events: LegacyEvent[] = [];
  if (written.length) {
    const note = await em.getRepository(Note).findOneByOrFail({ id: n.id });
    events.push(noteEvent(written[0].inserted ? NoteCreated : NoteUpdated, note));
  }
  // Links that arrived before their note.
  const parked = await rows<{ envelope: Envelope }>(
    em,
    `DELETE FROM ${S}.reverse_sync_parked WHERE consumer = $1 AND waits_for = $2 RETURNING envelope`,
    [CONSUMER, waitsForNote(n.id)],
  );
  parked.sort((a, b) => a.envelope.aggregateVersion - b.envelope.aggregateVersion || a.envelope.id.localeCompare(b.envelope.id));
  await emitLegacyEvents(em, events);
  for (const p of parked) await applyLink(p.envelope, em);
}

async function applyNoteDeleted(event: Envelope, em: EntityManager): Promise<void | SyncConflict> {
  const d = event.data as { id: string; workspaceId: string };
  await lockNote(em, d.id);
  const conflict = await conflictOf(event, em, d.id);
  if (conflict) return conflict;
  const links = await em.getRepository(NoteFeature).find({ where: { noteId: d.id, workspaceId: d.workspaceId }, order: { createdAt: 'ASC', featureId: 'ASC' } });
  const gone = await rows(em, `DELETE FROM ${S}.notes WHERE id = $1 AND workspace_id = $2 AND version < $3 RETURNING id`, [d.id, d.workspaceId, event.aggregateVersion]);
  await em.query(`DELETE FROM ${S}.reverse_sync_parked WHERE consumer = $1 AND waits_for = $2`, [CONSUMER, waitsForNote(d.id)]);
  if (gone.length) {
    await emitLegacyEvents(em, [...links.map((l) => noteFeatureLinkDeleted(l, event.aggregateVersion)), noteDeleted(d, event.aggregateVersion)]);
  }
}

// ---- links --------------------------------------------------------------------------------------

/** Whether the note is gone for good: this consumer applied its deletion at this version or later. */
async function noteDeletedSince(em: EntityManager, noteId: string, version: number): Promise<boolean> {
  const r = await rows(
    em,
    `SELECT 1 FROM ${S}.inbox WHERE consumer = $1 AND aggregate_type = 'note' AND aggregate_id = $2 AND event_type = 'note.deleted' AND aggregate_version >= $3 LIMIT 1`,
    [CONSUMER, noteId, version],
  );
  return r.length > 0;
}

async function applyLink(event: Envelope, em: EntityManager): Promise<void> {
  const deleted = event.type === 'note-feature-link.deleted';
  const l = event.data as LinkIds & Partial<NoteFeatureLinkStateV1>;
  const note = await rows<{ version: number }>(em, `SELECT version FROM ${S}.notes WHERE id = $1 AND workspace_id = $2 FOR UPDATE`, [l.noteId, l.workspaceId]);
  if (note.length === 0) {
    if (await noteDeletedSince(em, l.noteId, event.aggregateVersion)) return;
    // A link event newer than one parked for the same link replaces it.
    await em.query(
      `DELETE FROM ${S}.reverse_sync_parked WHERE consumer = $1 AND waits_for = $2 AND envelope->>'aggregateId' = $3 AND (envelope->>'aggregateVersion')::int <= $4`,
      [CONSUMER, waitsForNote(l.noteId), event.aggregateId, event.aggregateVersion],
    );
    await em.query(
      `INSERT INTO ${S}.reverse_sync_parked (consumer, event_id, waits_for, topic, envelope) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [CONSUMER, event.id, waitsForNote(l.noteId), INSIGHTS_NOTE_LINKS_TOPIC, JSON.stringify(event)],
    );
    return;
  }
  const noteVersion = Math.max(note[0].version, event.aggregateVersion);
  if (deleted) {
    const gone = await rows(em, `DELETE FROM ${S}.note_features WHERE note_id = $1 AND feature_id = $2 AND workspace_id = $3 RETURNING note_id`, [l.noteId, l.featureId, l.workspaceId]);
    if (gone.length) await emitLegacyEvents(em, [noteFeatureLinkDeleted(l, noteVersion)]);
    return;
  }
  const feature = await rows(em, `SELECT 1 FROM ${S}.features WHERE id = $1 AND workspace_id = $2`, [l.featureId, l.workspaceId]);
  if (feature.length === 0) return; // deleted in the monolith: its links went with it
  const written = await rows(
    em,
    `INSERT INTO ${S}.note_features AS t (note_id, feature_id, workspace_id, importance, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (note_id, feature_id) DO UPDATE SET importance = EXCLUDED.importance, updated_at = EXCLUDED.updated_at
     RETURNING (xmax = 0) AS inserted`,
    [l.noteId, l.featureId, l.workspaceId, l.importance, l.createdAt, l.updatedAt],
  );
  const link = await em.getRepository(NoteFeature).findOneByOrFail({ noteId: l.noteId, featureId: l.featureId });
  await emitLegacyEvents(em, [noteFeatureLinkEvent(written[0].inserted ? NoteFeatureLinkCreated : NoteFeatureLinkUpdated, link, noteVersion)]);
}

// ---- the handlers ----------------------------------------------------------------------------------

const onNote: ReverseSyncHandler = async (event, em) => {
  switch (event.type) {
    case 'note.created':
    case 'note.updated':
      return applyNoteState(event, em);
    case 'note.deleted':
      return applyNoteDeleted(event, em);
    default:
      return; // a type this monolith does not know yet: recorded in the inbox, nothing to apply
  }
};

const onLink: ReverseSyncHandler = async (event, em) => {
  if (!event.type.startsWith('note-feature-link.')) return;
  const noteId = (event.data as LinkIds).noteId;
  await lockNote(em, noteId);
  const conflict = await conflictOf(event, em, noteId);
  if (conflict) return conflict;
  await applyLink(event, em);
};

/** The topics of the insights service and what the monolith does with them. */
export const insightsReverseSyncHandlers: ReverseSyncHandlers = {
  [INSIGHTS_NOTES_TOPIC]: onNote,
  [INSIGHTS_NOTE_LINKS_TOPIC]: onLink,
};
