/**
 * The write fences' refusals as HTTP: the SQLSTATEs the databases raise (the carved context's
 * fence and `carve move`'s) become 503/409 problems with Retry-After, as pg and TypeORM throw them.
 */
import { MOVE_FENCE_HINT, toProblem, WRITE_FENCE_SQLSTATE } from './problem';

describe('write fence refusals', () => {
  it("a handover's fence is 503 write_fenced naming the context, with Retry-After", () => {
    const r = toProblem({ code: WRITE_FENCE_SQLSTATE.fenced, hint: 'insights' });
    expect(r).toMatchObject({ status: 503, body: { code: 'write_fenced', context: 'insights' }, headers: { 'retry-after': '1' } });
    expect(r.body.detail).toContain('insights');
  });

  it("carve move's fence is 503 write_fenced saying the database is moving, also inside a TypeORM QueryFailedError", () => {
    const r = toProblem({ name: 'QueryFailedError', driverError: { code: WRITE_FENCE_SQLSTATE.fenced, hint: MOVE_FENCE_HINT } });
    expect(r).toMatchObject({ status: 503, body: { code: 'write_fenced', context: 'database' }, headers: { 'retry-after': '1' } });
    expect(r.body.detail).toBe('The database is moving to a new server; try again in a moment.');
  });

  it('not the owner is 409 not_source_of_truth', () => {
    expect(toProblem({ code: WRITE_FENCE_SQLSTATE.notOwner, hint: 'roadmaps' })).toMatchObject({ status: 409, body: { code: 'not_source_of_truth', context: 'roadmaps' } });
  });
});
