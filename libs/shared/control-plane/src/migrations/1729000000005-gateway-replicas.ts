import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0005 of schema `carve`: what the gateway replicas serve, and what the guard did to a
 * carved context. Additive only (expand/contract).
 *
 * - `gateway_replicas`: one row per running gateway replica, written at start, at every
 *   heartbeat and whenever its route table changes (deleted when it stops cleanly): the route
 *   ids its table defines and the table's hash, the control-plane version it applied, and when
 *   it was last seen. `carve stage` / `carve cutover` refuse to move a route to the service that
 *   a live replica (seen recently) does not serve; `carve status` shows whether replicas agree.
 * - `context_routes`: which context each carved route belongs to, and whether it reads or
 *   writes (written by the carving commands from the descriptors), so the guard can tell a write
 *   route whose writes the service owns from any other route.
 * - `context_guard_trips`: a guard trip on a carved context's route, open until the route is
 *   set to the monolith by a carving command or the trip is acknowledged: `rolled-back` (a read
 *   route the guard moved to the monolith) or `degraded` (a write route whose writes the service
 *   owns, which the guard never moves: the context is degraded until someone rolls it back).
 *   At most one open trip per route; a repeated trip counts up.
 */
export class GatewayReplicas1729000000005 implements MigrationInterface {
  name = 'GatewayReplicas1729000000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    CREATE TABLE IF NOT EXISTS carve.gateway_replicas (
      replica_id      text PRIMARY KEY,
      hostname        text NOT NULL,
      pid             integer NOT NULL,
      table_hash      text NOT NULL,
      route_ids       text[] NOT NULL,
      control_version bigint NOT NULL,
      started_at      timestamptz NOT NULL,
      last_seen       timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE IF NOT EXISTS carve.context_routes (
      route_id   text PRIMARY KEY,
      context    text NOT NULL,
      kind       text NOT NULL CHECK (kind IN ('read', 'write')),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS context_routes_context ON carve.context_routes (context);

    CREATE TABLE IF NOT EXISTS carve.context_guard_trips (
      id          bigserial PRIMARY KEY,
      context     text NOT NULL,
      route_id    text NOT NULL,
      kind        text NOT NULL CHECK (kind IN ('read', 'write')),
      action      text NOT NULL CHECK (action IN ('rolled-back', 'degraded')),
      stage       text NOT NULL,
      reason      text NOT NULL,
      stats       jsonb,
      gateway     text,
      trips       integer NOT NULL DEFAULT 1,
      first_at    timestamptz NOT NULL DEFAULT now(),
      last_at     timestamptz NOT NULL DEFAULT now(),
      resolved_at timestamptz,
      resolved_by text,
      resolution  text
    );
    CREATE UNIQUE INDEX IF NOT EXISTS context_guard_trips_open ON carve.context_guard_trips (route_id) WHERE resolved_at IS NULL;
    CREATE INDEX IF NOT EXISTS context_guard_trips_context ON carve.context_guard_trips (context, id DESC);
  `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): GatewayReplicas1729000000005 has no down');
  }
}
