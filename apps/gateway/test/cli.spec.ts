/**
 * The CLI against a real gateway: `carve operator ...` issuing and revoking the admin API's
 * operators, `carve routes ...` through the admin API with an operator's token (tables and
 * --json), its errors, and `carve gateway` running the gateway from the environment as a child
 * process that stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { ADMIN_TOKEN, http, type Stack, startStack, token, waitFor } from './support/harness';

const root = path.resolve(__dirname, '..', '..', '..');
const carveBin = path.join(root, 'tools', 'carve', 'bin', 'carve.js');

describe('carve routes / carve gateway', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(
      'gateway_cli',
      `
  - id: notes-read
    match: { methods: [GET, HEAD], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: canary
    percent: 10
`,
    );
  });

  afterAll(() => stack?.close());

  /** Runs the CLI as a child process (asynchronously: the gateway under test lives in this process). */
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [carveBin, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
    });
  let operatorToken = '';
  const carve = (...args: string[]) => run(args, { CARVE_ADMIN_URL: stack.gw.adminUrl, CARVE_ADMIN_TOKEN: operatorToken, CARVE_ACTOR: 'someone-else' });

  it('issues an operator token once, lists operators, and refuses a name twice', async () => {
    const created = await run(['operator', 'create', 'cli-test', '--role', 'operator', '--reason', 'the CLI test'], { DATABASE_URL: stack.db.url, CARVE_ACTOR: 'root' });
    expect(created.code).toBe(0);
    operatorToken = created.out.trim();
    expect(operatorToken).toMatch(/^carve_op_[A-Za-z0-9_-]{43}$/);
    expect(created.err).toMatch(/operator cli-test \(operator\) created\. The token above is shown only now/);
    const viewer = JSON.parse((await run(['operator', 'create', 'cli-viewer', '--role', 'viewer', '--json'], { DATABASE_URL: stack.db.url })).out);
    expect(viewer).toMatchObject({ name: 'cli-viewer', role: 'viewer', token: expect.stringMatching(/^carve_op_/) });
    const list = await run(['operator', 'list'], { DATABASE_URL: stack.db.url });
    expect(list.out).toMatch(/^NAME\s+ROLE\s+CREATED BY\s+CREATED\s+LAST USED/m);
    expect(list.out).toMatch(/^cli-test\s+operator\s+root\s/m);
    expect(list.out).toMatch(/^cli-viewer\s+viewer\s/m);
    expect(list.out).not.toContain(operatorToken);
    const again = await run(['operator', 'create', 'cli-test', '--role', 'viewer'], { DATABASE_URL: stack.db.url });
    expect([again.code, again.out]).toEqual([1, '']);
    expect(again.err).toMatch(/an operator named "cli-test" exists.*\n  next: see `carve operator list`/);
    const badRole = await run(['operator', 'create', 'x', '--role', 'admin'], { DATABASE_URL: stack.db.url });
    expect(badRole.err).toMatch(/role "admin" must be one of operator, viewer\n  next: use --role operator or viewer/);

    // A viewer's token reads but may not change; the CLI says what to do.
    const viewerRun = (...args: string[]) => run(args, { CARVE_ADMIN_URL: stack.gw.adminUrl, CARVE_ADMIN_TOKEN: viewer.token });
    expect((await viewerRun('routes', 'list')).code).toBe(0);
    const refused = await viewerRun('routes', 'rollback', 'notes-read');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/Operator "cli-viewer" has role viewer: it may only read.*\n  next: changes need an operator token with role operator/);

    // Revoked: the admin API refuses the token from the next request.
    expect((await run(['operator', 'revoke', 'cli-viewer'], { DATABASE_URL: stack.db.url })).out).toBe('operator cli-viewer (viewer) revoked\n');
    expect((await viewerRun('routes', 'list')).err).toMatch(/the admin API refused the token \(admin_token_invalid\)/);
    expect((await run(['operator', 'revoke', 'cli-viewer'], { DATABASE_URL: stack.db.url })).err).toMatch(/no operator named "cli-viewer"/);
  }, 180_000);

  it('lists, sets, shows, rolls back and audits, as the operator whose token it sends', async () => {
    const list = await carve('routes', 'list');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^ROUTE\s+MODE\s+PERCENT\s+SOURCE/m);
    expect(list.out).toMatch(/^notes-read\s+canary\s+10%\s+file\s+insights\s+closed/m);

    const set = await carve('routes', 'set', 'notes-read', '--mode', 'canary', '--percent', '25', '--reason', 'ramp to 25');
    expect([set.code, set.err]).toEqual([0, '']);
    expect(set.out).toMatch(/notes-read: canary 25% \(override, version \d+\)/);

    const json = JSON.parse((await carve('routes', 'show', 'notes-read', '--json')).out);
    expect(json).toMatchObject({ id: 'notes-read', mode: 'canary', percent: 25, source: 'override', override: { updatedBy: 'cli-test', reason: 'ramp to 25' } });

    const show = await carve('routes', 'show', 'notes-read');
    expect(show.out).toMatch(/mode\s+canary 25%\s+\[override; file says canary 10%\]/);

    const rollback = await carve('routes', 'rollback', 'notes-read', '--reason', 'pager went off');
    expect(rollback.code).toBe(0);
    expect(JSON.parse((await carve('routes', 'list', '--json')).out).routes[0]).toMatchObject({ mode: 'monolith', source: 'override' });

    const audit = await carve('routes', 'audit', '--route', 'notes-read');
    expect(audit.out).toMatch(/cli-test\s+route\.rollback\s+route:notes-read\s+canary 25% \(override\)\s+monolith \(override\)\s+pager went off/);

    const clear = await carve('routes', 'clear', 'notes-read');
    expect(clear.out).toMatch(/notes-read: canary 10% \(from the file again\)/);
  }, 60_000);

  it('says what is wrong, in one line and a hint', async () => {
    const unknown = await carve('routes', 'set', 'nope', '--mode', 'service', '--reason', 'x');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^carve: No route "nope" in the route table.*\n  next: see `carve routes list`/);
    const badMode = await carve('routes', 'set', 'notes-read', '--mode', 'sideways', '--reason', 'x');
    expect(badMode.err).toMatch(/unknown mode "sideways"/);
    const noReason = await carve('routes', 'set', 'notes-read', '--mode', 'service');
    expect(noReason.code).not.toBe(0);
    expect(noReason.err).toMatch(/--reason/);
    const percentOffCanary = await carve('routes', 'set', 'notes-read', '--mode', 'service', '--percent', '5', '--reason', 'x');
    expect(percentOffCanary.err).toMatch(/--percent is only for --mode canary/);
    const wrongToken = await run(['routes', 'list'], { CARVE_ADMIN_URL: stack.gw.adminUrl, CARVE_ADMIN_TOKEN: 'wrong-token-0123456789' });
    expect(wrongToken.err).toMatch(/the admin API refused the token \(admin_token_invalid\)\n  next: set CARVE_ADMIN_TOKEN/);
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = await run(['routes', 'list', '--url', `http://127.0.0.1:${port}`]);
    expect(down.err).toContain(`cannot reach the gateway admin API at http://127.0.0.1:${port} (ECONNREFUSED)`);
  }, 60_000);

  it('`carve gateway` runs the gateway from the environment and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [carveBin, 'gateway'], {
      cwd: root,
      env: {
        ...process.env,
        PORT: '0',
        CARVE_ADMIN_PORT: '0',
        CARVE_ROUTES_FILE: stack.file,
        DATABASE_URL: stack.db.url,
        CARVE_ADMIN_TOKEN: ADMIN_TOKEN,
        CARVE_ACCESS_LOG: 'false',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const url = await waitFor('the gateway to listen', () => /gateway listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 30_000, 50);
      const r = await http(`${url}/api/v1/workspaces/ws-1/notes`, { headers: { authorization: `Bearer ${token('ws-1')}` } });
      expect(r.status).toBe(200);
      expect(['monolith', 'service']).toContain(r.json.who);
      expect((await http(`${url}/readyz`)).status).toBe(200);
    } finally {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/shutdown complete/);
  }, 60_000);

  it('`carve gateway` refuses an invalid route file with the reason', async () => {
    const bad = stack.files.write('upstreams: {}\ndefault: monolith\n', 'bad.yaml');
    const r = await run(['gateway', '--routes', bad, '--port', '0', '--admin-port', '0'], { DATABASE_URL: stack.db.url });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/route table .*bad\.yaml is invalid:\nupstreams.*must name at least one upstream/);
  }, 60_000);
});
