import { canonicalPath, canonicalTarget, matchRoute, validateRouteTable, formatRouteTableErrors, type PathRefusal, type RouteTable } from './index';

const ok = (raw: string) => {
  const c = canonicalPath(raw);
  if (!c.ok) throw new Error(`${raw} was refused: ${c.refusal}`);
  return c.path;
};
const refusal = (raw: string): PathRefusal | null => {
  const c = canonicalPath(raw);
  return c.ok ? null : c.refusal;
};

describe('canonicalPath', () => {
  it('leaves a canonical path alone (the same string)', () => {
    const p = '/api/v1/workspaces/ws-1/notes/n_1.json~';
    expect(canonicalPath(p)).toEqual({ ok: true, path: p });
    expect(ok('/')).toBe('/');
  });

  it.each([
    ['/api/v1/workspaces/w1/%6eotes', '/api/v1/workspaces/w1/notes'],
    ['/%61pi/v1/workspaces/w1/notes', '/api/v1/workspaces/w1/notes'],
    ['/%61dmin/routes', '/admin/routes'],
    ['/%6detrics', '/metrics'],
    ['/%41%5A%61%7A%30%39%2D%2E%5F%7E', '/AZaz09-._~'],
    ['/%6E%6F%74%65%73', '/notes'],
    ['/a%2eb', '/a.b'],
  ])('decodes unreserved characters: %s is %s', (raw, canonical) => {
    expect(ok(raw)).toBe(canonical);
  });

  it.each([
    ['/a%3fb', '/a%3Fb'],
    ['/a%3Fb', '/a%3Fb'],
    ['/a%20b', '/a%20b'],
    ['/%c3%a9t%C3%a9', '/%C3%A9t%C3%A9'],
    ['/w/%e2%82%ac', '/w/%E2%82%AC'],
    ['/a%25b', '/a%25b'],
    ['/a%252fb', '/a%252fb'], // %25, then the text "2fb"
  ])('keeps every other encoding, with upper-case hex: %s is %s', (raw, canonical) => {
    expect(ok(raw)).toBe(canonical);
  });

  it('decodes exactly the unreserved characters: their neighbours in ASCII stay encoded', () => {
    // Each edge of ALPHA, DIGIT and the four marks, from both sides.
    for (const [hex, ch] of [['41', 'A'], ['5A', 'Z'], ['61', 'a'], ['7A', 'z'], ['30', '0'], ['39', '9'], ['2D', '-'], ['5F', '_'], ['7E', '~']]) {
      expect(ok(`/x%${hex}y`)).toBe(`/x${ch}y`);
    }
    for (const hex of ['40', '5B', '60', '7B', '2F', '3A', '2C', '2E', '5E', '7D', '7F', '2B', '3B']) {
      const c = canonicalPath(`/x%${hex.toLowerCase()}y`);
      if (hex === '2F') expect(c).toMatchObject({ ok: false, refusal: 'encoded-slash' });
      else if (hex === '2E') expect(c).toEqual({ ok: true, path: '/x.y' });
      else expect(c).toEqual({ ok: true, path: `/x%${hex}y` });
    }
  });

  it('reads exactly 0-9, A-F and a-f as hex digits, in either place', () => {
    for (const d of ['0', '9', 'A', 'F', 'a', 'f']) {
      // As the first digit (%91 alone is no UTF-8: refused for that, not for its digits) ...
      expect([d, refusal(`/x%${d}1`)]).not.toEqual([d, 'bad-percent-encoding']);
      // ... and as the second: %40 @, %49 I, %4A J, %4F O.
      expect(ok(`/x%4${d}`)).toBe(`/x${d === '0' ? '%40' : String.fromCharCode(0x40 + parseInt(d, 16))}`);
    }
    for (const d of ['/', ':', '@', 'G', '`', 'g']) {
      expect([d, refusal(`/x%${d}1`)]).toEqual([d, 'bad-percent-encoding']);
      expect([d, refusal(`/x%1${d}`)]).toEqual([d, 'bad-percent-encoding']);
    }
  });

  it('keeps valid UTF-8 sequences and refuses bytes that are not UTF-8', () => {
    expect(refusal('/%80')).toBe('bad-utf8'); // the lowest byte that is not ASCII, alone
    expect(ok('/%C2%80')).toBe('/%C2%80');
    expect(ok('/%7f')).toBe('/%7F');
    expect(decodeURIComponent(ok('/%f0%9f%98%80'))).toBe('/😀');
    expect(refusal('/%C3')).toBe('bad-utf8');
    expect(refusal('/%ff%fe')).toBe('bad-utf8');
  });

  it.each<[string, PathRefusal]>([
    ['/api/v1/workspaces/w1%2Fnotes', 'encoded-slash'],
    ['/api/v1/workspaces/w1%2fnotes', 'encoded-slash'],
    ['/api%5Cv1', 'backslash'],
    ['/api%5cv1', 'backslash'],
    ['/api\\v1', 'backslash'],
    ['/api%00/v1', 'nul'],
    ['/api\u0000/v1', 'nul'],
    ['/api#x', 'fragment'],
    ['/a%', 'bad-percent-encoding'],
    ['/a%4', 'bad-percent-encoding'],
    ['/a%G1', 'bad-percent-encoding'],
    ['/a%%41', 'bad-percent-encoding'],
    ['/./api', 'dot-segment'],
    ['/api/./v1', 'dot-segment'],
    ['/api/../admin', 'dot-segment'],
    ['/api/..', 'dot-segment'],
    ['/api/.', 'dot-segment'],
    ['/api/./', 'dot-segment'],
    ['/api/%2e%2e/admin', 'dot-segment'],
    ['/api/%2E%2E/admin', 'dot-segment'],
    ['/api/.%2e/admin', 'dot-segment'],
    ['/api/%2e/admin', 'dot-segment'],
    ['//api/v1', 'empty-segment'],
    ['/api//v1', 'empty-segment'],
    ['/api/v1//', 'empty-segment'],
    ['//', 'empty-segment'],
    ['api/v1', 'not-a-path'],
    ['*', 'not-a-path'],
    ['http://x/api', 'not-a-path'],
  ])('refuses %j (%s)', (raw, why) => {
    expect(refusal(raw)).toBe(why);
  });

  it.each<[string, PathRefusal, string]>([
    ['api', 'not-a-path', 'The request path must start with "/".'],
    ['/a\\b', 'backslash', 'The request path contains a backslash.'],
    ['/a%5Cb', 'backslash', 'The request path contains an encoded backslash (%5C).'],
    ['/a\u0000b', 'nul', 'The request path contains a NUL character.'],
    ['/a%00b', 'nul', 'The request path contains an encoded NUL (%00).'],
    ['/a#b', 'fragment', 'The request path contains a "#".'],
    ['/a%G1', 'bad-percent-encoding', 'The request path has a "%" not followed by two hex digits.'],
    ['/a%2Fb', 'encoded-slash', 'The request path contains an encoded "/" (%2F).'],
    ['/%C3', 'bad-utf8', 'The request path has percent-encoded bytes that are not UTF-8.'],
    ['/a/../b', 'dot-segment', 'The request path has a "." or ".." segment.'],
    ['/a//b', 'empty-segment', 'The request path has an empty segment ("//").'],
  ])('says why it refuses %j, in words a client can act on', (raw, why, detail) => {
    expect(canonicalPath(raw)).toEqual({ ok: false, refusal: why, detail });
  });

  it('keeps dots that are not a whole segment', () => {
    expect(ok('/a/.b/..c/d..')).toBe('/a/.b/..c/d..');
    expect(ok('/a/%2e%2e%2e')).toBe('/a/...');
  });

  it('drops one trailing slash', () => {
    expect(ok('/api/v1/workspaces/w1/notes/')).toBe('/api/v1/workspaces/w1/notes');
    expect(ok('/%61pi/')).toBe('/api');
  });

  it('normalizes mixed-case hex and decodes in one pass (no double decoding)', () => {
    expect(ok('/%4e%4F%74%45s')).toBe('/NOtEs');
    expect(ok('/%2541')).toBe('/%2541');
    expect(ok(ok('/%2541'))).toBe('/%2541');
  });

  it('agrees with itself on random paths: what it accepts is canonical (returned unchanged) and contains no refused form', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pieces = ['/', 'a', 'Z', '9', '.', '-', '_', '~', '%', '2e', '2E', '2f', '41', '6e', 'c3', 'a9', '25', '5c', '00', '#', '\\', '?', ' '];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let p = '/';
      const len = 1 + Math.floor(rnd() * 12);
      for (let j = 0; j < len; j++) p += pieces[Math.floor(rnd() * pieces.length)];
      const c = canonicalPath(p.split('?')[0]);
      if (!c.ok) continue;
      accepted += 1;
      expect(canonicalPath(c.path)).toEqual({ ok: true, path: c.path });
      expect(c.path).not.toMatch(/\/\/|\/\.\.?(\/|$)|%2F|%5C|%00|[\\#]|%[0-9A-F]?[a-f]/);
      expect(c.path === '/' || !c.path.endsWith('/')).toBe(true);
    }
    expect(accepted).toBeGreaterThan(1000);
  });

  it('is idempotent on what it accepts', () => {
    for (const raw of ['/%61pi/v1/%c3%a9/', '/a%3fb/%7e', '/api/v1/workspaces/w1/notes']) expect(ok(ok(raw))).toBe(ok(raw));
  });
});

describe('canonicalTarget', () => {
  it('makes the path canonical and keeps the query string as sent', () => {
    expect(canonicalTarget('/%61pi/v1/x/?sort=%61&a=/../b')).toEqual({ ok: true, path: '/api/v1/x', url: '/api/v1/x?sort=%61&a=/../b' });
    const same = '/api/v1?x=1';
    expect(canonicalTarget(same)).toEqual({ ok: true, path: '/api/v1', url: same });
    expect(canonicalTarget('/api/%2e%2e/admin?x')).toMatchObject({ ok: false, refusal: 'dot-segment' });
  });

  it('takes a target without a query string whole', () => {
    expect(canonicalTarget('/%61pi/v1/x')).toEqual({ ok: true, path: '/api/v1/x', url: '/api/v1/x' });
    expect(canonicalTarget('/api/v1/x/')).toEqual({ ok: true, path: '/api/v1/x', url: '/api/v1/x' });
    expect(canonicalTarget('/api/v1/x')).toEqual({ ok: true, path: '/api/v1/x', url: '/api/v1/x' });
  });
});

describe('route matching on the canonical path', () => {
  const table = (): RouteTable => {
    const r = validateRouteTable({
      upstreams: { monolith: { url: 'http://m' }, svc: { url: 'http://s' } },
      default: 'monolith',
      routes: [{ id: 'notes-write', target: 'svc', mode: 'service', match: { methods: ['POST'], path: '/api/v1/workspaces/:workspaceId/notes/*' } }],
    });
    if (!r.ok) throw new Error(formatRouteTableErrors(r.errors));
    return r.table;
  };

  it('matches encoded variants of a route once they are canonical', () => {
    const t = table();
    for (const raw of ['/api/v1/workspaces/w1/%6eotes', '/%61pi/v1/workspaces/w1/notes', '/api/v1/workspaces/w1/NOTES'.replace('NOTES', '%6e%6f%74%65%73')]) {
      expect(matchRoute(t, 'POST', raw)).toBeNull(); // the raw path does not match ...
      expect(matchRoute(t, 'POST', ok(raw))?.route.id).toBe('notes-write'); // ... its canonical form does
    }
  });
});
