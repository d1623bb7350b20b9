/**
 * Every event the monolith emits. Created and updated events carry the aggregate's whole
 * current state (state transfer); deleted events carry ids only. `aggregateVersion` in the
 * envelope is the row's `version` after the change (deleted: the version the delete gave it).
 *
 * Links between notes and features are part of the note aggregate in the monolith (a link
 * change bumps the note's version); their events name the link itself as the aggregate
 * (`note-feature-link`, id `<noteId>:<featureId>`) and carry the note's new version, which only
 * grows for each link too. A release's plan (its features) is part of the release's state.
 */
import { type Static, Type } from '@sinclair/typebox';
import { defineEvent } from './contract';
import { CalendarDate, Enum, FEATURE_STATUSES, IMPORTANCES, MEMBER_ROLES, NOTE_SOURCES, NOTE_STATES, Nullable, RELEASE_STATES, Tags, Timestamp, Uuid } from './shared';

// ---- workspace (topic legacy.workspaces.v1; tenantId = the workspace id) ----------------------

export const WorkspaceState = Type.Object({
  id: Uuid(),
  name: Type.String({ minLength: 1 }),
  slug: Type.String(),
  createdAt: Timestamp(),
  updatedAt: Timestamp(),
});
export const WorkspaceDeletedData = Type.Object({ id: Uuid() });

export const WorkspaceCreated = defineEvent({ aggregateType: 'workspace', action: 'created', version: '1.0', topic: 'legacy.workspaces.v1', schema: WorkspaceState });
export const WorkspaceUpdated = defineEvent({ aggregateType: 'workspace', action: 'updated', version: '1.0', topic: 'legacy.workspaces.v1', schema: WorkspaceState });
export const WorkspaceDeleted = defineEvent({ aggregateType: 'workspace', action: 'deleted', version: '1.0', topic: 'legacy.workspaces.v1', schema: WorkspaceDeletedData });

// ---- member (legacy.members.v1) ----------------------------------------------------------------

export const MemberState = Type.Object({
  id: Uuid(),
  workspaceId: Uuid(),
  email: Type.String({ format: 'email' }),
  name: Type.String(),
  role: Enum(MEMBER_ROLES),
  createdAt: Timestamp(),
  updatedAt: Timestamp(),
});
export const MemberDeletedData = Type.Object({ id: Uuid(), workspaceId: Uuid() });

export const MemberCreated = defineEvent({ aggregateType: 'member', action: 'created', version: '1.0', topic: 'legacy.members.v1', schema: MemberState });
export const MemberUpdated = defineEvent({ aggregateType: 'member', action: 'updated', version: '1.0', topic: 'legacy.members.v1', schema: MemberState });
export const MemberDeleted = defineEvent({ aggregateType: 'member', action: 'deleted', version: '1.0', topic: 'legacy.members.v1', schema: MemberDeletedData });

// ---- feature (legacy.features.v1) --------------------------------------------------------------

export const FeatureState = Type.Object({
  id: Uuid(),
  workspaceId: Uuid(),
  title: Type.String({ minLength: 1 }),
  description: Type.String(),
  status: Enum(FEATURE_STATUSES),
  priority: Type.Integer({ minimum: 1, maximum: 5, description: '1 (highest) to 5 (lowest)' }),
  ownerId: Nullable(Uuid()),
  tags: Tags(),
  createdAt: Timestamp(),
  updatedAt: Timestamp(),
});
export const FeatureDeletedData = Type.Object({ id: Uuid(), workspaceId: Uuid() });

export const FeatureCreated = defineEvent({ aggregateType: 'feature', action: 'created', version: '1.0', topic: 'legacy.features.v1', schema: FeatureState });
export const FeatureUpdated = defineEvent({ aggregateType: 'feature', action: 'updated', version: '1.0', topic: 'legacy.features.v1', schema: FeatureState });
export const FeatureDeleted = defineEvent({ aggregateType: 'feature', action: 'deleted', version: '1.0', topic: 'legacy.features.v1', schema: FeatureDeletedData });

// ---- note (legacy.notes.v1): the customer inline, as the monolith stores it --------------------

export const NoteState = Type.Object({
  id: Uuid(),
  workspaceId: Uuid(),
  title: Type.String({ minLength: 1 }),
  content: Type.String(),
  source: Enum(NOTE_SOURCES),
  customerEmail: Nullable(Type.String()),
  customerName: Nullable(Type.String()),
  customerCompany: Nullable(Type.String()),
  tags: Tags(),
  state: Enum(NOTE_STATES),
  createdAt: Timestamp(),
  updatedAt: Timestamp(),
});
export const NoteDeletedData = Type.Object({ id: Uuid(), workspaceId: Uuid() });

export const NoteCreated = defineEvent({ aggregateType: 'note', action: 'created', version: '1.0', topic: 'legacy.notes.v1', schema: NoteState });
export const NoteUpdated = defineEvent({ aggregateType: 'note', action: 'updated', version: '1.0', topic: 'legacy.notes.v1', schema: NoteState });
export const NoteDeleted = defineEvent({ aggregateType: 'note', action: 'deleted', version: '1.0', topic: 'legacy.notes.v1', schema: NoteDeletedData });

// ---- note-feature link (legacy.note-feature-links.v1; aggregateId `<noteId>:<featureId>`) ------

export const NoteFeatureLinkState = Type.Object({
  noteId: Uuid(),
  featureId: Uuid(),
  workspaceId: Uuid(),
  importance: Enum(IMPORTANCES),
  createdAt: Timestamp(),
  updatedAt: Timestamp(),
});
export const NoteFeatureLinkDeletedData = Type.Object({ noteId: Uuid(), featureId: Uuid(), workspaceId: Uuid() });

export const NoteFeatureLinkCreated = defineEvent({
  aggregateType: 'note-feature-link', action: 'created', version: '1.0', topic: 'legacy.note-feature-links.v1', schema: NoteFeatureLinkState,
});
export const NoteFeatureLinkUpdated = defineEvent({
  aggregateType: 'note-feature-link', action: 'updated', version: '1.0', topic: 'legacy.note-feature-links.v1', schema: NoteFeatureLinkState,
});
export const NoteFeatureLinkDeleted = defineEvent({
  aggregateType: 'note-feature-link', action: 'deleted', version: '1.0', topic: 'legacy.note-feature-links.v1', schema: NoteFeatureLinkDeletedData,
});

/** The aggregate id of a note-feature link. */
export const noteFeatureLinkId = (noteId: string, featureId: string) => `${noteId}:${featureId}`;

// ---- release (legacy.releases.v1), with its plan ---------------------------------------------

export const ReleaseState = Type.Object({
  id: Uuid(),
  workspaceId: Uuid(),
  name: Type.String({ minLength: 1 }),
  description: Type.String(),
  startsOn: CalendarDate(),
  endsOn: CalendarDate(),
  state: Enum(RELEASE_STATES),
  featureIds: Type.Array(Uuid(), { description: 'the features planned in this release (its whole plan)' }),
  createdAt: Timestamp(),
  updatedAt: Timestamp(),
});
export const ReleaseDeletedData = Type.Object({ id: Uuid(), workspaceId: Uuid() });

export const ReleaseCreated = defineEvent({ aggregateType: 'release', action: 'created', version: '1.0', topic: 'legacy.releases.v1', schema: ReleaseState });
export const ReleaseUpdated = defineEvent({ aggregateType: 'release', action: 'updated', version: '1.0', topic: 'legacy.releases.v1', schema: ReleaseState });
export const ReleaseDeleted = defineEvent({ aggregateType: 'release', action: 'deleted', version: '1.0', topic: 'legacy.releases.v1', schema: ReleaseDeletedData });

// ---- types --------------------------------------------------------------------------------------

export type WorkspaceStateV1 = Static<typeof WorkspaceState>;
export type MemberStateV1 = Static<typeof MemberState>;
export type FeatureStateV1 = Static<typeof FeatureState>;
export type NoteStateV1 = Static<typeof NoteState>;
export type NoteFeatureLinkStateV1 = Static<typeof NoteFeatureLinkState>;
export type ReleaseStateV1 = Static<typeof ReleaseState>;

/** Every contract, current version of each major. */
export const LEGACY_EVENTS = [
  WorkspaceCreated, WorkspaceUpdated, WorkspaceDeleted,
  MemberCreated, MemberUpdated, MemberDeleted,
  FeatureCreated, FeatureUpdated, FeatureDeleted,
  NoteCreated, NoteUpdated, NoteDeleted,
  NoteFeatureLinkCreated, NoteFeatureLinkUpdated, NoteFeatureLinkDeleted,
  ReleaseCreated, ReleaseUpdated, ReleaseDeleted,
] as const;

export const LEGACY_TOPICS = [...new Set(LEGACY_EVENTS.map((e) => e.topic))];
