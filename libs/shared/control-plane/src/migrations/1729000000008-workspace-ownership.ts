import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0008 of schema `carve`: per-workspace carving (additive).
 *
 * - `workspace_stages`: a workspace whose stage differs from its context's (`context_stages`),
 *   set by `carve stage|cutover|rollback <context> --workspace W`; a workspace without a row
 *   follows its context;
 * - `workspace_route_overrides`: the side that answers one workspace on one route, whatever the
 *   route's mode (every gateway replica reads them with the route overrides, and
 *   @carve/shared-routing's `decide` applies them);
 * - `cohorts`: named lists of workspaces (`internal`, `wave-1`) a command can name instead of
 *   listing them.
 */
export class WorkspaceOwnership1729000000008 implements MigrationInterface {
  name = 'WorkspaceOwnership1729000000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    CREATE TABLE carve.workspace_stages (
      context      text NOT NULL,
      workspace_id text NOT NULL,
      stage        text NOT NULL,
      owner        text NOT NULL CHECK (owner IN ('monolith', 'service')),
      owner_since  timestamptz,
      updated_at   timestamptz NOT NULL DEFAULT now(),
      updated_by   text NOT NULL,
      reason       text NOT NULL,
      version      bigint NOT NULL,
      PRIMARY KEY (context, workspace_id)
    );

    CREATE TABLE carve.workspace_route_overrides (
      route_id     text NOT NULL,
      workspace_id text NOT NULL,
      side         text NOT NULL CHECK (side IN ('monolith', 'service')),
      context      text NOT NULL,
      updated_by   text NOT NULL,
      updated_at   timestamptz NOT NULL DEFAULT now(),
      reason       text NOT NULL,
      version      bigint NOT NULL,
      PRIMARY KEY (route_id, workspace_id)
    );
    CREATE INDEX workspace_route_overrides_context ON carve.workspace_route_overrides (context, workspace_id);

    CREATE TABLE carve.cohorts (
      name       text PRIMARY KEY,
      workspaces text[] NOT NULL,
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      reason     text NOT NULL
    );
  `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): WorkspaceOwnership1729000000008 has no down');
  }
}
