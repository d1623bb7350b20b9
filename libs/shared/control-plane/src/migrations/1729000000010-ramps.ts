import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0010 of schema `carve`: timed canary ramps (additive).
 *
 * `ramps`: one per context, set by `carve stage <context> canary --ramp 1,5,25,50 --every 10m`.
 * `steps` are the canary percents in order, `step` the index of the last one applied, `next_at`
 * when the next one is due (null unless running). Every gateway replica's ramp scheduler takes a
 * due row with `FOR UPDATE SKIP LOCKED`, so exactly one replica applies a step; the row says where
 * the ramp is, so it survives restarts of the CLI and of every gateway.
 */
export class Ramps1729000000010 implements MigrationInterface {
  name = 'Ramps1729000000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    CREATE TABLE carve.ramps (
      context      text PRIMARY KEY,
      steps        double precision[] NOT NULL CHECK (cardinality(steps) > 0),
      every_ms     bigint NOT NULL CHECK (every_ms > 0),
      step         integer NOT NULL CHECK (step >= 0),
      state        text NOT NULL CHECK (state IN ('running', 'paused', 'done', 'stopped')),
      next_at      timestamptz,
      paused_why   text,
      actor        text NOT NULL,
      reason       text NOT NULL,
      started_at   timestamptz NOT NULL DEFAULT now(),
      updated_at   timestamptz NOT NULL DEFAULT now(),
      updated_by   text NOT NULL,
      CHECK (step < cardinality(steps)),
      CHECK ((state = 'running') = (next_at IS NOT NULL))
    );
    CREATE INDEX ramps_due ON carve.ramps (next_at) WHERE state = 'running';
  `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): Ramps1729000000010 has no down');
  }
}
