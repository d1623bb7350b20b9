import { createHash } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { ControlPlaneClient, OPERATOR_TOKEN_PREFIX, OperatorError, OperatorStore } from './index';

describe('OperatorStore', () => {
  let db: TestDatabase;
  let cp: ControlPlaneClient;
  let store: OperatorStore;

  beforeAll(async () => {
    db = await createTestDatabase('control_operators');
    cp = await ControlPlaneClient.connect({ url: db.url });
    store = new OperatorStore(cp.pool);
  });

  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  it('creates an operator with a random high-entropy token, stored only as its SHA-256, and audits it', async () => {
    const a = await store.create({ name: 'alice', role: 'operator', actor: 'root' });
    const b = await store.create({ name: 'bob', role: 'viewer', actor: 'root' });
    for (const t of [a.token, b.token]) {
      expect(t.startsWith(OPERATOR_TOKEN_PREFIX)).toBe(true);
      expect(Buffer.from(t.slice(OPERATOR_TOKEN_PREFIX.length), 'base64url')).toHaveLength(32);
    }
    expect(a.token).not.toBe(b.token);
    expect(a.operator).toMatchObject({ name: 'alice', role: 'operator', createdBy: 'root', lastUsedAt: null });

    const rows = (await cp.pool.query('SELECT name, token_sha256 FROM carve.operators ORDER BY name')).rows;
    expect(rows.map((r) => [r.name, Buffer.from(r.token_sha256).toString('hex')])).toEqual([
      ['alice', createHash('sha256').update(a.token).digest('hex')],
      ['bob', createHash('sha256').update(b.token).digest('hex')],
    ]);
    // The token is nowhere in the database.
    const dump = JSON.stringify((await cp.pool.query('SELECT * FROM carve.operators')).rows) + JSON.stringify(await cp.audit());
    expect(dump).not.toContain(a.token.slice(OPERATOR_TOKEN_PREFIX.length));
    expect((await cp.audit({ target: 'operator:alice' }))[0]).toMatchObject({ actor: 'root', action: 'operator.create', after: { role: 'operator' } });
    expect((await store.list()).map((o) => [o.name, o.role])).toEqual([
      ['alice', 'operator'],
      ['bob', 'viewer'],
    ]);
  });

  it('authenticates a token to its operator, and nothing else', async () => {
    const { token } = await store.create({ name: 'carol', role: 'viewer', actor: 'root' });
    expect(await store.authenticate(token)).toEqual({ name: 'carol', role: 'viewer' });
    expect(await store.authenticate(`${token}x`)).toBeNull();
    expect(await store.authenticate('')).toBeNull();
    expect(await store.authenticate(token.slice(0, -1))).toBeNull();
  });

  it('refuses bad names, bad roles, a taken name and the reserved names, writing nothing', async () => {
    const before = (await store.list()).length;
    const codeOf = (p: Promise<unknown>) => p.then(() => 'created', (e: OperatorError) => e.code);
    expect(await codeOf(store.create({ name: 'Alice', role: 'operator', actor: 'root' }))).toBe('invalid_name');
    expect(await codeOf(store.create({ name: '-x', role: 'operator', actor: 'root' }))).toBe('invalid_name');
    expect(await codeOf(store.create({ name: 'a b', role: 'operator', actor: 'root' }))).toBe('invalid_name');
    expect(await codeOf(store.create({ name: 'bootstrap', role: 'operator', actor: 'root' }))).toBe('invalid_name');
    expect(await codeOf(store.create({ name: 'guard', role: 'operator', actor: 'root' }))).toBe('invalid_name');
    expect(await codeOf(store.create({ name: 'dave', role: 'admin', actor: 'root' }))).toBe('invalid_role');
    expect(await codeOf(store.create({ name: 'alice', role: 'viewer', actor: 'root' }))).toBe('operator_exists');
    expect((await store.list()).length).toBe(before);
  });

  it('revokes: the token stops working at once, the audit keeps who did it', async () => {
    const { token } = await store.create({ name: 'erin', role: 'operator', actor: 'root' });
    expect(await store.authenticate(token)).not.toBeNull();
    expect(await store.revoke('erin', 'root', 'left the team')).toMatchObject({ name: 'erin', role: 'operator' });
    expect(await store.authenticate(token)).toBeNull();
    await expect(store.revoke('erin', 'root')).rejects.toMatchObject({ code: 'operator_not_found' });
    expect((await cp.audit({ target: 'operator:erin' })).map((e) => [e.action, e.reason])).toEqual([
      ['operator.revoke', 'left the team'],
      ['operator.create', 'carve operator create'],
    ]);
    // The name can be issued again, with a new token.
    const again = await store.create({ name: 'erin', role: 'viewer', actor: 'root' });
    expect(again.token).not.toBe(token);
    expect(await store.authenticate(again.token)).toEqual({ name: 'erin', role: 'viewer' });
  });

  it('notes when a token was last used', async () => {
    const { token } = await store.create({ name: 'frank', role: 'viewer', actor: 'root' });
    await store.authenticate(token);
    const deadline = Date.now() + 5000;
    let used: string | null = null;
    while (used === null && Date.now() < deadline) {
      used = (await store.list()).find((o) => o.name === 'frank')!.lastUsedAt;
      if (used === null) await new Promise((r) => setTimeout(r, 20));
    }
    expect(used).not.toBeNull();
  });
});
