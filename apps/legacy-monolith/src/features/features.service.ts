import { Injectable } from '@nestjs/common';
import { type CommentInput, type FeatureCreate, type FeaturePatch, isUuid, type ListQuery, type Page } from '@carve/legacy-domain';
import { problems } from '@carve/shared-http';
import { DataSource, type EntityManager } from 'typeorm';
import { keysetPage } from '../database/keyset';
import { isForeignKeyViolation } from '../database/pg-errors';
import { LEGACY_SCHEMA } from '../database/schema';
import { Member } from '../workspaces/member.entity';
import { FeatureComment } from './feature-comment.entity';
import { Feature } from './feature.entity';

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
        return await this.get(workspaceId, identifiers[0].id, em);
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
      return this.get(workspaceId, id, em);
    });
  }

  /**
   * Deletes the feature with its comments, note links and release plans; the notes and releases
   * that pointed at it change too, so their versions go up in the same transaction.
   */
  async remove(workspaceId: string, id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      const params = [id, workspaceId];
      await em.query(
        `UPDATE ${LEGACY_SCHEMA}.notes SET version = version + 1, updated_at = now()
          WHERE workspace_id = $2 AND id IN (SELECT note_id FROM ${LEGACY_SCHEMA}.note_features WHERE feature_id = $1)`,
        params,
      );
      await em.query(
        `UPDATE ${LEGACY_SCHEMA}.releases SET version = version + 1, updated_at = now()
          WHERE workspace_id = $2 AND id IN (SELECT release_id FROM ${LEGACY_SCHEMA}.release_features WHERE feature_id = $1)`,
        params,
      );
      const res = await em.delete(Feature, { id, workspaceId });
      if (!res.affected) throw problems.notFound('The feature');
    });
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

  /** Adds a comment; the author is the caller when they are a member of the workspace. */
  async create(workspaceId: string, featureId: string, authorId: string, input: CommentInput): Promise<FeatureComment> {
    return this.ds.transaction(async (em) => {
      await this.features.bump(em, workspaceId, featureId);
      const author = isUuid(authorId) && (await em.existsBy(Member, { id: authorId, workspaceId })) ? authorId : null;
      const { identifiers } = await em.insert(FeatureComment, { workspaceId, featureId, authorId: author, body: input.body });
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
      return this.get(workspaceId, featureId, id, em);
    });
  }

  async remove(workspaceId: string, featureId: string, id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      await this.features.bump(em, workspaceId, featureId);
      const res = await em.delete(FeatureComment, { id, featureId, workspaceId });
      if (!res.affected) throw problems.notFound('The comment');
    });
  }
}
