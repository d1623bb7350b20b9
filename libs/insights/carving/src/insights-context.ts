/**
 * Insights as a carvable context: what the generic machinery of @carve/shared-carving needs to
 * carve it, and nothing else. The monolith's tables are read by SQL over the CLI's admin
 * connection (no monolith code is imported); the service's tables are the reshaped model of
 * @carve/insights-data-access:
 *
 *   legacy.workspaces                 → insights.workspaces        (read model)
 *   legacy.features                   → insights.feature_titles    (read model: title, status)
 *   legacy.notes (customer inline)    → insights.customers (one per workspace + lower(email); name
 *                                        and company of the newest note with that email)
 *                                      + insights.notes (customer_id)
 *   legacy.note_features (+ the note's version) → insights.note_features
 *
 * Every merge is guarded by the aggregate version (`WHERE t.aggregate_version <
 * EXCLUDED.aggregate_version`) and by the service's tombstones (a deletion forward sync applied
 * wins over an older backfilled row), so it can run while forward sync runs, and again.
 */
import { FeatureCreated, NoteCreated, NoteFeatureLinkCreated, WorkspaceCreated } from '@carve/legacy-events';
import { INSIGHTS_TOPICS } from '@carve/insights-events';
import { defineCarvableContext, featureTitlesBackfill, featureTitlesVerify, monolithSync, monolithWorkspaces, resourceRoutes, sameNamedColumns, stagingColumn, tombstoneGuards, workspacesBackfill } from '@carve/shared-carving';

/** The service's consumer group of the monolith's events (insights-service: CARVE_SYNC_GROUP, default). */
export const INSIGHTS_FORWARD_SYNC_GROUP = 'insights-service';

const col = stagingColumn;
const { workspaceAlive: wsAlive, notBuried, deleteBuried } = tombstoneGuards('insights');

// ---- the canonical note, one query per side ----------------------------------------------------

const sortedTags = (t: string) => `ARRAY(SELECT tag FROM unnest(${t}) tag ORDER BY tag COLLATE "C")`;
const links = (table: string) =>
  `coalesce((SELECT jsonb_agg(jsonb_build_array(l.feature_id, l.importance) ORDER BY l.feature_id) FROM ${table} l WHERE l.note_id = n.id), '[]'::jsonb)`;

/**
 * The monolith's notes as the service shapes them: the customer of a note is the one of its
 * (workspace, lower(email)), named after the newest note written with that email.
 */
export const MONOLITH_CANONICAL_NOTES = `
  SELECT n.workspace_id, n.id, n.title, n.content, n.source,
         lower(n.customer_email) AS customer_email,
         CASE WHEN n.customer_email IS NULL THEN NULL ELSE first_value(n.customer_name) OVER newest END AS customer_name,
         CASE WHEN n.customer_email IS NULL THEN NULL ELSE first_value(n.customer_company) OVER newest END AS customer_company,
         ${sortedTags('n.tags')} AS tags,
         n.state,
         ${links('legacy.note_features')} AS links
    FROM legacy.notes n
  WINDOW newest AS (PARTITION BY n.workspace_id, lower(n.customer_email) ORDER BY n.updated_at DESC, n.id DESC)`;

export const SERVICE_CANONICAL_NOTES = `
  SELECT n.workspace_id, n.id, n.title, n.content, n.source,
         c.email AS customer_email, c.name AS customer_name, c.company AS customer_company,
         ${sortedTags('n.tags')} AS tags,
         n.state,
         ${links('insights.note_features')} AS links
    FROM insights.notes n
    LEFT JOIN insights.customers c ON c.id = n.customer_id`;

export const insightsCarving = defineCarvableContext({
  name: 'insights',
  description: 'customer notes, their customers and their links to features (apps/insights-service)',
  schema: 'insights',
  service: 'insights',
  routes: resourceRoutes('notes'),
  ...monolithSync({
    schema: 'insights',
    group: INSIGHTS_FORWARD_SYNC_GROUP,
    monolithTopics: [WorkspaceCreated.topic, FeatureCreated.topic, NoteCreated.topic, NoteFeatureLinkCreated.topic],
    ownTopics: INSIGHTS_TOPICS,
  }),
  backfill: [
    workspacesBackfill('insights', { name: 'text', slug: 'text', created_at: 'timestamptz', updated_at: 'timestamptz' }),
    featureTitlesBackfill('insights'),
    {
      name: 'notes',
      description: 'legacy.notes → insights.customers (deduplicated by workspace + lower(email)) + insights.notes',
      from: 'legacy.notes n',
      key: ['id'],
      columns: [
        ...sameNamedColumns('n', { id: 'uuid', workspace_id: 'uuid', title: 'text', content: 'text', source: 'text', customer_email: 'text', customer_name: 'text', customer_company: 'text', tags: 'text[]', state: 'text', version: 'integer', created_at: 'timestamptz', updated_at: 'timestamptz' }),
      ],
      merge: (st) => [
        // notes.customer_id comes from the customer row joined just below, in this transaction:
        // its foreign-key check is redundant, and skipped where the admin role may (a third of
        // the cost of a batch). Without the privilege, the check runs.
        `DO $$ BEGIN SET LOCAL session_replication_role = replica; EXCEPTION WHEN insufficient_privilege THEN NULL; END $$`,
        // Customers of the notes that will be written (not older than what the service holds),
        // one per (workspace, lower(email)): the newest note of the batch names it, and it only
        // replaces a customer named by an older note.
        `INSERT INTO insights.customers AS c (workspace_id, email, name, company, source_note_id, source_updated_at, aggregate_version)
         SELECT DISTINCT ON (s.workspace_id, lower(s.customer_email))
                s.workspace_id, lower(s.customer_email), s.customer_name, s.customer_company, s.id, s.updated_at, s.version
           FROM ${st} s
           LEFT JOIN insights.notes n ON n.id = s.id
           LEFT JOIN insights.customers k ON k.workspace_id = s.workspace_id AND lower(k.email) = lower(s.customer_email)
          WHERE s.customer_email IS NOT NULL
            AND (n.id IS NULL OR n.aggregate_version < s.version)
            AND (k.id IS NULL OR (k.source_updated_at, k.source_note_id) < (s.updated_at, s.id))
            AND ${wsAlive('s.workspace_id')} AND ${notBuried('note', 's.id::text', 's.version')}
          ORDER BY s.workspace_id, lower(s.customer_email), s.updated_at DESC, s.id DESC
         ON CONFLICT (workspace_id, lower(email)) DO UPDATE SET name = EXCLUDED.name, company = EXCLUDED.company,
                source_note_id = EXCLUDED.source_note_id, source_updated_at = EXCLUDED.source_updated_at,
                aggregate_version = EXCLUDED.aggregate_version, updated_at = now()
          WHERE (c.source_updated_at, c.source_note_id) < (EXCLUDED.source_updated_at, EXCLUDED.source_note_id)`,
        {
          counts: true,
          sql: `INSERT INTO insights.notes AS t (id, workspace_id, title, content, source, customer_id, tags, state, aggregate_version, created_at, updated_at)
                SELECT s.id, s.workspace_id, s.title, s.content, s.source, c.id, s.tags, s.state, s.version, s.created_at, s.updated_at
                  FROM ${st} s
                  LEFT JOIN insights.customers c ON c.workspace_id = s.workspace_id AND lower(c.email) = lower(s.customer_email)
                 WHERE ${wsAlive('s.workspace_id')} AND ${notBuried('note', 's.id::text', 's.version')}
                ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, content = EXCLUDED.content, source = EXCLUDED.source,
                       customer_id = EXCLUDED.customer_id, tags = EXCLUDED.tags, state = EXCLUDED.state,
                       aggregate_version = EXCLUDED.aggregate_version, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
                 WHERE t.aggregate_version < EXCLUDED.aggregate_version`,
        },
        // A delete forward sync committed while this batch was being written: its tombstone wins.
        deleteBuried(st, 'insights.notes', 'note'),
        `WITH dead AS MATERIALIZED (SELECT aggregate_id::uuid AS id FROM insights.tombstones WHERE aggregate_type = 'workspace')
         DELETE FROM insights.notes t USING dead d, ${st} s WHERE t.workspace_id = d.id AND t.id = s.id`,
      ],
    },
    {
      name: 'note-features',
      description: "legacy.note_features (at their note's version) → insights.note_features",
      from: 'legacy.note_features nf',
      key: ['note_id', 'feature_id'],
      columns: [
        ...sameNamedColumns('nf', { note_id: 'uuid', feature_id: 'uuid', workspace_id: 'uuid', importance: 'text' }),
        // the note's version, looked up per row (a join would merge-scan the notes from the start on every page)
        col('version', 'integer', '(SELECT x.version FROM legacy.notes x WHERE x.id = nf.note_id)'),
        col('created_at', 'timestamptz', 'nf.created_at'),
        col('updated_at', 'timestamptz', 'nf.updated_at'),
      ],
      merge: (st) => [
        {
          counts: true,
          sql: `INSERT INTO insights.note_features AS t (note_id, feature_id, workspace_id, importance, aggregate_version, created_at, updated_at)
                SELECT s.note_id, s.feature_id, s.workspace_id, s.importance, s.version, s.created_at, s.updated_at
                  FROM ${st} s
                 WHERE ${wsAlive('s.workspace_id')}
                   AND ${notBuried('note', 's.note_id::text', 's.version')}
                   AND ${notBuried('note-feature-link', "s.note_id::text || ':' || s.feature_id::text", 's.version')}
                   AND NOT EXISTS (SELECT 1 FROM insights.tombstones x WHERE x.aggregate_type = 'feature' AND x.aggregate_id = s.feature_id::text)
                ON CONFLICT (note_id, feature_id) DO UPDATE SET importance = EXCLUDED.importance, aggregate_version = EXCLUDED.aggregate_version,
                       created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
                 WHERE t.aggregate_version < EXCLUDED.aggregate_version`,
        },
        `DELETE FROM insights.note_features t USING insights.tombstones x, ${st} s
          WHERE x.aggregate_type = 'note-feature-link' AND x.aggregate_id = s.note_id::text || ':' || s.feature_id::text
            AND t.note_id = s.note_id AND t.feature_id = s.feature_id AND x.aggregate_version >= t.aggregate_version`,
      ],
    },
  ],
  verify: [
    {
      name: 'workspaces',
      description: 'id, name, slug',
      monolith: 'SELECT w.id AS workspace_id, w.id, w.name, w.slug FROM legacy.workspaces w',
      service: 'SELECT w.id AS workspace_id, w.id, w.name, w.slug FROM insights.workspaces w',
    },
    featureTitlesVerify('insights'),
    {
      name: 'notes',
      description: 'id, workspace, title, content, source, lower(customer email), customer name and company, sorted tags, state, links (feature, importance)',
      monolith: MONOLITH_CANONICAL_NOTES,
      service: SERVICE_CANONICAL_NOTES,
    },
  ],
  workspaces: monolithWorkspaces('insights', 'notes'),
});
