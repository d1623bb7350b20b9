import { Injectable } from '@nestjs/common';
import { ReleaseCreated, ReleaseUpdated } from '@carve/legacy-events';
import { type ListQuery, type Page, type ReleaseCreate, type ReleasePatch } from '@carve/legacy-domain';
import { problems } from '@carve/shared-http';
import { DataSource, type EntityManager } from 'typeorm';
import { keysetPage } from '../database/keyset';
import { isForeignKeyViolation, isUniqueViolation, offendingId, pgError } from '../database/pg-errors';
import { LEGACY_SCHEMA } from '../database/schema';
import { emitLegacyEvents, releaseDeleted, releaseEvent } from '../events/legacy-events';
import { ReleaseFeature } from './release-feature.entity';
import { Release } from './release.entity';

export interface ReleaseWithPlan {
  release: Release;
  planned: ReleaseFeature[];
}

function timeframeColumns(t: ReleaseCreate['timeframe'] | undefined): Partial<Release> {
  return t ? { startsOn: t.start, endsOn: t.end } : {};
}

/** The database's own timeframe check (a PATCH of the dates vs. stored ones) as a field error. */
function translateCheck(err: unknown): unknown {
  return pgError(err)?.code === '23514' && pgError(err)?.constraint === 'releases_timeframe'
    ? problems.validation([{ field: 'timeframe.end', message: 'must not be before the start' }])
    : err;
}

@Injectable()
export class ReleasesService {
  constructor(private readonly ds: DataSource) {}

  list(workspaceId: string, query: ListQuery<{ state?: string; featureId?: string }>): Promise<Page<Release>> {
    const qb = this.ds.getRepository(Release).createQueryBuilder('r').where('r.workspaceId = :workspaceId', { workspaceId });
    if (query.filters.state) qb.andWhere('r.state = :state', { state: query.filters.state });
    if (query.filters.featureId) {
      qb.andWhere(`EXISTS (SELECT 1 FROM ${LEGACY_SCHEMA}.release_features rf WHERE rf.release_id = r.id AND rf.feature_id = :featureId)`, {
        featureId: query.filters.featureId,
      });
    }
    return keysetPage(qb, query);
  }

  async get(workspaceId: string, id: string, em: EntityManager = this.ds.manager): Promise<ReleaseWithPlan> {
    const release = await em.getRepository(Release).findOneBy({ id, workspaceId });
    if (!release) throw problems.notFound('The release');
    const planned = await em.getRepository(ReleaseFeature).find({ where: { releaseId: id, workspaceId }, order: { createdAt: 'ASC', featureId: 'ASC' } });
    return { release, planned };
  }

  /** The release and its planned features in one transaction; release.created carries the plan. */
  async create(workspaceId: string, input: ReleaseCreate): Promise<ReleaseWithPlan> {
    return this.ds.transaction(async (em) => {
      const { featureIds, timeframe, ...rest } = input;
      const { identifiers } = await em.insert(Release, { ...rest, ...timeframeColumns(timeframe), workspaceId });
      const releaseId: string = identifiers[0].id;
      if (featureIds.length) {
        try {
          await em.insert(ReleaseFeature, featureIds.map((featureId) => ({ releaseId, featureId, workspaceId })));
        } catch (err) {
          if (!isForeignKeyViolation(err, 'release_features_feature_fk')) throw err;
          const bad = featureIds.indexOf(offendingId(err) ?? '');
          throw problems.validation([{ field: bad >= 0 ? `featureIds[${bad}]` : 'featureIds', message: 'is not a feature of this workspace' }]);
        }
      }
      return this.emitted(em, workspaceId, releaseId, ReleaseCreated);
    });
  }

  async update(workspaceId: string, id: string, patch: ReleasePatch): Promise<ReleaseWithPlan> {
    return this.ds.transaction(async (em) => {
      const { timeframe, ...rest } = patch;
      try {
        await this.bump(em, workspaceId, id, { ...rest, ...timeframeColumns(timeframe) });
      } catch (err) {
        throw translateCheck(err);
      }
      return this.emitted(em, workspaceId, id, ReleaseUpdated);
    });
  }

  /** Deletes the release with its plan (cascade): release.deleted with the version the delete gives it. */
  async remove(workspaceId: string, id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      const res = await em.createQueryBuilder().delete().from(Release).where({ id, workspaceId }).returning('version').execute();
      if (!res.affected) throw problems.notFound('The release');
      await emitLegacyEvents(em, [releaseDeleted({ id, workspaceId }, (res.raw as Array<{ version: number }>)[0].version + 1)]);
    });
  }

  /** The release and its plan after a change, with its event (the whole plan in `featureIds`) appended to the outbox. */
  private async emitted(em: EntityManager, workspaceId: string, id: string, contract: typeof ReleaseCreated | typeof ReleaseUpdated): Promise<ReleaseWithPlan> {
    const current = await this.get(workspaceId, id, em);
    await emitLegacyEvents(em, [releaseEvent(contract, current.release, current.planned.map((p) => p.featureId))]);
    return current;
  }

  // --- planned features (part of the release aggregate)

  async listPlanned(workspaceId: string, releaseId: string, query: ListQuery): Promise<Page<ReleaseFeature>> {
    await this.get(workspaceId, releaseId);
    const qb = this.ds
      .getRepository(ReleaseFeature)
      .createQueryBuilder('p')
      .where('p.workspaceId = :workspaceId AND p.releaseId = :releaseId', { workspaceId, releaseId });
    return keysetPage(qb, query, { idProperty: 'featureId' });
  }

  async getPlanned(workspaceId: string, releaseId: string, featureId: string, em: EntityManager = this.ds.manager): Promise<ReleaseFeature> {
    const p = await em.getRepository(ReleaseFeature).findOneBy({ releaseId, featureId, workspaceId });
    if (!p) throw problems.notFound('The feature in this release');
    return p;
  }

  async plan(workspaceId: string, releaseId: string, featureId: string): Promise<ReleaseFeature> {
    return this.ds.transaction(async (em) => {
      await this.bump(em, workspaceId, releaseId);
      try {
        await em.insert(ReleaseFeature, { releaseId, featureId, workspaceId });
      } catch (err) {
        if (isForeignKeyViolation(err, 'release_features_feature_fk')) {
          throw problems.validation([{ field: 'featureId', message: 'is not a feature of this workspace' }]);
        }
        if (isUniqueViolation(err)) throw problems.conflict('already_planned', 'The feature is already planned in this release.');
        throw err;
      }
      await this.emitted(em, workspaceId, releaseId, ReleaseUpdated);
      return this.getPlanned(workspaceId, releaseId, featureId, em);
    });
  }

  async unplan(workspaceId: string, releaseId: string, featureId: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      await this.bump(em, workspaceId, releaseId);
      const res = await em.delete(ReleaseFeature, { releaseId, featureId, workspaceId });
      if (!res.affected) throw problems.notFound('The feature in this release');
      await this.emitted(em, workspaceId, releaseId, ReleaseUpdated);
    });
  }

  private async bump(em: EntityManager, workspaceId: string, id: string, set: Partial<Release> = {}): Promise<void> {
    const res = await em
      .createQueryBuilder()
      .update(Release)
      .set({ ...set, version: () => 'version + 1', updatedAt: () => 'now()' })
      .where('id = :id AND workspace_id = :workspaceId', { id, workspaceId })
      .execute();
    if (!res.affected) throw problems.notFound('The release');
  }
}
