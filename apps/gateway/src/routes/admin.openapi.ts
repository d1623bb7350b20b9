/**
 * The admin API's OpenAPI document (served on the admin port at /openapi.json, rendered at
 * /docs, both without a token) and the JSON Schemas that validate its bodies: a route override
 * (`PUT /admin/routes/:id`: its shape here, then the rules that need the route table,
 * `validateOverride` of @carve/shared-routing) and the console's actions on a context (their
 * shapes here, then what the carving library's parsers check).
 */
import { ROUTE_MODES } from '@carve/shared-routing';
import { type ApiOperation, type ApiResponse, compileSchema, Int, openApiDocument, problem } from '@carve/shared-contract-kit';
import { type TProperties, Type } from '@sinclair/typebox';

const MODES = `must be one of ${ROUTE_MODES.join(', ')}, got {got}`;
const REASON = 'is required: say why';
const PERCENT = 'must be a number between 0 and 100, got {got}';

/** `{ mode, percent?, reason }`: an override of a route's mode, audited with its reason. */
export const OverrideBody = Type.Object(
  {
    mode: Type.String({ enum: [...ROUTE_MODES], 'x-messages': { type: MODES, enum: MODES } }),
    percent: Type.Optional(
      Type.Unsafe<number | null>({
        type: ['number', 'null'],
        minimum: 0,
        maximum: 100,
        description: 'canary only: the share of requests (0 to 100) the service gets',
        'x-messages': { type: PERCENT, minimum: PERCENT, maximum: PERCENT },
      }),
    ),
    reason: Type.String({ minLength: 1, 'x-trim': true, 'x-messages': { type: REASON, minLength: REASON } }),
  },
  {
    additionalProperties: false,
    required: ['mode', 'reason'],
    'x-messages': {
      type: 'must be a JSON object { mode, percent?, reason }',
      additionalProperties: { '*': 'is not a known field (mode, percent, reason)' },
      required: { mode: `must be one of ${ROUTE_MODES.join(', ')}, got undefined`, reason: REASON },
    },
  },
);

/** Checks an override body's shape; the field `''` stands for the body itself. */
export const validateOverrideBody = compileSchema(OverrideBody, { rootField: '' });

// ---- the console's actions: the bodies' shapes (the rules that need the carving library, such as
// a ramp's steps and interval, are checked after them, with the CLI's own parsers).

const CONTEXT_REASON = 'is required: say why (at most 2000 characters)';
const reasonField = () => Type.String({ minLength: 1, maxLength: 2000, 'x-trim': true, 'x-messages': { type: CONTEXT_REASON, minLength: CONTEXT_REASON, maxLength: CONTEXT_REASON } });
const ackField = () => Type.Optional(Type.Boolean({ description: 'acknowledge a guard trip on the context', 'x-messages': { type: 'must be true or false' } }));
const actionBody = <P extends TProperties>(shape: string, properties: P, required: Record<string, string>) =>
  Type.Object(properties, {
    additionalProperties: true,
    'x-messages': { type: `must be a JSON object ${shape}`, required },
  });
const STAGE_MESSAGE = 'must be shadow, canary, reads or complete (writes move with cutover; back with rollback)';

/** `POST /admin/contexts/{name}/stage`: `{ stage, percent?, reason, ackGuardTrip? }`. */
export const StageBody = actionBody(
  '{ stage, percent?, reason, ackGuardTrip? }',
  {
    stage: Type.String({ enum: ['shadow', 'canary', 'reads', 'reads-switched', 'complete'], 'x-trim': true, 'x-lowercase': true, 'x-messages': { type: STAGE_MESSAGE, enum: STAGE_MESSAGE } }),
    percent: Type.Optional(Type.Number({ description: 'canary: the share of requests (0 to 100) the service gets', 'x-messages': { type: 'must be a number from 0 to 100' } })),
    reason: reasonField(),
    ackGuardTrip: ackField(),
  },
  { stage: STAGE_MESSAGE, reason: CONTEXT_REASON },
);
/** `POST /admin/contexts/{name}/ramp`: `{ steps, every, reason, ackGuardTrip? }`; steps and every are parsed as the CLI's --ramp and --every. */
export const RampBody = actionBody(
  '{ steps, every, reason }',
  {
    steps: Type.Optional(Type.Union([Type.String(), Type.Array(Type.Number())], { description: 'percents in rising order, e.g. "1,5,25,50" or [1, 5, 25, 50]' })),
    every: Type.Optional(Type.String({ description: 'the interval between steps, e.g. "10m", "30s"' })),
    reason: reasonField(),
    ackGuardTrip: ackField(),
  },
  { reason: CONTEXT_REASON },
);
/** `POST /admin/contexts/{name}/ramp/{action}`: `{ reason }`. */
export const RampActionBody = actionBody('{ reason }', { reason: reasonField() }, { reason: CONTEXT_REASON });
/** `POST /admin/contexts/{name}/rollback`: `{ reason, timeoutSeconds? }`. */
export const RollbackBody = actionBody(
  '{ reason, timeoutSeconds? }',
  {
    reason: reasonField(),
    timeoutSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 600,
        default: 10,
        description: 'how long the drain may take before the rollback is undone',
        'x-messages': { type: 'must be a whole number of seconds from 1 to 600', minimum: 'must be a whole number of seconds from 1 to 600', maximum: 'must be a whole number of seconds from 1 to 600' },
      }),
    ),
  },
  { reason: CONTEXT_REASON },
);
export const validateStageBody = compileSchema(StageBody, { rootField: '' });
export const validateRampBody = compileSchema(RampBody, { rootField: '' });
export const validateRampActionBody = compileSchema(RampActionBody, { rootField: '' });
export const validateRollbackBody = compileSchema(RollbackBody, { rootField: '' });

const Reason = Type.Object({ reason: Type.Optional(Type.String()) }, { additionalProperties: true, description: 'any other field is ignored' });
/** The admin API answers with objects whose parts are described in docs/gateway.md. */
const Json = (description: string) => Type.Object({}, { additionalProperties: true, description });

const open = { additionalProperties: true } as const;
/** One route as the admin API describes it (more fields in docs/gateway.md). */
const RouteView = Type.Object(
  {
    id: Type.String(),
    methods: Type.Array(Type.String()),
    path: Type.String(),
    target: Type.String(),
    mode: Type.String({ enum: [...ROUTE_MODES] }),
    percent: Type.Number({ minimum: 0, maximum: 100 }),
    source: Type.String({ enum: ['override', 'file'] }),
    file: Type.Object({ mode: Type.String(), percent: Type.Union([Type.Number(), Type.Null()]) }),
    override: Type.Union([Json('the override in force'), Type.Null()]),
    counters: Json('requests per side, shadow matches and mismatches'),
    mismatches: Json('count, compared (and latest samples on one route)'),
  },
  open,
);
const Routes = Type.Object({ default: Type.String(), controlVersion: Type.Integer(), routes: Type.Array(RouteView) }, open);
const AuditEntries = Type.Object(
  {
    entries: Type.Array(
      Type.Object({ id: Type.Integer(), at: Type.String(), actor: Type.String(), action: Type.String(), target: Type.String(), reason: Type.String(), before: Type.Unknown(), after: Type.Unknown() }, open),
    ),
  },
  { additionalProperties: false },
);
const PathCount = Type.Object({ routeId: Type.String(), path: Type.String(), count: Type.Integer(), firstSeen: Type.String(), lastSeen: Type.String() }, open);
const Mismatches = Type.Object({ routeId: Type.String(), items: Type.Array(Json('one stored mismatch: request, both answers, the differing paths')), nextCursor: Type.Union([Type.String(), Type.Null()]) }, open);
const Status = Type.Object(
  {
    gateway: Type.Object({ id: Type.String(), startedAt: Type.String({ format: 'date-time' }), uptimeSeconds: Type.Integer(), pid: Type.Integer() }, open),
    routesFile: Json('the route file and its last refused version'),
    routes: Type.Integer(),
    controlPlane: Json('subscription, applied version, overrides'),
    breakers: Type.Unknown(),
    shadow: Type.Object({ inFlight: Type.Integer(), samplesStored: Type.Integer(), samplesDropped: Type.Integer() }, open),
  },
  open,
);

const RouteChange = Type.Object({ route: RouteView, change: Type.Union([Type.Object({ version: Type.Integer(), audit: Json('the audit entry') }, open), Type.Null()]) }, { additionalProperties: false });

const tags = ['admin'];
const common: Record<string, ApiResponse> = {
  '401': problem('no operator token, or one that is unknown or revoked (admin_token_missing, admin_token_invalid)'),
  '403': problem('a viewer tried to change something (operator_role)'),
  '503': problem('the control plane could not be reached (control_plane_unavailable)'),
  default: problem('any other failure'),
};
const route404 = { '404': problem('no such route (route_not_found)') };
const ctx404 = { '404': problem('no such carvable context (context_not_found)') };
const bad = { '400': problem('invalid body or query (validation_failed with per-field errors, unknown_route, bad_cursor)') };
const ok = (description: string, schema = Json(description)) => ({ '200': { description, schema } });

export const adminOperations: ApiOperation[] = [
  { method: 'get', path: '/healthz', operationId: 'adminHealth', summary: 'Liveness of the admin server', tags, secured: false, responses: ok('alive', Type.Object({ status: Type.String(), service: Type.String() })) },
  { method: 'get', path: '/metrics', operationId: 'gatewayMetrics', summary: "The gateway's Prometheus metrics (only here, never on the proxy port)", tags, responses: { '200': { description: 'metrics', contentType: 'text/plain' }, ...common } },
  { method: 'get', path: '/openapi.json', operationId: 'adminOpenApi', summary: 'This OpenAPI document', tags, secured: false, responses: ok('the document', Type.Object({ openapi: Type.String() }, { additionalProperties: true })) },
  { method: 'get', path: '/docs', operationId: 'adminDocs', summary: 'This document, rendered', tags, secured: false, responses: { '200': { description: 'an HTML page', contentType: 'text/html' } } },
  { method: 'get', path: '/admin/routes', operationId: 'listRoutes', summary: 'Every route: effective mode and percent, where they come from', tags, responses: { ...ok('the routes', Routes), ...common } },
  { method: 'get', path: '/admin/routes/{id}', operationId: 'getRoute', summary: 'One route with guard, breaker, counters and the latest mismatches', tags, responses: { ...ok('the route', RouteView), ...route404, ...common } },
  {
    method: 'put',
    path: '/admin/routes/{id}',
    operationId: 'overrideRoute',
    summary: 'Override the mode (and canary percent) of a route, audited',
    tags,
    body: OverrideBody,
    responses: { ...ok('the route and the change', RouteChange), ...bad, ...route404, ...common },
  },
  { method: 'post', path: '/admin/routes/{id}/rollback', operationId: 'rollbackRoute', summary: 'Mode monolith now', tags, body: Reason, responses: { ...ok('the route and the change', RouteChange), ...route404, ...common } },
  {
    method: 'delete',
    path: '/admin/routes/{id}/override',
    operationId: 'clearOverride',
    summary: "Back to the route table file's mode",
    tags,
    query: { reason: Type.String() },
    body: Reason,
    responses: { ...ok('the route and the change (null when there was no override)', RouteChange), ...route404, ...common },
  },
  {
    method: 'get',
    path: '/admin/routes/{id}/mismatches',
    operationId: 'listMismatches',
    summary: 'Stored shadow mismatches of the route, newest first, one page',
    tags,
    query: {
      path: Type.String({ description: 'a field path like $.items[*].title' }),
      since: Type.String({ format: 'date-time' }),
      until: Type.String({ format: 'date-time' }),
      limit: Int({ min: 1, max: 1000 }),
      cursor: Type.String({ description: 'nextCursor of the previous page' }),
    },
    responses: { ...ok('a page', Mismatches), ...bad, ...route404, ...common },
  },
  { method: 'get', path: '/admin/routes/{id}/mismatches/paths', operationId: 'mismatchPaths', summary: 'Per field path, how many mismatches differed there', tags, responses: { ...ok('routeId and paths', Type.Object({ routeId: Type.String(), paths: Type.Array(PathCount) }, open)), ...route404, ...common } },
  { method: 'get', path: '/admin/routes/{id}/noise', operationId: 'routeNoise', summary: "The route's noise baseline", tags, responses: { ...ok('routeId, noiseSample and paths', Type.Object({ routeId: Type.String(), noiseSample: Type.Unknown(), paths: Type.Array(PathCount) }, open)), ...route404, ...common } },
  {
    method: 'get',
    path: '/admin/audit',
    operationId: 'audit',
    summary: 'The audit trail, newest first',
    tags,
    query: { limit: Int({ min: 1, max: 1000 }), route: Type.String(), before: Type.Integer({ description: 'entries older than this id' }) },
    responses: { ...ok('entries', AuditEntries), ...bad, ...common },
  },
  { method: 'get', path: '/admin/status', operationId: 'status', summary: 'Route file, control plane, breakers, shadow', tags, responses: { ...ok('the status', Status), ...common } },
  { method: 'get', path: '/admin/whoami', operationId: 'whoami', summary: 'The operator of the token', tags, responses: { ...ok('name and role', Type.Object({ name: Type.String(), role: Type.String() })), ...common } },
  { method: 'get', path: '/admin/contexts', operationId: 'listContexts', summary: 'Every carvable context and its status', tags, responses: { ...ok('contexts'), ...common } },
  {
    method: 'post',
    path: '/admin/contexts/{name}/stage',
    operationId: 'moveStage',
    summary: 'Move a context to a stage',
    tags,
    body: StageBody,
    responses: { ...ok('the move'), ...bad, ...ctx404, ...common },
  },
  {
    method: 'post',
    path: '/admin/contexts/{name}/ramp',
    operationId: 'startRamp',
    summary: 'Start a canary ramp',
    tags,
    body: RampBody,
    responses: { ...ok('the ramp'), ...bad, ...ctx404, ...common },
  },
  {
    method: 'post',
    path: '/admin/contexts/{name}/ramp/{action}',
    operationId: 'controlRamp',
    summary: 'Pause, resume or stop a ramp (action: pause, resume, stop)',
    tags,
    body: RampActionBody,
    responses: { ...ok('the ramp'), ...bad, ...ctx404, ...common },
  },
  {
    method: 'post',
    path: '/admin/contexts/{name}/rollback',
    operationId: 'rollbackContext',
    summary: 'Roll a context back to the monolith',
    tags,
    body: RollbackBody,
    responses: { ...ok('the rollback'), ...bad, ...ctx404, ...common },
  },
  { method: 'get', path: '/admin/events', operationId: 'events', summary: 'Carving events as they happen (server-sent events)', tags, responses: { '200': { description: 'an event stream', contentType: 'text/event-stream' }, ...common } },
  { method: 'get', path: '/console', operationId: 'console', summary: 'The migration console', tags, secured: false, responses: { '200': { description: 'the console page', contentType: 'text/html' } } },
  { method: 'get', path: '/console/{wildcard}', operationId: 'consoleAsset', summary: "The console's files", tags, secured: false, responses: { '200': { description: 'a file of the console', contentType: 'application/octet-stream' }, '404': problem('no such file') } },
];

export function adminOpenApi(version = '1.0.0') {
  return openApiDocument({ title: 'gateway admin API', version, description: "The strangler gateway's admin API, on its own port (CARVE_ADMIN_PORT); operator tokens (`carve operator create`)." }, adminOperations);
}
