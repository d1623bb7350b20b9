import { Column, PrimaryGeneratedColumn } from 'typeorm';

/** Shared column shapes: UUID ids from gen_random_uuid(), millisecond timestamps (exact in JS and in cursors). */
export const IdColumn = () => PrimaryGeneratedColumn('uuid');
export const WorkspaceIdColumn = () => Column('uuid', { name: 'workspace_id' });
export const VersionColumn = () => Column('integer', { default: 1 });
export const CreatedAtColumn = () => Column({ type: 'timestamptz', name: 'created_at', precision: 3, default: () => 'now()' });
export const UpdatedAtColumn = () => Column({ type: 'timestamptz', name: 'updated_at', precision: 3, default: () => 'now()' });
export const TagsColumn = () => Column('text', { array: true, default: () => "'{}'" });
