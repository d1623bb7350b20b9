import { Injectable } from '@nestjs/common';
import { type ListQuery, type MemberCreate, type MemberPatch, type Page, type WorkspacePatch } from '@carve/legacy-domain';
import { problems } from '@carve/shared-http';
import { DataSource, type EntityManager } from 'typeorm';
import { keysetPage } from '../database/keyset';
import { isUniqueViolation } from '../database/pg-errors';
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
      return em.getRepository(Workspace).findOneByOrFail({ id: workspaceId });
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
        return this.get(workspaceId, identifiers[0].id, em);
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
      return this.get(workspaceId, id, em);
    });
  }

  /** Removes the member; features they owned lose their owner and their comments their author, in the same transaction. */
  async remove(workspaceId: string, id: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      await em
        .createQueryBuilder()
        .update(Feature)
        .set({ ownerId: null, version: () => 'version + 1', updatedAt: () => 'now()' })
        .where('owner_id = :id AND workspace_id = :workspaceId', { id, workspaceId })
        .execute();
      await em
        .createQueryBuilder()
        .update(FeatureComment)
        .set({ authorId: null })
        .where('author_id = :id AND workspace_id = :workspaceId', { id, workspaceId })
        .execute();
      const res = await em.delete(Member, { id, workspaceId });
      if (!res.affected) throw problems.notFound('The member');
    });
  }

  private translate(err: unknown, email?: string): unknown {
    if (isUniqueViolation(err, 'members_email_unique')) {
      return problems.conflict('member_exists', `A member with the email ${email} already exists in this workspace.`);
    }
    return err;
  }
}
