import { inboxTablesSqlV1, outboxTablesSqlV1 } from '@carve/shared-messaging';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'insights';

// Allowed values as they were when this migration shipped (never edit a shipped migration).
const NOTE_SOURCES = `'email', 'slack', 'intercom', 'manual'`;
const NOTE_STATES = `'unprocessed', 'processed', 'archived'`;
const IMPORTANCES = `'low', 'medium', 'high', 'critical'`;

/**
 * The insights model, reshaped from the monolith's:
 * - `customers` are their own rows, one per (workspace, lower(email)); their name and company are
 *   those of the newest note written with that email (`source_updated_at`, `source_note_id`);
 * - `notes` reference a customer; `note_features` link notes to features;
 * - `feature_titles` and `workspaces` are local read models, fed by the monolith's events;
 * - `tombstones` remember deletions (type, id, version) so a late event or an older backfilled
 *   row never brings a deleted row back;
 * - every synced row carries the source `aggregate_version` (the monolith's `version`);
 * - the messaging `outbox` (the service's own events) and `inbox`/`aggregate_versions`.
 * No foreign key points at a synced parent (a link may arrive before its note: topics are not
 * ordered with each other); tenancy stays in every row's workspace_id.
 */
export class InitialSchema1731000000000 implements MigrationInterface {
  name = 'InitialSchema1731000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE ${S}.workspaces (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      slug text NOT NULL,
      aggregate_version integer NOT NULL CHECK (aggregate_version > 0),
      created_at timestamptz(3) NOT NULL,
      updated_at timestamptz(3) NOT NULL
    )`);

    await q.query(`CREATE TABLE ${S}.feature_titles (
      feature_id uuid PRIMARY KEY,
      workspace_id uuid NOT NULL,
      title text NOT NULL,
      status text NOT NULL,
      aggregate_version integer NOT NULL CHECK (aggregate_version > 0)
    )`);
    await q.query(`CREATE INDEX feature_titles_ws ON ${S}.feature_titles (workspace_id)`);

    await q.query(`CREATE TABLE ${S}.customers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      workspace_id uuid NOT NULL,
      email text NOT NULL CHECK (email = lower(email)),
      name text,
      company text,
      source_note_id uuid NOT NULL,
      source_updated_at timestamptz(3) NOT NULL,
      aggregate_version integer NOT NULL CHECK (aggregate_version > 0),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      CONSTRAINT customers_tenant_key UNIQUE (id, workspace_id)
    )`);
    await q.query(`CREATE UNIQUE INDEX customers_ws_email ON ${S}.customers (workspace_id, lower(email))`);

    await q.query(`CREATE TABLE ${S}.notes (
      id uuid PRIMARY KEY,
      workspace_id uuid NOT NULL,
      title text NOT NULL,
      content text NOT NULL,
      source text NOT NULL CHECK (source IN (${NOTE_SOURCES})),
      customer_id uuid,
      tags text[] NOT NULL DEFAULT '{}',
      state text NOT NULL CHECK (state IN (${NOTE_STATES})),
      aggregate_version integer NOT NULL CHECK (aggregate_version > 0),
      created_at timestamptz(3) NOT NULL,
      updated_at timestamptz(3) NOT NULL,
      CONSTRAINT notes_customer_fk FOREIGN KEY (customer_id, workspace_id) REFERENCES ${S}.customers (id, workspace_id)
    )`);

    await q.query(`CREATE TABLE ${S}.note_features (
      note_id uuid NOT NULL,
      feature_id uuid NOT NULL,
      workspace_id uuid NOT NULL,
      importance text NOT NULL CHECK (importance IN (${IMPORTANCES})),
      aggregate_version integer NOT NULL CHECK (aggregate_version > 0),
      created_at timestamptz(3) NOT NULL,
      updated_at timestamptz(3) NOT NULL,
      PRIMARY KEY (note_id, feature_id)
    )`);

    await q.query(`CREATE TABLE ${S}.tombstones (
      aggregate_type text NOT NULL,
      aggregate_id text NOT NULL,
      workspace_id uuid NOT NULL,
      aggregate_version integer NOT NULL,
      deleted_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (aggregate_type, aggregate_id)
    )`);

    const indexes: Array<[string, string]> = [
      ['notes_ws_created', `notes (workspace_id, created_at, id)`],
      ['notes_ws_updated', `notes (workspace_id, updated_at, id)`],
      ['notes_ws_title', `notes (workspace_id, title, id)`],
      ['notes_ws_state_created', `notes (workspace_id, state, created_at, id)`],
      ['notes_customer', `notes (customer_id)`],
      ['notes_tags', `notes USING gin (tags)`],
      ['note_features_feature', `note_features (feature_id)`],
      ['note_features_ws', `note_features (workspace_id)`],
      ['customers_ws', `customers (workspace_id)`],
      ['tombstones_ws', `tombstones (workspace_id)`],
    ];
    for (const [name, def] of indexes) await q.query(`CREATE INDEX IF NOT EXISTS ${name} ON ${S}.${def}`);

    // The messaging tables' frozen DDL (version 1), without CREATE SCHEMA: the schema is provisioned first.
    await q.query(outboxTablesSqlV1(S));
    await q.query(inboxTablesSqlV1(S));
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['aggregate_versions', 'inbox', 'outbox', 'tombstones', 'note_features', 'notes', 'customers', 'feature_titles', 'workspaces']) {
      await q.query(`DROP TABLE IF EXISTS ${S}.${t}`);
    }
    await q.query(`DROP SEQUENCE IF EXISTS ${S}.outbox_log_pos_seq`);
    await q.query(`DROP FUNCTION IF EXISTS ${S}.outbox_notify()`);
  }
}
