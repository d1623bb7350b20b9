/**
 * A carved service for the tracing test, run as its own process through `runServiceProcess`
 * (as every service's main is): POST /api/v1/workspaces/:workspaceId/things writes one event to
 * the `traced` outbox in a transaction and logs a line. Its relay marks the rows (Postgres
 * transport).
 */
import { randomUUID } from 'node:crypto';
import { loadServiceConfig, requireIdentity, serviceEnvSchema } from '@carve/shared-http';
import { appendToOutbox, createEvent, outboxMigrationSql, pgTransactions } from '@carve/shared-messaging';
import { Client } from 'pg';
import { type CarvedService, fastifyHttpServer, platformFastifyApp, runServiceProcess, startService } from '../src/index';

export const TRACED_SCHEMA = 'traced';
const ThingCreated = { type: 'thing.created', version: '1.0', source: TRACED_SCHEMA, aggregateType: 'thing' } as const;

const traced: CarvedService = {
  name: 'traced-service',
  schema: TRACED_SCHEMA,
  migrate: async (url) => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(outboxMigrationSql(TRACED_SCHEMA));
    } finally {
      await c.end();
    }
  },
  http: async (deps) => {
    const app = await platformFastifyApp(deps);
    app.post('/api/v1/workspaces/:workspaceId/things', async (req, reply) => {
      const tenantId = requireIdentity(req).workspaceId;
      const id = randomUUID();
      await pgTransactions(deps.pool)((tx) => appendToOutbox(tx, TRACED_SCHEMA, [createEvent(ThingCreated, { tenantId, aggregateId: id, aggregateVersion: 1, data: { id } })]));
      req.log.info({ thing: id }, 'thing written');
      return reply.status(201).send({ id });
    });
    return fastifyHttpServer(app);
  },
};

const env = serviceEnvSchema({ port: 0, syncGroup: 'traced-service' });

if (require.main === module) {
  runServiceProcess({ name: traced.name, loadConfig: (vars) => loadServiceConfig('traced service', env, vars), start: (config, opts) => startService(traced, config, opts) });
}
