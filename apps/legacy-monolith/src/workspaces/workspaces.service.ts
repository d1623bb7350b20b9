import { Injectable } from '@nestjs/common';
import { FeatureUpdated, MemberCreated, MemberUpdated, WorkspaceUpdated } from '@carve/legacy-events';
import { type ListQuery, type MemberCreate, type MemberPatch, type Page, type WorkspacePatch } from '@carve/legacy-domain';
import { problems } from '@carve/shared-http';
import { DataSource, type EntityManager, In } from 'typeorm';
import { keysetPage } from '../database/keyset';
import { isUniqueViolation } from '../database/pg-errors';
import { LEGACY_SCHEMA } from '../database/schema';
import { emitLegacyEvents, featureEvent, memberDeleted, memberEvent, workspaceEvent } from '../events/legacy-events';
import { Feature } from '../features/feature.entity';
import { FeatureComment } from '../features/feature-comment.entity';
import { Member } from './member.entity';
import { Workspace } from './workspace.entity';

@Injectable()
export class WorkspacesService {
  constructor(private readonly ds: DataSource) {}

  async get(workspaceId: string): Promise<Workspace> {
    const ws = await this.ds.getRepository(Workspace).findOneBy({ id: workspaceId });
    if (!ws) throw problems.notFound('The workspace');
    return ws;
  }

  async update(workspaceId: string, patch: WorkspacePatch): Promise<Workspace> {
    return this.ds.transaction(async (em) => {
      const res = await em
        .createQueryBuilder()
        .update(Workspace)
        .set({ ...patch, version: () => 'version + 1', updatedAt: () => 'now()' })
        .where('id = :workspaceId', { workspaceId })
        .execute();
      if (!res.affected) throw problems.notFound('The workspace');
      const ws = await em.getRepository(Workspace).findOneByOrFail({ id: workspaceId });
      await emitLegacyEvents(em, [workspaceEvent(WorkspaceUpdated, ws)]);
      return ws;
    });
  }
}

@Injectable()
export class MembersService {
  constructor(private readonly ds: DataSource) {}

  list(workspaceId: string, query: ListQuery<{ role?: string; email?: string }>): Promise<Page<Member>> {
    const qb = this.ds.getRepository(Member).createQueryBuilder('m').where('m.workspaceId = :workspaceId', { workspaceId });
    if (query.filters.role) qb.andWhere('m.role = :role', { role: query.filters.role });
    if (query.filters.email) qb.andWhere('m.email = :email', { email: query.filters.email });
    return keysetPage(qb, query);
  }

  async get(workspaceId: string, id: string, em: EntityManager = this.ds.manager): Promise<Member> {
    const m = await em.getRepository(Member).findOneBy({ id, workspaceId });
    if (!m) throw problems.notFound('The member');
    return m;
  }

  async create(workspaceId: string, input: MemberCreate): Promise<Member> {
    return this.ds.transaction(async (em) => {
      try {
        const { identifiers } = await em.insert(Member, { ...input, workspaceId });
        const member = await this.get(workspaceId, identifiers[0].id, em);
        await emitLegacyEvents(em, [memberEvent(MemberCreated, member)]);
        return member;
      } catch (err) {
        throw this.translate(err, input.email);
      }
    });
  }

  async update(workspaceId: string, id: string, patch: MemberPatch): Promise<Member> {
    return this.ds.transaction(async (em) => {
      try {
        const res = await em
          .createQueryBuilder()
          .update(Member)
          .set({ ...patch, version: () => 'version + 1', updatedAt: () => 'now()' })
          .where('id = :id AND workspace_id = :workspaceId', { id, workspaceId })
          .execute();
        if (!res.affected) throw problems.notFound('The member');
      } catch (err) {
        throw this.translate(err, patch.email);
      }
      const member = await this.get(workspaceId, id, em);
      await emitLegacyEvents(em, [memberEvent(MemberUpdated, member)]);
      return member;
    });
  }

  /**
   * Removes the member; features they owned lose their owner (feature.updated each) and their
   * comments their author, in the same transaction. The member row is locked first, so a feature
   * being given this owner concurrently either commits before (and is seen here) or fails after.
   */
  async remove(workspaceId: string, id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      const locked = await em.query(`SELECT 1 FROM ${LEGACY_SCHEMA}.members WHERE id = $1 AND workspace_id = $2 FOR UPDATE`, [id, workspaceId]);
      if (locked.length === 0) throw problems.notFound('The member');
      const owned = await em
        .createQueryBuilder()
        .update(Feature)
        .set({ ownerId: null, version: () => 'version + 1', updatedAt: () => 'now()' })
        .where('owner_id = :id AND workspace_id = :workspaceId', { id, workspaceId })
        .returning('id')
        .execute();
      await em
        .createQueryBuilder()
        .update(FeatureComment)
        .set({ authorId: null })
        .where('author_id = :id AND workspace_id = :workspaceId', { id, workspaceId })
        .execute();
      const res = await em.createQueryBuilder().delete().from(Member).where({ id, workspaceId }).returning('version').execute();
      if (!res.affected) throw problems.notFound('The member');
      const featureIds = (owned.raw as Array<{ id: string }>).map((r) => r.id);
      const features = featureIds.length ? await em.getRepository(Feature).find({ where: { id: In(featureIds), workspaceId }, order: { id: 'ASC' } }) : [];
      await emitLegacyEvents(em, [
        ...features.map((f) => featureEvent(FeatureUpdated, f)),
        memberDeleted({ id, workspaceId }, (res.raw as Array<{ version: number }>)[0].version + 1),
      ]);
    });
  }

  private translate(err: unknown, email?: string): unknown {
    if (isUniqueViolation(err, 'members_email_unique')) {
      return problems.conflict('member_exists', `A member with the email ${email} already exists in this workspace.`);
    }
    return err;
  }
}
