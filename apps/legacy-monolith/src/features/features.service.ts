import { Injectable } from '@nestjs/common';
import { FeatureCreated, FeatureUpdated, NoteUpdated, ReleaseUpdated } from '@carve/legacy-events';
import { type CommentInput, type FeatureCreate, type FeaturePatch, isUuid, type ListQuery, type Page } from '@carve/legacy-domain';
import { problems } from '@carve/shared-http';
import { rowsOf } from '@carve/shared-messaging';
import { DataSource, type EntityManager, In } from 'typeorm';
import { keysetPage } from '../database/keyset';
import { isForeignKeyViolation } from '../database/pg-errors';
import { LEGACY_SCHEMA } from '../database/schema';
import { emitLegacyEvents, featureDeleted, featureEvent, noteEvent, noteFeatureLinkDeleted, releaseEvent } from '../events/legacy-events';
import { Note } from '../notes/note.entity';
import { ReleaseFeature } from '../releases/release-feature.entity';
import { Release } from '../releases/release.entity';
import { Member } from '../workspaces/member.entity';
import { FeatureComment } from './feature-comment.entity';
import { Feature } from './feature.entity';

/** Ids from `em.query('UPDATE ... RETURNING id')` (TypeORM answers [rows, affected] there). */
const idsOf = (result: unknown): string[] => rowsOf<{ id: string }>(result).map((r) => r.id);

const ownerUnknown = () => problems.validation([{ field: 'ownerId', message: 'is not a member of this workspace' }]);

@Injectable()
export class FeaturesService {
  constructor(private readonly ds: DataSource) {}

  list(workspaceId: string, query: ListQuery<{ status?: string; tag?: string; ownerId?: string }>): Promise<Page<Feature>> {
    const qb = this.ds.getRepository(Feature).createQueryBuilder('f').where('f.workspaceId = :workspaceId', { workspaceId });
    const { status, tag, ownerId } = query.filters;
    if (status) qb.andWhere('f.status = :status', { status });
    if (tag) qb.andWhere('f.tags @> ARRAY[:tag]::text[]', { tag });
    if (ownerId) qb.andWhere('f.ownerId = :ownerId', { ownerId });
    return keysetPage(qb, query);
  }

  async get(workspaceId: string, id: string, em: EntityManager = this.ds.manager): Promise<Feature> {
    const f = await em.getRepository(Feature).findOneBy({ id, workspaceId });
    if (!f) throw problems.notFound('The feature');
    return f;
  }

  async create(workspaceId: string, input: FeatureCreate): Promise<Feature> {
    return this.ds.transaction(async (em) => {
      try {
        const { identifiers } = await em.insert(Feature, { ...input, workspaceId });
        const feature = await this.get(workspaceId, identifiers[0].id, em);
        await emitLegacyEvents(em, [featureEvent(FeatureCreated, feature)]);
        return feature;
      } catch (err) {
        if (isForeignKeyViolation(err, 'features_owner_fk')) throw ownerUnknown();
        throw err;
      }
    });
  }

  async update(workspaceId: string, id: string, patch: FeaturePatch): Promise<Feature> {
    return this.ds.transaction(async (em) => {
      try {
        await this.bump(em, workspaceId, id, patch);
      } catch (err) {
        if (isForeignKeyViolation(err, 'features_owner_fk')) throw ownerUnknown();
        throw err;
      }
      return this.bumped(em, workspaceId, id);
    });
  }

  /**
   * Deletes the feature with its comments, note links and release plans; the notes and releases
   * that pointed at it change too, so their versions go up in the same transaction, and each
   * gets its event: note-feature-link.deleted and note.updated per linked note, release.updated
   * (the plan without the feature) per release, then feature.deleted. The feature row is locked
   * first: a link or plan being added concurrently (its foreign key check locks the feature row)
   * either commits before the lock (and is seen, bumped and evented here) or fails after.
   */
  async remove(workspaceId: string, id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      const params = [id, workspaceId];
      const locked = await em.query(`SELECT 1 FROM ${LEGACY_SCHEMA}.features WHERE id = $1 AND workspace_id = $2 FOR UPDATE`, params);
      if (locked.length === 0) throw problems.notFound('The feature');
      const notes = await em.query(
        `UPDATE ${LEGACY_SCHEMA}.notes SET version = version + 1, updated_at = now()
          WHERE workspace_id = $2 AND id IN (SELECT note_id FROM ${LEGACY_SCHEMA}.note_features WHERE feature_id = $1)
          RETURNING id`,
        params,
      );
      const releases = await em.query(
        `UPDATE ${LEGACY_SCHEMA}.releases SET version = version + 1, updated_at = now()
          WHERE workspace_id = $2 AND id IN (SELECT release_id FROM ${LEGACY_SCHEMA}.release_features WHERE feature_id = $1)
          RETURNING id`,
        params,
      );
      const res = await em.createQueryBuilder().delete().from(Feature).where({ id, workspaceId }).returning('version').execute();
      if (!res.affected) throw problems.notFound('The feature');
      const noteIds = idsOf(notes);
      const releaseIds = idsOf(releases);
      const changedNotes = noteIds.length ? await em.getRepository(Note).find({ where: { id: In(noteIds), workspaceId }, order: { id: 'ASC' } }) : [];
      const changedReleases = releaseIds.length ? await em.getRepository(Release).find({ where: { id: In(releaseIds), workspaceId }, order: { id: 'ASC' } }) : [];
      const plans = releaseIds.length
        ? await em.getRepository(ReleaseFeature).find({ where: { releaseId: In(releaseIds), workspaceId }, order: { createdAt: 'ASC', featureId: 'ASC' } })
        : [];
      await emitLegacyEvents(em, [
        ...changedNotes.flatMap((n) => [noteFeatureLinkDeleted({ noteId: n.id, featureId: id, workspaceId }, n.version), noteEvent(NoteUpdated, n)]),
        ...changedReleases.map((r) => releaseEvent(ReleaseUpdated, r, plans.filter((p) => p.releaseId === r.id).map((p) => p.featureId))),
        featureDeleted({ id, workspaceId }, (res.raw as Array<{ version: number }>)[0].version + 1),
      ]);
    });
  }

  /** The feature after a change, with its feature.updated appended to the outbox. */
  async bumped(em: EntityManager, workspaceId: string, id: string): Promise<Feature> {
    const feature = await this.get(workspaceId, id, em);
    await emitLegacyEvents(em, [featureEvent(FeatureUpdated, feature)]);
    return feature;
  }

  /** Updates the feature row (or only its version when `set` is empty): the aggregate changed. 404 when missing. */
  async bump(em: EntityManager, workspaceId: string, id: string, set: Partial<Feature> = {}): Promise<void> {
    const res = await em
      .createQueryBuilder()
      .update(Feature)
      .set({ ...set, version: () => 'version + 1', updatedAt: () => 'now()' })
      .where('id = :id AND workspace_id = :workspaceId', { id, workspaceId })
      .execute();
    if (!res.affected) throw problems.notFound('The feature');
  }
}

@Injectable()
export class CommentsService {
  constructor(
    private readonly ds: DataSource,
    private readonly features: FeaturesService,
  ) {}

  async list(workspaceId: string, featureId: string, query: ListQuery): Promise<Page<FeatureComment>> {
    await this.features.get(workspaceId, featureId);
    const qb = this.ds
      .getRepository(FeatureComment)
      .createQueryBuilder('c')
      .where('c.workspaceId = :workspaceId AND c.featureId = :featureId', { workspaceId, featureId });
    return keysetPage(qb, query);
  }

  async get(workspaceId: string, featureId: string, id: string, em: EntityManager = this.ds.manager): Promise<FeatureComment> {
    const c = await em.getRepository(FeatureComment).findOneBy({ id, featureId, workspaceId });
    if (!c) throw problems.notFound('The comment');
    return c;
  }

  /**
   * Adds a comment; the author is the caller when they are a member of the workspace. Comments
   * are part of the feature aggregate (not of its contract's state): each comment change bumps
   * the feature and emits feature.updated.
   */
  async create(workspaceId: string, featureId: string, authorId: string, input: CommentInput): Promise<FeatureComment> {
    return this.ds.transaction(async (em) => {
      await this.features.bump(em, workspaceId, featureId);
      const author = isUuid(authorId) && (await em.existsBy(Member, { id: authorId, workspaceId })) ? authorId : null;
      const { identifiers } = await em.insert(FeatureComment, { workspaceId, featureId, authorId: author, body: input.body });
      await this.features.bumped(em, workspaceId, featureId);
      return this.get(workspaceId, featureId, identifiers[0].id, em);
    });
  }

  async update(workspaceId: string, featureId: string, id: string, input: CommentInput): Promise<FeatureComment> {
    return this.ds.transaction(async (em) => {
      await this.features.bump(em, workspaceId, featureId);
      const res = await em
        .createQueryBuilder()
        .update(FeatureComment)
        .set({ body: input.body, updatedAt: () => 'now()' })
        .where('id = :id AND feature_id = :featureId AND workspace_id = :workspaceId', { id, featureId, workspaceId })
        .execute();
      if (!res.affected) throw problems.notFound('The comment');
      await this.features.bumped(em, workspaceId, featureId);
      return this.get(workspaceId, featureId, id, em);
    });
  }

  async remove(workspaceId: string, featureId: string, id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      await this.features.bump(em, workspaceId, featureId);
      const res = await em.delete(FeatureComment, { id, featureId, workspaceId });
      if (!res.affected) throw problems.notFound('The comment');
      await this.features.bumped(em, workspaceId, featureId);
    });
  }
}
