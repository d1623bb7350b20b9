/**
 * The console in a real headless Chromium (Debian's `chromium`, driven by playwright-core: no
 * browser download) against the real stack: Postgres, the monolith, the insights service and the
 * gateway as processes (startCarvedStack), the console built by Vite and served by the gateway's
 * admin server. One browser, one stack, one scenario in order:
 *
 *   a viewer logs in and gets a read-only console (its change is refused server-side too);
 *   an operator logs in, moves insights to shadow, browses a mismatch with the differing field
 *   marked, ramps the canary (timed steps applied by the gateway), moves to reads and rolls back,
 *   every step from the console with a reason and a confirmation; the audit timeline names them;
 *   then a guard trip appears without a page reload (server-sent events).
 *
 * It takes the screenshots of docs/console/*.png (docs/console.md).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { migrateInsights } from '@carve/insights-data-access';
import { DEV_ADMIN_TOKEN, OperatorStore } from '@carve/shared-control-plane';
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
    const refused = await fetch(`${stack!.adminUrl}/admin/contexts/insights/stage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${viewerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ stage: 'shadow', reason: 'viewer tries' }),
    });
    expect(refused.status).toBe(403);
    expect((await refused.json()).code).toBe('operator_role');
    await page.click('text=Log out');
    step('viewer: read-only');
  });

  it('an operator carves insights from shadow through a ramp to reads and rolls back, browsing a mismatch on the way', async () => {
    await logIn(operatorToken);
    await page.evaluate(() => ((window as any).__sameDocument = true));
    await see('[data-context=insights] [data-stage=backfilled]');

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

    // The service answers one note differently: the shadow comparison stores the mismatch.
    const title = (await c.query('SELECT title FROM insights.notes WHERE id = $1', [ws.noteId])).rows[0].title as string;
    await serviceTitle(`${title} (service)`);
    await waitFor(
      'a stored mismatch of notes-read',
      async () => {
        expect((await note()).status).toBe(200);
        const r = await c.query(`SELECT count(*)::int AS n FROM carve.shadow_mismatches WHERE route_id = 'notes-read'`);
        return r.rows[0].n >= 3;
      },
      20_000,
      200,
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
    for (let i = 0; i < 10; i++) expect((await note()).status).toBe(200);
    await waitFor('the routes page to show a request rate', async () => /\d+\.\d/.test((await page.textContent('[data-route=notes-read]')) ?? '') && (await page.textContent('[data-route=notes-read] [data-mode]'))?.includes('canary 50%'), 15_000);
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

  it('shows a guard trip live, without a page reload', async () => {
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
  });
});
