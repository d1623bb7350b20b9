import type { FeatureStatus } from '@carve/legacy-domain';
import { Column, Entity } from 'typeorm';
import { CreatedAtColumn, IdColumn, TagsColumn, UpdatedAtColumn, VersionColumn, WorkspaceIdColumn } from '../database/columns';
import { LEGACY_SCHEMA } from '../database/schema';

@Entity({ name: 'features', schema: LEGACY_SCHEMA })
export class Feature {
  @IdColumn() id!: string;
  @WorkspaceIdColumn() workspaceId!: string;
  @Column('text') title!: string;
  @Column('text', { default: '' }) description!: string;
  @Column('text', { default: 'new' }) status!: FeatureStatus;
  @Column('smallint', { default: 3 }) priority!: number;
  @Column('uuid', { name: 'owner_id', nullable: true }) ownerId!: string | null;
  @TagsColumn() tags!: string[];
  @VersionColumn() version!: number;
  @CreatedAtColumn() createdAt!: Date;
  @UpdatedAtColumn() updatedAt!: Date;
}
