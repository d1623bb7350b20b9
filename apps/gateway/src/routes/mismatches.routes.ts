/**
 * The admin API's mismatch browser (same operator tokens as the rest of the admin API):
 *
 *   GET /admin/routes/:id/mismatches?path=&since=&until=&limit=&cursor=
 *       stored shadow mismatches of a route, newest first, one page: `{ items, nextCursor }`;
 *       `path` a field path (array indexes and keys may be written as `*` or as they are),
 *       `since`/`until` ISO-8601 instants, `limit` 1 to 1000 (default 20), `cursor` the
 *       previous page's `nextCursor`
 *   GET /admin/routes/:id/mismatches/paths
 *       per field path, how many of the route's mismatches differed there, first and last seen
 *       (kept beyond the samples)
 *   GET /admin/routes/:id/noise
 *       the route's noise baseline: field paths where two answers of the monolith differed
 *
 * Bad parameters are 400 problem+json `validation_failed`; a cursor no page handed out is 400 `bad_cursor`.
 */
import { type ControlPlaneClient, MismatchCursorError } from '@carve/shared-control-plane';
import { ProblemError, problems } from '@carve/shared-http';
import { fieldPathKey, type Route } from '@carve/shared-routing';
import type { FastifyInstance } from 'fastify';

interface MismatchQuerystring {
  path?: string;
  since?: string;
  until?: string;
  limit?: string;
  cursor?: string;
}

export function registerMismatchRoutes(admin: FastifyInstance, controlPlane: ControlPlaneClient, routeOr404: (id: string) => Route): void {
  admin.get<{ Params: { id: string }; Querystring: MismatchQuerystring }>('/admin/routes/:id/mismatches', async (req) => {
    const r = routeOr404(req.params.id);
    const q = req.query;
    const errors: Array<{ field: string; message: string }> = [];
    const instant = (field: 'since' | 'until'): Date | undefined => {
      const v = q[field];
      if (v === undefined) return undefined;
      const t = Date.parse(v);
      if (Number.isNaN(t)) errors.push({ field, message: `must be an ISO-8601 instant, got ${JSON.stringify(v)}` });
      return new Date(t);
    };
    const since = instant('since');
    const until = instant('until');
    const limit = q.limit !== undefined ? Number(q.limit) : 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) errors.push({ field: 'limit', message: 'must be an integer from 1 to 1000' });
    if (q.path !== undefined && q.path.trim() === '') errors.push({ field: 'path', message: 'must be a field path like $.items[*].title' });
    if (errors.length > 0) throw problems.validation(errors, 'The mismatch query is not valid.');
    try {
      const page = await controlPlane.browseMismatches({
        routeId: r.id,
        limit,
        ...(q.path !== undefined ? { path: fieldPathKey(q.path) } : {}),
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
      return { routeId: r.id, ...page };
    } catch (err) {
      if (err instanceof MismatchCursorError) throw new ProblemError(400, 'bad_cursor', `${err.message}; start again without a cursor.`);
      throw err;
    }
  });

  admin.get<{ Params: { id: string } }>('/admin/routes/:id/mismatches/paths', async (req) => {
    const r = routeOr404(req.params.id);
    return { routeId: r.id, paths: await controlPlane.mismatchPathCounts(r.id) };
  });

  admin.get<{ Params: { id: string } }>('/admin/routes/:id/noise', async (req) => {
    const r = routeOr404(req.params.id);
    return { routeId: r.id, noiseSample: r.compare.noiseSample, paths: await controlPlane.noise(r.id) };
  });
}
