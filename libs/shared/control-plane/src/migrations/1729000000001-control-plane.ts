import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0001 of schema `carve`: the control plane's first tables. `control_state` (one row:
 * the version every change bumps), `route_overrides` (mode and percent set at runtime, beating
 * the route table file), `audit`, `guard_events`, `shadow_mismatches` and `context_stages`.
 */
export class ControlPlane1729000000001 implements MigrationInterface {
  name = 'ControlPlane1729000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      -- One row: the version of the control plane. Every change bumps it in its transaction,
      -- which serialises changes and lets a replica that missed a NOTIFY see it by polling.
      CREATE TABLE carve.control_state (
        id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        version    bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO carve.control_state (id, version) VALUES (1, 0);

      -- Route mode/percent set at runtime; they beat the route table file.
      CREATE TABLE carve.route_overrides (
        route_id   text PRIMARY KEY,
        mode       text NOT NULL CHECK (mode IN ('monolith', 'shadow', 'canary', 'service')),
        percent    double precision CHECK (percent IS NULL OR (percent >= 0 AND percent <= 100)),
        updated_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        reason     text NOT NULL,
        version    bigint NOT NULL
      );

      -- Who changed what, when, why; before and after.
      CREATE TABLE carve.audit (
        id     bigserial PRIMARY KEY,
        at     timestamptz NOT NULL DEFAULT now(),
        actor  text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        reason text NOT NULL,
        before jsonb,
        after  jsonb
      );
      CREATE INDEX audit_target_id ON carve.audit (target, id DESC);

      -- Every time a gateway's guard found a route misbehaving.
      CREATE TABLE carve.guard_events (
        id          bigserial PRIMARY KEY,
        at          timestamptz NOT NULL DEFAULT now(),
        route_id    text NOT NULL,
        reason      text NOT NULL,
        stats       jsonb,
        gateway     text,
        rolled_back boolean NOT NULL DEFAULT false
      );
      CREATE INDEX guard_events_route_id ON carve.guard_events (route_id, id DESC);

      -- The latest shadow mismatches per route (older ones are trimmed on insert).
      CREATE TABLE carve.shadow_mismatches (
        id              bigserial PRIMARY KEY,
        route_id        text NOT NULL,
        at              timestamptz NOT NULL DEFAULT now(),
        request         jsonb NOT NULL,
        monolith_status integer,
        service_status  integer,
        differences     jsonb NOT NULL,
        truncated       boolean NOT NULL DEFAULT false,
        gateway         text
      );
      CREATE INDEX shadow_mismatches_route_id ON carve.shadow_mismatches (route_id, id DESC);

      -- Where each bounded context is in its carving (extended by the carving work).
      CREATE TABLE carve.context_stages (
        context    text PRIMARY KEY,
        stage      text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): ControlPlane1729000000001 has no down');
  }
}
