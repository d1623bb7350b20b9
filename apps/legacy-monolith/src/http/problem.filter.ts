/**
 * Nest catches controller, guard and pipe exceptions before Fastify's error handler sees them:
 * the global filter of @carve/shared-nest sends them the platform's way (problem+json with a
 * stable code, request id, no internals on a 500).
 */
export { ProblemFilter } from '@carve/shared-nest';
