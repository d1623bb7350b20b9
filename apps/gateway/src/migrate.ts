/**
 * The control plane's migrations (schema `carve`) as a process of their own: the Kubernetes
 * init container of the gateway's chart (PLATFORM=kubernetes never migrates at boot, so the
 * gateway's own role needs no DDL), and `npm run migrate -w @carve/gateway`. DATABASE_URL is
 * the migrator role's. Safe to run concurrently (advisory lock) and repeatedly (nothing to do
 * when up to date). Exit status 0 on success, 1 on failure, 78 on bad configuration.
 */
import { env, loadConfigOrExit } from '@carve/shared-config';
import { describeControlMigration, migrateControlPlaneAt } from '@carve/shared-control-plane';

if (require.main === module) {
  const config = loadConfigOrExit({ DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'] }) });
  migrateControlPlaneAt(config.DATABASE_URL, 'carve-gateway-migrate').then(
    (report) => {
      process.stdout.write(`${describeControlMigration(report)}\n`);
      process.exit(0);
    },
    (err: Error) => {
      process.stderr.write(`control plane migrations failed: ${err.message}\n`);
      process.exit(1);
    },
  );
}
