/**
 * The monolith's seed process, run by `carve dev` (demo data) and `carve seed` (bulk data):
 *
 *   node -r ./tools/scripts/register-ts.js apps/legacy-monolith/src/seed/main.ts --demo
 *   node -r ./tools/scripts/register-ts.js apps/legacy-monolith/src/seed/main.ts --workspaces 20 --notes 1000000
 *   ... --events   (bulk: also the rows' `created` events in legacy.outbox, for contexts being carved)
 *
 * Migrates first (no-op when up to date). DATABASE_URL names the database (else embedded).
 * Progress on stderr; the last stdout line is a JSON summary, for scripts and benchmarks.
 */
import { ProgressBar } from '@carve/shared-progress';
import { resolveDatabase, createDataSource, WRITE_FENCE_SQLSTATE } from '@carve/shared-persistence';
import { legacyDataSourceSpec, migrateLegacy } from '../database/legacy-data-source';
import { seedBulk } from './bulk';
import { seedDemo } from './demo';

interface Args {
  demo: boolean;
  events: boolean;
  workspaces: number;
  notes: number;
  features: number;
  releases?: number;
  seed?: number;
}

export function parseSeedArgs(argv: string[]): Args {
  const args: Args = { demo: false, events: false, workspaces: 10, notes: 10_000, features: 0 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--demo') {
      args.demo = true;
      continue;
    }
    if (flag === '--events') {
      args.events = true;
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
      events: args.events,
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

/** Exit code of a seed the monolith's write fence refused (`carve seed` reports it as refused). */
export const SEED_EXIT_FENCED = 3;

/**
 * The line for a write the monolith's write fence refused (the seed is one transaction: nothing
 * was written), or undefined for any other error.
 */
export function fenceRefusal(err: unknown): string | undefined {
  const e = err as { code?: unknown; hint?: unknown } | undefined;
  const context = typeof e?.hint === 'string' ? e.hint : 'a context';
  if (e?.code === WRITE_FENCE_SQLSTATE.notOwner) {
    return `seed refused by the monolith's write fence: the monolith no longer owns the writes of ${context} (its service does); nothing was written`;
  }
  if (e?.code === WRITE_FENCE_SQLSTATE.fenced) {
    return `seed refused by the monolith's write fence: a handover of the writes of ${context} is in progress; nothing was written`;
  }
  return undefined;
}

if (require.main === module) {
  main().catch((err) => {
    const refused = fenceRefusal(err);
    process.stderr.write(`${refused ?? `seed failed: ${(err as Error).message}`}\n`);
    process.exit(refused ? SEED_EXIT_FENCED : 1);
  });
}
