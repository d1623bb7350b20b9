import { matchRoute, parsePathPattern, validateRouteTable, formatRouteTableErrors, type RouteDoc, type RouteTable, type Route } from './index';
import { serviceTable as build } from './table.fixtures';

const idOf = (t: RouteTable, method: string, path: string, headers = {}, query = {}) => matchRoute(t, method, path, headers, query)?.route.id ?? null;

describe('matchRoute', () => {
  const t = build([
    { id: 'notes', match: { methods: ['GET', 'HEAD'], path: '/api/v1/workspaces/:workspaceId/notes/*' } },
    { id: 'note-links', match: { methods: ['GET'], path: '/api/v1/workspaces/:workspaceId/notes/:noteId/links' } },
    { id: 'notes-write', match: { methods: ['POST', 'PUT', 'PATCH', 'DELETE'], path: '/api/v1/workspaces/:workspaceId/notes/*' } },
    { id: 'root', match: { path: '/' } },
    { id: 'health', match: { methods: ['GET'], path: '/status/health' } },
  ]);

  it('matches literal, parameter and wildcard segments and captures parameters', () => {
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/w1/notes/n1/links')).toEqual({
      route: t.routes[1],
      params: { workspaceId: 'w1', noteId: 'n1' },
    });
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/w1/notes/n1')?.params).toEqual({ workspaceId: 'w1', '*': 'n1' });
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/w1/notes/n1/comments/3')?.params).toEqual({ workspaceId: 'w1', '*': 'n1/comments/3' });
  });

  it('lets a trailing wildcard match zero segments', () => {
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/w1/notes')).toMatchObject({ route: { id: 'notes' }, params: { workspaceId: 'w1', '*': '' } });
  });

  it('returns null when nothing matches: the default upstream answers', () => {
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/w1/features')).toBeNull();
    expect(matchRoute(t, 'GET', '/api/v1/workspaces')).toBeNull();
    expect(matchRoute(t, 'GET', '/status')).toBeNull();
    expect(matchRoute(t, 'GET', '/status/health/deep')).toBeNull();
  });

  it('matches by method', () => {
    expect(idOf(t, 'GET', '/api/v1/workspaces/w1/notes/n1')).toBe('notes');
    expect(idOf(t, 'POST', '/api/v1/workspaces/w1/notes')).toBe('notes-write');
    expect(idOf(t, 'OPTIONS', '/api/v1/workspaces/w1/notes')).toBeNull();
    expect(idOf(t, 'POST', '/status/health')).toBeNull();
    expect(idOf(t, 'get', '/status/health')).toBe('health');
  });

  it('does not let HEAD match a GET-only route', () => {
    expect(idOf(t, 'HEAD', '/status/health')).toBeNull();
  });

  it('ignores the query string, one trailing slash, and matches the root', () => {
    expect(idOf(t, 'GET', '/status/health?verbose=1')).toBe('health');
    expect(idOf(t, 'GET', '/status/health/')).toBe('health');
    expect(idOf(t, 'GET', '/status/health#x')).toBe('health');
    expect(idOf(t, 'GET', '/')).toBe('root');
    expect(idOf(t, 'GET', '')).toBe('root');
    expect(idOf(t, 'GET', '/?a=1')).toBe('root');
  });

  it('is case-sensitive and compares literal segments as sent', () => {
    expect(idOf(t, 'GET', '/Status/health')).toBeNull();
    expect(idOf(t, 'GET', '/status/%68ealth')).toBeNull();
  });

  it('percent-decodes parameters, keeping malformed escapes as sent', () => {
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/a%20b/notes/n%2F1/links')?.params).toEqual({ workspaceId: 'a b', noteId: 'n/1' });
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/%E0%A4%A/notes/x/links')?.params.workspaceId).toBe('%E0%A4%A');
  });

  it('never lets a parameter match an empty segment, nor an empty segment match a literal', () => {
    expect(idOf(t, 'GET', '/api/v1/workspaces//notes/n1/links')).toBeNull();
    expect(idOf(t, 'GET', '/status//health')).toBeNull();
  });

  it('does not match what is not an origin-form path', () => {
    expect(matchRoute(t, 'OPTIONS', '*')).toBeNull();
    expect(matchRoute(t, 'GET', 'http://evil/status/health')).toBeNull();
  });
});

describe('specificity', () => {
  it('prefers more literal segments, whatever their position', () => {
    const t = build([
      { id: 'later-literals', match: { path: '/a/:x/c/d' } },
      { id: 'early-literal', match: { path: '/a/b/:y/:z' } },
    ]);
    expect(idOf(t, 'GET', '/a/b/c/d')).toBe('later-literals');
    expect(idOf(t, 'GET', '/a/b/c/e')).toBe('early-literal');
  });

  it('then more parameters, then no wildcard', () => {
    const t = build([
      { id: 'wild', match: { path: '/a/*' } },
      { id: 'param-wild', match: { path: '/a/:x/*' } },
      { id: 'param', match: { path: '/a/:x' } },
      { id: 'exact', match: { path: '/a/b' } },
    ]);
    expect(idOf(t, 'GET', '/a/b')).toBe('exact');
    expect(idOf(t, 'GET', '/a/c')).toBe('param');
    expect(idOf(t, 'GET', '/a/c/d')).toBe('param-wild');
    expect(idOf(t, 'GET', '/a')).toBe('wild');
    expect(idOf(t, 'GET', '/a/b/c')).toBe('param-wild');
  });

  it('then more header and query conditions', () => {
    const t = build([
      { id: 'plain', match: { path: '/notes' } },
      { id: 'beta', match: { path: '/notes', headers: { 'X-Beta': 'on' } } },
      { id: 'beta-v2', match: { path: '/notes', headers: { 'x-beta': 'on' }, query: { v: '2' } } },
      { id: 'literal', match: { path: '/notes/export' } },
      { id: 'param-beta', match: { path: '/notes/:id', headers: { 'x-beta': 'on' } } },
    ]);
    expect(idOf(t, 'GET', '/notes')).toBe('plain');
    expect(idOf(t, 'GET', '/notes', { 'x-beta': 'on' })).toBe('beta');
    expect(idOf(t, 'GET', '/notes', { 'x-beta': 'off' })).toBe('plain');
    expect(idOf(t, 'GET', '/notes', { 'x-beta': 'on' }, { v: '2' })).toBe('beta-v2');
    expect(idOf(t, 'GET', '/notes', { 'x-beta': 'on' }, { v: ['1', '2'] })).toBe('beta-v2');
    expect(idOf(t, 'GET', '/notes', { 'x-beta': 'on' }, { v: '3' })).toBe('beta');
    expect(idOf(t, 'GET', '/notes', { 'X-Beta': 'on' })).toBe('beta');
    expect(idOf(t, 'GET', '/notes', { 'x-beta': 'ON' })).toBe('plain');
    // The path decides before conditions do.
    expect(idOf(t, 'GET', '/notes/export', { 'x-beta': 'on' })).toBe('literal');
    expect(idOf(t, 'GET', '/notes/7', { 'x-beta': 'on' })).toBe('param-beta');
    expect(idOf(t, 'GET', '/notes/7')).toBeNull();
  });

  it('falls back to a less specific route when the more specific one does not take the method', () => {
    const t = build([
      { id: 'any', match: { path: '/notes/*' } },
      { id: 'get-one', match: { methods: ['GET'], path: '/notes/:id' } },
    ]);
    expect(idOf(t, 'GET', '/notes/1')).toBe('get-one');
    expect(idOf(t, 'DELETE', '/notes/1')).toBe('any');
  });
});

// A reference with the definition spelled out: every route is tested against the request, the
// highest specificity wins. The trie must agree with it on random tables and requests.
function reference(routes: readonly Route[], method: string, path: string, headers: Record<string, string>): string | null {
  const segs = path === '/' ? [] : path.slice(1).split('/');
  let best: Route | null = null;
  const key = (r: Route) => [r.specificity.literals, r.specificity.params, r.specificity.wildcard ? 0 : 1, r.specificity.conditions];
  const better = (a: Route, b: Route) => {
    const [ka, kb] = [key(a), key(b)];
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] > kb[i];
    return false;
  };
  for (const r of routes) {
    if (!r.methods.includes(method as never)) continue;
    if (Object.entries(r.headers).some(([k, v]) => headers[k] !== v)) continue;
    const p = parsePathPattern(r.path);
    if (!p.ok) throw new Error(p.message);
    const { segments, wildcard } = p.pattern;
    if (wildcard ? segs.length < segments.length : segs.length !== segments.length) continue;
    if (!segments.every((s, i) => (s.kind === 'literal' ? segs[i] === s.value : segs[i] !== ''))) continue;
    if (!best || better(r, best)) best = r;
  }
  return best?.id ?? null;
}

describe('the trie agrees with the definition', () => {
  // A small deterministic PRNG so failures reproduce.
  function prng(seed: number) {
    return () => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return seed / 2 ** 32;
    };
  }

  it('on 300 random tables of up to 40 routes and 200 requests each', () => {
    const rnd = prng(42);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
    const words = ['a', 'b', 'c'];
    const methods = ['GET', 'POST', 'DELETE'] as const;
    let tables = 0;
    let compared = 0;
    let matched = 0;
    const mismatches: string[] = [];
    for (let n = 0; n < 300; n++) {
      const routes: Array<Partial<RouteDoc> & { id: string; match: RouteDoc['match'] }> = [];
      const count = 1 + Math.floor(rnd() * 40);
      for (let i = 0; i < count; i++) {
        const len = Math.floor(rnd() * 4);
        const segs: string[] = [];
        for (let j = 0; j < len; j++) segs.push(rnd() < 0.4 ? `:p${j}` : pick(words));
        if (rnd() < 0.3) segs.push('*');
        const match: RouteDoc['match'] = { path: `/${segs.join('/')}`, methods: [pick(methods)] };
        if (rnd() < 0.2) match.headers = { 'x-flag': pick(['1', '2']) };
        routes.push({ id: `r${i}`, match });
      }
      // Keep the routes that make a valid table: drop those an ambiguity error names last.
      let result = validateRouteTable({ upstreams: { m: { url: 'http://m' }, s: { url: 'http://s' } }, default: 'm', routes: routes.map((r) => ({ ...r, target: 's', mode: 'service' })) });
      let kept = routes;
      while (!result.ok) {
        const bad = new Set(result.errors.map((e) => Number(/^routes\[(\d+)\]/.exec(e.path)?.[1])));
        if (bad.has(NaN)) throw new Error(formatRouteTableErrors(result.errors));
        kept = kept.filter((_, i) => !bad.has(i));
        result = validateRouteTable({ upstreams: { m: { url: 'http://m' }, s: { url: 'http://s' } }, default: 'm', routes: kept.map((r) => ({ ...r, target: 's', mode: 'service' })) });
      }
      const table = result.table;
      tables++;
      for (let k = 0; k < 200; k++) {
        const len = Math.floor(rnd() * 5);
        const segs: string[] = [];
        for (let j = 0; j < len; j++) segs.push(pick([...words, 'd']));
        const path = `/${segs.join('/')}`;
        const method = pick(methods);
        const headers: Record<string, string> = rnd() < 0.5 ? { 'x-flag': pick(['1', '2', '3']) } : {};
        const want = reference(table.routes, method, path, headers);
        const got = idOf(table, method, path, headers);
        if (got !== want) mismatches.push(`table ${n}: ${method} ${path} ${JSON.stringify(headers)}: trie ${got}, reference ${want}`);
        compared++;
        if (want) matched++;
      }
    }
    expect(mismatches).toEqual([]);
    expect(tables).toBe(300);
    expect(compared).toBe(60_000);
    expect(matched).toBeGreaterThan(10_000); // the random requests do hit routes
  });
});

describe('a table of 200 routes', () => {
  it('compiles, and every route answers for a request made from its own pattern', () => {
    const routes = [];
    for (let i = 0; i < 100; i++) {
      routes.push({ id: `list-${i}`, match: { methods: ['GET', 'HEAD'] as const, path: `/api/v1/workspaces/:workspaceId/context${i}/*` } });
      routes.push({ id: `item-${i}`, match: { methods: ['GET'] as const, path: `/api/v1/workspaces/:workspaceId/context${i}/items/:itemId` } });
    }
    const t = build(routes.map((r) => ({ ...r, match: { ...r.match, methods: [...r.match.methods] } })));
    expect(t.routes).toHaveLength(200);
    for (let i = 0; i < 100; i++) {
      expect(idOf(t, 'GET', `/api/v1/workspaces/w${i}/context${i}/items/x`)).toBe(`item-${i}`);
      expect(idOf(t, 'HEAD', `/api/v1/workspaces/w${i}/context${i}/items/x`)).toBe(`list-${i}`);
      expect(idOf(t, 'GET', `/api/v1/workspaces/w${i}/context${i}`)).toBe(`list-${i}`);
    }
    expect(idOf(t, 'GET', '/api/v1/workspaces/w/context200/items/x')).toBeNull();
  });
});

describe('methods outside the table', () => {
  it('send TRACE, CONNECT and unknown methods to the default, even on a route for every method', () => {
    const t = build([{ id: 'all', match: { path: '/*' } }]);
    expect(idOf(t, 'DELETE', '/x')).toBe('all');
    for (const method of ['TRACE', 'CONNECT', 'PROPFIND']) expect(idOf(t, method, '/x')).toBeNull();
  });
});
