import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'legacy';

/**
 * Indexes for the API's keyset pages and filters (workspace first, then sort key, then id), and
 * for the reverse lookups of links. Additive only (expand): safe while older pods still run.
 */
export class ListIndexes1730000000001 implements MigrationInterface {
  name = 'ListIndexes1730000000001';

  async up(q: QueryRunner): Promise<void> {
    const indexes: Array<[string, string]> = [
      ['members_ws_name', `members (workspace_id, name, id)`],
      ['features_ws_created', `features (workspace_id, created_at, id)`],
      ['features_ws_status_created', `features (workspace_id, status, created_at, id)`],
      ['features_tags', `features USING gin (tags)`],
      ['feature_comments_feature_created', `feature_comments (feature_id, created_at, id)`],
      ['notes_ws_created', `notes (workspace_id, created_at, id)`],
      ['notes_ws_state_created', `notes (workspace_id, state, created_at, id)`],
      ['notes_ws_customer_email', `notes (workspace_id, customer_email)`],
      ['notes_tags', `notes USING gin (tags)`],
      ['note_features_feature', `note_features (feature_id)`],
      ['releases_ws_starts', `releases (workspace_id, starts_on, id)`],
      ['release_features_feature', `release_features (feature_id)`],
    ];
    for (const [name, def] of indexes) await q.query(`CREATE INDEX IF NOT EXISTS ${name} ON ${S}.${def}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of [
      'members_ws_name', 'features_ws_created', 'features_ws_status_created', 'features_tags', 'feature_comments_feature_created',
      'notes_ws_created', 'notes_ws_state_created', 'notes_ws_customer_email', 'notes_tags', 'note_features_feature',
      'releases_ws_starts', 'release_features_feature',
    ]) {
      await q.query(`DROP INDEX IF EXISTS ${S}.${name}`);
    }
  }
}
