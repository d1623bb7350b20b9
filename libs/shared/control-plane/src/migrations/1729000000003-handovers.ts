import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0003 of schema `carve`: the state of every handover of a context's writes (additive).
 *
 * A handover moves the writes of a context (or of one workspace of it: `scope`) from one side
 * to the other: fence both sides, drain what the old owner committed to the new one, flip the
 * owners, switch the routes, lift the fence. Its row says how far it got, so that a command
 * killed half-way is resumed or undone by the next one; at most one handover per (context,
 * scope) is open at a time.
 */
export class Handovers1729000000003 implements MigrationInterface {
  name = 'Handovers1729000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    CREATE TABLE carve.handovers (
      id             text PRIMARY KEY,
      context        text NOT NULL,
      scope          text NOT NULL DEFAULT '*',
      command        text NOT NULL,
      from_owner     text NOT NULL CHECK (from_owner IN ('monolith', 'service')),
      to_owner       text NOT NULL CHECK (to_owner IN ('monolith', 'service')),
      target_stage   text NOT NULL,
      phase          text NOT NULL CHECK (phase IN ('fencing', 'draining', 'flipping', 'routing', 'done', 'undone')),
      fence_deadline timestamptz NOT NULL,
      drain_position bigint,
      actor          text NOT NULL,
      reason         text NOT NULL,
      started_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
      fenced_at      timestamptz,
      drained_at     timestamptz,
      flipped_at     timestamptz,
      finished_at    timestamptz,
      fence_ms       double precision,
      error          text
    );
    CREATE UNIQUE INDEX handovers_one_open ON carve.handovers (context, scope) WHERE phase NOT IN ('done', 'undone');
    CREATE INDEX handovers_context_started ON carve.handovers (context, started_at DESC);
  `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): Handovers1729000000003 has no down');
  }
}
