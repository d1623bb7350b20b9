/**
 * @carve/shared-service: one runtime under every carved service. A service says what makes it
 * (`CarvedService`: name, schema, migrations, its HTTP app on Fastify or Nest, its forward sync)
 * and `startService` does the rest: database and pool, migrations at boot, transport, relay,
 * forward sync, listen, ordered close. Also the HTTP edge's helpers every context's routes use,
 * and the two process entry points (service, migrations).
 */
export * from './runtime';
export * from './forward-sync';
export * from './http-server';
export * from './edge';
export * from './process';
