/**
 * The admin API, on its own port (CARVE_ADMIN_PORT, bound to CARVE_ADMIN_HOST):
 *
 *   GET    /admin/routes                  every route: effective mode and percent, where they come from
 *   GET    /admin/routes/:id              one route: + guard, breaker, counters, latest mismatch samples
 *   PUT    /admin/routes/:id              { mode, percent?, reason }: an override (validated, audited)
 *   POST   /admin/routes/:id/rollback     { reason? }: mode monolith now
 *   DELETE /admin/routes/:id/override     { reason? }: back to the file's mode
 *   GET    /admin/routes/:id/mismatches   stored mismatches, paged and filtered; per-path counts; noise (mismatches.routes.ts)
 *   GET    /admin/audit?limit=&route=     the audit trail, newest first
 *   GET    /admin/status                  route file (and its last refused version), control plane, breakers
 *   GET    /metrics                       the gateway's Prometheus metrics (only here, never on the proxy port)
 *   GET    /healthz                       no token
 *   GET    /openapi.json, /docs           this API's OpenAPI document and its rendered page, no token (admin.openapi.ts)
 *   GET    /console/                      the web console; /admin/contexts, /admin/events and the
 *                                         context actions it calls (console.routes.ts)
 *
 * Every request's path is made canonical first (@carve/shared-routing canonicalPath; 400
 * `bad_path` otherwise), so Fastify routes, and the token is checked, on the same path: an
 * encoded path (`/%61dmin/routes`) is the path it decodes to, token and all.
 *
 * Every endpoint but /healthz (unknown paths included) needs `Authorization: Bearer <token>` of
 * a named operator (`carve operator create`, stored hashed in the control plane) or the
 * configured CARVE_ADMIN_TOKEN, which is the operator `bootstrap`. Role `viewer` may only GET;
 * role `operator` may change (403 `operator_role` otherwise). The audit's actor is the
 * operator's name; a client's `x-carve-actor` header is ignored.
 *
 * Changes go through the control plane (one transaction: override, audit, NOTIFY), so every
 * replica applies them; this replica applies its own at once.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import {
  BOOTSTRAP_OPERATOR,
  ControlPlaneValidationError,
  type ControlPlaneClient,
  type ControlSubscription,
  type OperatorIdentity,
  OperatorStore,
  type OverrideMode,
} from '@carve/shared-control-plane';
import { type Logger, PROBLEM_CONTENT_TYPE, ProblemError, problemClientErrorHandler, problems, recordRoutes, serveOpenApi, toProblem } from '@carve/shared-http';
import { canonicalTarget, findRoute, type Route, validateOverride } from '@carve/shared-routing';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config';
import type { Guard } from '../guard/guard';
import type { Breakers } from '../proxy/breakers';
import type { RouteFile } from '../route-table/route-file';
import type { RouteStats } from '../route-table/route-stats';
import type { RoutingState } from '../route-table/routing-state';
import type { MismatchRecorder } from '../shadow/mismatch-recorder';
import type { Shadower } from '../shadow/shadow';
import { adminOpenApi, validateOverrideBody } from './admin.openapi';
import { registerConsoleRoutes } from './console.routes';
import { registerMismatchRoutes } from './mismatches.routes';

export interface AdminDeps {
  readonly config: GatewayConfig;
  readonly routing: RoutingState;
  readonly file: RouteFile;
  readonly controlPlane: ControlPlaneClient;
  readonly subscription: () => ControlSubscription | null;
  readonly breakers: Breakers;
  readonly guard: Guard;
  readonly stats: RouteStats;
  readonly shadow: Shadower;
  readonly recorder: MismatchRecorder;
  /** The gateway's metrics registry, served at GET /metrics. */
  readonly metrics?: Registry;
  /** Served at GET /metrics instead of `metrics` (a worker: every worker's metrics, through the primary). */
  readonly metricsText?: () => Promise<string>;
  readonly startedAt: Date;
  readonly log: Logger;
  /** The control plane's database URL (the embedded one's when DATABASE_URL is unset): the console's carving connection by default. */
  readonly databaseUrl: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator whose token authenticated this admin request. */
    operator?: OperatorIdentity;
  }
}

/** Methods a `viewer` may use. */
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * The admin port's server: every request's path is made canonical before Fastify sees it
 * (routing, the token check and the handlers all read the canonical path), or answered 400
 * `bad_path` here.
 */
function canonicalServerFactory(handler: http.RequestListener, opts: FastifyServerOptions): http.Server {
  const server = http.createServer((req, res) => {
    const raw = req.url ?? '';
    if (raw.charCodeAt(0) === 47 /* / */) {
      const c = canonicalTarget(raw);
      if (!c.ok) {
        const payload = JSON.stringify({ ...problems.badRequest('bad_path', `${c.detail} (${c.refusal})`).toBody(), instance: raw.split('?', 1)[0] });
        res.writeHead(400, { 'content-type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`, 'content-length': Buffer.byteLength(payload), connection: 'close' });
        res.end(payload);
        return;
      }
      req.url = c.url;
    }
    handler(req, res);
  });
  if (opts.keepAliveTimeout !== undefined) server.keepAliveTimeout = opts.keepAliveTimeout;
  if (opts.requestTimeout !== undefined) server.requestTimeout = opts.requestTimeout;
  return server;
}

export async function buildAdminServer(deps: AdminDeps): Promise<FastifyInstance> {
  const { config, routing, file, controlPlane, breakers, guard, stats } = deps;
  const options: FastifyServerOptions = {
    loggerInstance: deps.log.child({ component: 'admin' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    serverFactory: canonicalServerFactory,
    clientErrorHandler: problemClientErrorHandler,
  };
  const admin = Fastify(options);
  // Every route from here on is listed by `registeredRoutes(admin)`, which the OpenAPI coverage test compares with the document.
  recordRoutes(admin);
  const bootstrap = digest(config.adminToken);
  const operators = new OperatorStore(controlPlane.pool);

  admin.setErrorHandler((err, req, reply) => {
    let e: unknown = err;
    if (err instanceof ControlPlaneValidationError) e = problems.validation([{ field: err.field, message: err.message }]);
    else if (!(err instanceof ProblemError) && isDatabaseError(err)) {
      e = new ProblemError(503, 'control_plane_unavailable', 'The control plane (Postgres) could not be reached; nothing was changed.');
    }
    const { status, body } = toProblem(e);
    if (status >= 500) req.log.error({ err }, 'admin request failed');
    return reply.status(status).type(PROBLEM_CONTENT_TYPE).send({ ...body, instance: req.url.split('?', 1)[0] });
  });
  admin.setNotFoundHandler((req, reply) =>
    reply.status(404).type(PROBLEM_CONTENT_TYPE).send(new ProblemError(404, 'not_found', `No admin endpoint ${req.method} ${req.url.split('?', 1)[0]}.`).toBody()),
  );

  // Every endpoint but /healthz, and every path no endpoint serves, needs an operator's token.
  admin.decorateRequest('operator', undefined);
  admin.addHook('onRequest', async (req) => {
    if ((req.routeOptions.config as { public?: boolean } | undefined)?.public === true) return;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw problems.unauthorized('Send an operator token: Authorization: Bearer <token> (`carve operator create`).', 'admin_token_missing');
    const presented = digest(m[1]);
    const who: OperatorIdentity | null = timingSafeEqual(presented, bootstrap)
      ? { name: BOOTSTRAP_OPERATOR, role: 'operator' }
      : await operators.authenticate(m[1]);
    if (!who) throw problems.unauthorized('The token is not an operator\'s (unknown or revoked).', 'admin_token_invalid');
    if (who.role !== 'operator' && !READ_METHODS.has(req.method)) {
      throw problems.forbidden('operator_role', `Operator "${who.name}" has role ${who.role}: it may only read (GET).`);
    }
    req.operator = who;
  });

  admin.addHook('onResponse', (req, reply, done) => {
    if (req.method !== 'GET') req.log.info({ method: req.method, url: req.url, status: reply.statusCode, actor: req.operator?.name ?? null }, 'admin request');
    done();
  });

  admin.get('/healthz', { config: { public: true } }, async () => ({ status: 'ok', service: 'gateway-admin' }));
  serveOpenApi(admin, adminOpenApi(), { config: { public: true } });

  const registry = deps.metrics;
  if (registry) {
    const text = deps.metricsText ?? (() => registry.metrics());
    admin.get('/metrics', async (_req, reply) => {
      reply.type(registry.contentType);
      return text();
    });
  }

  const workspacesBySide = (m: ReadonlyMap<string, 'monolith' | 'service'>) => {
    const out: { service: string[]; monolith: string[] } = { service: [], monolith: [] };
    for (const [w, side] of m) out[side].push(w);
    return out;
  };

  const routeOr404 = (id: string): Route => {
    const r = findRoute(routing.table, id);
    if (!r) throw new ProblemError(404, 'route_not_found', `No route "${id}" in the route table.`);
    return r;
  };
  registerMismatchRoutes(admin, controlPlane, routeOr404);
  registerConsoleRoutes(admin, { config, controlPlane, routing, stats, databaseUrl: deps.databaseUrl, log: deps.log });

  const describe = (r: Route) => {
    const counters = stats.of(r.id);
    const override = routing.overrideOf(r.id) ?? null;
    return {
      id: r.id,
      ...(r.description !== undefined ? { description: r.description } : {}),
      methods: r.methods,
      path: r.path,
      target: r.target,
      mode: r.mode,
      percent: r.percent,
      source: r.overridden ? 'override' : 'file',
      file: { mode: r.doc.mode, percent: r.doc.percent ?? null },
      override,
      breaker: breakers.snapshot(r.target),
      guard: guard.snapshot(r),
      counters,
      mismatches: { count: counters.shadow.mismatch, compared: counters.shadow.match + counters.shadow.mismatch },
      // Per-workspace overrides in force (per-tenant carving): the workspaces sent to each side whatever the mode.
      ...(r.workspaces?.size ? { workspaces: workspacesBySide(r.workspaces) } : {}),
    };
  };

  admin.get('/admin/routes', async () => ({
    default: routing.table.default,
    controlVersion: routing.controlVersion,
    routes: routing.table.routes.map(describe),
  }));

  admin.get<{ Params: { id: string } }>('/admin/routes/:id', async (req) => {
    const r = routeOr404(req.params.id);
    let latest: unknown[] = [];
    let samplesFrom = 'control-plane';
    try {
      latest = await controlPlane.mismatches({ routeId: r.id, limit: 10 });
    } catch {
      latest = [...stats.latestSamples(r.id)];
      samplesFrom = 'this-replica';
    }
    const recentGuardEvents = await controlPlane.guardEvents({ routeId: r.id, limit: 10 }).catch(() => []);
    const d = describe(r);
    return {
      ...d,
      stickyBy: r.stickyBy.kind === 'header' ? `header:${r.stickyBy.name}` : r.stickyBy.kind,
      cohort: r.cohort,
      allow: r.allow,
      deny: r.deny,
      fallback: r.fallback,
      compare: r.compare,
      guardConfig: r.guard ?? null,
      mismatches: { ...d.mismatches, latest, samplesFrom },
      guardEvents: recentGuardEvents,
    };
  });

  admin.put<{ Params: { id: string }; Body: unknown }>('/admin/routes/:id', async (req) => {
    const id = req.params.id;
    // The body's shape by its JSON Schema (the one the OpenAPI document publishes), then the rules that need the route table.
    const checked = validateOverrideBody(req.body ?? {});
    const errors = checked.ok ? [] : checked.errors;
    if (errors.some((e) => e.field === '')) throw problems.validation(errors);
    const fileRoute = findRoute(routing.fileTable, id);
    if (!fileRoute) throw new ProblemError(400, 'unknown_route', `No route "${id}" in the route table; see GET /admin/routes.`);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const override = { routeId: id, mode: body.mode, ...(body.percent !== undefined && body.percent !== null ? { percent: body.percent } : {}) };
    for (const e of validateOverride(routing.fileTable, override as never)) {
      if (e.path !== 'routeId' && !errors.some((x) => x.field === e.path)) errors.push({ field: e.path, message: e.message });
    }
    if (errors.length > 0) throw problems.validation(errors, `The change to route "${id}" is not valid.`);
    const current = routeOr404(id);
    const change = await controlPlane.setOverride({
      routeId: id,
      mode: body.mode as OverrideMode,
      percent: (override as { percent?: number }).percent ?? null,
      actor: actorOf(req),
      reason: String(body.reason).trim(),
      before: { mode: current.mode, percent: current.percent, source: current.overridden ? 'override' : 'file' },
    });
    routing.applyLocal(id, change.override, change.version);
    return { route: describe(routeOr404(id)), change: { version: change.version, audit: change.audit } };
  });

  admin.post<{ Params: { id: string }; Body: unknown }>('/admin/routes/:id/rollback', async (req) => {
    const current = routeOr404(req.params.id);
    const reason = reasonOf(req.body) ?? 'rollback';
    const change = await controlPlane.setOverride({
      routeId: current.id,
      mode: 'monolith',
      actor: actorOf(req),
      reason,
      action: 'route.rollback',
      before: { mode: current.mode, percent: current.percent, source: current.overridden ? 'override' : 'file' },
    });
    routing.applyLocal(current.id, change.override, change.version);
    return { route: describe(routeOr404(current.id)), change: { version: change.version, audit: change.audit } };
  });

  admin.delete<{ Params: { id: string }; Body: unknown; Querystring: { reason?: string } }>('/admin/routes/:id/override', async (req) => {
    const current = routeOr404(req.params.id);
    const reason = reasonOf(req.body) ?? req.query.reason ?? 'back to the route table file';
    const change = await controlPlane.clearOverride(current.id, actorOf(req), reason, {
      mode: current.mode,
      percent: current.percent,
      source: current.overridden ? 'override' : 'file',
    });
    if (change) routing.applyLocal(current.id, null, change.version);
    return { route: describe(routeOr404(current.id)), change: change ? { version: change.version, audit: change.audit } : null };
  });

  admin.get<{ Querystring: { limit?: string; route?: string; before?: string } }>('/admin/audit', async (req) => {
    const limit = req.query.limit !== undefined ? Number(req.query.limit) : 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw problems.validation([{ field: 'limit', message: 'must be an integer from 1 to 1000' }]);
    const before = req.query.before !== undefined ? Number(req.query.before) : undefined;
    return {
      entries: await controlPlane.audit({ limit, ...(req.query.route ? { target: `route:${req.query.route}` } : {}), ...(before ? { beforeId: before } : {}) }),
    };
  });

  admin.get('/admin/status', async () => {
    const sub = deps.subscription();
    const fileStatus = file.status();
    return {
      gateway: {
        id: config.gatewayId,
        startedAt: deps.startedAt.toISOString(),
        uptimeSeconds: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
        pid: process.pid,
      },
      routesFile: fileStatus,
      routes: routing.table.routes.length,
      controlPlane: {
        subscription: sub?.state() ?? null,
        appliedVersion: routing.controlVersion,
        overrides: routing.allOverrides().length,
        overrideProblems: routing.overrideProblems,
      },
      breakers: breakers.all(),
      shadow: { inFlight: deps.shadow.outstanding, samplesStored: deps.recorder.stored, samplesDropped: deps.recorder.dropped },
    };
  });

  return admin;
}

/** The audit's actor: the authenticated operator's name (never a header the client sends). */
function actorOf(req: FastifyRequest): string {
  return req.operator!.name;
}

function reasonOf(body: unknown): string | undefined {
  const r = body && typeof body === 'object' ? (body as Record<string, unknown>).reason : undefined;
  return typeof r === 'string' && r.trim() ? r.trim() : undefined;
}

function isDatabaseError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    typeof e?.code === 'string' &&
    // refused/reset/unreachable, admin shutdown, cannot connect now, database gone, connection exceptions
    (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', '57P01', '57P02', '57P03', '3D000'].includes(e.code) || e.code.startsWith('08'))
  ) || /Connection terminated|timeout exceeded when trying to connect/i.test(e?.message ?? '');
}
