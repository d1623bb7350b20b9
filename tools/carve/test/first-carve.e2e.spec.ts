/**
 * The README's "A first carve", command by command, against `npm start` (`carve dev`) on a
 * database and free ports of its own: the commands are read from the README (so the two cannot
 * drift apart) and each one's outcome is checked: exit code, the line that says what happened,
 * the header naming the side that served, and the state afterwards. The seed steps prove that
 * seeding a carved context writes events (verify stays clean) and that seeding a context whose
 * service owns the writes is refused with nothing written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { CARVE_BIN, createTestDatabase, ROOT, runNode, type Run, type TestDatabase, waitFor } from '@carve/shared-testing';
import { type DevStack, devToken, startDevStack, WORKSPACE } from './support/dev-stack';

/** The `$ ` lines of the first console block under "## A first carve" in the README. */
function readmeCommands(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('A first carve'));
  if (!section) throw new Error('README.md has no "## A first carve" section');
  const block = /```console\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('the first-carve section has no ```console block');
  return block.split('\n').filter((l) => l.startsWith('$ ')).map((l) => l.slice(2));
}

describe('the README first carve, on carve dev', () => {
  let db: TestDatabase;
  let stack: DevStack | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('carve_first');
  });

  afterAll(async () => {
    stack?.kill();
    await db?.drop();
  });

  async function count(sql: string): Promise<number> {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return Number((await c.query<{ n: string }>(sql)).rows[0].n);
    } finally {
      await c.end();
    }
  }

  const carve = (args: string[]): Promise<Run> =>
    runNode([CARVE_BIN, ...args], { DATABASE_URL: db.url, CARVE_ADMIN_URL: `http://127.0.0.1:${stack!.ports.admin}`, CARVE_ACTOR: 'first-carve-test' }, 120_000);

  const argv = (cmd: string) => cmd.replace(/^npx carve /, '').split(/\s+/);
  const fail = (cmd: string, r: Run) => `\n$ ${cmd}\n[exit ${r.code}]\n${r.stdout}\n${r.stderr}`;

  async function stageOf(): Promise<{ stage: string; owner: string }> {
    const r = await carve(['status', 'insights', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { stage: { stage: string; owner: string } };
    return { stage: s.stage.stage, owner: s.stage.owner };
  }

  it('runs every command of the README and each does what the README says', async () => {
    const commands = readmeCommands();
    expect(commands.length).toBeGreaterThanOrEqual(10);
    stack = await startDevStack(db.url);
    const gateway = `http://127.0.0.1:${stack.ports.gateway}`;
    const seen = new Set<string>();
    let writtenNoteId: string | undefined;

    for (const cmd of commands) {
      let m: RegExpExecArray | null;
      if (cmd === 'npx carve backfill insights') {
        const r = await carve(argv(cmd));
        expect({ code: r.code, out: r.stdout }).toEqual({ code: 0, out: expect.stringContaining('insights: backfill complete; stage backfilled') });
        seen.add('backfill');
      } else if (cmd.startsWith('npx carve seed ')) {
        // Workspaces: the seed adds some, nothing else does here (reverse sync may still be
        // bringing a note over).
        const before = await count('SELECT count(*) AS n FROM legacy.workspaces');
        const { owner } = await stageOf();
        const r = await carve(argv(cmd));
        if (owner === 'service') {
          expect(r.code).toBe(3);
          expect(r.stderr).toMatch(/carve: refused: insights \(stage writes-switched\) has its writes owned by the service.*nothing was written/);
          expect(r.stderr).toContain('next: ');
          expect(await count('SELECT count(*) AS n FROM legacy.workspaces')).toBe(before);
          seen.add('seed refused');
        } else {
          if (r.code !== 0) throw new Error(`seed failed${fail(cmd, r)}`);
          expect(r.stderr).toContain('insights (backfilled) being carved');
          const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rows: Record<string, number> };
          expect(summary.rows.outbox).toBeGreaterThan(summary.rows.notes);
          expect(await count('SELECT count(*) AS n FROM legacy.workspaces')).toBe(before + summary.rows.workspaces);
          seen.add('seed with events');
        }
      } else if (cmd === 'npx carve verify insights') {
        // Forward sync brings the seeded rows over within moments: verify is clean once it has.
        let last: Run | undefined;
        await waitFor('verify to show no drift', async () => {
          last = await carve(argv(cmd));
          if (last.code !== 0 && last.code !== 4) throw new Error(`verify failed${fail(cmd, last)}`);
          return last.code === 0;
        }, 60_000, 500).catch((err) => {
          throw new Error(`${(err as Error).message}${last ? fail(cmd, last) : ''}`);
        });
        expect(last!.stdout).toMatch(/no drift \(run #\d+ of insights\)/);
        seen.add('verify');
      } else if ((m = /^npx carve stage insights (\S+)/.exec(cmd))) {
        const r = await carve(argv(cmd));
        if (r.code !== 0) throw new Error(`stage failed${fail(cmd, r)}`);
        const to = m[1] === 'reads' ? 'reads-switched' : m[1];
        const transitions = r.stdout.split('\n').filter((l) => / → /.test(l));
        expect(transitions).toEqual([expect.stringMatching(new RegExp(`^insights: \\S+ → ${to}`))]);
        expect(r.stderr).not.toMatch(/ → /); // said once
        expect((await stageOf()).stage).toBe(to);
        seen.add(`stage ${to}`);
      } else if (cmd === 'npx carve cutover insights --writes') {
        const r = await carve(argv(cmd));
        if (r.code !== 0) throw new Error(`cutover failed${fail(cmd, r)}`);
        expect(r.stdout).toContain('insights: writes cut over');
        expect(await stageOf()).toEqual({ stage: 'writes-switched', owner: 'service' });
        seen.add('cutover');
      } else if (cmd.startsWith('curl ') && / -X POST /.test(cmd)) {
        const url = / (localhost:8080\S+)/.exec(cmd)![1].replace('localhost:8080', gateway);
        const body = /-d '([^']*)'/.exec(cmd)![1];
        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${devToken()}`, 'content-type': 'application/json' }, body });
        const created = (await res.json()) as { id: string; workspaceId: string };
        expect(res.status).toBe(201);
        expect(res.headers.get('x-carve-served-by')).toBe('insights');
        expect(created.workspaceId).toBe(WORKSPACE);
        writtenNoteId = created.id;
        seen.add('write');
      } else if (cmd === 'npx carve rollback insights') {
        const r = await carve(argv(cmd));
        if (r.code !== 0) throw new Error(`rollback failed${fail(cmd, r)}`);
        expect(r.stdout).toContain('insights: rolled back from writes-switched to backfilled');
        expect(r.stderr).not.toContain('rolled back from'); // said once
        seen.add('rollback');
      } else if (cmd === 'npx carve status insights') {
        const r = await carve(argv(cmd));
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^insights: backfilled\s+writes owned by monolith/);
        expect(r.stdout).toMatch(/route\s+notes-write\s+write monolith/);
        seen.add('status');
      } else if (cmd.startsWith('npx carve routes audit')) {
        // Each stage change's before and after (the rollback is the newest entry of the context).
        const r = await carve(['routes', 'audit', '--limit', '50']);
        expect(r.code).toBe(0);
        const stageLines = r.stdout.split('\n').filter((l) => l.includes('context:insights'));
        expect(stageLines[0]).toMatch(/writes-switched \(writes: service\)\s+backfilled \(writes: monolith\)/);
        expect(stageLines.some((l) => /shadow \(writes: monolith\)\s+canary 50% \(writes: monolith\)/.test(l))).toBe(true);
        seen.add('audit');
      } else {
        throw new Error(`the README's first carve runs \`${cmd}\`, which this test does not know how to check: add it here`);
      }
    }

    expect([...seen].sort()).toEqual(
      ['audit', 'backfill', 'cutover', 'rollback', 'seed refused', 'seed with events', 'stage canary', 'stage reads-switched', 'stage shadow', 'status', 'verify', 'write'].sort(),
    );
    // The write made while Insights owned the writes reached the monolith (reverse sync) and the
    // gateway serves it from there again.
    const res = await fetch(`${gateway}/api/v1/workspaces/${WORKSPACE}/notes/${writtenNoteId}`, { headers: { authorization: `Bearer ${devToken()}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-carve-served-by')).toBe('monolith');
    expect(await count(`SELECT count(*) AS n FROM legacy.notes WHERE id = '${writtenNoteId}'`)).toBe(1);

  }, 300_000);
});
