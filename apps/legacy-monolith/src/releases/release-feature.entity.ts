import { Entity, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn, WorkspaceIdColumn } from '../database/columns';
import { LEGACY_SCHEMA } from '../database/schema';

/** A feature planned in a release. Part of the release aggregate. */
@Entity({ name: 'release_features', schema: LEGACY_SCHEMA })
export class ReleaseFeature {
  @PrimaryColumn('uuid', { name: 'release_id' }) releaseId!: string;
  @PrimaryColumn('uuid', { name: 'feature_id' }) featureId!: string;
  @WorkspaceIdColumn() workspaceId!: string;
  @CreatedAtColumn() createdAt!: Date;
}
