import { readFileSync, writeFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { ROUTE_TABLE_SCHEMA_FILE } from './index';
import { routeTableSchema, type GuardDoc, type HttpMethod, type RouteDoc, type RouteMode, type RouteTableDoc } from './route-table.schema';

const rendered = `${JSON.stringify(routeTableSchema, null, 2)}\n`;

describe('the published JSON Schema', () => {
  it('is route-table.schema.json, kept in sync with the source (UPDATE_ROUTE_SCHEMA=1 rewrites it)', () => {
    if (process.env.UPDATE_ROUTE_SCHEMA === '1') writeFileSync(ROUTE_TABLE_SCHEMA_FILE, rendered);
    expect(readFileSync(ROUTE_TABLE_SCHEMA_FILE, 'utf8')).toBe(rendered);
  });

  it('is a strict draft 2020-12 schema that closes every object and enumerates modes and methods', () => {
    const file = JSON.parse(readFileSync(ROUTE_TABLE_SCHEMA_FILE, 'utf8'));
    const ajv = new Ajv2020({ strict: true });
    addFormats(ajv, ['uri']);
    expect(() => ajv.compile(file)).not.toThrow();
    expect(file.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    // Every object with declared properties rejects the ones it does not declare.
    const open: string[] = [];
    const visit = (node: unknown, at: string) => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n.properties && n.additionalProperties !== false) open.push(at);
      for (const [k, v] of Object.entries(n)) visit(v, `${at}/${k}`);
    };
    visit(file, '#');
    expect(open).toEqual([]);
    expect(file.$defs.mode.enum).toEqual(['monolith', 'shadow', 'canary', 'service']);
    expect(file.$defs.method.enum).toContain('GET');
  });

  it('accepts the example of the README and rejects a typo', () => {
    const ajv = new Ajv2020({ strict: true });
    addFormats(ajv, ['uri']);
    const validate = ajv.compile(routeTableSchema);
    const good: RouteTableDoc = {
      upstreams: { monolith: { url: 'http://127.0.0.1:3000' }, insights: { url: 'http://127.0.0.1:3101', health: '/healthz', timeoutMs: 5000 } },
      default: 'monolith',
      routes: [{ id: 'notes-read', match: { methods: ['GET'], path: '/api/notes/*' }, target: 'insights', mode: 'canary', percent: 30 }],
    };
    expect(validate(good)).toBe(true);
    expect(validate({ ...good, routes: [{ ...good.routes![0], precent: 30 }] })).toBe(false);
  });
});

// Compile-time checks: the derived types follow the schema (tsc fails on a wrong expectation).
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typeChecks: [
  Equal<RouteMode, 'monolith' | 'shadow' | 'canary' | 'service'>,
  Equal<HttpMethod, 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS'>,
  Equal<RouteDoc['id'], string>,
  Equal<RouteDoc["percent"], number | undefined>,
  Equal<RouteDoc['match']['methods'], HttpMethod[] | undefined>,
  Equal<RouteDoc['match']['headers'], Record<string, string> | undefined>,
  Equal<GuardDoc['maxErrorRate'], number>,
  Equal<GuardDoc['window'], string | undefined>,
  Equal<RouteTableDoc['upstreams'][string]['timeoutMs'], number | undefined>,
] = [true, true, true, true, true, true, true, true, true];
void typeChecks;
// @ts-expect-error mode is an enum
const badMode: RouteDoc['mode'] = 'dark';
void badMode;
