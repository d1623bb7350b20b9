import type { NoteSource, NoteState } from '@carve/legacy-domain';
import { Column, Entity } from 'typeorm';
import { CreatedAtColumn, IdColumn, TagsColumn, UpdatedAtColumn, VersionColumn, WorkspaceIdColumn } from '../database/columns';
import { LEGACY_SCHEMA } from '../database/schema';

/** A customer insight. The customer is stored inline (the legacy shape the Insights carving will normalise). */
@Entity({ name: 'notes', schema: LEGACY_SCHEMA })
export class Note {
  @IdColumn() id!: string;
  @WorkspaceIdColumn() workspaceId!: string;
  @Column('text') title!: string;
  @Column('text') content!: string;
  @Column('text', { default: 'manual' }) source!: NoteSource;
  @Column('text', { name: 'customer_email', nullable: true }) customerEmail!: string | null;
  @Column('text', { name: 'customer_name', nullable: true }) customerName!: string | null;
  @Column('text', { name: 'customer_company', nullable: true }) customerCompany!: string | null;
  @TagsColumn() tags!: string[];
  @Column('text', { default: 'unprocessed' }) state!: NoteState;
  @VersionColumn() version!: number;
  @CreatedAtColumn() createdAt!: Date;
  @UpdatedAtColumn() updatedAt!: Date;
}
