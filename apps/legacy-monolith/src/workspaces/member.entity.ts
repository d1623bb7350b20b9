import type { MemberRole } from '@carve/legacy-domain';
import { Column, Entity } from 'typeorm';
import { CreatedAtColumn, IdColumn, UpdatedAtColumn, VersionColumn, WorkspaceIdColumn } from '../database/columns';
import { LEGACY_SCHEMA } from '../database/schema';

/** A user of one workspace. */
@Entity({ name: 'members', schema: LEGACY_SCHEMA })
export class Member {
  @IdColumn() id!: string;
  @WorkspaceIdColumn() workspaceId!: string;
  @Column('text') email!: string;
  @Column('text') name!: string;
  @Column('text') role!: MemberRole;
  @VersionColumn() version!: number;
  @CreatedAtColumn() createdAt!: Date;
  @UpdatedAtColumn() updatedAt!: Date;
}
