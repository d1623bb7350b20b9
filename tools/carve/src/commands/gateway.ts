/**
 * `carve gateway`: runs the strangler gateway alone, configured from the environment (PORT,
 * CARVE_ROUTES_FILE, CARVE_JWT_SECRET / CARVE_JWT_PUBLIC_KEY, CARVE_ADMIN_PORT,
 * CARVE_ADMIN_TOKEN, DATABASE_URL; see docs/gateway.md), as a child process it stops on Ctrl-C.
 *
 * `carve routes list | show <id> | mismatches <id> | set <id> --mode M [--percent P] --reason R
 * | rollback <id> | clear <id> | audit`: the gateway's admin API (CARVE_ADMIN_URL, default
 * http://127.0.0.1:9090, with CARVE_ADMIN_TOKEN: a named operator's token from `carve operator
 * create`, or the gateway's own as operator `bootstrap`; the audit names that operator).
 * Tables for people, `--json` for scripts.
 * Every change goes through the control plane, so every replica applies it within 2 seconds.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { CliError, EXIT } from '../cli-error';
import { repoRoot, tsEntryArgs } from '../paths';

const GATEWAY_ENTRY = 'apps/gateway/src/main.ts';
const MODES = ['monolith', 'shadow', 'canary', 'service'];

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('run the strangler gateway alone (PORT, CARVE_ROUTES_FILE, CARVE_ADMIN_PORT, CARVE_ADMIN_TOKEN, DATABASE_URL from the environment)')
    .option('--routes <file>', 'route table file (default: CARVE_ROUTES_FILE, else apps/gateway/routes/dev.yaml)')
    .option('--port <port>', 'proxy port (default: PORT, else 8080)')
    .option('--admin-port <port>', 'admin API port (default: CARVE_ADMIN_PORT, else 9090)')
    .action(async (opts: { routes?: string; port?: string; adminPort?: string }) => {
      const root = repoRoot();
      const entry = path.join(root, GATEWAY_ENTRY);
      if (!existsSync(entry)) throw new CliError(`the gateway is not in this checkout (${GATEWAY_ENTRY})`);
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (opts.routes) env.CARVE_ROUTES_FILE = path.resolve(opts.routes);
      if (opts.port) env.PORT = opts.port;
      if (opts.adminPort) env.CARVE_ADMIN_PORT = opts.adminPort;
      const child = spawn(process.execPath, tsEntryArgs(entry), { cwd: root, env, stdio: 'inherit' });
      const forward = (signal: NodeJS.Signals) => {
        if (child.exitCode === null && child.pid) process.kill(child.pid, signal);
      };
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      if (code !== 0) throw new CliError(`the gateway exited with code ${code}`, 'read its log lines above', code);
    });

  const routes = program
    .command('routes')
    .description("read and change the gateway's routes through its admin API (CARVE_ADMIN_URL, CARVE_ADMIN_TOKEN)")
    .option('--url <url>', 'admin API URL (default: CARVE_ADMIN_URL, else http://127.0.0.1:9090)')
    .option('--token <token>', 'admin token (default: CARVE_ADMIN_TOKEN, else the dev token)');

  const api = () => new AdminApi(routes.opts<{ url?: string; token?: string }>());

  routes
    .command('list')
    .description('every route: mode, percent, where it comes from (file or override), breaker, mismatches')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const data = await api().get('/admin/routes');
      if (opts.json) return printJson(data);
      const rows = (data.routes as RouteView[]).map((r) => [
        r.id,
        r.mode,
        r.mode === 'canary' ? `${r.percent}%` : r.mode === 'service' ? '100%' : '-',
        r.source === 'override' ? `override (${r.override?.updatedBy ?? '?'})` : 'file',
        r.target,
        r.breaker?.state ?? '-',
        r.mismatches.compared ? `${r.mismatches.count}/${r.mismatches.compared}` : '-',
        `${r.methods.length === 7 ? '*' : r.methods.join(',')} ${r.path}`,
      ]);
      printTable(['ROUTE', 'MODE', 'PERCENT', 'SOURCE', 'TARGET', 'BREAKER', 'MISMATCHES', 'MATCH'], rows);
      process.stdout.write(`\ndefault upstream: ${data.default}   control plane version: ${data.controlVersion}\n`);
    });

  routes
    .command('show <id>')
    .description('one route in detail: effective state, override, guard, breaker, counters, latest mismatch samples')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const r = await api().get(`/admin/routes/${encodeURIComponent(id)}`);
      if (opts.json) return printJson(r);
      printRoute(r);
    });

  routes
    .command('mismatches <id>')
    .description("a route's stored shadow mismatches, newest first, a page at a time; --counts: how many differed at each field path, and the route's noise")
    .option('--path <path>', 'only those differing at this field path ($.items[*].title; an index or array key counts as *)')
    .option('--since <when>', 'only those stored since: an ISO-8601 instant, or a duration ago (30m, 2h, 7d)')
    .option('--until <when>', 'only those stored before: an ISO-8601 instant, or a duration ago')
    .option('--limit <n>', 'page size, 1 to 1000', '20')
    .option('--cursor <cursor>', 'the next page: the cursor the previous page printed')
    .option('--counts', 'mismatches per field path (kept beyond the samples) and the noise baseline, instead of samples')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { path?: string; since?: string; until?: string; limit: string; cursor?: string; counts?: boolean; json?: boolean }) => {
      const route = encodeURIComponent(id);
      if (opts.counts) {
        const [paths, noise] = await Promise.all([api().get(`/admin/routes/${route}/mismatches/paths`), api().get(`/admin/routes/${route}/noise`)]);
        if (opts.json) return printJson({ routeId: paths.routeId, mismatchPaths: paths.paths, noise: noise.paths, noiseSample: noise.noiseSample });
        process.stdout.write(`mismatches per field path (${id}):\n`);
        printTable(['PATH', 'COUNT', 'FIRST SEEN', 'LAST SEEN'], paths.paths.map((p: any) => [p.path, String(p.count), p.firstSeen, p.lastSeen]));
        process.stdout.write(`\nnoise (the monolith differed from itself; noiseSample ${noise.noiseSample}):\n`);
        printTable(['PATH', 'COUNT', 'FIRST SEEN', 'LAST SEEN'], noise.paths.map((p: any) => [p.path, String(p.count), p.firstSeen, p.lastSeen]));
        return;
      }
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(`--limit must be an integer from 1 to 1000, got "${opts.limit}"`, undefined, EXIT.usage);
      const q = new URLSearchParams({ limit: String(limit) });
      if (opts.path) q.set('path', opts.path);
      if (opts.since) q.set('since', instant('--since', opts.since));
      if (opts.until) q.set('until', instant('--until', opts.until));
      if (opts.cursor) q.set('cursor', opts.cursor);
      const page = await api().get(`/admin/routes/${route}/mismatches?${q}`);
      if (opts.json) return printJson(page);
      if (page.items.length === 0) process.stdout.write('no stored mismatches match\n');
      for (const m of page.items) printMismatch(m, Infinity);
      if (page.nextCursor) {
        // The same filters (times as the instants asked), the next page.
        const again = [['--path', q.get('path')], ['--since', q.get('since')], ['--until', q.get('until')], ['--limit', opts.limit]].filter(([, v]) => v);
        process.stdout.write(`\nmore: carve routes mismatches ${id} --cursor ${page.nextCursor}${again.map(([k, v]) => ` ${k} '${v}'`).join('')}\n`);
      }
    });

  routes
    .command('set <id>')
    .description('set a route\'s mode (and canary percent) at runtime; audited, applied by every replica')
    .requiredOption('--mode <mode>', `one of ${MODES.join(', ')}`)
    .option('--percent <percent>', 'canary percent, 0 to 100')
    .requiredOption('--reason <reason>', 'why (kept in the audit)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { mode: string; percent?: string; reason: string; json?: boolean }) => {
      if (!MODES.includes(opts.mode)) throw new CliError(`unknown mode "${opts.mode}"`, `use one of ${MODES.join(', ')}`);
      let percent: number | undefined;
      if (opts.percent !== undefined) {
        percent = Number(opts.percent);
        if (!Number.isFinite(percent) || percent < 0 || percent > 100) throw new CliError(`--percent must be a number from 0 to 100, got "${opts.percent}"`);
        if (opts.mode !== 'canary') throw new CliError('--percent is only for --mode canary');
      }
      const out = await api().send('PUT', `/admin/routes/${encodeURIComponent(id)}`, { mode: opts.mode, ...(percent !== undefined ? { percent } : {}), reason: opts.reason });
      if (opts.json) return printJson(out);
      const r = out.route as RouteView;
      process.stdout.write(`${r.id}: ${describeMode(r)} (override, version ${out.change.version}); every replica applies it within 2 s\n`);
    });

  routes
    .command('rollback <id>')
    .description('send a route back to the monolith now (an override, audited)')
    .option('--reason <reason>', 'why (kept in the audit)', 'rollback')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { reason: string; json?: boolean }) => {
      const out = await api().send('POST', `/admin/routes/${encodeURIComponent(id)}/rollback`, { reason: opts.reason });
      if (opts.json) return printJson(out);
      process.stdout.write(`${out.route.id}: monolith (rolled back, version ${out.change.version}); every replica applies it within 2 s\n`);
    });

  routes
    .command('clear <id>')
    .description("remove a route's override: the route table file's mode applies again")
    .option('--reason <reason>', 'why (kept in the audit)', 'back to the route table file')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { reason: string; json?: boolean }) => {
      const out = await api().send('DELETE', `/admin/routes/${encodeURIComponent(id)}/override`, { reason: opts.reason });
      if (opts.json) return printJson(out);
      const r = out.route as RouteView;
      process.stdout.write(out.change ? `${r.id}: ${describeMode(r)} (from the file again)\n` : `${r.id}: had no override; ${describeMode(r)} (file)\n`);
    });

  routes
    .command('audit')
    .description('who changed which route, when and why (newest first)')
    .option('--route <id>', 'only this route')
    .option('--limit <n>', 'how many entries', '20')
    .option('--json', 'print JSON')
    .action(async (opts: { route?: string; limit: string; json?: boolean }) => {
      const q = new URLSearchParams({ limit: opts.limit, ...(opts.route ? { route: opts.route } : {}) });
      const data = await api().get(`/admin/audit?${q}`);
      if (opts.json) return printJson(data);
      const rows = (data.entries as AuditView[]).map((e) => [e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.actor, e.action, e.target, stateText(e.before), stateText(e.after), e.reason]);
      printTable(['AT', 'ACTOR', 'ACTION', 'TARGET', 'BEFORE', 'AFTER', 'REASON'], rows);
    });
}

// -------------------------------------------------------------------------------------------

interface RouteView {
  id: string;
  methods: string[];
  path: string;
  target: string;
  mode: string;
  percent: number;
  source: string;
  override: { updatedBy: string; updatedAt: string; reason: string } | null;
  breaker?: { state: string; reason?: string };
  mismatches: { count: number; compared: number; latest?: any[] };
  [k: string]: any;
}

interface AuditView {
  at: string;
  actor: string;
  action: string;
  target: string;
  reason: string;
  before: any;
  after: any;
}

class AdminApi {
  private readonly base: string;
  private readonly token: string;

  constructor(opts: { url?: string; token?: string }) {
    this.base = (opts.url ?? process.env.CARVE_ADMIN_URL ?? 'http://127.0.0.1:9090').replace(/\/+$/, '');
    this.token = opts.token ?? process.env.CARVE_ADMIN_TOKEN ?? DEV_ADMIN_TOKEN;
  }

  get(pathname: string): Promise<any> {
    return this.call('GET', pathname);
  }

  send(method: string, pathname: string, body: unknown): Promise<any> {
    return this.call(method, pathname, body);
  }

  private async call(method: string, pathname: string, body?: unknown): Promise<any> {
    let res: Response;
    try {
      res = await fetch(this.base + pathname, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (err as Error).message;
      throw new CliError(`cannot reach the gateway admin API at ${this.base} (${cause})`, 'start it (`carve gateway` or `carve dev`), or point CARVE_ADMIN_URL at it');
    }
    const text = await res.text();
    let data: any;
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = { detail: text };
    }
    if (res.ok) return data;
    if (res.status === 401) throw new CliError(`the admin API refused the token (${data.code ?? 401})`, 'set CARVE_ADMIN_TOKEN to your operator token (`carve operator create`) or the gateway\'s CARVE_ADMIN_TOKEN');
    if (res.status === 403) throw new CliError(data.detail ?? `the admin API refused the change (${data.code ?? 403})`, 'changes need an operator token with role operator (`carve operator create <name> --role operator`)');
    if (res.status === 404 && data.code === 'route_not_found') throw new CliError(data.detail ?? 'no such route', 'see `carve routes list`');
    if (res.status === 400 && data.code === 'unknown_route') throw new CliError(data.detail, 'see `carve routes list`');
    if (res.status === 400 && Array.isArray(data.errors)) {
      const lines = (data.errors as Array<{ field: string; message: string }>).map((e) => `${e.field ? `${e.field} ` : ''}${e.message}`);
      throw new CliError(`${data.detail ?? 'the change is not valid'}: ${lines.join('; ')}`, 'fix the options and try again (`carve routes set --help`)');
    }
    throw new CliError(`the admin API answered ${res.status} ${data.code ?? ''}: ${data.detail ?? text}`.trim(), res.status >= 500 ? 'see the gateway log; `carve routes` changes need the control plane (DATABASE_URL) up' : undefined);
  }
}

function describeMode(r: { mode: string; percent: number }): string {
  return r.mode === 'canary' ? `canary ${r.percent}%` : r.mode;
}

function stateText(s: any): string {
  if (!s) return '-';
  // A context's stage change: its stage (and canary percent) and who owns the writes.
  if (typeof s.stage === 'string') return `${s.stage}${s.stage === 'canary' && s.percent != null ? ` ${s.percent}%` : ''}${s.owner ? ` (writes: ${s.owner})` : ''}`;
  if (s.mode === undefined) return s.source ?? '-';
  return `${s.mode === 'canary' ? `canary ${s.percent}%` : s.mode}${s.source ? ` (${s.source})` : ''}`;
}

function printJson(data: unknown): void {
  process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? String(c ?? '') : String(c ?? '').padEnd(widths[i]))).join('  ');
  process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
  if (rows.length === 0) process.stdout.write('(none)\n');
}

function printRoute(r: any): void {
  const kv: Array<[string, string]> = [
    ['route', r.id + (r.description ? ` (${r.description})` : '')],
    ['match', `${r.methods.join(',')} ${r.path}`],
    ['target', r.target],
    ['mode', `${describeMode(r)}  [${r.source}${r.source === 'file' ? '' : `; file says ${describeMode({ mode: r.file.mode, percent: r.file.percent ?? 0 })}`}]`],
  ];
  if (r.override) kv.push(['override', `by ${r.override.updatedBy} at ${r.override.updatedAt}: ${r.override.reason}`]);
  kv.push(
    ['sticky by', `${r.stickyBy} (cohort ${r.cohort})`],
    ['allow / deny', `${r.allow.length ? r.allow.join(',') : '-'} / ${r.deny.length ? r.deny.join(',') : '-'}`],
    ['fallback', r.fallback ? 'yes (GET, HEAD, OPTIONS)' : 'no'],
    ['breaker', `${r.breaker.state} (${r.breaker.reason})`],
  );
  if (r.guardConfig) {
    const g = r.guardConfig;
    const s = r.guard.stats;
    kv.push([
      'guard',
      `errors > ${(g.maxErrorRate * 100).toFixed(1)}%${g.maxMismatchRate !== undefined ? ` or mismatches > ${(g.maxMismatchRate * 100).toFixed(1)}%` : ''} over ${g.window} (min ${g.minRequests}); now ${s ? `${s.error} errors, ${s.mismatch} mismatches in ${s.total}` : 'no samples'}`,
    ]);
    if (r.guard.lastTrip) {
      const t = r.guard.lastTrip;
      const what =
        t.action !== 'kept'
          ? ''
          : t.context
            ? ` (kept on the service, which owns ${t.context.name}'s writes: ${t.context.name} is degraded; next: npx carve rollback ${t.context.name})`
            : ' (kept on the service: the control plane could not be asked who owns its writes)';
      kv.push(['last trip', `${t.at}: ${t.reason}${what}`]);
    }
  } else kv.push(['guard', 'none']);
  const c = r.counters;
  kv.push(
    ['served here', `${c.monolith} by the monolith, ${c.service} by the service, ${c.fallbacks} fallbacks, ${c.serviceErrors} service errors`],
    ['shadow here', `${c.shadow.match} match, ${c.shadow.mismatch} mismatch, ${c.shadow.error} error, ${c.shadow.skipped} skipped`],
  );
  const w = Math.max(...kv.map(([k]) => k.length));
  process.stdout.write(`${kv.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`);
  const latest = r.mismatches.latest ?? [];
  if (latest.length) {
    process.stdout.write(`\nlatest mismatches (${r.mismatches.samplesFrom}; more: carve routes mismatches ${r.id}):\n`);
    for (const m of latest.slice(0, 5)) printMismatch(m, 5);
  }
}

/** One stored mismatch: the request, the statuses, then up to `max` differing fields. */
function printMismatch(m: any, max: number): void {
  process.stdout.write(`  ${m.at}  ${m.request.method} ${m.request.path}  tenant ${m.request.tenantId ?? '-'}  status ${m.monolithStatus}/${m.serviceStatus}\n`);
  for (const d of m.differences.slice(0, max)) {
    process.stdout.write(`    ${d.path}: ${d.kind}  monolith=${JSON.stringify(d.monolith) ?? '-'}  service=${JSON.stringify(d.service) ?? '-'}\n`);
  }
  if (m.truncated) process.stdout.write('    (more differences not compared)\n');
}

/** An ISO-8601 instant as given, or a duration ago (`30m`, `2h`, `7d`) as an instant. */
function instant(option: string, value: string): string {
  const ago = /^(\d+)(s|m|h|d)$/.exec(value);
  if (ago) return new Date(Date.now() - Number(ago[1]) * { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[ago[2] as 's']).toISOString();
  if (Number.isNaN(Date.parse(value))) throw new CliError(`${option} must be an ISO-8601 instant or a duration like 30m, 2h, 7d; got "${value}"`, undefined, EXIT.usage);
  return value;
}
