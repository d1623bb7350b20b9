import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'legacy';

// Allowed values as they were when this migration shipped (a shipped migration never changes,
// so these are not imported from the domain library, which may evolve).
const MEMBER_ROLES = `'admin', 'maker', 'viewer'`;
const FEATURE_STATUSES = `'new', 'planned', 'in-progress', 'done'`;
const NOTE_SOURCES = `'email', 'slack', 'intercom', 'manual'`;
const NOTE_STATES = `'unprocessed', 'processed', 'archived'`;
const IMPORTANCES = `'low', 'medium', 'high', 'critical'`;
const RELEASE_STATES = `'planned', 'in-progress', 'released'`;

/**
 * The legacy schema as the monolith has always had it. Every tenant-owned row carries
 * workspace_id, and references between tenant rows are composite (id, workspace_id) foreign
 * keys, so the database itself refuses a link from one workspace to another's row.
 */
export class InitialSchema1730000000000 implements MigrationInterface {
  name = 'InitialSchema1730000000000';

  async up(q: QueryRunner): Promise<void> {
    const audit = `
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now()`;

    await q.query(`CREATE TABLE ${S}.workspaces (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
      slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]*$'),
      ${audit}
    )`);

    await q.query(`CREATE TABLE ${S}.members (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      workspace_id uuid NOT NULL REFERENCES ${S}.workspaces (id) ON DELETE CASCADE,
      email text NOT NULL CHECK (email = lower(email)),
      name text NOT NULL,
      role text NOT NULL CHECK (role IN (${MEMBER_ROLES})),
      ${audit},
      CONSTRAINT members_email_unique UNIQUE (workspace_id, email),
      CONSTRAINT members_tenant_key UNIQUE (id, workspace_id)
    )`);

    await q.query(`CREATE TABLE ${S}.features (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      workspace_id uuid NOT NULL REFERENCES ${S}.workspaces (id) ON DELETE CASCADE,
      title text NOT NULL,
      description text NOT NULL DEFAULT '',
      status text NOT NULL DEFAULT 'new' CHECK (status IN (${FEATURE_STATUSES})),
      priority smallint NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
      owner_id uuid,
      tags text[] NOT NULL DEFAULT '{}',
      ${audit},
      CONSTRAINT features_tenant_key UNIQUE (id, workspace_id),
      CONSTRAINT features_owner_fk FOREIGN KEY (owner_id, workspace_id) REFERENCES ${S}.members (id, workspace_id)
    )`);

    await q.query(`CREATE TABLE ${S}.feature_comments (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      workspace_id uuid NOT NULL,
      feature_id uuid NOT NULL,
      author_id uuid,
      body text NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      CONSTRAINT feature_comments_feature_fk FOREIGN KEY (feature_id, workspace_id) REFERENCES ${S}.features (id, workspace_id) ON DELETE CASCADE,
      CONSTRAINT feature_comments_author_fk FOREIGN KEY (author_id, workspace_id) REFERENCES ${S}.members (id, workspace_id)
    )`);

    await q.query(`CREATE TABLE ${S}.notes (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      workspace_id uuid NOT NULL REFERENCES ${S}.workspaces (id) ON DELETE CASCADE,
      title text NOT NULL,
      content text NOT NULL,
      source text NOT NULL DEFAULT 'manual' CHECK (source IN (${NOTE_SOURCES})),
      customer_email text,
      customer_name text,
      customer_company text,
      tags text[] NOT NULL DEFAULT '{}',
      state text NOT NULL DEFAULT 'unprocessed' CHECK (state IN (${NOTE_STATES})),
      ${audit},
      CONSTRAINT notes_tenant_key UNIQUE (id, workspace_id)
    )`);

    await q.query(`CREATE TABLE ${S}.note_features (
      note_id uuid NOT NULL,
      feature_id uuid NOT NULL,
      workspace_id uuid NOT NULL,
      importance text NOT NULL DEFAULT 'medium' CHECK (importance IN (${IMPORTANCES})),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      PRIMARY KEY (note_id, feature_id),
      CONSTRAINT note_features_note_fk FOREIGN KEY (note_id, workspace_id) REFERENCES ${S}.notes (id, workspace_id) ON DELETE CASCADE,
      CONSTRAINT note_features_feature_fk FOREIGN KEY (feature_id, workspace_id) REFERENCES ${S}.features (id, workspace_id) ON DELETE CASCADE
    )`);

    await q.query(`CREATE TABLE ${S}.releases (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      workspace_id uuid NOT NULL REFERENCES ${S}.workspaces (id) ON DELETE CASCADE,
      name text NOT NULL,
      description text NOT NULL DEFAULT '',
      starts_on date NOT NULL,
      ends_on date NOT NULL,
      state text NOT NULL DEFAULT 'planned' CHECK (state IN (${RELEASE_STATES})),
      ${audit},
      CONSTRAINT releases_timeframe CHECK (starts_on <= ends_on),
      CONSTRAINT releases_tenant_key UNIQUE (id, workspace_id)
    )`);

    await q.query(`CREATE TABLE ${S}.release_features (
      release_id uuid NOT NULL,
      feature_id uuid NOT NULL,
      workspace_id uuid NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      PRIMARY KEY (release_id, feature_id),
      CONSTRAINT release_features_release_fk FOREIGN KEY (release_id, workspace_id) REFERENCES ${S}.releases (id, workspace_id) ON DELETE CASCADE,
      CONSTRAINT release_features_feature_fk FOREIGN KEY (feature_id, workspace_id) REFERENCES ${S}.features (id, workspace_id) ON DELETE CASCADE
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['release_features', 'releases', 'note_features', 'notes', 'feature_comments', 'features', 'members', 'workspaces']) {
      await q.query(`DROP TABLE IF EXISTS ${S}.${t}`);
    }
  }
}
