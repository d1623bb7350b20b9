import { applyOverrides, decide, formatRouteTableErrors, type RouteTable, validateRouteTable, type WorkspaceOverride } from './index';

/** Per-workspace overrides: one tenant's requests go to its side whatever the route's mode. */
function table(): RouteTable {
  const result = validateRouteTable({
    upstreams: { monolith: { url: 'http://m' }, insights: { url: 'http://i' } },
    default: 'monolith',
    routes: [
      { id: 'notes-read', match: { path: '/notes', methods: ['GET'] }, target: 'insights', mode: 'canary', percent: 0 },
      { id: 'notes-write', match: { path: '/notes', methods: ['POST'] }, target: 'insights', mode: 'monolith' },
    ],
  });
  if (!result.ok) throw new Error(formatRouteTableErrors(result.errors));
  return result.table;
}

const W1 = 'aaaaaaaa-0000-4000-8000-000000000001';
const W2 = 'aaaaaaaa-0000-4000-8000-000000000002';
const route = (t: RouteTable, id: string) => t.routes.find((r) => r.id === id)!;

describe('per-workspace overrides', () => {
  it('send a listed workspace to its side in every mode, and leave every other workspace to the mode', () => {
    const ws: WorkspaceOverride[] = [
      { routeId: 'notes-write', workspaceId: W1, side: 'service' },
      { routeId: 'notes-read', workspaceId: W1, side: 'service' },
    ];
    for (const mode of ['monolith', 'shadow', 'canary'] as const) {
      const { table: t, problems } = applyOverrides(table(), [{ routeId: 'notes-write', mode, ...(mode === 'canary' ? { percent: 0 } : {}) }], ws);
      expect(problems).toEqual([]);
      const w = route(t, 'notes-write');
      expect(decide(w, { method: 'POST', tenantId: W1 })).toMatchObject({ primary: 'service', reason: 'workspace-service', shadow: false });
      expect(decide(w, { method: 'POST', tenantId: W2 }).primary).toBe('monolith');
      expect(decide(w, { method: 'POST' }).primary).toBe('monolith');
    }
    const read = route(applyOverrides(table(), [], ws).table, 'notes-read');
    expect(decide(read, { method: 'GET', tenantId: W1 })).toMatchObject({ primary: 'service', reason: 'workspace-service', fallback: true });
  });

  it('keep a workspace on the monolith while the route sends everyone else to the service (a tenant rolled back alone)', () => {
    const { table: t } = applyOverrides(table(), [{ routeId: 'notes-write', mode: 'service' }], [{ routeId: 'notes-write', workspaceId: W2, side: 'monolith' }]);
    const w = route(t, 'notes-write');
    expect(decide(w, { method: 'POST', tenantId: W2 })).toMatchObject({ primary: 'monolith', reason: 'workspace-monolith', upstream: 'monolith' });
    expect(decide(w, { method: 'POST', tenantId: W1 })).toMatchObject({ primary: 'service', reason: 'mode-service' });
  });

  it('compare workspace ids case-insensitively, and yield to an operator forcing a side', () => {
    const { table: t } = applyOverrides(table(), [], [{ routeId: 'notes-write', workspaceId: W1.toUpperCase(), side: 'service' }]);
    const w = route(t, 'notes-write');
    expect(decide(w, { method: 'POST', tenantId: W1 }).primary).toBe('service');
    expect(decide(w, { method: 'POST', tenantId: W1.toUpperCase() }).primary).toBe('service');
    expect(decide(w, { method: 'POST', tenantId: W1, operator: true, force: 'monolith' })).toMatchObject({ primary: 'monolith', reason: 'forced' });
  });

  it('skip and report an override naming no route, no workspace or no side, and apply the rest', () => {
    const { table: t, problems } = applyOverrides(table(), [], [
      { routeId: 'nope', workspaceId: W1, side: 'service' },
      { routeId: 'notes-write', workspaceId: ' ', side: 'service' },
      { routeId: 'notes-write', workspaceId: W1, side: 'shadow' as never },
      { routeId: 'notes-write', workspaceId: W2, side: 'service' },
    ]);
    expect(problems.map((p) => p.path)).toEqual(['workspaceOverrides[0].routeId', 'workspaceOverrides[1].workspaceId', 'workspaceOverrides[2].side']);
    expect(t.workspaceOverrides).toEqual([{ routeId: 'notes-write', workspaceId: W2, side: 'service' }]);
    expect([...(route(t, 'notes-write').workspaces ?? [])]).toEqual([[W2, 'service']]);
  });

  it('stop counting once removed: applying none again restores the routes as the file and the route overrides say', () => {
    const once = applyOverrides(table(), [{ routeId: 'notes-read', mode: 'service' }], [{ routeId: 'notes-write', workspaceId: W1, side: 'service' }]).table;
    const again = applyOverrides(once, [{ routeId: 'notes-read', mode: 'service' }]).table;
    expect(route(again, 'notes-write').workspaces).toBeUndefined();
    expect(again.workspaceOverrides).toBeUndefined();
    expect(decide(route(again, 'notes-write'), { method: 'POST', tenantId: W1 }).primary).toBe('monolith');
    expect(route(again, 'notes-read')).toMatchObject({ mode: 'service', overridden: true });
  });
});
