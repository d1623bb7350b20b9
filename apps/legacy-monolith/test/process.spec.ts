import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';

const repo = path.resolve(__dirname, '../../..');

/** Starts main.ts as Heroku would (`web:` line of the Procfile), on a free port; resolves with its URL. */
function startWeb(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['-r', './tools/scripts/register-ts.js', 'apps/legacy-monolith/src/main.ts'], {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 30 s:\n${out}`)), 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*legacy monolith listening/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited early (${code}):\n${out}`));
    });
  });
}

describe('the web process (Procfile web:, npm start)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('legacy_process');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('boots without a build on PORT, migrates (PLATFORM=local), serves HTTP, and drains on SIGTERM', async () => {
    const web = await startWeb({ DATABASE_URL: db.url, PORT: '0', PLATFORM: 'local', LOG_LEVEL: 'info' });
    let exited: Promise<number | null> | undefined;
    try {
      expect(web.output()).toContain('applied InitialSchema1730000000000');
      expect(new URL(web.url).hostname).toBe('127.0.0.1');
      const ready = await fetch(`${web.url}/readyz`);
      expect(ready.status).toBe(200);
      const ws = '00000000-0000-4000-a000-0000000000aa';
      const token = signToken({ sub: 'u', tid: ws, role: 'admin' }, DEV_JWT_SECRET);
      const res = await fetch(`${web.url}/api/v1/workspaces/${ws}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      exited = new Promise((resolve) => web.child.on('exit', (code) => resolve(code)));
      web.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(web.output()).toContain('shutdown complete');
    } finally {
      if (web.child.exitCode === null) web.child.kill('SIGKILL');
    }
  });
});
