/**
 * A toy context for the generic machinery's tests, deliberately unlike Insights: the monolith
 * keeps `mono.widgets` (name, colour name, inline tenant), the "service" reshapes it into
 * `svc.widgets` (label, colour code), with a version per row, an outbox (its own events) and an
 * inbox on the monolith's side for the reverse sync. Nothing here is Insights-specific, which is
 * the point: the machinery is driven by the descriptor alone.
 */
import { inboxMigrationSql, outboxMigrationSql } from '@carve/shared-messaging';
import { writeFenceSchemaSqlV1, writeFenceTablesSqlV1 } from '@carve/shared-persistence';
import type { Client } from 'pg';
import { defineCarvableContext } from '../../src';

export const COLOURS: Record<string, string> = { red: '#f00', green: '#0f0', blue: '#00f' };

export const widgets = defineCarvableContext({
  name: 'widgets',
  schema: 'svc',
  service: 'widgets-service',
  routes: [
    { id: 'widgets-read', kind: 'read' },
    { id: 'widgets-write', kind: 'write' },
  ],
  forwardSync: { group: 'widgets-service', inboxSchema: 'svc', outboxSchema: 'mono', topics: ['mono.widgets.v1'] },
  reverseSync: { group: 'mono-reverse-sync', inboxSchema: 'mono', outboxSchema: 'svc', topics: ['svc.widgets.v1'] },
  backfill: [
    {
      name: 'widgets',
      from: 'mono.widgets w',
      tenant: 'w.tenant',
      key: ['id'],
      columns: [
        { name: 'id', type: 'uuid', expr: 'w.id' },
        { name: 'tenant', type: 'uuid', expr: 'w.tenant' },
        { name: 'name', type: 'text', expr: 'w.name' },
        { name: 'colour', type: 'text', expr: 'w.colour' },
        { name: 'version', type: 'integer', expr: 'w.version' },
      ],
      merge: (st) => [
        {
          counts: true,
          sql: `INSERT INTO svc.widgets AS t (id, tenant_id, label, colour_code, aggregate_version)
                SELECT s.id, s.tenant, upper(s.name), CASE s.colour WHEN 'red' THEN '#f00' WHEN 'green' THEN '#0f0' ELSE '#00f' END, s.version
                  FROM ${st} s
                ON CONFLICT (id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, label = EXCLUDED.label, colour_code = EXCLUDED.colour_code,
                       aggregate_version = EXCLUDED.aggregate_version
                 WHERE t.aggregate_version < EXCLUDED.aggregate_version`,
        },
      ],
    },
  ],
  verify: [
    {
      name: 'widgets',
      monolith: `SELECT w.tenant AS workspace_id, w.id, upper(w.name) AS label, CASE w.colour WHEN 'red' THEN '#f00' WHEN 'green' THEN '#0f0' ELSE '#00f' END AS colour FROM mono.widgets w`,
      service: 'SELECT w.tenant_id AS workspace_id, w.id, w.label, w.colour_code AS colour FROM svc.widgets w',
    },
  ],
});

export const TENANTS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333'];

/** Both schemas, empty; with `fence`, each side's write fence on its widgets. */
export async function createWidgetSchemas(c: Client, opts: { fence?: boolean } = {}): Promise<void> {
  await c.query(`
    CREATE SCHEMA mono;
    CREATE TABLE mono.widgets (id uuid PRIMARY KEY, tenant uuid NOT NULL, name text NOT NULL, colour text NOT NULL, version integer NOT NULL DEFAULT 1);
    CREATE SCHEMA svc;
    CREATE TABLE svc.widgets (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, label text NOT NULL, colour_code text NOT NULL, aggregate_version integer NOT NULL);
  `);
  await c.query(outboxMigrationSql('mono'));
  await c.query(outboxMigrationSql('svc'));
  await c.query(inboxMigrationSql('mono'));
  await c.query(inboxMigrationSql('svc'));
  if (!opts.fence) return;
  // Each side's write fence: the monolith owns the widgets until a handover moves them.
  for (const side of [
    { schema: 'mono', ownerByDefault: true, tenantColumn: 'tenant' },
    { schema: 'svc', ownerByDefault: false, tenantColumn: 'tenant_id' },
  ]) {
    await c.query(writeFenceSchemaSqlV1(side.schema));
    await c.query(writeFenceTablesSqlV1({ ...side, context: 'widgets', tables: ['widgets'] }));
  }
}

/** `n` widgets spread over the tenants, ids in a deterministic order. */
export async function seedWidgets(c: Client, n: number): Promise<void> {
  await c.query(
    `INSERT INTO mono.widgets (id, tenant, name, colour, version)
     SELECT md5('w' || i)::uuid, ($2::uuid[])[1 + i % 3], 'widget ' || i, (ARRAY['red','green','blue'])[1 + i % 3], 1 + i % 4
       FROM generate_series(1, $1) i`,
    [n, TENANTS],
  );
}
