/**
 * Version 1 of the write fence's DDL is frozen: shipped migrations (the monolith's, each carved
 * context's, the generator's template) run these builders, so their text must not change. A
 * change is a `...V2` beside them and a new migration. The hashes are of the text the shipped
 * migrations run; @carve/shared-messaging's ddl-frozen.spec.ts checks that migrations call no
 * builder other than the pinned ones.
 */
import { createHash } from 'node:crypto';
import { dropWriteFenceSqlV1, undoWriteFenceLockdownSqlV1, writeFenceLockdownSqlV1, writeFenceSchemaSqlV1, writeFenceTablesSqlV1 } from './write-fence';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the frozen write-fence DDL', () => {
  it('keeps version 1 of the fence table, its triggers, its lockdown and their undoing to the letter', () => {
    expect(sha256(writeFenceSchemaSqlV1('frozen'))).toBe('a7628e81a6491a20e9cc0541c2c77d26bd1a706a607e7448f89392c30e18eeaf');
    expect(sha256(writeFenceTablesSqlV1({ schema: 'frozen', context: 'ctx', tables: ['a', 'b'], ownerByDefault: true }))).toBe(
      'e4535761f86bf7c63fec3f6939569cfacf0f5232c4f0946f4cef1b515640d1bc',
    );
    expect(sha256(writeFenceTablesSqlV1({ schema: 'frozen', context: 'ctx', tables: ['a'], tenantColumn: 'tenant_id', ownerByDefault: false }))).toBe(
      'bc5fdc09b5b5c51bd299304b6af3d3279539138a66baf5e3309b5bcd82a097bc',
    );
    expect(sha256(dropWriteFenceSqlV1('frozen', ['a', 'b']))).toBe('c6854c188c0d4e9e5b0495244b3bec113cff55816cc14ac184a93da37c801f90');
    expect(sha256(writeFenceLockdownSqlV1('frozen'))).toBe('60070579e2ae29b42eb98f3ff1858200d9ec835b28de0eea31ec3d3376913e15');
    expect(sha256(undoWriteFenceLockdownSqlV1('frozen'))).toBe('4041f515e98511f68ccf75feda59d7b08a9914fe008ad0a3af8602fd3c06fab4');
  });
});
