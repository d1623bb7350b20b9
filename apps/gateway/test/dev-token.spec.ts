/**
 * `carve token` (dev tokens) signs what the verifiers require: `exp` within the maximum
 * lifetime, `iat`, `iss` and `aud` (the defaults, or CARVE_JWT_ISSUER / CARVE_JWT_AUDIENCE),
 * so the gateway accepts it; a token for another issuer is refused.
 */
import { DEV_JWT_SECRET } from '@carve/shared-http';
import { CARVE_BIN, runNode } from '@carve/shared-testing';
import { authenticator } from '../src/edge/identity';

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));

describe('carve token', () => {
  it('prints a dev token with exp, iat, iss and aud that the gateway accepts', async () => {
    const run = await runNode([CARVE_BIN, 'token', '--json', '--workspace', 'ws-dev', '--role', 'maker'], { CARVE_JWT_ISSUER: '', CARVE_JWT_AUDIENCE: '' });
    expect(run.code).toBe(0);
    const { token } = JSON.parse(run.stdout);
    const c = claimsOf(token);
    expect(c).toMatchObject({ tid: 'ws-dev', role: 'maker', iss: 'carve', aud: 'carve-api' });
    expect(c.exp - c.iat).toBe(43_200);
    const auth = authenticator({ auth: { secret: DEV_JWT_SECRET } });
    expect(auth('/api/v1/workspaces/ws-dev/notes', `Bearer ${token}`)).toMatchObject({ workspaceId: 'ws-dev', role: 'maker' });
  });

  it('signs for the configured issuer and audience, which a gateway for other ones refuses', async () => {
    const run = await runNode([CARVE_BIN, 'token'], { CARVE_JWT_ISSUER: 'https://idp.example.test/', CARVE_JWT_AUDIENCE: 'carve-staging' });
    expect(run.code).toBe(0);
    const token = run.stdout.trim();
    expect(claimsOf(token)).toMatchObject({ iss: 'https://idp.example.test/', aud: 'carve-staging' });
    const mine = authenticator({ auth: { secret: DEV_JWT_SECRET, issuer: 'https://idp.example.test/', audience: 'carve-staging' } });
    expect(mine('/api/v1/x', `Bearer ${token}`)).toBeDefined();
    const other = authenticator({ auth: { secret: DEV_JWT_SECRET } });
    expect(() => other('/api/v1/x', `Bearer ${token}`)).toThrow(/issuer/);
  });
});
