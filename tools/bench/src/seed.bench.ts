/**
 * `carve seed` against a psql COPY pipe, side by side in one run.
 *
 *   npm run bench:seed -w @carve/bench -- --notes 1000000
 *
 * 1. A fresh database (on DATABASE_URL's server, else embedded Postgres).
 * 2. `carve seed --workspaces 20 --notes N` (the real CLI, as a child process): rows/s of the
 *    notes table (generation + COPY into legacy.notes with its indexes and foreign keys).
 * 3. The same rows again through `psql -c "\copy legacy.notes TO STDOUT" | psql -c "\copy
 *    bench.notes FROM STDIN"` into a table created LIKE legacy.notes INCLUDING ALL plus the same
 *    foreign keys (same columns, defaults, checks, indexes and FK checks).
 * Prints both rates and their ratio; the database is dropped afterwards. Needs `psql` on PATH.
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { createDatabase, dropDatabase, resolveDatabase } from '@carve/shared-persistence';
import { Client } from 'pg';
import { parseArgs } from './stats';

const root = path.resolve(__dirname, '..', '..', '..');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const notes = Number(args.notes ?? 1_000_000);
  const workspaces = Number(args.workspaces ?? 20);
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('psql is not on PATH (Debian: apt-get install postgresql-client); it is the peer this benchmark compares against');
  }
  const db = await resolveDatabase({ log: { info: (m) => process.stderr.write(`${m}\n`), warn: (m) => process.stderr.write(`${m}\n`) } });
  const name = `carve_bench_seed_${Date.now()}`;
  const url = await createDatabase(db.url, name);
  try {
    process.stderr.write(`== carve seed --workspaces ${workspaces} --notes ${notes}\n`);
    const out = await run(process.execPath, [path.join(root, 'tools/carve/bin/carve.js'), 'seed', '--workspaces', String(workspaces), '--notes', String(notes)], { DATABASE_URL: url });
    const summary = JSON.parse(out.trim().split('\n').at(-1)!) as { rows: Record<string, number>; tableMs: Record<string, number>; totalRows: number; elapsedMs: number };
    const seedRate = (summary.rows.notes * 1000) / summary.tableMs.notes;

    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query('CREATE SCHEMA bench; CREATE TABLE bench.notes (LIKE legacy.notes INCLUDING ALL)');
    // Same foreign keys as legacy.notes, so both sides pay the same checks.
    const fks = await client.query<{ name: string; def: string }>(
      "SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'legacy.notes'::regclass AND contype = 'f'",
    );
    for (const fk of fks.rows) await client.query(`ALTER TABLE bench.notes ADD CONSTRAINT ${fk.name} ${fk.def}`);
    const { rows: [{ bytes }] } = await client.query("SELECT pg_size_pretty(avg(pg_column_size(n.*))::bigint) AS bytes FROM (SELECT * FROM legacy.notes LIMIT 10000) n");
    await client.end();

    process.stderr.write(`== psql \\copy legacy.notes TO STDOUT | psql \\copy bench.notes FROM STDIN (${summary.rows.notes} rows, ~${bytes}/row)\n`);
    const t0 = performance.now();
    await run('bash', ['-c', `set -o pipefail; psql "$U" -qc '\\copy legacy.notes TO STDOUT' | psql "$U" -qc '\\copy bench.notes FROM STDIN'`], { U: url });
    const psqlMs = performance.now() - t0;
    const psqlRate = (summary.rows.notes * 1000) / psqlMs;

    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    console.log('');
    console.log(`| what | notes | time | rows/s |`);
    console.log(`| --- | ---: | ---: | ---: |`);
    console.log(`| carve seed (generate + COPY, notes table) | ${fmt(summary.rows.notes)} | ${(summary.tableMs.notes / 1000).toFixed(1)} s | ${fmt(seedRate)} |`);
    console.log(`| psql \\copy pipe (same rows) | ${fmt(summary.rows.notes)} | ${(psqlMs / 1000).toFixed(1)} s | ${fmt(psqlRate)} |`);
    console.log(`| carve seed, all tables (${fmt(summary.totalRows)} rows) | | ${(summary.elapsedMs / 1000).toFixed(1)} s | ${fmt((summary.totalRows * 1000) / summary.elapsedMs)} |`);
    console.log('');
    console.log(`ratio carve seed / psql pipe (notes rows/s): ${(seedRate / psqlRate).toFixed(2)}`);
  } finally {
    await dropDatabase(db.url, name);
    await db.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`seed benchmark failed: ${(err as Error).message}\n`);
  process.exit(1);
});
