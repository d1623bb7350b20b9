/**
 * @carve/shared-nest: NestJS on the Fastify adapter with the platform plugin of
 * @carve/shared-http. Framework glue only; the platform itself stays in shared-http, which
 * knows nothing of Nest.
 */
export * from './adapter';
export * from './problem.filter';
export * from './app';
