import { Column, Entity } from 'typeorm';
import { CreatedAtColumn, IdColumn, UpdatedAtColumn, WorkspaceIdColumn } from '../database/columns';
import { LEGACY_SCHEMA } from '../database/schema';

/** Part of the feature aggregate: a change here bumps the feature's version. */
@Entity({ name: 'feature_comments', schema: LEGACY_SCHEMA })
export class FeatureComment {
  @IdColumn() id!: string;
  @WorkspaceIdColumn() workspaceId!: string;
  @Column('uuid', { name: 'feature_id' }) featureId!: string;
  @Column('uuid', { name: 'author_id', nullable: true }) authorId!: string | null;
  @Column('text') body!: string;
  @CreatedAtColumn() createdAt!: Date;
  @UpdatedAtColumn() updatedAt!: Date;
}
