/**
 * The monolith's seed process, run by `carve dev` (demo data) and `carve seed` (bulk data):
 *
 *   node -r ./tools/scripts/register-ts.js apps/legacy-monolith/src/seed/main.ts --demo
 *   node -r ./tools/scripts/register-ts.js apps/legacy-monolith/src/seed/main.ts --workspaces 20 --notes 1000000
 *
 * Migrates first (no-op when up to date). DATABASE_URL names the database (else embedded).
 * Progress on stderr; the last stdout line is a JSON summary, for scripts and benchmarks.
 */
import { ProgressBar } from '@carve/shared-progress';
import { resolveDatabase, createDataSource } from '@carve/shared-persistence';
import { legacyDataSourceSpec, migrateLegacy } from '../database/legacy-data-source';
import { seedBulk } from './bulk';
import { seedDemo } from './demo';

interface Args {
  demo: boolean;
  workspaces: number;
  notes: number;
  features: number;
  releases?: number;
  seed?: number;
}

export function parseSeedArgs(argv: string[]): Args {
  const args: Args = { demo: false, workspaces: 10, notes: 10_000, features: 0 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--demo') {
      args.demo = true;
      continue;
    }
    const key = flag.replace(/^--/, '') as keyof Args;
    if (!['workspaces', 'notes', 'features', 'releases', 'seed'].includes(key)) throw new Error(`unknown option ${flag}`);
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${flag} needs a whole number, got "${argv[i] ?? ''}"`);
    (args as unknown as Record<string, number>)[key] = value;
  }
  if (!args.demo && args.workspaces < 1) throw new Error('--workspaces must be at least 1');
  if (!args.features) args.features = Math.max(args.workspaces, Math.ceil(args.notes / 50));
  return args;
}

async function main(): Promise<void> {
  const args = parseSeedArgs(process.argv.slice(2));
  const log = { info: (m: string) => process.stderr.write(`${m}\n`), warn: (m: string) => process.stderr.write(`warning: ${m}\n`) };
  const db = await resolveDatabase({ log });
  try {
    if (args.demo) {
      const report = await migrateLegacy(db.url, { log });
      const ds = createDataSource(legacyDataSourceSpec(db.url, { applicationName: 'legacy-seed-demo' }));
      await ds.initialize();
      try {
        const summary = await seedDemo(ds);
        const added = Object.values(summary.inserted).reduce((a, b) => a + b, 0);
        process.stderr.write(`demo data: ${added === 0 ? 'already present' : `${added} rows added`} (${summary.workspaces.length} workspaces)\n`);
        process.stdout.write(`${JSON.stringify({ migrations: report.applied, inserted: summary.inserted })}\n`);
      } finally {
        await ds.destroy();
      }
      return;
    }
    const bars = new Map<string, ProgressBar>();
    const result = await seedBulk({
      url: db.url,
      workspaces: args.workspaces,
      notes: args.notes,
      features: args.features,
      releases: args.releases,
      seed: args.seed,
      onProgress: (p) => {
        let bar = bars.get(p.table);
        if (!bar) bars.set(p.table, (bar = new ProgressBar(p.table.padEnd(16), p.total)));
        if (p.done) bar.finish(p.rows);
        else bar.update(p.rows);
      },
    });
    process.stderr.write(`seeded ${result.totalRows.toLocaleString('en-US')} rows in ${(result.elapsedMs / 1000).toFixed(1)} s (${result.rowsPerSecond.toLocaleString('en-US')} rows/s)\n`);
    process.stdout.write(`${JSON.stringify({ rows: result.rows, tableMs: result.tableMs, totalRows: result.totalRows, elapsedMs: result.elapsedMs, rowsPerSecond: result.rowsPerSecond })}\n`);
  } finally {
    await db.stop();
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`seed failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
