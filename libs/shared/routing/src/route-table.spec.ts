import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatRouteTableErrors, matchRoute, parseRouteTable, validateRouteTable, type RouteTable, type RouteTableError, type RouteTableResult } from './index';

const UPSTREAMS = `upstreams:
  monolith: { url: http://127.0.0.1:3000 }
  insights: { url: http://127.0.0.1:3101, health: /healthz, timeoutMs: 5000 }
  roadmaps: { url: http://127.0.0.1:3102 }
default: monolith
`;

/** The documented example route table, with the ignore path quoted as YAML needs inside a [ ] list. */
const EXAMPLE = `${UPSTREAMS}routes:
  - id: notes-read
    match: { methods: [GET, HEAD], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: canary                  # monolith | shadow | canary | service
    percent: 30                   # canary only
    stickyBy: tenant              # tenant | user | header:<name> | none
    allow: [ws-always]
    deny: [ws-never]
    fallback: true
    compare: { sample: 1.0, ignore: ['$.items[*].updatedAt'] }
    guard: { maxErrorRate: 0.05, window: 30s, minRequests: 50 }
`;

function ok(result: RouteTableResult): RouteTable {
  if (!result.ok) throw new Error(`expected a valid table:\n${formatRouteTableErrors(result.errors)}`);
  return result.table;
}

function errorsOf(result: RouteTableResult): RouteTableError[] {
  if (result.ok) throw new Error('expected errors, got a valid table');
  return [...result.errors];
}

/** A table of routes written as YAML list items (each a flow mapping). */
const table = (...routes: string[]) => `${UPSTREAMS}routes:\n${routes.map((r) => `  - ${r}\n`).join('')}`;

describe('parseRouteTable', () => {
  it('compiles the documented example with defaults applied', () => {
    const t = ok(parseRouteTable(EXAMPLE));
    expect(t.default).toBe('monolith');
    expect(t.upstreams.insights).toEqual({ name: 'insights', url: 'http://127.0.0.1:3101', health: '/healthz', timeoutMs: 5000 });
    expect(t.routes).toHaveLength(1);
    const r = t.routes[0];
    expect(r).toMatchObject({
      id: 'notes-read',
      methods: ['GET', 'HEAD'],
      path: '/api/v1/workspaces/:workspaceId/notes/*',
      target: 'insights',
      monolith: 'monolith',
      mode: 'canary',
      percent: 30,
      stickyBy: { kind: 'tenant' },
      cohort: 'insights',
      allow: ['ws-always'],
      deny: ['ws-never'],
      fallback: true,
      compare: { sample: 1, ignore: ['$.items[*].updatedAt'], sortArraysBy: {}, maxDifferences: 20 },
      guard: { maxErrorRate: 0.05, window: '30s', windowMs: 30_000, minRequests: 50 },
      specificity: { literals: 4, params: 1, wildcard: true, conditions: 0 },
      overridden: false,
    });
  });

  it('returns a deeply frozen table', () => {
    const t = ok(parseRouteTable(EXAMPLE));
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.routes)).toBe(true);
    expect(Object.isFrozen(t.routes[0])).toBe(true);
    expect(Object.isFrozen(t.routes[0].compare.ignore)).toBe(true);
    expect(Object.isFrozen(t.upstreams.insights)).toBe(true);
    expect(Object.isFrozen(t.doc.routes![0].match)).toBe(true);
    expect(() => {
      (t.routes[0] as { percent: number }).percent = 100;
    }).toThrow(TypeError);
  });

  it('applies the documented defaults to a minimal route', () => {
    const t = ok(parseRouteTable(table('{ id: r, match: { path: /x }, target: insights, mode: shadow }')));
    expect(t.routes[0]).toMatchObject({
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      percent: 0,
      stickyBy: { kind: 'tenant' },
      fallback: true,
      allow: [],
      deny: [],
      compare: { sample: 1, ignore: [], maxDifferences: 20 },
    });
    expect(t.routes[0].guard).toBeUndefined();
  });

  it('reports the percent a mode means: 100 for service, 0 for monolith and shadow', () => {
    const t = ok(
      parseRouteTable(
        table(
          '{ id: a, match: { path: /a }, target: insights, mode: service }',
          '{ id: b, match: { path: /b }, target: insights, mode: monolith }',
          '{ id: c, match: { path: /c }, target: insights, mode: shadow }',
        ),
      ),
    );
    expect(t.routes.map((r) => r.percent)).toEqual([100, 0, 0]);
  });

  it('parses stickyBy header:<name> with the name lower-cased, and header conditions likewise', () => {
    const t = ok(
      parseRouteTable(table("{ id: r, match: { path: /x, headers: { X-Beta: 'on' } }, target: insights, mode: canary, percent: 5, stickyBy: 'header:X-Session' }")),
    );
    expect(t.routes[0].stickyBy).toEqual({ kind: 'header', name: 'x-session' });
    expect(t.routes[0].headers).toEqual({ 'x-beta': 'on' });
  });

  it('accepts a table without routes: everything goes to the default', () => {
    expect(ok(parseRouteTable(UPSTREAMS)).routes).toEqual([]);
  });

  it('accepts JSON, which is YAML', () => {
    const t = ok(parseRouteTable(JSON.stringify({ upstreams: { m: { url: 'http://m' }, s: { url: 'https://s' } }, default: 'm' })));
    expect(t.default).toBe('m');
  });

  it('names the line of a YAML syntax error, and explains unquoted JSONPath in a [ ] list', () => {
    const [e, ...rest] = errorsOf(parseRouteTable(EXAMPLE.replace("ignore: ['$.items[*].updatedAt']", 'ignore: [$.items[*].updatedAt]')));
    expect(rest).toEqual([]);
    expect(e.line).toBe(16);
    expect(e.message).toMatch(/^YAML: /);
    expect(e.message).toContain("quote JSONPath expressions inside [ ] lists, e.g. ignore: ['$.items[*].updatedAt']");
  });

  it('accepts JSONPath unquoted in a block list', () => {
    const yaml = [
      'routes:',
      '  - id: r',
      '    match: { path: /x }',
      '    target: insights',
      '    mode: shadow',
      '    compare:',
      '      ignore:',
      '        - $.items[*].updatedAt',
      '        - $..etag',
    ].join('\n');
    const t = ok(parseRouteTable(`${UPSTREAMS}${yaml}\n`));
    expect(t.routes[0].compare.ignore).toEqual(['$.items[*].updatedAt', '$..etag']);
  });

  it('rejects duplicate keys', () => {
    const [e] = errorsOf(parseRouteTable(`${UPSTREAMS}default: insights\n`));
    expect(e.message).toMatch(/YAML: Map keys must be unique/);
    expect(e.line).toBe(6);
  });

  it('rejects an empty file and a file that is not a mapping', () => {
    expect(errorsOf(parseRouteTable(''))).toEqual([{ path: '', message: 'must be a mapping, got null' }]);
    expect(errorsOf(parseRouteTable('- a\n'))[0].message).toBe('must be a mapping, got a list');
  });
});

describe('validation errors (path, message, line)', () => {
  const only = (result: RouteTableResult) => errorsOf(result).map(({ path, message }) => `${path}: ${message}`);

  it('an unknown target upstream, with a suggestion', () => {
    const errors = errorsOf(parseRouteTable(table('{ id: r, match: { path: /x }, target: insigths, mode: service }')));
    expect(errors).toEqual([
      {
        path: 'routes[0].target',
        message: 'names no upstream: "insigths" (did you mean "insights"?); upstreams: monolith, insights, roadmaps',
        line: 7,
        column: 43,
      },
    ]);
  });

  it('an unknown default upstream', () => {
    expect(only(validateRouteTable({ upstreams: { m: { url: 'http://m' } }, default: 'monolith' }))).toEqual([
      'default: names no upstream: "monolith"; upstreams: m',
    ]);
  });

  it('a target that is the default upstream', () => {
    expect(only(parseRouteTable(table('{ id: r, match: { path: /x }, target: monolith, mode: service }')))).toEqual([
      'routes[0].target: must be a service upstream, not the default upstream "monolith"; to keep this path on the monolith, use mode: monolith',
    ]);
  });

  it('percent on a non-canary route, and a canary without percent', () => {
    expect(
      only(
        parseRouteTable(
          table(
            '{ id: a, match: { path: /a }, target: insights, mode: shadow, percent: 10 }',
            '{ id: b, match: { path: /b }, target: insights, mode: canary }',
          ),
        ),
      ),
    ).toEqual(['routes[0].percent: is only for canary routes; this route\'s mode is shadow', 'routes[1].percent: is required for a canary route (0 to 100)']);
  });

  it('percent out of 0..100', () => {
    for (const percent of [-1, 100.5, 130]) {
      expect(only(parseRouteTable(table(`{ id: a, match: { path: /a }, target: insights, mode: canary, percent: ${percent} }`)))).toEqual([
        `routes[0].percent: must be between 0 and 100, got number ${percent}`,
      ]);
    }
    for (const percent of [0, 0.01, 100]) {
      expect(parseRouteTable(table(`{ id: a, match: { path: /a }, target: insights, mode: canary, percent: ${percent} }`)).ok).toBe(true);
    }
  });

  it('duplicate ids', () => {
    expect(
      only(
        parseRouteTable(
          table('{ id: notes, match: { path: /a }, target: insights, mode: service }', '{ id: notes, match: { path: /b }, target: insights, mode: service }'),
        ),
      ),
    ).toEqual(['routes[1].id: duplicate route id "notes" (first used by routes[0])']);
  });

  it.each([
    ['api/notes', 'must start with "/", got string "api/notes"'],
    ['/api//notes', 'empty segment ("//") in "/api//notes"'],
    ['/api/*/notes', '"*" is only allowed as the last segment (segment 2 of "/api/*/notes")'],
    ['/api/notes*', 'a wildcard must be a whole segment "*", got "notes*" (segment 2 of "/api/notes*")'],
    ['/api/:', 'parameter ":" must be ":" followed by a name of letters, digits and "_" (segment 2 of "/api/:")'],
    ['/api/:no-dash', 'parameter ":no-dash" must be ":" followed by a name of letters, digits and "_" (segment 2 of "/api/:no-dash")'],
    ['/a/:id/b/:id', 'parameter ":id" appears twice in "/a/:id/b/:id"'],
    ['/a/../b', 'dot segment ".." in "/a/../b"'],
    ['/a?b=1', 'path pattern must not contain "?" or "#": match query parameters with match.query'],
    ['/a b', 'path pattern "/a b" has characters a URL path cannot carry unescaped'],
  ])('a malformed path pattern: %s', (path, message) => {
    const errors = only(validateRouteTable({ upstreams: { m: { url: 'http://m' }, s: { url: 'http://s' } }, default: 'm', routes: [{ id: 'r', match: { path }, target: 's', mode: 'service' }] }));
    expect(errors).toContain(`routes[0].match.path: ${message}`);
  });

  it('an unknown property, with a suggestion, and the other shape errors of the file at once', () => {
    expect(
      only(parseRouteTable(table('{ id: a, match: { path: /a }, target: insights, mode: canary, precent: 30, stickyBy: cookie, guard: { maxErrorRate: 2, window: 30 } }'))),
    ).toEqual([
      'routes[0].precent: is not a known property (did you mean "percent"?); known here: id, description, match, target, mode, percent, stickyBy, cohort, allow, deny, fallback, compare, bodyLimitBytes, limits, websocket, guard',
      'routes[0].stickyBy: must be tenant, user, none or header:<name>, got string "cookie"',
      'routes[0].guard.maxErrorRate: must be between 0 and 1, got number 2',
      'routes[0].guard.window: must be a string, got number 30',
    ]);
  });

  it('enums, types, names and URLs', () => {
    expect(
      only(
        validateRouteTable({
          upstreams: { 'bad name': { url: 'http://x' }, s: { url: 'ftp://s' }, m: { url: 'http://m' } },
          default: 'm',
          routes: [{ id: 'r', match: { methods: ['GET', 'FETCH'], path: '/x' }, target: 's', mode: 'dark', allow: ['a', 'a'], fallback: 'yes', guard: { maxErrorRate: 0.1, window: '30 seconds' } }],
        }),
      ),
    ).toEqual([
      'upstreams["bad name"]: name "bad name" must start with a letter or digit and use only letters, digits, ".", "_" and "-"',
      'upstreams.s.url: must be an http:// or https:// URL, got string "ftp://s"',
      'routes[0].match.methods[1]: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got string "FETCH"',
      'routes[0].mode: must be one of monolith, shadow, canary, service, got string "dark"',
      'routes[0].allow: lists "a" twice',
      'routes[0].fallback: must be a boolean, got string "yes"',
      'routes[0].guard.window: must be a duration like 500ms, 30s, 5m or 1h, got string "30 seconds"',
    ]);
  });

  it('missing required fields', () => {
    expect(only(validateRouteTable({ upstreams: {}, routes: [{ id: 'r', match: {}, mode: 'service' }] }))).toEqual([
      'default: is required',
      'upstreams: must name at least one upstream',
      'routes[0].target: is required',
      'routes[0].match.path: is required',
    ]);
  });

  it('an id both allowed and denied', () => {
    expect(only(parseRouteTable(table('{ id: a, match: { path: /a }, target: insights, mode: canary, percent: 5, allow: [t1, t2], deny: [t2] }')))).toEqual([
      'routes[0].deny: "t2" also in allow: an id is either always or never on the service',
    ]);
  });

  it('malformed compare paths', () => {
    expect(
      only(parseRouteTable(table(`{ id: a, match: { path: /a }, target: insights, mode: shadow, compare: { ignore: ['$.items[', 'items'], sortArraysBy: { '$.a..': id } } }`))),
    ).toEqual([
      'routes[0].compare.ignore[0]: expected an index, "*" or a quoted key after "[" at position 8 in "$.items["',
      'routes[0].compare.ignore[1]: a path must start with "$" in "items"',
      'routes[0].compare.sortArraysBy["$.a.."]: expected a key name at position 6 in "$.a.."',
    ]);
  });

  it('does not modify its input', () => {
    const input = { upstreams: { m: { url: 'http://m' }, s: { url: 'http://s' } }, default: 'm', routes: [{ id: 'r', match: { path: '/x' }, target: 's', mode: 'service' }] };
    const copy = structuredClone(input);
    const t = ok(validateRouteTable(input));
    expect(input).toEqual(copy);
    expect(Object.isFrozen(input)).toBe(false);
    expect(t.doc).toEqual(copy);
  });

  it('formats errors one per line with their position', () => {
    const result = parseRouteTable(table('{ id: r, match: { path: /x }, target: nowhere, mode: service }'));
    expect(formatRouteTableErrors(errorsOf(result))).toBe(
      'routes[0].target (line 7, column 43): names no upstream: "nowhere"; upstreams: monolith, insights, roadmaps',
    );
  });
});

describe('ambiguous overlaps', () => {
  const routes = (...specs: string[]) => parseRouteTable(table(...specs.map((s, i) => `{ id: r${i}, target: insights, mode: service, match: ${s} }`)));

  it('rejects two routes of equal specificity that one request can match, naming both', () => {
    const [e, ...rest] = errorsOf(routes('{ path: /a/:x/c }', '{ path: /a/b/:y }'));
    expect(rest).toEqual([]);
    expect(e.path).toBe('routes[1].match');
    expect(e.message).toBe(
      'ambiguous overlap: routes "r0" (routes[0]) and "r1" (routes[1]) both match any method /a/b/c with equal specificity ' +
        '(2 literal segments, 1 parameter, no wildcard, 0 conditions); make one more specific (a literal segment, a header or query condition) or split their methods',
    );
  });

  it('rejects the same pattern twice, whatever the parameter names', () => {
    expect(errorsOf(routes('{ path: /w/:id/notes }', '{ methods: [GET], path: /w/:workspaceId/notes }'))[0].message).toMatch(
      /^ambiguous overlap: routes "r0" \(routes\[0\]\) and "r1" \(routes\[1\]\) both match GET \/w\/:id\/notes /,
    );
  });

  it('rejects wildcards of equal specificity that overlap', () => {
    expect(errorsOf(routes('{ path: /a/:x/* }', '{ path: /:y/b/* }'))[0].message).toContain('both match any method /a/b/*');
  });

  it('rejects conditions on different headers that can both hold', () => {
    const [e] = errorsOf(routes("{ path: /a, headers: { x-beta: '1' } }", "{ path: /a, query: { preview: 'true' } }"));
    expect(e.message).toContain('both match any method /a (x-beta: 1, ?preview=true)');
  });

  it.each([
    ['methods that do not overlap', '{ methods: [GET, HEAD], path: /a/:x }', '{ methods: [POST], path: /a/:y }'],
    ['different header values', "{ path: /a, headers: { x-beta: '1' } }", "{ path: /a, headers: { x-beta: '2' } }"],
    ['different literals', '{ path: /a/:x/c }', '{ path: /a/:y/d }'],
    ['different lengths', '{ path: /a/:x }', '{ path: /a/:x/:y }'],
    ['more literals', '{ path: /a/:x/c }', '{ path: /a/b/c }'],
    ['params over a wildcard', '{ path: /a/* }', '{ path: /a/:x }'],
    ['no wildcard over a wildcard', '{ path: /a/:x/* }', '{ path: /a/:x }'],
    ['more conditions', '{ path: /a }', "{ path: /a, headers: { x-beta: '1' } }"],
  ])('accepts %s', (_, a, b) => {
    expect(routes(a, b).ok).toBe(true);
  });

  it('reports every ambiguous pair', () => {
    const errors = errorsOf(routes('{ path: /a/:x }', '{ path: /:y/b }', '{ path: /:z/:w/c }', '{ path: /:p/:q/:r }'));
    expect(errors.map((e) => e.message.slice(0, 70))).toEqual(['ambiguous overlap: routes "r0" (routes[0]) and "r1" (routes[1]) both m']);
  });
});

describe('warnings', () => {
  it('warns when a canary takes writes, and when a shadow route takes no reads', () => {
    const result = parseRouteTable(
      table(
        '{ id: c, match: { methods: [GET, POST], path: /c }, target: insights, mode: canary, percent: 10 }',
        '{ id: s, match: { methods: [POST], path: /s }, target: insights, mode: shadow }',
        '{ id: fine, match: { methods: [GET], path: /f }, target: insights, mode: canary, percent: 10 }',
      ),
    );
    if (!result.ok) throw new Error(formatRouteTableErrors(result.errors));
    expect(result.warnings.map((w) => `${w.path} (line ${w.line}): ${w.message}`)).toEqual([
      'routes[0].match.methods (line 7)' +
        ': canary route "c" sends POST of some tenants to the service while the monolith is the source of truth; canary only reads until writes are switched',
      'routes[1].match.methods (line 8): shadow route "s" takes no GET or HEAD: nothing will be shadowed (writes never are)',
    ]);
  });
});

describe('the README example', () => {
  it('loads without errors or warnings, and behaves as the README says', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)![1];
    const result = parseRouteTable(yaml);
    if (!result.ok) throw new Error(formatRouteTableErrors(result.errors));
    expect(result.warnings).toEqual([]);
    const t = result.table;
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/w1/notes')?.route.id).toBe('notes-read');
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/w1/notes/n1', { 'x-beta': 'on' })?.route.id).toBe('notes-beta');
    expect(matchRoute(t, 'POST', '/api/v1/workspaces/w1/notes')?.route.id).toBe('notes-write');
    expect(matchRoute(t, 'GET', '/api/v1/workspaces/w1/features')).toBeNull();
  });
});

describe('body limits, tenant limits and WebSocket pass-through', () => {
  it('gives a route the smaller of its two upstreams\' body limits unless it says less', () => {
    const t = ok(
      parseRouteTable(`upstreams:
  monolith: { url: http://127.0.0.1:3000, bodyLimitBytes: 1048576 }
  insights: { url: http://127.0.0.1:3101 }
default: monolith
routes:
  - { id: a, match: { path: /a }, target: insights, mode: service }
  - { id: b, match: { path: /b }, target: insights, mode: service, bodyLimitBytes: 4096, limits: { ratePerSecond: 5, concurrency: 2 }, websocket: true }
`),
    );
    expect(t.routes.map((r) => [r.id, r.bodyLimitBytes, r.limits ?? null, r.websocket])).toEqual([
      ['a', 262144, null, false],
      ['b', 4096, { ratePerSecond: 5, concurrency: 2 }, true],
    ]);
  });

  it('refuses a route body limit above what an upstream it reaches accepts', () => {
    const errors = errorsOf(parseRouteTable(table('{ id: big, match: { path: /big }, target: insights, mode: service, bodyLimitBytes: 1048576 }')));
    expect(errors).toEqual([
      expect.objectContaining({ path: 'routes[0].bodyLimitBytes', message: expect.stringContaining('more than upstream "insights" accepts (262144)') }),
    ]);
  });

  it('refuses a rate of 0 and an unknown limit', () => {
    const errors = errorsOf(parseRouteTable(table('{ id: r, match: { path: /r }, target: insights, mode: service, limits: { ratePerSecond: 0, rps: 3 } }')));
    expect(errors.map((e) => e.path).sort()).toEqual(['routes[0].limits.ratePerSecond', 'routes[0].limits.rps']);
  });
});
