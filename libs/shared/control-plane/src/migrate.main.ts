/** `npm run migrate -w @carve/shared-control-plane`: applies the control plane's migrations to DATABASE_URL. */
import { env, loadConfigOrExit } from '@carve/shared-config';
import { Pool } from 'pg';
import { migrateControlPlane } from './migrations';

async function main(): Promise<void> {
  const config = loadConfigOrExit({ DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'] }) });
  const pool = new Pool({ connectionString: config.DATABASE_URL, max: 1 });
  pool.on('error', () => undefined); // an idle connection's failure surfaces on the next query
  try {
    const report = await migrateControlPlane(pool);
    process.stdout.write(
      report.applied.length ? `control plane: applied ${report.applied.join(', ')}\n` : 'control plane: up to date (nothing to apply)\n',
    );
  } finally {
    await pool.end();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`control plane migration failed: ${err.message}\n`);
  process.exit(1);
});
