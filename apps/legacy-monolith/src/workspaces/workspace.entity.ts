import { Column, Entity } from 'typeorm';
import { CreatedAtColumn, IdColumn, UpdatedAtColumn, VersionColumn } from '../database/columns';
import { LEGACY_SCHEMA } from '../database/schema';

/** A tenant. */
@Entity({ name: 'workspaces', schema: LEGACY_SCHEMA })
export class Workspace {
  @IdColumn() id!: string;
  @Column('text') name!: string;
  @Column('text') slug!: string;
  @VersionColumn() version!: number;
  @CreatedAtColumn() createdAt!: Date;
  @UpdatedAtColumn() updatedAt!: Date;
}
