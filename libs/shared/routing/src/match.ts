import type { StringBag } from './matcher';
import { matcherOf, type Route, type RouteTable } from './route-table';

export interface RouteMatch {
  readonly route: Route;
  /** Path parameters by name (percent-decoded); `*` holds what a trailing wildcard matched. */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * The most specific route that takes this request, or null when none does (the request goes
 * to `table.default`, the monolith). `path` must be the request's canonical path (see
 * canonical-path.ts): segments are compared as they are, so `/%61pi` would not match a route
 * for `/api`. It may carry a query string, which is ignored: query
 * conditions are checked against `query`. Header names in `headers` are expected lower-case,
 * as Node delivers them (other spellings are found too, more slowly).
 */
export function matchRoute(
  table: RouteTable,
  method: string,
  path: string,
  headers: StringBag = {},
  query: StringBag = {},
): RouteMatch | null {
  const m = matcherOf(table).match(method, path, headers, query);
  return m ? { route: table.routes[m.index], params: m.params } : null;
}
