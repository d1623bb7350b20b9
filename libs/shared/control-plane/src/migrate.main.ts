/** `npm run migrate -w @carve/shared-control-plane`: applies the control plane's migrations to DATABASE_URL. */
import { env, loadConfigOrExit } from '@carve/shared-config';
import { describeControlMigration, migrateControlPlaneAt } from './migrate';

async function main(): Promise<void> {
  const config = loadConfigOrExit({ DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'] }) });
  const report = await migrateControlPlaneAt(config.DATABASE_URL);
  process.stdout.write(`${describeControlMigration(report)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`control plane migration failed: ${err.message}\n`);
  process.exit(1);
});
