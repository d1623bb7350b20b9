import { formatRouteTableErrors, parseRouteTable, validateRouteTable, type Route, type RouteTable } from './route-table';
import type { RouteDoc } from './route-table.schema';

/**
 * For tests: a route table with upstreams `monolith` (the default) and `svc`, whose routes
 * target `svc` in mode service unless they say otherwise; an invalid one throws its errors.
 */
export function serviceTable(routes: Array<Partial<RouteDoc> & { id: string; match: RouteDoc['match'] }>): RouteTable {
  const result = validateRouteTable({
    upstreams: { monolith: { url: 'http://m' }, svc: { url: 'http://s' } },
    default: 'monolith',
    routes: routes.map((r) => ({ target: 'svc', mode: 'service', ...r })),
  });
  if (!result.ok) throw new Error(formatRouteTableErrors(result.errors));
  return result.table;
}

/**
 * For tests: one route `r` on `/x` to upstream `insights` (the monolith is `monolith`), a 50 %
 * canary unless `doc` says otherwise.
 */
export function canaryRoute(doc: Partial<RouteDoc> = {}): Route {
  const result = validateRouteTable({
    upstreams: { monolith: { url: 'http://m' }, insights: { url: 'http://i' } },
    default: 'monolith',
    routes: [{ id: 'r', match: { path: '/x' }, target: 'insights', mode: 'canary', percent: 50, ...doc }],
  });
  if (!result.ok) throw new Error(formatRouteTableErrors(result.errors));
  return result.table.routes[0];
}

/**
 * For tests of overrides: a YAML table with `notes` (a 30 % canary to `insights`) and `customers`
 * (shadow), parsed from text as the gateway reads its file.
 */
export function notesAndCustomersTable(): RouteTable {
  const r = parseRouteTable(`upstreams:
  monolith: { url: http://127.0.0.1:3000 }
  insights: { url: http://127.0.0.1:3101 }
default: monolith
routes:
  - { id: notes, match: { methods: [GET], path: '/api/notes/*' }, target: insights, mode: canary, percent: 30 }
  - { id: customers, match: { methods: [GET], path: '/api/customers/*' }, target: insights, mode: shadow }
`);
  if (!r.ok) throw new Error(formatRouteTableErrors(r.errors));
  return r.table;
}
