/**
 * Per-workspace overrides (per-tenant carving): a workspace listed for a route in the control
 * plane (`carve.workspace_route_overrides`, written by `carve stage|cutover|rollback --workspace`)
 * is sent to its side whatever the route's mode, on every replica, within the NOTIFY; every other
 * workspace follows the route's mode; removing the row sends the workspace back to the mode.
 */
import { Client } from 'pg';
import { admin, http, type Stack, startStack, token, waitFor } from './support/harness';

describe('routing by the workspace’s owner', () => {
  let stack: Stack;
  let c: Client;

  beforeAll(async () => {
    stack = await startStack(
      'gateway_workspace_routing',
      `
  - id: notes-write
    match: { methods: [POST, PATCH, DELETE], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: monolith
`,
    );
    c = new Client({ connectionString: stack.db.url });
    await c.connect();
  });

  afterAll(async () => {
    await c?.end();
    await stack?.close();
  });

  /** What `carve cutover --writes --workspace` commits for the gateway: the row, a new version, the NOTIFY. */
  const setSide = async (workspaceId: string, side: 'monolith' | 'service' | null) => {
    await c.query('BEGIN');
    const v = await c.query('UPDATE carve.control_state SET version = version + 1 WHERE id = 1 RETURNING version');
    await c.query(`DELETE FROM carve.workspace_route_overrides WHERE route_id = 'notes-write' AND workspace_id = $1`, [workspaceId]);
    if (side) {
      await c.query(
        `INSERT INTO carve.workspace_route_overrides (route_id, workspace_id, side, context, updated_by, reason, version) VALUES ('notes-write', $1, $2, 'insights', 'test', 'per-tenant', $3)`,
        [workspaceId, side, v.rows[0].version],
      );
    }
    await c.query(`SELECT pg_notify('carve_control', '{}')`);
    await c.query('COMMIT');
  };

  const who = async (gw = stack.gw, ws: string) =>
    (await http(`${gw.url}/api/v1/workspaces/${ws}/notes/n-1`, { method: 'PATCH', headers: { authorization: `Bearer ${token(ws)}`, 'content-type': 'application/json' }, body: '{}' })).json.who as string;

  it('sends a workspace cut over alone to the service, the others to the monolith, on every replica', async () => {
    const other = await stack.gateway({ gatewayId: 'gw-b' });
    expect([await who(stack.gw, 'ws-1'), await who(stack.gw, 'ws-2')]).toEqual(['monolith', 'monolith']);
    await setSide('ws-1', 'service');
    for (const gw of [stack.gw, other]) await waitFor('the replica to route ws-1 by its owner', async () => (await who(gw, 'ws-1')) === 'service', 5000);
    expect([await who(stack.gw, 'ws-2'), await who(other, 'ws-2')]).toEqual(['monolith', 'monolith']);
    expect(await who(stack.gw, 'ws-3')).toBe('monolith');
    // The admin API shows which workspaces the replica sends where.
    const route = await admin(other, 'GET', '/admin/routes/notes-write');
    expect(route.json).toMatchObject({ mode: 'monolith', workspaces: { service: ['ws-1'], monolith: [] } });
  });

  it('keeps a workspace on the monolith when the route sends everyone else to the service, and follows the mode again once the row goes', async () => {
    const res = await admin(stack.gw, 'PUT', '/admin/routes/notes-write', { mode: 'service', reason: 'the context is cut over' });
    expect(res.status).toBe(200);
    await setSide('ws-2', 'monolith');
    await waitFor('ws-2 held on the monolith', async () => (await who(stack.gw, 'ws-2')) === 'monolith' && (await who(stack.gw, 'ws-4')) === 'service', 5000);
    await setSide('ws-2', null);
    await waitFor('ws-2 to follow the route again', async () => (await who(stack.gw, 'ws-2')) === 'service', 5000);
  });
});
