import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { ContextStageReader } from './index';
import { ControlPlaneClient } from './control-plane';

const owns = (stage: string) => stage === 'writes-switched' || stage === 'complete';

describe('ContextStageReader', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('stage_reader');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('reads stage created while there is no control plane yet', async () => {
    const reader = new ContextStageReader({ url: db.url, context: 'billing', ownsWrites: owns, applicationName: 'test-stage' });
    try {
      expect(await reader.stage()).toBe('created');
      expect(await reader.ownsWrites()).toBe(false);
    } finally {
      await reader.close();
    }
  });

  it("caches its context's stage for the TTL, applies the context's rule, and forgets on invalidate", async () => {
    const cp = await ControlPlaneClient.connect({ url: db.url });
    const set = (context: string, stage: string) =>
      cp.pool.query(`INSERT INTO carve.context_stages (context, stage) VALUES ($1, $2) ON CONFLICT (context) DO UPDATE SET stage = EXCLUDED.stage`, [context, stage]);
    let t = 0;
    const reader = new ContextStageReader({ url: db.url, context: 'billing', ownsWrites: owns, applicationName: 'test-stage', ttlMs: 1000, now: () => t });
    try {
      await set('billing', 'reads-switched');
      await set('other', 'complete');
      expect(await Promise.all([reader.stage(), reader.stage()])).toEqual(['reads-switched', 'reads-switched']);
      await set('billing', 'writes-switched');
      t = 999;
      expect(await reader.ownsWrites()).toBe(false); // still cached
      t = 1000;
      expect(await reader.ownsWrites()).toBe(true);
      await set('billing', 'complete');
      reader.invalidate();
      expect(await reader.stage()).toBe('complete');
    } finally {
      await reader.close();
      await cp.close();
    }
  });

  it('answers 503 control_plane_unavailable when the control plane cannot be read and nothing is cached', async () => {
    const reader = new ContextStageReader({ url: 'postgres://nobody@127.0.0.1:1/none', context: 'billing', ownsWrites: owns, applicationName: 'test-stage', ttlMs: 0 });
    try {
      await expect(reader.stage()).rejects.toMatchObject({ status: 503, code: 'control_plane_unavailable' });
    } finally {
      await reader.close();
    }
  });
});
