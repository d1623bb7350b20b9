import { decide, type DecisionContext } from './index';
import { canaryRoute as route } from './table.fixtures';

// Only shadow mode copies a request to the service. A copy anywhere else would send writes
// (DELETE, POST: methods without a body to compare) to the service a second time.

const METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'];

describe('decide: the shadow copy', () => {
  it('is never made by a canary decision, in or out, listed or not', () => {
    const r = route({ allow: ['allowed'], deny: ['denied'] });
    const reasons = new Set<string>();
    for (const method of METHODS) {
      for (let i = 0; i < 40; i++) {
        const d = decide(r, { method, tenantId: `tenant-${i}` });
        reasons.add(d.reason);
        expect(d.shadow).toBe(false);
      }
      for (const ctx of [{ tenantId: 'allowed' }, { tenantId: 'denied' }, {}] as Array<Partial<DecisionContext>>) {
        const d = decide(r, { method, ...ctx });
        reasons.add(d.reason);
        expect(d.shadow).toBe(false);
      }
    }
    expect([...reasons].sort()).toEqual(['allow-list', 'canary-in', 'canary-out', 'deny-list', 'no-sticky-key']);
  });

  it('is never made with stickyBy none, on either side', () => {
    const r = route({ stickyBy: 'none' });
    expect(decide(r, { method: 'DELETE', random: () => 0 })).toMatchObject({ primary: 'service', reason: 'canary-in', shadow: false });
    expect(decide(r, { method: 'DELETE', random: () => 0.99 })).toMatchObject({ primary: 'monolith', reason: 'canary-out', shadow: false });
  });

  it('is never made in monolith or service mode, nor for a forced side', () => {
    for (const method of METHODS) {
      expect(decide(route({ mode: 'monolith', percent: undefined }), { method }).shadow).toBe(false);
      expect(decide(route({ mode: 'service', percent: undefined }), { method }).shadow).toBe(false);
      expect(decide(route({ mode: 'shadow', percent: undefined }), { method, operator: true, force: 'monolith' })).toMatchObject({ reason: 'forced', shadow: false });
    }
  });

  it('is made for every sampled GET at sample 1, without drawing a random number', () => {
    const r = route({ mode: 'shadow', percent: undefined, compare: { sample: 1 } });
    const never = () => {
      throw new Error('no draw at sample 1');
    };
    expect(decide(r, { method: 'GET', random: never })).toMatchObject({ shadow: true, reason: 'shadow', primary: 'monolith', fallback: false });
  });

  it('is never made at sample 0, without drawing a random number', () => {
    const r = route({ mode: 'shadow', percent: undefined, compare: { sample: 0 } });
    const never = () => {
      throw new Error('no draw at sample 0');
    };
    expect(decide(r, { method: 'GET', random: never })).toMatchObject({ shadow: false, reason: 'shadow-not-sampled', primary: 'monolith' });
  });
});

describe('decide: the canary bucket', () => {
  it('goes to the service strictly below the threshold (bucket 4999 in, 5000 out at 50%)', () => {
    const r = route({ stickyBy: 'none' });
    expect(decide(r, { method: 'GET', random: () => 0.4999 })).toMatchObject({ primary: 'service', bucket: 4999 });
    expect(decide(r, { method: 'GET', random: () => 0.5 })).toMatchObject({ primary: 'monolith', bucket: 5000 });
  });

  it('is part of a decision only when one was computed', () => {
    expect(decide(route({ stickyBy: 'none' }), { method: 'GET', random: () => 0 })).toHaveProperty('bucket', 0);
    for (const d of [
      decide(route({ allow: ['t'] }), { method: 'GET', tenantId: 't' }),
      decide(route(), { method: 'GET' }),
      decide(route({ mode: 'service', percent: undefined }), { method: 'GET', tenantId: 't' }),
      decide(route(), { method: 'GET', tenantId: 't', operator: true, force: 'service' }),
    ]) {
      expect(d).not.toHaveProperty('bucket');
    }
  });

  it('stays within 0..9999 even if the random source returns 1', () => {
    expect(decide(route({ stickyBy: 'none', percent: 100 }), { method: 'GET', random: () => 1 })).toMatchObject({ primary: 'service', bucket: 9999 });
  });
});
