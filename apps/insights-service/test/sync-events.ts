/**
 * The monolith's events as a test writes them into `legacy.outbox` (until the monolith's writes
 * emit them), and the note the monolith's API would answer for a given state: what forward sync
 * must make the service answer too.
 */
import { randomUUID } from 'node:crypto';
import {
  FeatureCreated,
  type NoteFeatureLinkStateV1,
  NoteCreated,
  NoteDeleted,
  NoteFeatureLinkCreated,
  type NoteStateV1,
  NoteUpdated,
  WorkspaceCreated,
} from '@carve/legacy-events';
import { createEvent, type EnvelopeArgs, type EventContractRef, type OutboxEvent } from '@carve/shared-messaging';

export function legacyEvent<T>(contract: EventContractRef<T>, args: EnvelopeArgs<T>): OutboxEvent<T> {
  return createEvent(contract, { origin: 'legacy', ...args });
}

export interface Scenario {
  workspaceId: string;
  features: string[];
  note: NoteStateV1;
  link: NoteFeatureLinkStateV1;
  /** workspace, two features, the note with its customer (v1) and its link (v1). */
  initial: OutboxEvent[];
  /** The note renamed and processed (v2). */
  updated: OutboxEvent<NoteStateV1>;
  /** The same note at v1 with another title: older than what the service holds. */
  older: OutboxEvent<NoteStateV1>;
  /** A v3 change whose origin is the service itself (its own write coming back): skipped. */
  ownOrigin: OutboxEvent<NoteStateV1>;
  deleted: OutboxEvent;
}

export function scenario(): Scenario {
  const workspaceId = randomUUID();
  const features = [randomUUID(), randomUUID()];
  const at = '2025-03-01T10:00:00.000Z';
  const note: NoteStateV1 = {
    id: randomUUID(),
    workspaceId,
    title: 'Wants dark mode',
    content: 'Our night shift asks for a dark theme.',
    source: 'intercom',
    customerEmail: 'sam@globex.test',
    customerName: 'Sam Carter',
    customerCompany: 'Globex',
    tags: ['ui'],
    state: 'unprocessed',
    createdAt: at,
    updatedAt: at,
  };
  const link: NoteFeatureLinkStateV1 = { noteId: note.id, featureId: features[0], workspaceId, importance: 'high', createdAt: at, updatedAt: at };
  const t = { tenantId: workspaceId };
  const v2 = { ...note, title: 'Wants dark mode, badly', state: 'processed' as const, updatedAt: '2025-03-02T10:00:00.000Z' };
  return {
    workspaceId,
    features,
    note,
    link,
    initial: [
      legacyEvent(WorkspaceCreated, { ...t, aggregateId: workspaceId, aggregateVersion: 1, data: { id: workspaceId, name: 'Globex', slug: `globex-${workspaceId.slice(0, 8)}`, createdAt: at, updatedAt: at } }),
      ...features.map((id, i) =>
        legacyEvent(FeatureCreated, {
          ...t,
          aggregateId: id,
          aggregateVersion: 1,
          data: { id, workspaceId, title: `Feature ${i}`, description: '', status: 'new', priority: 3, ownerId: null, tags: [], createdAt: at, updatedAt: at },
        }),
      ),
      legacyEvent(NoteCreated, { ...t, aggregateId: note.id, aggregateVersion: 1, data: note }),
      legacyEvent(NoteFeatureLinkCreated, { ...t, aggregateId: `${note.id}:${features[0]}`, aggregateVersion: 1, data: link }),
    ],
    updated: legacyEvent(NoteUpdated, { ...t, aggregateId: note.id, aggregateVersion: 2, data: v2 }),
    older: legacyEvent(NoteUpdated, { ...t, aggregateId: note.id, aggregateVersion: 1, data: { ...note, title: 'An old title' } }),
    ownOrigin: legacyEvent(NoteUpdated, { ...t, aggregateId: note.id, aggregateVersion: 3, origin: 'insights-service', data: { ...v2, title: 'Echo of the service' } }),
    deleted: legacyEvent(NoteDeleted, { ...t, aggregateId: note.id, aggregateVersion: 3, data: { id: note.id, workspaceId } }),
  };
}

/** The monolith's JSON for a note in this state (apps/legacy-monolith notes.views.ts). */
export function monolithView(n: NoteStateV1, version: number, links: Array<{ featureId: string; importance: string }>) {
  return {
    id: n.id,
    workspaceId: n.workspaceId,
    title: n.title,
    content: n.content,
    source: n.source,
    customer: n.customerEmail ? { email: n.customerEmail, name: n.customerName, company: n.customerCompany } : null,
    tags: n.tags,
    state: n.state,
    version,
    createdAt: n.createdAt,
    updatedAt: n.updatedAt,
    features: links,
  };
}
