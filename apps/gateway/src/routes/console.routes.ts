/**
 * The web console and the admin endpoints only it needs, on the admin server (same operator
 * tokens and roles as the rest of the admin API: admin.routes.ts):
 *
 *   GET  /console/...                           the console's static files (no token: they hold no data)
 *   GET  /admin/whoami                          the operator the token belongs to: { name, role }
 *   GET  /admin/contexts                        every carvable context's status (as `carve status --json`)
 *   POST /admin/contexts/:name/stage            { stage, percent?, reason, ackGuardTrip? }        as `carve stage`
 *   POST /admin/contexts/:name/ramp             { steps: [1,5,25,50], every: "10m", reason, ackGuardTrip? }  as `carve stage <ctx> canary --ramp --every`
 *   POST /admin/contexts/:name/ramp/:action     { reason }, action pause | resume | stop           as `carve ramp`
 *   POST /admin/contexts/:name/rollback         { reason, timeoutSeconds? }                        as `carve rollback`
 *   GET  /admin/events                          server-sent events: `change` when the control plane's
 *                                               version moves (its NOTIFY), `stats` every 2 s (this
 *                                               replica's per-route counters, latency per side included)
 *
 * The actions run the CLI's own machinery (@carve/shared-carving's Carving, opened per action
 * with the operator's name as the actor), so they pass the same checks and meet the same
 * refusals; a refusal is 409 problem+json with the library's code and hint. A viewer's token may
 * only read (403 `operator_role`, from the admin server's hook).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import {
  BackfillBusyError,
  type CarvableContext,
  Carving,
  CarvingError,
  ContextBusyError,
  parseRampInterval,
  parseRampSteps,
  parseStageArg,
  RampError,
  RouteRefusedError,
} from '@carve/shared-carving';
import type { ControlPlaneClient, ControlSubscription } from '@carve/shared-control-plane';
import { type Logger, ProblemError, problems } from '@carve/shared-http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config';
import { consoleContext, consoleContexts } from '../console/contexts';
import type { RouteStats } from '../route-table/route-stats';
import type { RoutingState } from '../route-table/routing-state';
import { validateRampActionBody, validateRampBody, validateRollbackBody, validateStageBody } from './admin.openapi';

export interface ConsoleDeps {
  readonly config: GatewayConfig;
  readonly controlPlane: ControlPlaneClient;
  readonly routing: RoutingState;
  readonly stats: RouteStats;
  /** The control plane's database URL (the embedded one's when DATABASE_URL is unset). */
  readonly databaseUrl: string;
  readonly log: Logger;
}

const STATS_EVERY_MS = 2000;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

export function registerConsoleRoutes(admin: FastifyInstance, deps: ConsoleDeps): void {
  const { config, controlPlane, routing, stats, log } = deps;
  const carvingUrl = config.console.carvingDatabaseUrl ?? deps.databaseUrl;
  const selfUrl = () => {
    const addr = admin.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : config.adminPort}`;
  };

  // ---- static files ----------------------------------------------------------------------------

  const root = config.console.dir;
  // The admin server's paths are canonical (no trailing slash): /console is the page itself.
  const serve = async (rel: string, reply: FastifyReply) => {
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep)) throw new ProblemError(404, 'not_found', `No console file ${rel}.`);
    if (!fs.existsSync(path.join(root, 'index.html'))) {
      throw new ProblemError(
        503,
        'console_not_built',
        `The web console is not built in ${root}: run \`npx nx build console\` (\`npm start\` builds it when it is missing or older than its sources; \`npm test\` builds it), or set CARVE_CONSOLE_DIR.`,
      );
    }
    let body: Buffer;
    try {
      body = await fs.promises.readFile(file);
    } catch {
      throw new ProblemError(404, 'not_found', `No console file ${rel}.`);
    }
    // Hashed assets never change; index.html names the current ones.
    reply.header('cache-control', rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    reply.type(CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream');
    return body;
  };
  admin.get('/console', { config: { public: true } }, async (_req, reply) => serve('index.html', reply));
  admin.get<{ Params: { '*': string } }>('/console/*', { config: { public: true } }, async (req, reply) => serve(req.params['*'] || 'index.html', reply));

  // ---- reads -------------------------------------------------------------------------------------

  admin.get('/admin/whoami', async (req) => ({ name: req.operator!.name, role: req.operator!.role }));

  // One Carving for the reads (status), opened at the first and closed with the admin server.
  let reader: Promise<Carving> | null = null;
  const openReader = () =>
    (reader ??= Carving.connect({ url: carvingUrl, actor: `console@${config.gatewayId}`, gateway: { url: selfUrl(), token: config.adminToken } }).catch((err) => {
      reader = null;
      throw err;
    }));
  admin.addHook('onClose', async () => {
    const r = reader;
    reader = null;
    if (r) await (await r.catch(() => null))?.close();
  });

  admin.get('/admin/contexts', async () => {
    const carving = await openReader();
    const registered = consoleContexts(log);
    const targets: Array<CarvableContext | string> = [...registered];
    for (const known of await carving.knownContexts()) if (!registered.some((c) => c.name === known)) targets.push(known);
    const contexts = [];
    for (const t of targets) contexts.push(await carving.status(t));
    return { contexts };
  });

  // ---- actions (the CLI's machinery) --------------------------------------------------------------

  const contextOr404 = (name: string): CarvableContext => {
    const ctx = consoleContext(log, name);
    if (!ctx) throw new ProblemError(404, 'context_not_found', `No carvable context "${name}" is loaded in this gateway.`, { known: consoleContexts(log).map((c) => c.name) });
    return ctx;
  };

  /** Runs `fn` on a Carving whose actor is the operator, as the CLI does per command; refusals become problems. */
  const asOperator = async <T>(req: FastifyRequest, fn: (carving: Carving) => Promise<T>): Promise<T> => {
    const token = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1] ?? config.adminToken;
    let carving: Carving;
    try {
      carving = await Carving.connect({ url: carvingUrl, actor: req.operator!.name, gateway: { url: selfUrl(), token }, log: (line) => log.info({ actor: req.operator!.name }, line) });
    } catch (err) {
      throw new ProblemError(503, 'control_plane_unavailable', `The carving machinery could not connect: ${(err as Error).message}; nothing was changed.`);
    }
    try {
      return await fn(carving);
    } catch (err) {
      throw refusal(err);
    } finally {
      await carving.close();
    }
  };

  /** A body's shape by its JSON Schema (the one the OpenAPI document publishes); a body that is no object stops here. */
  const shaped = <T>(validate: (input: unknown) => { ok: true; value: T } | { ok: false; errors: Array<{ field: string; message: string }> }, body: unknown) => {
    const r = validate(body ?? {});
    if (!r.ok && r.errors.some((e) => e.field === '')) throw problems.validation(r.errors.filter((e) => e.field === ''));
    return r.ok ? { value: r.value, errors: [] as Array<{ field: string; message: string }> } : { value: (body ?? {}) as T, errors: r.errors };
  };

  admin.post<{ Params: { name: string }; Body: unknown }>('/admin/contexts/:name/stage', async (req) => {
    const ctx = contextOr404(req.params.name);
    const { value: body, errors } = shaped(validateStageBody, req.body);
    if (errors.length) throw problems.validation(errors, `The stage change of ${ctx.name} is not valid.`);
    const stage = parseStageArg(body.stage)!;
    return asOperator(req, (carving) => carving.moveTo(ctx, stage, { ...(body.percent !== undefined ? { percent: body.percent } : {}), reason: body.reason, ackGuardTrip: body.ackGuardTrip === true }));
  });

  admin.post<{ Params: { name: string }; Body: unknown }>('/admin/contexts/:name/ramp', async (req) => {
    const ctx = contextOr404(req.params.name);
    const { value: body, errors } = shaped(validateRampBody, req.body);
    // Steps and interval as the CLI's --ramp and --every read them (their messages too).
    let steps: number[] = [];
    let everyMs = 0;
    if (!errors.some((e) => e.field === 'steps')) {
      try {
        steps = parseRampSteps(Array.isArray(body.steps) ? body.steps.join(',') : String(body.steps ?? ''));
      } catch (err) {
        errors.push({ field: 'steps', message: (err as Error).message.replace('--ramp', 'steps') });
      }
    }
    if (!errors.some((e) => e.field === 'every')) {
      try {
        everyMs = parseRampInterval(String(body.every ?? ''));
      } catch (err) {
        errors.push({ field: 'every', message: (err as Error).message.replace('--every', 'every') });
      }
    }
    if (errors.length) throw problems.validation(errors, `The ramp of ${ctx.name} is not valid.`);
    return asOperator(req, (carving) => carving.startRamp(ctx, { steps, everyMs, reason: body.reason, ackGuardTrip: body.ackGuardTrip === true }));
  });

  admin.post<{ Params: { name: string; action: string }; Body: unknown }>('/admin/contexts/:name/ramp/:action', async (req) => {
    const ctx = contextOr404(req.params.name);
    const action = req.params.action;
    if (action !== 'pause' && action !== 'resume' && action !== 'stop') throw problems.validation([{ field: 'action', message: 'must be pause, resume or stop' }]);
    const { value: body, errors } = shaped(validateRampActionBody, req.body);
    if (errors.length) throw problems.validation(errors, `The ramp ${action} of ${ctx.name} is not valid.`);
    return asOperator(req, async (carving) => ({ ramp: await carving.ramps[action](ctx.name, { actor: req.operator!.name, reason: body.reason }) }));
  });

  admin.post<{ Params: { name: string }; Body: unknown }>('/admin/contexts/:name/rollback', async (req) => {
    const ctx = contextOr404(req.params.name);
    const { value: body, errors } = shaped(validateRollbackBody, req.body);
    if (errors.length) throw problems.validation(errors, `The rollback of ${ctx.name} is not valid.`);
    return asOperator(req, (carving) => carving.rollback(ctx, { reason: body.reason, drainTimeoutMs: (body.timeoutSeconds ?? 10) * 1000 }));
  });

  // ---- live updates --------------------------------------------------------------------------------

  const clients = new Set<ServerResponse>();
  let subscription: ControlSubscription | null = null;
  let ticker: NodeJS.Timeout | null = null;
  const broadcast = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of clients) res.write(frame);
  };
  const routeStats = () => ({
    at: new Date().toISOString(),
    controlVersion: routing.controlVersion,
    routes: routing.table.routes.map((r) => ({ id: r.id, mode: r.mode, percent: r.percent, counters: stats.of(r.id) })),
  });
  const startFeed = () => {
    if (subscription) return;
    subscription = controlPlane.subscribe((snap) => broadcast('change', { version: snap.version, via: snap.via }), {
      pollMs: config.controlPollMs,
      onError: (err, where) => log.warn({ err: err.message, where }, 'console events: control plane subscription error (retrying)'),
    });
    ticker = setInterval(() => broadcast('stats', routeStats()), STATS_EVERY_MS);
    ticker.unref();
  };
  const stopFeed = async () => {
    if (ticker) clearInterval(ticker);
    ticker = null;
    const s = subscription;
    subscription = null;
    await s?.close();
  };

  admin.get('/admin/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ operator: req.operator, ...routeStats() })}\n\n`);
    clients.add(res);
    startFeed();
    req.raw.on('close', () => {
      clients.delete(res);
      if (clients.size === 0) void stopFeed();
    });
  });
  // Open event streams would hold the admin server's close: end them first.
  admin.addHook('preClose', (done) => {
    for (const res of clients) res.end();
    clients.clear();
    void stopFeed().then(() => done(), () => done());
  });
}

/** The library's refusals as problems (409, their own code and hint); anything else as it is. */
function refusal(err: unknown): unknown {
  if (err instanceof CarvingError) {
    const status = err.code === 'usage' ? 400 : 409;
    return new ProblemError(status, err.code, err.message, err.hint ? { hint: err.hint } : {});
  }
  if (err instanceof RouteRefusedError) return new ProblemError(409, err.code, err.message, { hint: err.hint, ...err.details });
  if (err instanceof RampError) return new ProblemError(err.code === 'bad_ramp' ? 400 : 409, err.code, err.message, err.hint ? { hint: err.hint } : {});
  if (err instanceof ContextBusyError) return new ProblemError(409, 'context_busy', err.message, { hint: 'wait for it to finish, then try again' });
  if (err instanceof BackfillBusyError) return new ProblemError(409, 'backfill_busy', err.message);
  return err;
}
