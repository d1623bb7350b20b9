/**
 * The README's first command, end to end: `carve dev` (what `npm start` runs) brings up the
 * monolith, the services and the gateway on a database of their own, the demo data is served
 * through the gateway on :8080 with a token from `carve token`, and Ctrl-C (SIGINT to the
 * carve process alone) stops every process it started: afterwards no port answers.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';

const root = path.resolve(__dirname, '../../..');
const carve = path.join(root, 'tools/carve/bin/carve.js');
const PORTS = { gateway: 8080, admin: 9090, monolith: 3000, insights: 3101 };
const WORKSPACE = '00000000-0000-4000-a000-000000000001';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('carve dev', () => {
  let db: TestDatabase;
  let child: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    for (const [name, port] of Object.entries(PORTS)) {
      if (await portOpen(port)) throw new Error(`port ${port} (${name}) is in use: stop the running \`carve dev\` before this test`);
    }
    db = await createTestDatabase('carve_dev');
  });

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await db?.drop();
  });

  it('serves the demo data through the gateway and stops everything on Ctrl-C', async () => {
    child = spawn(process.execPath, [carve, 'dev'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url, KAFKA_BROKERS: '', CARVE_TRANSPORT: '', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));

    try {
      await waitFor('"Carve is running"', async () => output.includes('Carve is running'), 150_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- carve dev output ---\n${output.slice(-4000)}`);
    }

    const token = execFileSync(process.execPath, [carve, 'token'], { cwd: root, encoding: 'utf8' }).trim();
    const auth = { authorization: `Bearer ${token}` };
    const list = await fetch(`http://127.0.0.1:${PORTS.gateway}/api/v1/workspaces/${WORKSPACE}/notes?limit=5`, { headers: auth });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { items: Array<{ workspaceId: string; title: string }>; nextCursor: string | null };
    expect(body.items).toHaveLength(5);
    expect(body.items.every((n) => n.workspaceId === WORKSPACE)).toBe(true);
    expect(body.nextCursor).toEqual(expect.any(String));

    const created = await fetch(`http://127.0.0.1:${PORTS.gateway}/api/v1/workspaces/${WORKSPACE}/notes`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Export to CSV please', content: 'From the dev smoke test', source: 'manual' }),
    });
    expect(created.status).toBe(201);

    expect(await portOpen(PORTS.monolith)).toBe(true);
    expect(await portOpen(PORTS.insights)).toBe(true);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    for (const [name, port] of Object.entries(PORTS)) {
      await waitFor(`${name} on :${port} to stop`, async () => !(await portOpen(port)), 15_000);
    }
  }, 240_000);
});
