/**
 * The migration console: one page (lit-html), four views behind the hash (#/contexts, #/routes,
 * #/mismatches, #/audit), every figure from the gateway's admin API, kept live by its
 * server-sent events. An operator's token logs in (kept in this tab's sessionStorage); a viewer
 * sees everything and no action (the admin API refuses a viewer's changes anyway).
 */
import { html, nothing, render, type TemplateResult } from 'lit-html';
import { Api, ApiProblem, type Problem } from './api';
import './styles.css';

type View = 'contexts' | 'routes' | 'mismatches' | 'audit';

type Side = 'monolith' | 'service' | 'shadow';

interface RouteRates {
  requests: number;
  errors: number;
  mismatchRate: number | null;
  /** Mean response time per side over the interval (ms), null when that side answered nothing. */
  latencyMs: Record<Side, number | null>;
}

const SIDES: Side[] = ['monolith', 'service', 'shadow'];

/** An action waiting for its reason and confirmation. */
interface Pending {
  readonly title: string;
  readonly what: string;
  readonly run: (reason: string) => Promise<unknown>;
  problem?: Problem;
  busy?: boolean;
}

const state = {
  api: null as Api | null,
  me: null as { name: string; role: string } | null,
  loginProblem: null as Problem | null,
  view: 'contexts' as View,
  live: false,
  contexts: [] as any[],
  routes: [] as any[],
  rates: new Map<string, RouteRates>(),
  lastStats: null as { at: number; routes: Map<string, any> } | null,
  audit: [] as any[],
  pageProblem: null as Problem | null,
  notice: null as string | null,
  pending: null as Pending | null,
  browser: { route: '', path: '', since: '', until: '', items: [] as any[], cursor: null as string | null, pages: [] as Array<string | null>, paths: [] as any[], noise: [] as any[], selected: null as any },
  feed: null as AbortController | null,
  refreshing: false,
  again: false,
};

const app = document.getElementById('app')!;
const canAct = () => state.me?.role === 'operator';

function update(): void {
  render(state.api && state.me ? shell() : login(), app);
}

// ---- data -------------------------------------------------------------------------------------------

async function refresh(): Promise<void> {
  if (!state.api) return;
  if (state.refreshing) {
    state.again = true;
    return;
  }
  state.refreshing = true;
  try {
    const [contexts, routes, audit] = await Promise.all([
      state.api.get<{ contexts: any[] }>('/admin/contexts'),
      state.api.get<{ routes: any[] }>('/admin/routes'),
      state.api.get<{ entries: any[] }>('/admin/audit?limit=100'),
    ]);
    state.contexts = contexts.contexts;
    state.routes = routes.routes;
    state.audit = audit.entries;
    state.pageProblem = null;
    if (!state.browser.route && state.routes.length) state.browser.route = (state.routes.find((r) => r.mode !== 'monolith') ?? state.routes[0]).id;
    if (state.view === 'mismatches') await loadMismatches(state.browser.pages[state.browser.pages.length - 1] ?? null, false);
  } catch (err) {
    state.pageProblem = asProblem(err);
  } finally {
    state.refreshing = false;
    update();
  }
  if (state.again) {
    state.again = false;
    void refresh();
  }
}

function onStats(data: any): void {
  const at = Date.parse(data.at);
  const now = new Map<string, any>(data.routes.map((r: any) => [r.id, r.counters]));
  const prev = state.lastStats;
  if (prev) {
    const dt = Math.max(0.001, (at - prev.at) / 1000);
    for (const [id, c] of now) {
      const p = prev.routes.get(id);
      if (!p) continue;
      const served = c.monolith + c.service - (p.monolith + p.service);
      const errors = c.serviceErrors + c.fallbacks - (p.serviceErrors + p.fallbacks);
      const compared = c.shadow.match + c.shadow.mismatch - (p.shadow.match + p.shadow.mismatch);
      const mism = c.shadow.mismatch - p.shadow.mismatch;
      const latencyMs = {} as Record<Side, number | null>;
      for (const side of SIDES) {
        const n = (c.latency?.[side]?.count ?? 0) - (p.latency?.[side]?.count ?? 0);
        latencyMs[side] = n > 0 ? ((c.latency[side].totalMs ?? 0) - (p.latency?.[side]?.totalMs ?? 0)) / n : null;
      }
      state.rates.set(id, { requests: served / dt, errors: errors / dt, mismatchRate: compared > 0 ? mism / compared : null, latencyMs });
    }
  }
  state.lastStats = { at, routes: now };
  for (const r of state.routes) {
    const c = now.get(r.id);
    if (c) r.counters = c;
  }
  update();
}

function startFeed(): void {
  state.feed?.abort();
  const ctl = new AbortController();
  state.feed = ctl;
  void state.api!.follow(
    (event, data) => {
      if (event === 'change') void refresh();
      else if (event === 'stats') onStats(data);
    },
    (live) => {
      state.live = live;
      update();
    },
    ctl.signal,
  );
}

async function loadMismatches(cursor: string | null, push: boolean): Promise<void> {
  const b = state.browser;
  if (!state.api || !b.route) return;
  const q = new URLSearchParams({ limit: '10' });
  if (b.path) q.set('path', b.path);
  if (b.since) q.set('since', new Date(b.since).toISOString());
  if (b.until) q.set('until', new Date(b.until).toISOString());
  if (cursor) q.set('cursor', cursor);
  const enc = encodeURIComponent(b.route);
  if (push) b.pages.push(cursor);
  try {
    const [page, paths, noise] = await Promise.all([
      state.api.get<{ items: any[]; nextCursor: string | null }>(`/admin/routes/${enc}/mismatches?${q}`),
      state.api.get<{ paths: any[] }>(`/admin/routes/${enc}/mismatches/paths`),
      state.api.get<{ paths: any[] }>(`/admin/routes/${enc}/noise`),
    ]);
    b.items = page.items;
    b.cursor = page.nextCursor;
    b.paths = paths.paths;
    b.noise = noise.paths;
    if (b.selected && !b.items.some((m) => m.id === b.selected.id)) b.selected = null;
    if (!b.selected && b.items.length) b.selected = b.items[0];
    state.pageProblem = null;
  } catch (err) {
    state.pageProblem = asProblem(err);
  }
  update();
}

function asProblem(err: unknown): Problem {
  return err instanceof ApiProblem ? err.problem : { status: 0, code: 'network', detail: (err as Error).message };
}

// ---- login ------------------------------------------------------------------------------------------

async function logIn(token: string): Promise<void> {
  const api = new Api(token.trim());
  try {
    state.me = await api.get<{ name: string; role: string }>('/admin/whoami');
    state.api = api;
    state.loginProblem = null;
    sessionStorage.setItem('carve-console-token', token.trim());
    startFeed();
    await refresh();
  } catch (err) {
    state.loginProblem = asProblem(err);
    update();
  }
}

function logOut(): void {
  state.feed?.abort();
  state.api = null;
  state.me = null;
  sessionStorage.removeItem('carve-console-token');
  update();
}

function login(): TemplateResult {
  const submit = (e: Event) => {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem('token') as HTMLInputElement;
    void logIn(input.value);
  };
  return html`<main class="login">
    <h1>Carve console</h1>
    <form @submit=${submit}>
      <label>Operator token <input name="token" type="password" autocomplete="off" placeholder="carve_op_..." /></label>
      <button type="submit">Log in</button>
    </form>
    ${state.loginProblem ? problemBox(state.loginProblem) : nothing}
    <p class="muted">The same tokens as the admin API: <code>npx carve operator create NAME --role operator|viewer</code> prints one.</p>
  </main>`;
}

// ---- shell ------------------------------------------------------------------------------------------

function shell(): TemplateResult {
  const tab = (v: View, label: string) => html`<a href="#/${v}" class=${state.view === v ? 'active' : ''} data-view=${v}>${label}</a>`;
  return html`<header>
      <strong>Carve</strong>
      <nav>${tab('contexts', 'Contexts')} ${tab('routes', 'Routes')} ${tab('mismatches', 'Mismatches')} ${tab('audit', 'Audit')}</nav>
      <span class="live ${state.live ? 'on' : 'off'}" data-live=${state.live ? 'on' : 'off'}>${state.live ? '● live' : '○ reconnecting'}</span>
      <span class="who" data-role=${state.me!.role}>${state.me!.name} (${state.me!.role}${canAct() ? '' : ', read-only'})</span>
      <button class="link" @click=${logOut}>Log out</button>
    </header>
    <main>
      ${state.pageProblem ? problemBox(state.pageProblem) : nothing} ${state.notice ? html`<p class="notice" data-notice>${state.notice}</p>` : nothing}
      ${state.view === 'contexts' ? contextsView() : state.view === 'routes' ? routesView() : state.view === 'mismatches' ? mismatchesView() : auditView()}
    </main>
    ${state.pending ? confirmDialog(state.pending) : nothing}`;
}

function problemBox(p: Problem): TemplateResult {
  return html`<div class="problem" role="alert" data-problem=${p.code}>
    <strong>${p.detail}</strong> <code>${p.code}</code>${p.hint ? html`<div>next: ${p.hint}</div>` : nothing}
    ${p.errors?.length ? html`<ul>${p.errors.map((e) => html`<li><code>${e.field}</code> ${e.message}</li>`)}</ul>` : nothing}
  </div>`;
}

const ago = (iso: string | null | undefined) => {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};
const until = (iso: string | null | undefined) => {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000));
  return s < 90 ? `in ${s}s` : `in ${Math.round(s / 60)}m`;
};
const ms = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x < 10 ? x.toFixed(1) : String(Math.round(x)));
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
const stageLabel = (st: any) => (st.stage === 'canary' ? `canary ${st.canaryPercent}%` : st.stage);

// ---- actions ----------------------------------------------------------------------------------------

function ask(title: string, what: string, run: (reason: string) => Promise<unknown>): void {
  state.pending = { title, what, run };
  update();
}

async function confirmPending(reason: string): Promise<void> {
  const p = state.pending;
  if (!p) return;
  p.busy = true;
  p.problem = undefined;
  update();
  try {
    await p.run(reason);
    state.pending = null;
    state.notice = `${p.title}: done`;
    await refresh();
  } catch (err) {
    p.problem = asProblem(err);
    p.busy = false;
    update();
  }
}

function confirmDialog(p: Pending): TemplateResult {
  const submit = (e: Event) => {
    e.preventDefault();
    const reason = ((e.target as HTMLFormElement).elements.namedItem('reason') as HTMLTextAreaElement).value;
    void confirmPending(reason);
  };
  return html`<div class="backdrop">
    <form class="dialog" role="dialog" aria-label=${p.title} @submit=${submit}>
      <h2>${p.title}</h2>
      <p>${p.what}</p>
      <label>Reason (kept in the audit) <textarea name="reason" required placeholder="why"></textarea></label>
      ${p.problem ? problemBox(p.problem) : nothing}
      <div class="buttons">
        <button type="button" class="link" @click=${() => { state.pending = null; update(); }}>Cancel</button>
        <button type="submit" class="danger" ?disabled=${p.busy === true} data-confirm>Confirm</button>
      </div>
    </form>
  </div>`;
}

const ctxPath = (name: string, tail: string) => `/admin/contexts/${encodeURIComponent(name)}/${tail}`;

function contextActions(c: any): TemplateResult | typeof nothing {
  if (!canAct() || !c.registered) return nothing;
  const api = state.api!;
  const name = c.context;
  const valueOf = (id: string) => (document.getElementById(id) as HTMLInputElement | HTMLSelectElement).value;
  // As `--ack-guard-trip`: send a route the guard rolled back to the service again.
  const ack = () => ((document.getElementById(`ack-${name}`) as HTMLInputElement | null)?.checked === true ? { ackGuardTrip: true } : {});
  const acked = (a: { ackGuardTrip?: boolean }) => (a.ackGuardTrip ? ', acknowledging the guard trip' : '');
  const advance = () => {
    const stage = valueOf(`stage-${name}`);
    const percent = stage === 'canary' ? Number(valueOf(`percent-${name}`)) : undefined;
    const a = ack();
    ask(`Advance ${name}`, `Move ${name} from ${stageLabel(c.stage)} to ${stage}${percent !== undefined ? ` ${percent}%` : ''}${acked(a)}: the gateway routes follow.`, (reason) =>
      api.post(ctxPath(name, 'stage'), { stage, ...(percent !== undefined ? { percent } : {}), reason, ...a }),
    );
  };
  const ramp = () => {
    const steps = valueOf(`ramp-${name}`)
      .split(',')
      .map((s) => Number(s.trim()));
    const every = valueOf(`every-${name}`);
    const a = ack();
    ask(`Ramp ${name}`, `Canary ${steps.join(', ')}%, one step every ${every}${acked(a)}, applied by the gateways (a guard trip pauses it).`, (reason) => api.post(ctxPath(name, 'ramp'), { steps, every, reason, ...a }));
  };
  const rampAction = (action: 'pause' | 'resume' | 'stop') => () => ask(`${action[0].toUpperCase()}${action.slice(1)} the ramp of ${name}`, `The ramp of ${name}: ${action}.`, (reason) => api.post(ctxPath(name, `ramp/${action}`), { reason }));
  const rollback = () =>
    ask(`Roll back ${name}`, `Every route of ${name} back to the monolith and its writes too (fenced handover if the service owns them), from ${stageLabel(c.stage)}.`, (reason) => api.post(ctxPath(name, 'rollback'), { reason }));
  const ramping = c.ramp && (c.ramp.state === 'running' || c.ramp.state === 'paused');
  return html`<div class="actions" data-actions=${name}>
    <span>
      <select id="stage-${name}" aria-label="stage">
        ${['shadow', 'canary', 'reads', 'complete'].map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      <input id="percent-${name}" aria-label="canary percent" type="number" min="0" max="100" value="10" />%
      <button @click=${advance} data-action="stage">Advance / set canary</button>
    </span>
    <span>
      <input id="ramp-${name}" aria-label="ramp steps" value="1,5,25,50" size="10" /> every <input id="every-${name}" aria-label="ramp interval" value="10m" size="4" />
      <button @click=${ramp} data-action="ramp" ?disabled=${ramping}>Start ramp</button>
      ${ramping
        ? html`${c.ramp.state === 'running' ? html`<button @click=${rampAction('pause')} data-action="ramp-pause">Pause</button>` : html`<button @click=${rampAction('resume')} data-action="ramp-resume">Resume</button>`}
            <button @click=${rampAction('stop')} data-action="ramp-stop">Stop ramp</button>`
        : nothing}
    </span>
    ${c.guard.trips.length ? html`<label class="ack"><input id="ack-${name}" type="checkbox" /> acknowledge the guard trip</label>` : nothing}
    <button class="danger" @click=${rollback} data-action="rollback">Roll back</button>
  </div>`;
}

// ---- views --------------------------------------------------------------------------------------------

function contextsView(): TemplateResult {
  if (!state.contexts.length) return html`<p class="muted">No carvable context is known to this gateway.</p>`;
  return html`${state.contexts.map((c) => contextCard(c))}`;
}

function lagLine(what: string, l: any) {
  if (!l) return nothing;
  return html`<tr><th>${what}</th><td>${l.error ? html`unknown: ${l.error}` : html`${l.from} → ${l.to}: ${l.pending} pending, ${l.unpublished} unpublished${l.pending ? `, oldest ${Math.round(l.oldestPendingMs / 1000)}s` : ''}`}</td></tr>`;
}

/** How many workspaces are at each stage (per-tenant carving), those at a stage of their own named. */
function workspacesLine(w: any): TemplateResult | string {
  if (!w) return '-';
  if (w.error) return html`<span class="bad">${w.error}</span>`;
  const groups = (w.byStage ?? []).filter((g: any) => g.count > 0);
  return html`${w.total ?? '?'} in all${groups.map(
    (g: any) =>
      html`<span class="chip" data-workspace-stage=${g.stage}>${g.count} at ${g.stage}${g.followsContext ? '' : html` (${g.workspaces.slice(0, 3).join(', ')}${g.count > 3 ? ', …' : ''})`}</span>`,
  )}${w.complete ? '; complete' : ''}`;
}

function contextCard(c: any): TemplateResult {
  const st = c.stage;
  const v = c.lastVerify;
  const r = c.ramp;
  const h = c.handover;
  return html`<section class="card" data-context=${c.context}>
    <h2>${c.context} <span class="stage" data-stage=${st.stage}>${stageLabel(st)}</span></h2>
    ${c.description ? html`<p class="muted">${c.description}</p>` : nothing}
    <table class="facts">
      <tr><th>writes owned by</th><td data-owner>${st.owner}</td></tr>
      <tr><th>stage set</th><td>${st.updatedAt ? html`${ago(st.updatedAt)} by ${st.updatedBy}: ${st.reason}` : '-'}</td></tr>
      <tr><th>workspaces</th><td data-workspaces>${workspacesLine(c.workspaces)}</td></tr>
      <tr><th>canary</th><td data-canary>${st.stage === 'canary' ? `${st.canaryPercent}%` : '-'}</td></tr>
      <tr>
        <th>ramp</th>
        <td data-ramp=${r ? r.state : 'none'}>
          ${r
            ? html`<strong>${r.state}</strong> step ${r.step + 1}/${r.steps.length} (${r.percent}%), steps ${r.steps.join(', ')}% every ${Math.round(r.everyMs / 1000)}s${r.next ? html`; next ${r.next.percent}%${r.next.at ? html` at ${new Date(r.next.at).toLocaleTimeString()} (${until(r.next.at)})` : nothing}` : nothing}${r.pausedWhy ? html`; ${r.pausedWhy}` : nothing}`
            : 'none'}
        </td>
      </tr>
      <tr><th>backfill</th><td>${c.checkpoints.length ? c.checkpoints.map((k: any) => html`<span class="chip">${k.source} ${k.finishedAt ? '✓' : '…'} ${k.rowsDone}</span>`) : 'not run'}</td></tr>
      <tr><th>last verify</th><td data-verify>${v ? html`${v.ok ? 'no drift' : html`<span class="bad">drift in ${v.drifted} workspace(s)</span>`} over ${v.workspaces} workspace(s), ${ago(v.finishedAt)} (run #${v.id} by ${v.actor ?? '?'})` : 'never run'}</td></tr>
      ${(v?.drift ?? []).slice(0, 5).map((d: any) => html`<tr><th></th><td class="bad">${d.projection} in ${d.workspaceId}: ${d.missing} missing, ${d.extra} extra, ${d.different} different</td></tr>`)}
      ${lagLine('sync forward', c.lag.forward)} ${lagLine('sync reverse', c.lag.reverse)}
      <tr><th>handover</th><td data-handover>${h.open ? html`<span class="bad">IN PROGRESS: ${h.open.command} to the ${h.open.to}, phase ${h.open.phase}, by ${h.open.actor}</span>` : h.last ? html`last: ${h.last.command} to the ${h.last.to} ${h.last.phase}, ${ago(h.last.finishedAt ?? h.last.startedAt)}` : 'none'}</td></tr>
      <tr>
        <th>guard</th>
        <td data-guard=${c.guard.trips.length}>
          ${c.guard.trips.length
            ? c.guard.trips.map((t: any) => html`<div class="bad" data-trip=${t.routeId}>${t.routeId} ${t.action === 'degraded' ? 'failing on the service' : 'rolled back to the monolith'} at ${t.stage}, ${t.trips} trip(s), last ${ago(t.lastAt)}: ${t.reason}</div>`)
            : 'no trip'}
          ${c.guard.next ? html`<div>next: ${c.guard.next}</div>` : nothing}
        </td>
      </tr>
      <tr><th>mismatches</th><td>${c.mismatchRate === null ? 'rate unknown' : `${pct(c.mismatchRate)} of shadow comparisons (this gateway)`}</td></tr>
    </table>
    <table class="grid">
      <thead><tr><th>route</th><th>kind</th><th>effective</th><th>stage says</th><th>source</th></tr></thead>
      <tbody>
        ${c.routes.map(
          (rt: any) => html`<tr class=${rt.matchesStage ? '' : 'bad'}>
            <td>${rt.id}</td><td>${rt.kind}</td><td>${rt.effective.mode}${rt.effective.mode === 'canary' ? ` ${rt.effective.percent}%` : ''}</td>
            <td>${rt.expected.mode}${rt.expected.mode === 'canary' ? ` ${rt.expected.percent}%` : ''}</td><td>${rt.effective.source}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${contextActions(c)}
  </section>`;
}

function routesView(): TemplateResult {
  return html`<table class="grid" data-table="routes">
    <thead><tr><th>route</th><th>path</th><th>mode</th><th>source</th><th>req/s</th><th>errors/s</th><th>mismatch rate</th><th>latency ms: monolith / service / shadow copy</th><th>served monolith / service</th><th>shadow match / mismatch / noise</th><th>breaker</th></tr></thead>
    <tbody>
      ${state.routes.map((r) => {
        const rate = state.rates.get(r.id);
        const c = r.counters;
        return html`<tr data-route=${r.id}>
          <td>${r.id}</td><td><code>${r.methods?.join(',') ?? ''} ${r.path}</code></td>
          <td data-mode>${r.mode}${r.mode === 'canary' ? ` ${r.percent}%` : ''}</td><td>${r.source}</td>
          <td data-rate>${rate ? rate.requests.toFixed(1) : '-'}</td><td data-errors>${rate ? rate.errors.toFixed(1) : '-'}</td><td data-mismatch-rate>${rate ? pct(rate.mismatchRate) : '-'}</td>
          <td>${SIDES.map((side, i) => html`${i ? ' / ' : ''}<span data-latency=${side}>${ms(rate?.latencyMs[side])}</span>`)}</td>
          <td>${c.monolith} / ${c.service}</td><td>${c.shadow.match} / ${c.shadow.mismatch} / ${c.shadow.noise}</td><td>${r.breaker?.state ?? '-'}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

/** A JSON path segment as the gateway's comparison writes it (@carve/shared-routing formatSegment). */
const segment = (k: string | number) =>
  typeof k === 'number' ? `[${k}]` : /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(k) ? `.${k}` : `['${k.replace(/[\\']/g, (c) => `\\${c}`)}']`;

/**
 * One value of a body, indented, with the nodes at a differing path marked. `paths` are the
 * node's possible paths (an array element is `[3]` or, in an array compared by a key,
 * `[id=42]`): kept only while they lead to a differing path.
 */
function jsonNode(v: unknown, paths: string[], key: string | number | null, differs: Set<string>, noisy: Set<string>): TemplateResult {
  const hit = paths.find((p) => differs.has(p));
  const cls = hit ? (noisy.has(hit) ? 'jnode noise' : 'jnode differs') : 'jnode';
  const head = key === null ? nothing : html`<span class="jkey">${typeof key === 'number' ? key : JSON.stringify(key)}: </span>`;
  const leads = (p: string) => [...differs].some((d) => d === p || (d.startsWith(p) && (d[p.length] === '.' || d[p.length] === '[')));
  const extend = (labels: string[]) => paths.flatMap((p) => labels.map((l) => p + l)).filter(leads);
  if (Array.isArray(v)) {
    return html`<div class=${cls} data-path=${hit ?? nothing}>${head}[${v.map((el, i) => {
      const labels = [segment(i)];
      if (el && typeof el === 'object' && !Array.isArray(el)) {
        for (const [k, x] of Object.entries(el)) if (x !== null && ['string', 'number', 'boolean'].includes(typeof x)) labels.push(`[${k}=${JSON.stringify(x)}]`);
      }
      return jsonNode(el, extend(labels), i, differs, noisy);
    })}]</div>`;
  }
  if (v && typeof v === 'object') {
    return html`<div class=${cls} data-path=${hit ?? nothing}>${head}{${Object.entries(v).map(([k, x]) => jsonNode(x, extend([segment(k)]), k, differs, noisy))}}</div>`;
  }
  return html`<div class=${cls} data-path=${hit ?? nothing}>${head}<span class="jval">${v === undefined ? '(absent)' : JSON.stringify(v)}</span></div>`;
}

const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v, null, 1));

function mismatchesView(): TemplateResult {
  const b = state.browser;
  const noisy = new Set(b.noise.map((n: any) => n.path));
  const apply = () => {
    b.route = (document.getElementById('mm-route') as HTMLSelectElement).value;
    b.path = (document.getElementById('mm-path') as HTMLSelectElement).value;
    b.since = (document.getElementById('mm-since') as HTMLInputElement).value;
    b.until = (document.getElementById('mm-until') as HTMLInputElement).value;
    b.pages = [];
    b.selected = null;
    void loadMismatches(null, true);
  };
  const sel = b.selected;
  return html`<div class="filters">
      <label>route <select id="mm-route" @change=${apply}>${state.routes.map((r) => html`<option value=${r.id} ?selected=${r.id === b.route}>${r.id}</option>`)}</select></label>
      <label>field path <select id="mm-path" @change=${apply}><option value="">any</option>${b.paths.map((p: any) => html`<option value=${p.path} ?selected=${p.path === b.path}>${p.path}</option>`)}</select></label>
      <label>since <input id="mm-since" type="datetime-local" .value=${b.since} @change=${apply} /></label>
      <label>before <input id="mm-until" type="datetime-local" .value=${b.until} @change=${apply} /></label>
    </div>
    <div class="browser">
      <aside>
        <h3>Counts per field path</h3>
        <table class="grid" data-table="paths">
          <tbody>${b.paths.map((p: any) => html`<tr><td><code>${p.path}</code>${noisy.has(p.path) ? html` <span class="chip noise">noise</span>` : nothing}</td><td>${p.count}</td></tr>`)}</tbody>
        </table>
        <h3>Noise (two monolith answers differed)</h3>
        <ul data-noise>${b.noise.length ? b.noise.map((n: any) => html`<li><code>${n.path}</code> ${n.count ?? ''}</li>`) : html`<li class="muted">none learned</li>`}</ul>
        <h3>Mismatches</h3>
        <ul class="items">
          ${b.items.map(
            (m) => html`<li class=${sel?.id === m.id ? 'active' : ''} data-mismatch=${m.id} @click=${() => { b.selected = m; update(); }}>
              <div>#${m.id} ${new Date(m.at).toLocaleTimeString()} <code>${m.request?.method} ${m.request?.path}</code></div>
              <div class="muted">${m.paths.join(', ')}</div>
            </li>`,
          )}
          ${b.items.length ? nothing : html`<li class="muted">no stored mismatch</li>`}
        </ul>
        <div class="pager">
          <button ?disabled=${b.pages.length <= 1} data-newer @click=${() => { b.pages.pop(); void loadMismatches(b.pages[b.pages.length - 1] ?? null, false); }}>Newer</button>
          <button ?disabled=${!b.cursor} data-older @click=${() => void loadMismatches(b.cursor, true)}>Older</button>
        </div>
      </aside>
      <section class="diff">
        ${sel
          ? html`<h3>#${sel.id}: <code>${sel.request?.method} ${sel.request?.path}</code> ${sel.truncated ? html`<span class="chip">truncated</span>` : nothing}</h3>
              <p class="muted">${(sel.differences as any[]).map((d) => html`<code>${d.path}</code> ${d.kind}${noisy.has(d.path) ? ' (noise)' : ''}; `)}</p>
              <div class="sides">
                ${(['monolith', 'service'] as const).map(
                  (side) => html`<div class="side" data-side=${side}>
                    <h4>${side} <span class="muted">status ${side === 'monolith' ? sel.monolithStatus ?? '-' : sel.serviceStatus ?? '-'}</span></h4>
                    ${sel.bodies
                      ? html`<div class="json">${jsonNode(sel.bodies[side], ['$'], null, new Set((sel.differences as any[]).map((d) => d.path)), noisy)}</div>`
                      : html`<p class="muted">The bodies were not kept (too large); the differing values:</p>
                          ${(sel.differences as any[]).map(
                            (d) => html`<div class="field ${noisy.has(d.path) ? 'noise' : 'differs'}" data-path=${d.path}>
                              <code class="path">${d.path}</code> <span class="kind">${d.kind}</span>
                              <pre>${show(d[side])}</pre>
                            </div>`,
                          )}`}
                  </div>`,
                )}
              </div>`
          : html`<p class="muted">Pick a mismatch.</p>`}
      </section>
    </div>`;
}

function auditView(): TemplateResult {
  return html`<ol class="timeline" data-table="audit">
    ${state.audit.map(
      (e) => html`<li data-audit=${e.action}>
        <time title=${e.at}>${new Date(e.at).toLocaleString()}</time>
        <strong>${e.actor}</strong> <code>${e.action}</code> ${e.target}
        <div class="reason">${e.reason}</div>
        <div class="muted">${summary(e.before)} → ${summary(e.after)}</div>
      </li>`,
    )}
  </ol>`;
}

function summary(v: any): string {
  if (v === null || v === undefined) return '-';
  if (typeof v !== 'object') return String(v);
  if (v.stage) return `${v.stage}${v.stage === 'canary' && v.canaryPercent !== undefined ? ` ${v.canaryPercent}%` : ''}`;
  if (v.mode) return `${v.mode}${v.mode === 'canary' && v.percent !== null && v.percent !== undefined ? ` ${v.percent}%` : ''}`;
  return JSON.stringify(v).slice(0, 120);
}

// ---- boot ---------------------------------------------------------------------------------------------

function route(): void {
  const v = location.hash.replace(/^#\/?/, '').split('?')[0] as View;
  state.view = (['contexts', 'routes', 'mismatches', 'audit'] as View[]).includes(v) ? v : 'contexts';
  state.notice = null;
  if (state.view === 'mismatches' && state.api) {
    state.browser.pages = [];
    void loadMismatches(null, true);
  }
  update();
}

window.addEventListener('hashchange', route);
route();
const saved = sessionStorage.getItem('carve-console-token');
if (saved) void logIn(saved);
