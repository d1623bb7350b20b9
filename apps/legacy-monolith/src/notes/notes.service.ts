import { Injectable } from '@nestjs/common';
import { NoteCreated, NoteFeatureLinkCreated, NoteFeatureLinkUpdated, NoteUpdated } from '@carve/legacy-events';
import { type Importance, type ListQuery, type NoteCreate, type NoteLinkCreate, type NotePatch, type Page } from '@carve/legacy-domain';
import { problems } from '@carve/shared-http';
import { DataSource, type EntityManager } from 'typeorm';
import { keysetPage } from '../database/keyset';
import { isForeignKeyViolation, isUniqueViolation, offendingId } from '../database/pg-errors';
import { LEGACY_SCHEMA } from '../database/schema';
import { emitLegacyEvents, type LegacyEvent, noteDeleted, noteEvent, noteFeatureLinkDeleted, noteFeatureLinkEvent } from '../events/legacy-events';
import { NoteFeature } from './note-feature.entity';
import { Note } from './note.entity';

export interface NoteWithLinks {
  note: Note;
  links: NoteFeature[];
}

type NoteFilters = { state?: string; source?: string; tag?: string; customerEmail?: string; featureId?: string };

/** The legacy shape: the customer lives in three columns of the note. */
function customerColumns(customer: NoteCreate['customer'] | undefined): Partial<Note> {
  if (customer === undefined) return {};
  return { customerEmail: customer?.email ?? null, customerName: customer?.name ?? null, customerCompany: customer?.company ?? null };
}

@Injectable()
export class NotesService {
  constructor(private readonly ds: DataSource) {}

  list(workspaceId: string, query: ListQuery<NoteFilters>): Promise<Page<Note>> {
    const qb = this.ds.getRepository(Note).createQueryBuilder('n').where('n.workspaceId = :workspaceId', { workspaceId });
    const { state, source, tag, customerEmail, featureId } = query.filters;
    if (state) qb.andWhere('n.state = :state', { state });
    if (source) qb.andWhere('n.source = :source', { source });
    if (tag) qb.andWhere('n.tags @> ARRAY[:tag]::text[]', { tag });
    if (customerEmail) qb.andWhere('n.customerEmail = :customerEmail', { customerEmail });
    if (featureId) {
      qb.andWhere(`EXISTS (SELECT 1 FROM ${LEGACY_SCHEMA}.note_features nf WHERE nf.note_id = n.id AND nf.feature_id = :featureId)`, { featureId });
    }
    return keysetPage(qb, query);
  }

  async get(workspaceId: string, id: string, em: EntityManager = this.ds.manager): Promise<NoteWithLinks> {
    const note = await em.getRepository(Note).findOneBy({ id, workspaceId });
    if (!note) throw problems.notFound('The note');
    const links = await em.getRepository(NoteFeature).find({ where: { noteId: id, workspaceId }, order: { createdAt: 'ASC', featureId: 'ASC' } });
    return { note, links };
  }

  /**
   * The note and its feature links in one transaction: a link to an unknown feature leaves
   * nothing behind. Emits note.created and a note-feature-link.created per link (version 1).
   */
  async create(workspaceId: string, input: NoteCreate): Promise<NoteWithLinks> {
    return this.ds.transaction(async (em) => {
      const { features, customer, ...rest } = input;
      const { identifiers } = await em.insert(Note, { ...rest, ...customerColumns(customer), workspaceId });
      const noteId: string = identifiers[0].id;
      if (features.length) {
        try {
          await em.insert(
            NoteFeature,
            features.map((l) => ({ noteId, featureId: l.featureId, importance: l.importance, workspaceId })),
          );
        } catch (err) {
          if (!isForeignKeyViolation(err, 'note_features_feature_fk')) throw err;
          const bad = features.findIndex((l) => l.featureId === offendingId(err));
          throw problems.validation([{ field: bad >= 0 ? `features[${bad}].featureId` : 'features', message: 'is not a feature of this workspace' }]);
        }
      }
      const created = await this.get(workspaceId, noteId, em);
      await emitLegacyEvents(em, [
        noteEvent(NoteCreated, created.note),
        ...created.links.map((l) => noteFeatureLinkEvent(NoteFeatureLinkCreated, l, created.note.version)),
      ]);
      return created;
    });
  }

  async update(workspaceId: string, id: string, patch: NotePatch): Promise<NoteWithLinks> {
    return this.ds.transaction(async (em) => {
      const { customer, ...rest } = patch;
      await this.bump(em, workspaceId, id, { ...rest, ...customerColumns(customer) });
      const updated = await this.get(workspaceId, id, em);
      await emitLegacyEvents(em, [noteEvent(NoteUpdated, updated.note)]);
      return updated;
    });
  }

  /**
   * Deletes the note and (cascade) its links: note-feature-link.deleted per link, then
   * note.deleted, all with the version the delete gives the note. The note row is locked first:
   * every link change bumps the note, so no link can come or go between reading and deleting.
   */
  async remove(workspaceId: string, id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      const note = await em.getRepository(Note).findOne({ where: { id, workspaceId }, lock: { mode: 'pessimistic_write' } });
      if (!note) throw problems.notFound('The note');
      const links = await em.getRepository(NoteFeature).find({ where: { noteId: id, workspaceId }, order: { createdAt: 'ASC', featureId: 'ASC' } });
      await em.delete(Note, { id, workspaceId });
      const version = note.version + 1;
      await emitLegacyEvents(em, [...links.map((l) => noteFeatureLinkDeleted(l, version)), noteDeleted(note, version)]);
    });
  }

  // --- links to features (part of the note aggregate: each change bumps the note's version)

  async listLinks(workspaceId: string, noteId: string, query: ListQuery<{ importance?: string }>): Promise<Page<NoteFeature>> {
    await this.get(workspaceId, noteId);
    const qb = this.ds
      .getRepository(NoteFeature)
      .createQueryBuilder('l')
      .where('l.workspaceId = :workspaceId AND l.noteId = :noteId', { workspaceId, noteId });
    if (query.filters.importance) qb.andWhere('l.importance = :importance', { importance: query.filters.importance });
    return keysetPage(qb, query, { idProperty: 'featureId' });
  }

  async getLink(workspaceId: string, noteId: string, featureId: string, em: EntityManager = this.ds.manager): Promise<NoteFeature> {
    const link = await em.getRepository(NoteFeature).findOneBy({ noteId, featureId, workspaceId });
    if (!link) throw problems.notFound('The link between this note and feature');
    return link;
  }

  async link(workspaceId: string, noteId: string, input: NoteLinkCreate): Promise<NoteFeature> {
    return this.ds.transaction(async (em) => {
      await this.bump(em, workspaceId, noteId);
      try {
        await em.insert(NoteFeature, { noteId, featureId: input.featureId, importance: input.importance, workspaceId });
      } catch (err) {
        if (isForeignKeyViolation(err, 'note_features_feature_fk')) {
          throw problems.validation([{ field: 'featureId', message: 'is not a feature of this workspace' }]);
        }
        if (isUniqueViolation(err)) throw problems.conflict('already_linked', 'The note is already linked to this feature; PATCH the link to change its importance.');
        throw err;
      }
      const link = await this.getLink(workspaceId, noteId, input.featureId, em);
      await this.emitLinkChange(em, workspaceId, noteId, (v) => noteFeatureLinkEvent(NoteFeatureLinkCreated, link, v));
      return link;
    });
  }

  async updateLink(workspaceId: string, noteId: string, featureId: string, importance: Importance): Promise<NoteFeature> {
    return this.ds.transaction(async (em) => {
      await this.bump(em, workspaceId, noteId);
      const res = await em
        .createQueryBuilder()
        .update(NoteFeature)
        .set({ importance, updatedAt: () => 'now()' })
        .where('note_id = :noteId AND feature_id = :featureId AND workspace_id = :workspaceId', { noteId, featureId, workspaceId })
        .execute();
      if (!res.affected) throw problems.notFound('The link between this note and feature');
      const link = await this.getLink(workspaceId, noteId, featureId, em);
      await this.emitLinkChange(em, workspaceId, noteId, (v) => noteFeatureLinkEvent(NoteFeatureLinkUpdated, link, v));
      return link;
    });
  }

  async unlink(workspaceId: string, noteId: string, featureId: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      await this.bump(em, workspaceId, noteId);
      const res = await em.delete(NoteFeature, { noteId, featureId, workspaceId });
      if (!res.affected) throw problems.notFound('The link between this note and feature');
      await this.emitLinkChange(em, workspaceId, noteId, (v) => noteFeatureLinkDeleted({ noteId, featureId, workspaceId }, v));
    });
  }

  /** A link changed: note.updated (the note's version and updatedAt moved) and the link's own event, with the note's new version. */
  private async emitLinkChange(em: EntityManager, workspaceId: string, noteId: string, linkEvent: (noteVersion: number) => LegacyEvent): Promise<void> {
    const note = await em.getRepository(Note).findOneByOrFail({ id: noteId, workspaceId });
    await emitLegacyEvents(em, [noteEvent(NoteUpdated, note), linkEvent(note.version)]);
  }

  private async bump(em: EntityManager, workspaceId: string, id: string, set: Partial<Note> = {}): Promise<void> {
    const res = await em
      .createQueryBuilder()
      .update(Note)
      .set({ ...set, version: () => 'version + 1', updatedAt: () => 'now()' })
      .where('id = :id AND workspace_id = :workspaceId', { id, workspaceId })
      .execute();
    if (!res.affected) throw problems.notFound('The note');
  }
}
