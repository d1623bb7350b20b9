import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0002 of schema `carve`: what the carving machinery (@carve/shared-carving) keeps.
 * Additive only (expand/contract): older gateways keep working against it.
 *
 * - `context_stages` gains who moved it, why, at which control-plane version, the canary
 *   percent, who owns the context's writes (`monolith` | `service`) and since when, and the
 *   stage it came from. `stage` keeps its meaning: the service reads it to know whether it owns
 *   writes (`writes-switched` and `complete`).
 * - `backfill_checkpoints`: per (context, source), the last key committed with its batch, so a
 *   killed backfill resumes where it stopped.
 * - `verify_runs`: every `carve verify`, newest first per context (status shows the last one).
 */
export class Carving1729000000002 implements MigrationInterface {
  name = 'Carving1729000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    ALTER TABLE carve.context_stages
      ADD COLUMN IF NOT EXISTS previous_stage text,
      ADD COLUMN IF NOT EXISTS canary_percent double precision CHECK (canary_percent IS NULL OR (canary_percent >= 0 AND canary_percent <= 100)),
      ADD COLUMN IF NOT EXISTS owner text NOT NULL DEFAULT 'monolith' CHECK (owner IN ('monolith', 'service')),
      ADD COLUMN IF NOT EXISTS owner_since timestamptz,
      ADD COLUMN IF NOT EXISTS updated_by text,
      ADD COLUMN IF NOT EXISTS reason text,
      ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0;

    CREATE TABLE IF NOT EXISTS carve.backfill_checkpoints (
      context     text NOT NULL,
      source      text NOT NULL,
      last_key    jsonb,
      rows_done   bigint NOT NULL DEFAULT 0,
      rows_written bigint NOT NULL DEFAULT 0,
      batches     bigint NOT NULL DEFAULT 0,
      run_id      text,
      started_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      PRIMARY KEY (context, source)
    );

    CREATE TABLE IF NOT EXISTS carve.verify_runs (
      id           bigserial PRIMARY KEY,
      context      text NOT NULL,
      started_at   timestamptz NOT NULL,
      finished_at  timestamptz NOT NULL DEFAULT now(),
      ok           boolean NOT NULL,
      scope        text,
      workspaces   integer NOT NULL,
      drifted      integer NOT NULL,
      actor        text,
      result       jsonb NOT NULL
    );
    CREATE INDEX IF NOT EXISTS verify_runs_context ON carve.verify_runs (context, id DESC);
  `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): Carving1729000000002 has no down');
  }
}
