/**
 * The console in a real headless Chromium (Debian's `chromium`, driven by playwright-core: no
 * browser download) against the real stack: Postgres, the monolith, the insights service and the
 * gateway as processes (startCarvedStack), the console built by Vite and served by the gateway's
 * admin server. One browser, one stack, one scenario in order:
 *
 *   a viewer logs in and gets a read-only console (its change is refused server-side too);
 *   an operator logs in, moves insights to shadow, browses the mismatches (paged, filtered by
 *   field path and time), one with the differing field marked on both bodies and the route's
 *   noise listed, ramps the canary (timed steps applied by the gateway), moves to reads and rolls back,
 *   every step from the console with a reason and a confirmation; the audit timeline names them;
 *   then a guard trip appears without a page reload (server-sent events), the canary is refused
 *   with the same words by the console and the CLI, and goes through once acknowledged.
 *
 * It takes the screenshots of docs/console/*.png (docs/console.md).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { migrateInsights } from '@carve/insights-data-access';
import { ControlPlaneClient, DEV_ADMIN_TOKEN, OperatorStore } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { asSyncApply, carve, type CarvedStack, createTestDatabase, REGISTER_TS, ROOT, runNode, startCarvedStack, type TestDatabase, waitFor } from '@carve/shared-testing';
import { Client, Pool } from 'pg';
import { type Browser, chromium, type Page } from 'playwright-core';

const SHOTS = path.join(ROOT, 'docs/console');
const BUILT = path.join(ROOT, 'dist/apps/console/index.html');

/** Debian's chromium: CHROMIUM_PATH, else `chromium` on the PATH. Missing is a failure that says how to install it. */
function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => Boolean(p));
  for (const p of candidates) if (fs.existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('the console browser test needs Debian\'s chromium and found none: install it with `apt-get install -y chromium` (.ci/run does), or set CHROMIUM_PATH');
  }
}

describe('the migration console in a browser', () => {
  let db: TestDatabase;
  let stack: CarvedStack | undefined;
  let c: Client;
  let pool: Pool | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let operatorToken: string;
  let viewerToken: string;
  let ws: { id: string; token: string; noteId: string };
  const log: string[] = [];
  const t0 = Date.now();
  const step = (what: string) => log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);

  beforeAll(async () => {
    const executablePath = chromiumPath();
    // `nx test console` builds first (dependsOn); a direct jest run builds here if it is missing.
    if (!fs.existsSync(BUILT)) {
      const b = await runNode([path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', path.join(ROOT, 'apps/console')], {});
      if (b.code !== 0) throw new Error(`vite build of the console failed: ${b.stderr}`);
    }
    db = await createTestDatabase('console_browser');
    const seed = await runNode(['-r', REGISTER_TS, path.join(ROOT, 'apps/legacy-monolith/src/seed/main.ts'), '--workspaces', '2', '--notes', '40', '--seed', '7'], { DATABASE_URL: db.url });
    if (seed.code !== 0) throw new Error(`seeding failed (${seed.code}): ${seed.stderr}`);
    await migrateInsights(db.url);
    c = new Client({ connectionString: db.url });
    await c.connect();
    step('seeded');
    const env = { DATABASE_URL: db.url, CARVE_TRANSPORT: 'postgres', KAFKA_BROKERS: '', LOG_LEVEL: 'warn', PLATFORM: 'local', CARVE_JWT_SECRET: DEV_JWT_SECRET };
    stack = await startCarvedStack({
      name: 'console-browser',
      env,
      service: { name: 'insights-service', entry: 'apps/insights-service/src/main.ts', upstream: 'insights' },
      adminToken: DEV_ADMIN_TOKEN,
      gatewayEnv: { CARVE_CONTROL_POLL_MS: '250' },
    });
    step('processes up');
    pool = new Pool({ connectionString: db.url, max: 2 });
    const ops = new OperatorStore(pool);
    operatorToken = (await ops.create({ name: 'alice', role: 'operator', actor: 'test', reason: 'console test' })).token;
    viewerToken = (await ops.create({ name: 'victor', role: 'viewer', actor: 'test', reason: 'console test' })).token;
    const w = (await c.query('SELECT id FROM legacy.workspaces ORDER BY id LIMIT 1')).rows[0].id as string;
    const member = (await c.query(`SELECT id FROM legacy.members WHERE workspace_id = $1 AND role = 'admin' LIMIT 1`, [w])).rows[0]?.id ?? '00000000-0000-4000-8000-000000000001';
    const noteId = (await c.query('SELECT id FROM legacy.notes WHERE workspace_id = $1 ORDER BY id LIMIT 1', [w])).rows[0].id as string;
    ws = { id: w, token: signToken({ sub: member, tid: w, role: 'admin' }, DEV_JWT_SECRET), noteId };
    for (const args of [['backfill', 'insights'], ['verify', 'insights']]) {
      const run = await carve(db.url, args, stack.cliEnv);
      if (run.code !== 0) throw new Error(`carve ${args.join(' ')} exited ${run.code}: ${run.stdout}\n${run.stderr}`);
    }
    step('backfilled and verified (CLI)');
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    fs.mkdirSync(SHOTS, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await stack?.stop();
    await c?.end().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await db?.drop();
    process.stderr.write(`console browser test:\n  ${log.join('\n  ')}\n`);
  }, 90_000);

  /** Sets the title of the note on the service's side only (as its sync would: past the write fence). */
  const serviceTitle = (title: string) => asSyncApply(pool!, (q) => q.query('UPDATE insights.notes SET title = $2 WHERE id = $1', [ws.noteId, title]));

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const consoleUrl = () => `${stack!.adminUrl}/console`;
  const note = () => fetch(`${stack!.gatewayUrl}/api/v1/workspaces/${ws.id}/notes/${ws.noteId}`, { headers: { authorization: `Bearer ${ws.token}` }, signal: AbortSignal.timeout(10_000) });

  const adminRoute = async (id: string) =>
    (await (await fetch(`${stack!.adminUrl}/admin/routes/${id}`, { headers: { authorization: `Bearer ${DEV_ADMIN_TOKEN}` }, signal: AbortSignal.timeout(5000) })).json()) as { mode: string };

  const logIn = async (token: string) => {
    await page.goto(consoleUrl());
    await page.fill('input[name=token]', token);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-context=insights]', { timeout: 20_000 });
  };

  /** Waits (bounded) until the page shows `selector`; on a timeout says what the page showed. */
  const see = async (selector: string, timeout = 20_000) => {
    await page.waitForSelector(selector, { timeout }).catch(async (err) => {
      const text = (await page.textContent('main').catch(() => '')) ?? '';
      throw new Error(`${(err as Error).message.split('\n')[0]}\npage: ${text.replace(/\s+/g, ' ').slice(0, 1500)}\n${stack!.procs.map((p) => `--- ${p.name}\n${p.tail(8)}`).join('\n')}`);
    });
  };

  /** Clicks an action, gives the reason, confirms; the dialog closes when the admin API said yes. */
  const act = async (button: string, reason: string) => {
    await page.click(`[data-actions=insights] [data-action=${button}]`);
    await page.fill('.dialog textarea[name=reason]', reason);
    await page.click('.dialog [data-confirm]');
    await page.waitForSelector('.dialog', { state: 'detached', timeout: 60_000 }).catch(async () => {
      throw new Error(`the ${button} action did not finish: ${await page.textContent('.dialog').catch(() => '?')}`);
    });
  };

  it('a viewer gets a read-only console, and its changes are refused by the admin API', async () => {
    await page.goto(consoleUrl());
    await page.waitForSelector('input[name=token]');
    await shot('login');
    await page.fill('input[name=token]', 'not-a-token');
    await page.click('button[type=submit]');
    await see('[data-problem=admin_token_invalid]');

    await logIn(viewerToken);
    expect(await page.getAttribute('[data-role]', 'data-role')).toBe('viewer');
    expect(await page.$('[data-actions]')).toBeNull();
    // Every action of the console, asked with a viewer's token: 403 from the admin server, nothing changed.
    for (const [tail, body] of [
      ['stage', { stage: 'shadow', reason: 'viewer tries' }],
      ['ramp', { steps: [1, 5], every: '1m', reason: 'viewer tries' }],
      ['ramp/pause', { reason: 'viewer tries' }],
      ['rollback', { reason: 'viewer tries' }],
    ] as const) {
      const refused = await fetch(`${stack!.adminUrl}/admin/contexts/insights/${tail}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${viewerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect([tail, refused.status, (await refused.json()).code]).toEqual([tail, 403, 'operator_role']);
    }
    expect((await c.query(`SELECT stage FROM carve.context_stages WHERE context = 'insights'`)).rows[0].stage).toBe('backfilled');
    await page.click('text=Log out');
    step('viewer: read-only');
  });

  it('an operator carves insights from shadow through a ramp to reads and rolls back, browsing the mismatches on the way (paged, by field path and time, bodies side by side)', async () => {
    await logIn(operatorToken);
    await page.evaluate(() => ((window as any).__sameDocument = true));
    await see('[data-context=insights] [data-stage=backfilled]');
    // Per-tenant carving: how many workspaces are at each stage (the seed made two).
    expect((await page.textContent('[data-context=insights] [data-workspaces]'))?.replace(/\s+/g, ' ').trim()).toBe('2 in all2 at backfilled');
    expect(await page.textContent('[data-context=insights] [data-workspace-stage=backfilled]')).toBe('2 at backfilled');

    // A refusal of the library comes back as problem+json and is shown: reads is not next after backfilled.
    await page.selectOption('#stage-insights', 'reads');
    await page.click('[data-actions=insights] [data-action=stage]');
    await page.fill('.dialog textarea[name=reason]', 'too early');
    await page.click('.dialog [data-confirm]');
    await see('.dialog [data-problem=carving_refused]');
    await page.click('.dialog button:has-text("Cancel")');

    await page.selectOption('#stage-insights', 'shadow');
    await act('stage', 'console: compare the service');
    await see('[data-context=insights] [data-stage=shadow]');
    await waitFor('the gateway to shadow notes-read', async () => (await adminRoute('notes-read')).mode === 'shadow', 20_000);
    step('shadow');

    // The service answers one note differently: the shadow comparison stores the mismatches,
    // the oldest two differing in the content too.
    const title = (await c.query('SELECT title FROM insights.notes WHERE id = $1', [ws.noteId])).rows[0].title as string;
    const content = (await c.query('SELECT content FROM insights.notes WHERE id = $1', [ws.noteId])).rows[0].content as string;
    const serviceContent = (text: string) => asSyncApply(pool!, (q) => q.query('UPDATE insights.notes SET content = $2 WHERE id = $1', [ws.noteId, text]));
    await serviceTitle(`${title} (service)`);
    await serviceContent(`${content} (service)`);
    await waitFor(
      'two stored mismatches in title and content',
      async () => {
        expect((await note()).status).toBe(200);
        const r = await c.query(`SELECT count(*)::int AS n FROM carve.shadow_mismatches WHERE route_id = 'notes-read'`);
        return r.rows[0].n >= 2;
      },
      20_000,
      1000,
    );
    await serviceContent(content);
    await waitFor(
      'a stored mismatch of notes-read',
      async () => {
        expect((await note()).status).toBe(200);
        const r = await c.query(`SELECT count(*)::int AS n FROM carve.shadow_mismatches WHERE route_id = 'notes-read'`);
        return r.rows[0].n >= 12;
      },
      // The gateway stores at most one sample per route a second: one request a second, far
      // below the 50 requests after which the guard of notes-read judges the mismatch rate.
      60_000,
      1000,
    );
    await serviceTitle(title);
    await page.click('[data-view=mismatches]');
    await page.selectOption('#mm-route', 'notes-read');
    await see('[data-mismatch]');
    await page.click('[data-mismatch]');
    // Both bodies side by side, whole (the note's id is in both, unmarked), the title marked on each side.
    const marked = await page.$$eval('[data-side] .jnode.differs', (els) => els.map((e) => `${e.closest('[data-side]')!.getAttribute('data-side')} ${e.getAttribute('data-path')} ${e.textContent}`));
    expect(marked).toEqual([`monolith $.title "title": ${JSON.stringify(title)}`, `service $.title "title": ${JSON.stringify(`${title} (service)`)}`]);
    for (const side of ['monolith', 'service']) expect(await page.textContent(`[data-side=${side}] .json`)).toContain(ws.noteId);
    expect(await page.textContent('[data-table=paths]')).toMatch(/title/);
    // Noise a gateway learned on the route (two monolith answers differed there; recorded as the
    // gateway's noise writer does) is listed beside the counts, from the admin API.
    const cp = await ControlPlaneClient.connect({ url: db.url, migrate: false });
    try {
      await cp.recordNoise('notes-read', new Map([['$.updatedAt', 4]]));
    } finally {
      await cp.close();
    }
    await page.click('[data-view=contexts]');
    await page.click('[data-view=mismatches]');
    await see('[data-noise] code:has-text("$.updatedAt")');

    // Paged (10 a page, newest first) and filtered by field path and time.
    const listed = () => page.$$eval('[data-mismatch]', (els) => els.map((e) => Number(e.getAttribute('data-mismatch'))));
    await see('[data-mismatch]');
    const first = await listed();
    expect(first).toHaveLength(10);
    await page.click('[data-older]');
    await waitFor('the older page', async () => (await listed())[0] < Math.min(...first), 10_000, 50);
    const older = await listed();
    expect(older.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...older)).toBeLessThan(Math.min(...first));
    await page.click('[data-newer]');
    await waitFor('the newest page again', async () => (await listed()).join() === first.join(), 10_000, 50);
    const withContent = (await c.query(`SELECT id FROM carve.shadow_mismatches WHERE route_id = 'notes-read' AND paths @> ARRAY['$.content'] ORDER BY id DESC`)).rows.map((r) => Number(r.id));
    expect(withContent.length).toBeGreaterThanOrEqual(2);
    await page.selectOption('#mm-path', '$.content');
    await waitFor('the $.content filter', async () => (await listed()).join() === withContent.join(), 10_000, 50);
    await page.selectOption('#mm-path', '');
    await waitFor('no path filter', async () => (await listed()).join() === first.join(), 10_000, 50);
    // datetime-local takes the browser's local time: a day from now has none, a day ago all.
    const local = (offsetMs: number) => page.evaluate((ms) => { const d = new Date(Date.now() + ms); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); }, offsetMs);
    await page.fill('#mm-since', await local(24 * 3600_000));
    await see('.items li.muted:has-text("no stored mismatch")');
    await page.fill('#mm-since', await local(-24 * 3600_000));
    await waitFor('the since filter', async () => (await listed()).join() === first.join(), 10_000, 50);
    await page.fill('#mm-until', await local(-24 * 3600_000));
    await see('.items li.muted:has-text("no stored mismatch")');
    await page.fill('#mm-until', '');
    await page.fill('#mm-since', '');
    await waitFor('no time filter', async () => (await listed()).join() === first.join(), 10_000, 50);
    await page.click('[data-mismatch]');
    await shot('mismatches');
    step('mismatch browsed');

    // A timed ramp from the console: the gateway's scheduler applies the steps.
    await page.click('[data-view=contexts]');
    await page.fill('#ramp-insights', '10,50');
    await page.fill('#every-insights', '2s');
    await act('ramp', 'console: ramp the canary');
    await see('[data-context=insights] [data-ramp=running]');
    await shot('contexts');
    await see('[data-context=insights] [data-ramp=done]', 30_000);
    expect(await page.textContent('[data-context=insights] [data-canary]')).toBe('50%');
    step('ramped 10 → 50');

    await page.click('[data-view=routes]');
    await see('[data-route=notes-read] [data-mode]');
    // Live figures from the stats events (every 2 s): a request rate and a mean latency of the side that answered.
    await waitFor(
      'the routes page to show a live request rate and latency',
      async () => {
        expect((await note()).status).toBe(200);
        const cell = async (sel: string) => ((await page.textContent(`[data-route=notes-read] ${sel}`)) ?? '').trim();
        const latencies = [await cell('[data-latency=monolith]'), await cell('[data-latency=service]')];
        return (await cell('[data-mode]')) === 'canary 50%' && Number(await cell('[data-rate]')) > 0 && latencies.some((l) => /^\d+(\.\d)?$/.test(l));
      },
      20_000,
      200,
    );
    await shot('routes');

    await page.click('[data-view=contexts]');
    await page.selectOption('#stage-insights', 'reads');
    await act('stage', 'console: the service serves the reads');
    await see('[data-context=insights] [data-stage=reads-switched]');
    step('reads');

    await act('rollback', 'console: back to the monolith');
    await see('[data-context=insights] [data-stage=backfilled]');
    expect(await page.textContent('[data-context=insights] [data-owner]')).toBe('monolith');
    step('rolled back');

    await page.click('[data-view=audit]');
    await see('[data-audit]');
    const audit = (await page.textContent('[data-table=audit]')) ?? '';
    for (const reason of ['console: compare the service', 'console: ramp the canary', 'console: the service serves the reads', 'console: back to the monolith']) expect(audit).toContain(reason);
    expect(audit).toContain('alice');
    await shot('audit');
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  });

  it('shows a guard trip live, without a page reload; the console and the CLI refuse the canary alike until the trip is acknowledged', async () => {
    // Shadow again (verified afresh after the rollback), then answers that differ until the guard trips.
    const verify = await carve(db.url, ['verify', 'insights'], stack!.cliEnv);
    expect(verify.code).toBe(0);
    await page.click('[data-view=contexts]');
    await page.selectOption('#stage-insights', 'shadow');
    await act('stage', 'console: compare again');
    await see('[data-context=insights] [data-stage=shadow]');
    await see('[data-context=insights] [data-guard="0"]');
    const title = (await c.query('SELECT title FROM insights.notes WHERE id = $1', [ws.noteId])).rows[0].title as string;
    await serviceTitle(`${title} (drifted)`);
    // minRequests 50 at a 2% mismatch rate (apps/gateway/routes/dev.yaml): every answer differs.
    await waitFor(
      'the guard to trip notes-read',
      async () => {
        await Promise.all(Array.from({ length: 10 }, () => note().then((r) => r.arrayBuffer())));
        return (await page.$('[data-context=insights] [data-trip=notes-read]')) !== null;
      },
      30_000,
      100,
    );
    await see('[data-context=insights] [data-trip=notes-read]');
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
    expect(await page.getAttribute('[data-live]', 'data-live')).toBe('on');
    await shot('guard-trip');
    step('guard trip seen live');

    // One library behind the console and the CLI: the canary is refused while the trip is open,
    // with the same words on both; acknowledged in the console (as --ack-guard-trip), it is done.
    await serviceTitle(title);
    await page.selectOption('#stage-insights', 'canary');
    await page.fill('#percent-insights', '10');
    await page.click('[data-actions=insights] [data-action=stage]');
    await page.fill('.dialog textarea[name=reason]', 'console: canary despite the trip');
    await page.click('.dialog [data-confirm]');
    await see('.dialog [data-problem=guard_tripped]');
    const refusal = ((await page.textContent('.dialog [data-problem=guard_tripped] strong')) ?? '').trim();
    expect(refusal).toContain('notes-read');
    await page.click('.dialog button:has-text("Cancel")');
    const cli = await carve(db.url, ['stage', 'insights', 'canary', '--percent', '10'], stack!.cliEnv);
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain(refusal);
    expect((await c.query(`SELECT stage FROM carve.context_stages WHERE context = 'insights'`)).rows[0].stage).toBe('shadow');

    await page.check('#ack-insights');
    await act('stage', 'console: cause found, canary again');
    await see('[data-context=insights] [data-stage=canary]');
    await see('[data-context=insights] [data-guard="0"]');
    expect(await page.textContent('[data-context=insights] [data-canary]')).toBe('10%');
    step('trip acknowledged from the console');
  });
});
