/**
 * The monolith's events, as @carve/legacy-events declares them, built from the rows a write
 * has just changed and appended to `legacy.outbox` inside that write's transaction.
 *
 * Rules (docs/events.md, "The monolith"):
 * - created/updated carry the aggregate's whole state after the change; deleted carry ids;
 * - `aggregateVersion` is the row's `version` after the change; a delete is a change too, so a
 *   deleted event carries the version before the delete plus one;
 * - a change of a child row (comment, note link, planned feature) bumps its parent's version and
 *   emits the parent's `updated` (its `updatedAt` moved), so every version of an aggregate has
 *   exactly one event on the aggregate's topic; a link's own events carry the note's version;
 * - `tenantId` is the workspace id; `correlationId`, `causationId` and `origin` come from the
 *   write context (the request id; null; `legacy` for a user's own write).
 */
import {
  type DataOf,
  FeatureCreated,
  FeatureDeleted,
  type FeatureStateV1,
  FeatureUpdated,
  MemberCreated,
  MemberDeleted,
  type MemberStateV1,
  MemberUpdated,
  NoteCreated,
  NoteDeleted,
  NoteFeatureLinkCreated,
  NoteFeatureLinkDeleted,
  type NoteFeatureLinkStateV1,
  NoteFeatureLinkUpdated,
  noteFeatureLinkId,
  type NoteStateV1,
  NoteUpdated,
  ReleaseCreated,
  ReleaseDeleted,
  type ReleaseStateV1,
  ReleaseUpdated,
  WorkspaceCreated,
  WorkspaceDeleted,
  type WorkspaceStateV1,
  WorkspaceUpdated,
} from '@carve/legacy-events';
import { appendToOutbox, createEvent, type EventContractRef, type OutboxEvent, type SqlExecutor } from '@carve/shared-messaging';
import { LEGACY_SCHEMA } from '../database/schema';
import type { Feature } from '../features/feature.entity';
import type { NoteFeature } from '../notes/note-feature.entity';
import type { Note } from '../notes/note.entity';
import type { Release } from '../releases/release.entity';
import type { Member } from '../workspaces/member.entity';
import type { Workspace } from '../workspaces/workspace.entity';
import { currentWriteContext } from './write-context';
import { iso } from '@carve/shared-kernel';

/** The side a user's own write in the monolith comes from. */
export const LEGACY_ORIGIN = 'legacy';

export type LegacyEvent = OutboxEvent;


/** One event of the monolith, its envelope filled in from the current write context. */
export function legacyEvent<T>(
  contract: EventContractRef<T>,
  args: { tenantId: string; aggregateId: string; aggregateVersion: number; data: NoInfer<T> },
): LegacyEvent {
  const ctx = currentWriteContext();
  return createEvent(contract, {
    ...args,
    correlationId: ctx.correlationId,
    causationId: ctx.causationId ?? null,
    origin: ctx.origin ?? LEGACY_ORIGIN,
  });
}

/**
 * Appends the events to `legacy.outbox` with the caller's transaction (a TypeORM EntityManager
 * of `dataSource.transaction`, or its QueryRunner): they commit or roll back with the change.
 */
export async function emitLegacyEvents(tx: SqlExecutor, events: LegacyEvent[]): Promise<void> {
  await appendToOutbox(tx, LEGACY_SCHEMA, events);
}

// ---- states (the contracts' `data`) ---------------------------------------------------------

export const workspaceState = (w: Workspace): WorkspaceStateV1 => ({
  id: w.id,
  name: w.name,
  slug: w.slug,
  createdAt: iso(w.createdAt),
  updatedAt: iso(w.updatedAt),
});

export const memberState = (m: Member): MemberStateV1 => ({
  id: m.id,
  workspaceId: m.workspaceId,
  email: m.email,
  name: m.name,
  role: m.role,
  createdAt: iso(m.createdAt),
  updatedAt: iso(m.updatedAt),
});

export const featureState = (f: Feature): FeatureStateV1 => ({
  id: f.id,
  workspaceId: f.workspaceId,
  title: f.title,
  description: f.description,
  status: f.status,
  priority: f.priority,
  ownerId: f.ownerId,
  tags: f.tags,
  createdAt: iso(f.createdAt),
  updatedAt: iso(f.updatedAt),
});

export const noteState = (n: Note): NoteStateV1 => ({
  id: n.id,
  workspaceId: n.workspaceId,
  title: n.title,
  content: n.content,
  source: n.source,
  customerEmail: n.customerEmail,
  customerName: n.customerName,
  customerCompany: n.customerCompany,
  tags: n.tags,
  state: n.state,
  createdAt: iso(n.createdAt),
  updatedAt: iso(n.updatedAt),
});

export const noteFeatureLinkState = (l: NoteFeature): NoteFeatureLinkStateV1 => ({
  noteId: l.noteId,
  featureId: l.featureId,
  workspaceId: l.workspaceId,
  importance: l.importance,
  createdAt: iso(l.createdAt),
  updatedAt: iso(l.updatedAt),
});

export const releaseState = (r: Release, featureIds: string[]): ReleaseStateV1 => ({
  id: r.id,
  workspaceId: r.workspaceId,
  name: r.name,
  description: r.description,
  startsOn: r.startsOn,
  endsOn: r.endsOn,
  state: r.state,
  featureIds,
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
});

// ---- events per aggregate -------------------------------------------------------------------

export const workspaceEvent = (c: typeof WorkspaceCreated | typeof WorkspaceUpdated, w: Workspace) =>
  legacyEvent<DataOf<typeof WorkspaceCreated>>(c, { tenantId: w.id, aggregateId: w.id, aggregateVersion: w.version, data: workspaceState(w) });

export const workspaceDeleted = (id: string, version: number) =>
  legacyEvent(WorkspaceDeleted, { tenantId: id, aggregateId: id, aggregateVersion: version, data: { id } });

export const memberEvent = (c: typeof MemberCreated | typeof MemberUpdated, m: Member) =>
  legacyEvent<DataOf<typeof MemberCreated>>(c, { tenantId: m.workspaceId, aggregateId: m.id, aggregateVersion: m.version, data: memberState(m) });

export const memberDeleted = (m: { id: string; workspaceId: string }, version: number) =>
  legacyEvent(MemberDeleted, { tenantId: m.workspaceId, aggregateId: m.id, aggregateVersion: version, data: { id: m.id, workspaceId: m.workspaceId } });

export const featureEvent = (c: typeof FeatureCreated | typeof FeatureUpdated, f: Feature) =>
  legacyEvent<DataOf<typeof FeatureCreated>>(c, { tenantId: f.workspaceId, aggregateId: f.id, aggregateVersion: f.version, data: featureState(f) });

export const featureDeleted = (f: { id: string; workspaceId: string }, version: number) =>
  legacyEvent(FeatureDeleted, { tenantId: f.workspaceId, aggregateId: f.id, aggregateVersion: version, data: { id: f.id, workspaceId: f.workspaceId } });

export const noteEvent = (c: typeof NoteCreated | typeof NoteUpdated, n: Note) =>
  legacyEvent<DataOf<typeof NoteCreated>>(c, { tenantId: n.workspaceId, aggregateId: n.id, aggregateVersion: n.version, data: noteState(n) });

export const noteDeleted = (n: { id: string; workspaceId: string }, version: number) =>
  legacyEvent(NoteDeleted, { tenantId: n.workspaceId, aggregateId: n.id, aggregateVersion: version, data: { id: n.id, workspaceId: n.workspaceId } });

/** A link's events carry the version of its note (the aggregate the monolith keeps it in). */
export const noteFeatureLinkEvent = (c: typeof NoteFeatureLinkCreated | typeof NoteFeatureLinkUpdated, l: NoteFeature, noteVersion: number) =>
  legacyEvent<DataOf<typeof NoteFeatureLinkCreated>>(c, {
    tenantId: l.workspaceId,
    aggregateId: noteFeatureLinkId(l.noteId, l.featureId),
    aggregateVersion: noteVersion,
    data: noteFeatureLinkState(l),
  });

export const noteFeatureLinkDeleted = (l: { noteId: string; featureId: string; workspaceId: string }, noteVersion: number) =>
  legacyEvent(NoteFeatureLinkDeleted, {
    tenantId: l.workspaceId,
    aggregateId: noteFeatureLinkId(l.noteId, l.featureId),
    aggregateVersion: noteVersion,
    data: { noteId: l.noteId, featureId: l.featureId, workspaceId: l.workspaceId },
  });

export const releaseEvent = (c: typeof ReleaseCreated | typeof ReleaseUpdated, r: Release, featureIds: string[]) =>
  legacyEvent<DataOf<typeof ReleaseCreated>>(c, { tenantId: r.workspaceId, aggregateId: r.id, aggregateVersion: r.version, data: releaseState(r, featureIds) });

export const releaseDeleted = (r: { id: string; workspaceId: string }, version: number) =>
  legacyEvent(ReleaseDeleted, { tenantId: r.workspaceId, aggregateId: r.id, aggregateVersion: version, data: { id: r.id, workspaceId: r.workspaceId } });
