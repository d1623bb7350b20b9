/**
 * `x-carve-served-by` (config `servedByHeader`, CARVE_SERVED_BY_HEADER; on under `carve dev`):
 * the answer names the upstream that gave it: the service, the monolith on a fallback or on the
 * default route; an upstream's own header of that name is replaced. Off, no answer carries it.
 */
import type { RunningGateway } from '../src';
import { http, type Stack, startStack, token } from './support/harness';
import { TestUpstream } from './support/upstream';

describe('x-carve-served-by', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(
      'gateway_served_by',
      `
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
    fallback: true
`,
      { serviceTimeoutMs: 2000, gateway: false },
    );
  });

  afterAll(() => stack?.close());

  const get = (gw: RunningGateway, path: string) => http(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token('ws-1')}` } });

  it('names the side that answered when on', async () => {
    const gw = await stack.gateway({ servedByHeader: true });
    const served = await get(gw, '/api/v1/workspaces/ws-1/notes/n-1');
    expect([served.status, served.json.who, served.headers['x-carve-served-by']]).toEqual([200, 'service', 'insights']);

    stack.service.behaviour = () => ({ status: 503, body: { down: true } });
    const fellBack = await get(gw, '/api/v1/workspaces/ws-1/notes/n-2');
    expect([fellBack.status, fellBack.json.who, fellBack.headers['x-carve-served-by']]).toEqual([200, 'monolith', 'monolith']);

    stack.service.behaviour = () => ({ headers: { 'x-carve-served-by': 'somebody-else' }, body: { who: 'service' } });
    const spoofed = await get(gw, '/api/v1/workspaces/ws-1/notes/n-3');
    expect(spoofed.headers['x-carve-served-by']).toBe('insights');
    stack.service.behaviour = TestUpstream.echo;

    const other = await get(gw, '/api/v1/workspaces/ws-1/features');
    expect([other.status, other.headers['x-carve-served-by']]).toEqual([200, 'monolith']);
  });

  it('is not sent when off (the default)', async () => {
    const gw = await stack.gateway();
    const served = await get(gw, '/api/v1/workspaces/ws-1/notes/n-1');
    expect(served.status).toBe(200);
    expect(served.headers['x-carve-served-by']).toBeUndefined();
  });
});
