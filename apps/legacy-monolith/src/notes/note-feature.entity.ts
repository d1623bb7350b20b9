import type { Importance } from '@carve/legacy-domain';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn, UpdatedAtColumn, WorkspaceIdColumn } from '../database/columns';
import { LEGACY_SCHEMA } from '../database/schema';

/** A note's link to a feature, with how important the feature is to that customer. Part of the note aggregate. */
@Entity({ name: 'note_features', schema: LEGACY_SCHEMA })
export class NoteFeature {
  @PrimaryColumn('uuid', { name: 'note_id' }) noteId!: string;
  @PrimaryColumn('uuid', { name: 'feature_id' }) featureId!: string;
  @WorkspaceIdColumn() workspaceId!: string;
  @Column('text', { default: 'medium' }) importance!: Importance;
  @CreatedAtColumn() createdAt!: Date;
  @UpdatedAtColumn() updatedAt!: Date;
}
