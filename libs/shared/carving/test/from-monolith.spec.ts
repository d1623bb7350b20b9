import { defineCarvableContext, featureTitlesBackfill, featureTitlesVerify, LEGACY_REVERSE_SYNC_GROUP, monolithSync, monolithWorkspaces, resourceRoutes, sameNamedColumns, workspacesBackfill } from '../src';

// The pieces every context carved out of the monolith declares alike, as one descriptor uses them.

describe('a context carved out of the monolith', () => {
  const sync = monolithSync({ schema: 'billing', group: 'billing-service', monolithTopics: ['legacy.features.v1'], ownTopics: ['billing.invoices.v1'] });

  it('consumes the monolith outbox into its own inbox, and the monolith consumes its outbox with the one reverse-sync group', () => {
    expect(sync).toEqual({
      forwardSync: { group: 'billing-service', inboxSchema: 'billing', outboxSchema: 'legacy', topics: ['legacy.features.v1'] },
      reverseSync: { group: 'legacy-reverse-sync', inboxSchema: 'legacy', outboxSchema: 'billing', topics: ['billing.invoices.v1'] },
    });
    expect(LEGACY_REVERSE_SYNC_GROUP).toBe('legacy-reverse-sync');
  });

  it('has a read and a write route per resource, in order', () => {
    expect(resourceRoutes('invoices', 'payments')).toEqual([
      { id: 'invoices-read', kind: 'read' },
      { id: 'invoices-write', kind: 'write' },
      { id: 'payments-read', kind: 'read' },
      { id: 'payments-write', kind: 'write' },
    ]);
  });

  it("backfills and verifies the monolith's feature titles into its schema, guarded by version and tombstones", () => {
    const source = featureTitlesBackfill('billing');
    expect(source).toMatchObject({ name: 'features', from: 'legacy.features f', key: ['id'] });
    expect(source.columns.map((c) => c.name)).toEqual(['id', 'workspace_id', 'title', 'status', 'version']);
    const [merge] = source.merge('staged');
    const sql = typeof merge === 'string' ? merge : merge.sql;
    expect(sql).toContain('INSERT INTO billing.feature_titles AS t (feature_id, workspace_id, title, status, aggregate_version)');
    expect(sql).toContain("FROM billing.tombstones x WHERE x.aggregate_type = 'workspace'");
    expect(sql).toContain("x.aggregate_type = 'feature' AND x.aggregate_id = s.id::text AND x.aggregate_version >= s.version");
    expect(sql).toContain('WHERE t.aggregate_version < EXCLUDED.aggregate_version');
    expect(featureTitlesVerify('billing').service).toBe('SELECT f.workspace_id, f.feature_id AS id, f.title, f.status FROM billing.feature_titles f');
    expect(monolithWorkspaces('billing', 'invoices').service).toBe('SELECT id AS workspace_id FROM billing.workspaces UNION SELECT DISTINCT workspace_id FROM billing.invoices');
  });

  it('backfills the workspaces it keeps: id and version, and the further columns it names, overwritten by a newer version', () => {
    const bare = workspacesBackfill('billing');
    expect(bare).toMatchObject({ name: 'workspaces', from: 'legacy.workspaces w', tenant: 'w.id', key: ['id'] });
    expect(bare.columns).toEqual([
      { name: 'id', type: 'uuid', expr: 'w.id' },
      { name: 'version', type: 'integer', expr: 'w.version' },
    ]);
    const merge = (source: typeof bare) => {
      const [m] = source.merge('staged');
      return typeof m === 'string' ? m : m.sql;
    };
    expect(merge(bare)).toContain('ON CONFLICT (id) DO UPDATE SET aggregate_version = EXCLUDED.aggregate_version\n');
    const named = workspacesBackfill('billing', { name: 'text', created_at: 'timestamptz' });
    expect(named.columns.map((c) => `${c.name} ${c.type} ${c.expr}`)).toEqual(['id uuid w.id', 'name text w.name', 'created_at timestamptz w.created_at', 'version integer w.version']);
    expect(merge(named)).toContain('INSERT INTO billing.workspaces AS t (id, name, created_at, aggregate_version)');
    expect(merge(named)).toContain('DO UPDATE SET name = EXCLUDED.name, created_at = EXCLUDED.created_at, aggregate_version = EXCLUDED.aggregate_version');
    expect(sameNamedColumns('n', { id: 'uuid', tags: 'text[]' })).toEqual([
      { name: 'id', type: 'uuid', expr: 'n.id' },
      { name: 'tags', type: 'text[]', expr: 'n.tags' },
    ]);
  });

  it('makes a descriptor the machinery accepts, and refuses a schema that is no plain identifier', () => {
    const c = defineCarvableContext({
      name: 'billing',
      schema: 'billing',
      service: 'billing',
      routes: resourceRoutes('invoices'),
      ...sync,
      backfill: [workspacesBackfill('billing'), featureTitlesBackfill('billing')],
      verify: [featureTitlesVerify('billing')],
      workspaces: monolithWorkspaces('billing', 'invoices'),
    });
    expect(c.forwardSync.outboxSchema).toBe('legacy');
    expect(() => featureTitlesBackfill('billing; DROP')).toThrow(/plain lower-case identifier/);
    expect(() => monolithWorkspaces('billing', 'in voices')).toThrow(/plain lower-case identifier/);
  });
});
