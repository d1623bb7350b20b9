import type { FromSchema } from './from-schema';

/**
 * The route table's JSON Schema (draft 2020-12), the one source of the file's shape.
 *
 * `libs/shared/routing/route-table.schema.json` is this object written out (a test fails when
 * the two differ; `UPDATE_ROUTE_SCHEMA=1 npx jest -c libs/shared/routing/jest.config.js schema`
 * rewrites the file). The document types at the bottom are derived from it.
 *
 * The schema checks shape, enums and ranges. What needs more than one field at a time (a
 * target naming a known upstream, percent only on canary routes, path pattern grammar, ignore
 * path grammar, duplicate ids, ambiguous overlaps) is checked by validateRouteTable.
 */
export const routeTableSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:carve:schema:route-table',
  title: 'Carve route table',
  description:
    'Which upstream answers which request at the strangler gateway. See libs/shared/routing/README.md.',
  type: 'object',
  additionalProperties: false,
  required: ['upstreams', 'default'],
  properties: {
    upstreams: {
      description: 'Every upstream the gateway may send to, by name.',
      type: 'object',
      minProperties: 1,
      propertyNames: { $ref: '#/$defs/name' },
      additionalProperties: { $ref: '#/$defs/upstream' },
    },
    default: {
      description:
        'The upstream that answers every request no route matches: the monolith. It is also the "monolith" side of every route decision.',
      type: 'string',
      minLength: 1,
    },
    routes: {
      description: 'Routes, in any order: the most specific match wins, ambiguous overlaps are rejected.',
      type: 'array',
      default: [],
      items: { $ref: '#/$defs/route' },
    },
  },
  $defs: {
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
      maxLength: 100,
    },
    upstream: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: {
          description: 'Base URL, http or https.',
          type: 'string',
          format: 'uri',
          pattern: '^https?://',
        },
        health: {
          description: 'Path probed for health, e.g. /healthz.',
          type: 'string',
          pattern: '^/',
        },
        timeoutMs: {
          description: 'Upstream response timeout in milliseconds.',
          type: 'integer',
          minimum: 1,
          maximum: 600000,
        },
        bodyLimitBytes: {
          description:
            'Largest request body the upstream accepts, in bytes (default 262144: the apps\' BODY_LIMIT_BYTES). The gateway answers 413 itself for a larger body; no route may allow more.',
          type: 'integer',
          minimum: 1024,
          maximum: 1073741824,
        },
      },
    },
    limits: {
      description: 'Per-tenant limits of a route, on top of the gateway-wide ones.',
      type: 'object',
      additionalProperties: false,
      properties: {
        ratePerSecond: {
          description: 'Token bucket refill: requests per second per tenant on this route.',
          type: 'number',
          exclusiveMinimum: 0,
          maximum: 1000000,
        },
        burst: {
          description: 'Token bucket size: requests a tenant may send at once (default: one second of ratePerSecond, at least 1).',
          type: 'integer',
          minimum: 1,
          maximum: 1000000,
        },
        concurrency: {
          description: 'Requests of one tenant on this route in flight at once, per gateway replica.',
          type: 'integer',
          minimum: 1,
          maximum: 100000,
        },
      },
    },
    method: {
      type: 'string',
      enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    },
    mode: {
      type: 'string',
      enum: ['monolith', 'shadow', 'canary', 'service'],
    },
    conditions: {
      type: 'object',
      maxProperties: 16,
      propertyNames: { type: 'string', minLength: 1 },
      additionalProperties: { type: 'string' },
    },
    route: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'match', 'target', 'mode'],
      properties: {
        id: {
          description: 'Stable identifier, used by the CLI, the admin API, overrides and metrics.',
          $ref: '#/$defs/name',
        },
        description: { type: 'string' },
        match: {
          type: 'object',
          additionalProperties: false,
          required: ['path'],
          properties: {
            methods: {
              description: 'Methods this route takes. Omitted: all of them.',
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              items: { $ref: '#/$defs/method' },
            },
            path: {
              description:
                'Path pattern: literal segments, ":name" parameter segments, and an optional trailing "*" (zero or more segments).',
              type: 'string',
              pattern: '^/',
              maxLength: 2048,
            },
            headers: {
              description: 'Header equality conditions (names case-insensitive, values exact).',
              $ref: '#/$defs/conditions',
            },
            query: {
              description: 'Query parameter equality conditions (exact).',
              $ref: '#/$defs/conditions',
            },
          },
        },
        target: {
          description: 'The service upstream this route is being carved to (not the default upstream).',
          type: 'string',
          minLength: 1,
        },
        mode: {
          description:
            'monolith: the default upstream answers. shadow: the monolith answers, safe requests are copied to the target and compared. canary: a sticky percentage goes to the target. service: the target answers.',
          $ref: '#/$defs/mode',
        },
        percent: {
          description: 'Canary only: share of sticky keys on the target, 0 to 100 (steps of 0.01).',
          type: 'number',
          minimum: 0,
          maximum: 100,
        },
        stickyBy: {
          description: 'What keeps a caller on one side during a canary: tenant, user, header:<name>, or none (random per request).',
          type: 'string',
          pattern: "^(tenant|user|none|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+)$",
          default: 'tenant',
        },
        cohort: {
          description:
            'Salt of the canary hash. Routes with the same cohort move the same tenants together. Defaults to the target upstream name.',
          type: 'string',
          minLength: 1,
        },
        allow: {
          description: 'Tenant or user ids always sent to the target in canary mode.',
          type: 'array',
          uniqueItems: true,
          items: { type: 'string', minLength: 1 },
        },
        deny: {
          description: 'Tenant or user ids never sent to the target in canary mode (deny beats allow).',
          type: 'array',
          uniqueItems: true,
          items: { type: 'string', minLength: 1 },
        },
        fallback: {
          description: 'Retry GET, HEAD and OPTIONS once on the default upstream when the target fails.',
          type: 'boolean',
          default: true,
        },
        compare: {
          description: 'How shadow responses are compared.',
          type: 'object',
          additionalProperties: false,
          properties: {
            sample: {
              description: 'Share of safe requests shadowed, 0 to 1.',
              type: 'number',
              minimum: 0,
              maximum: 1,
              default: 1,
            },
            noiseSample: {
              description:
                'Share of shadowed GET and HEAD requests sent to the default upstream a second time, 0 to 1: fields that differ between its two answers are learned as noise, and a mismatch only in noise fields is not counted.',
              type: 'number',
              minimum: 0,
              maximum: 1,
              default: 0,
            },
            ignore: {
              description: 'Body paths left out of the comparison: $.a.b, $.items[*].x, $..x, $.a[0], $["odd key"].',
              type: 'array',
              default: [],
              items: { type: 'string', minLength: 1 },
            },
            sortArraysBy: {
              description: 'Arrays compared as sets keyed by a property: { "$.items": "id" }.',
              type: 'object',
              additionalProperties: { type: 'string', minLength: 1 },
            },
            timestampToleranceMs: {
              description: 'ISO-8601 date-time strings no further apart than this compare equal.',
              type: 'integer',
              minimum: 0,
              maximum: 86400000,
            },
            maxDifferences: {
              description: 'Stop comparing after this many differences.',
              type: 'integer',
              minimum: 1,
              maximum: 1000,
              default: 20,
            },
          },
        },
        bodyLimitBytes: {
          description: "Largest request body of this route, in bytes; at most the limit of each upstream it can reach (its target's and the default upstream's).",
          type: 'integer',
          minimum: 1024,
          maximum: 1073741824,
        },
        limits: { $ref: '#/$defs/limits' },
        websocket: {
          description: 'Pass WebSocket (Upgrade) requests through to the side the route decides for (opt-in).',
          type: 'boolean',
          default: false,
        },
        guard: {
          description: 'Automatic rollback to the monolith when the target misbehaves.',
          type: 'object',
          additionalProperties: false,
          required: ['maxErrorRate'],
          properties: {
            maxErrorRate: { type: 'number', minimum: 0, maximum: 1 },
            maxMismatchRate: { type: 'number', minimum: 0, maximum: 1 },
            window: {
              description: 'Sliding window, e.g. 500ms, 30s, 5m, 1h.',
              type: 'string',
              pattern: '^[1-9][0-9]*(ms|s|m|h)$',
              default: '30s',
            },
            minRequests: {
              description: 'Fewer samples than this in the window never trip the guard.',
              type: 'integer',
              minimum: 1,
              maximum: 1000000,
              default: 20,
            },
          },
        },
      },
    },
  },
} as const;

type Root = typeof routeTableSchema;
type Defs = Root['$defs'];

/** The route table file, as written (YAML or JSON), before defaults and compilation. */
export type RouteTableDoc = FromSchema<Root>;
export type UpstreamDoc = FromSchema<Defs['upstream'], Root>;
export type RouteDoc = FromSchema<Defs['route'], Root>;
export type MatchDoc = RouteDoc['match'];
export type CompareDoc = NonNullable<RouteDoc['compare']>;
export type GuardDoc = NonNullable<RouteDoc['guard']>;
export type LimitsDoc = FromSchema<Defs['limits'], Root>;
export type HttpMethod = FromSchema<Defs['method'], Root>;
export type RouteMode = FromSchema<Defs['mode'], Root>;

export const HTTP_METHODS: readonly HttpMethod[] = routeTableSchema.$defs.method.enum;
export const ROUTE_MODES: readonly RouteMode[] = routeTableSchema.$defs.mode.enum;
