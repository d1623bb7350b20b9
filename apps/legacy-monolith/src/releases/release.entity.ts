import type { ReleaseState } from '@carve/legacy-domain';
import { Column, Entity } from 'typeorm';
import { CreatedAtColumn, IdColumn, UpdatedAtColumn, VersionColumn, WorkspaceIdColumn } from '../database/columns';
import { LEGACY_SCHEMA } from '../database/schema';

@Entity({ name: 'releases', schema: LEGACY_SCHEMA })
export class Release {
  @IdColumn() id!: string;
  @WorkspaceIdColumn() workspaceId!: string;
  @Column('text') name!: string;
  @Column('text', { default: '' }) description!: string;
  /** Timeframe, as calendar dates (YYYY-MM-DD strings). */
  @Column('date', { name: 'starts_on' }) startsOn!: string;
  @Column('date', { name: 'ends_on' }) endsOn!: string;
  @Column('text', { default: 'planned' }) state!: ReleaseState;
  @VersionColumn() version!: number;
  @CreatedAtColumn() createdAt!: Date;
  @UpdatedAtColumn() updatedAt!: Date;
}
