/**
 * Tokens as an identity provider issues them, through the real gateway: keys from the issuer's
 * JWKS (a local node:http server) by `kid`, RS256 and ES256, cached, fetched again for a new
 * `kid` (rotation) and on expiry of the cache (a retired key stops working); `exp` required
 * within the maximum lifetime; `iss` and `aud` checked; HS256 not accepted from a JWKS issuer,
 * and the dev secret refused on deployed platforms.
 */
import crypto from 'node:crypto';
import nodeHttp from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import type { TestDatabase } from '@carve/shared-testing';
import { createSigner } from 'fast-jwt';
import { gatewayConfigFromEnv, type RunningGateway } from '../src';
import { gateway, http, RouteFiles, testDatabase, waitFor } from './support/harness';
import { TestUpstream } from './support/upstream';

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'carve-api-test';

interface Key {
  kid: string;
  privateKey: string;
  jwk: crypto.JsonWebKey;
}

function rsaKey(kid: string): Key {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' } };
}

function ecKey(kid: string): Key {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' } };
}

describe('gateway tokens from a JWKS issuer', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let gw: RunningGateway;
  let jwks: nodeHttp.Server;
  let published: Key[] = [];
  let fetches = 0;
  const r1 = rsaKey('rsa-1');
  const r2 = rsaKey('rsa-2');
  const e1 = ecKey('ec-1');
  let n = 0;

  beforeAll(async () => {
    jwks = nodeHttp.createServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    published = [r1, e1];
    [db, monolith] = await Promise.all([testDatabase('gateway_jwks'), TestUpstream.start('monolith')]);
    files = new RouteFiles();
    gw = await gateway(db, files.write(`upstreams:\n  monolith: { url: ${monolith.url} }\ndefault: monolith\n`), {
      jwt: {
        jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`,
        issuer: ISSUER,
        audience: AUDIENCE,
        maxLifetimeSec: 3600,
        jwksCacheMs: 1000,
        jwksMinRefreshMs: 0,
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await monolith?.close();
    await db?.drop();
    files?.remove();
    jwks?.close();
  });

  /** A fresh token each time (the gateway remembers verified tokens by their text). */
  const tokenOf = (key: Key, opts: { issuer?: string; audience?: string; ttlSec?: number } = {}) =>
    signToken({ sub: `user-${++n}`, tid: 'ws-1', role: 'maker' }, '', { privateKey: key.privateKey, keyId: key.kid, issuer: opts.issuer ?? ISSUER, audience: opts.audience ?? AUDIENCE, ttlSec: opts.ttlSec ?? 600 });
  const call = (token: string) => http(`${gw.url}/api/v1/workspaces/ws-1/notes`, { headers: { authorization: `Bearer ${token}` } });
  const refused = async (token: string, code = 'token_invalid') => {
    const r = await call(token);
    expect([r.status, r.json?.code]).toEqual([401, code]);
    return r;
  };

  it('accepts RS256 and ES256 tokens signed by published keys, fetching the set once', async () => {
    fetches = 0;
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) {
      expect((await call(tokenOf(r1))).status).toBe(200);
      expect((await call(tokenOf(e1))).status).toBe(200);
    }
    // Once, and again only each time the 1 s cache expired (in the background).
    expect(fetches).toBeLessThanOrEqual(1 + Math.floor((Date.now() - t0) / 1000));
    expect(monolith.seen.at(-1)?.headers['x-carve-tenant']).toBe('ws-1');
  });

  it('refuses another issuer, another audience, no exp, a lifetime over the maximum, an unknown key, HS256', async () => {
    await refused(tokenOf(r1, { issuer: 'https://evil.example.test/' }));
    await refused(tokenOf(r1, { audience: 'someone-else' }));
    await refused(tokenOf(r1, { ttlSec: 48 * 3600 }));
    const noExp = createSigner({ key: r1.privateKey, algorithm: 'RS256', kid: r1.kid, iss: ISSUER, aud: AUDIENCE })({ sub: 'u', tid: 'ws-1', role: 'maker' });
    const r = await refused(noExp);
    expect(r.json.detail).toContain('exp');
    await refused(tokenOf(rsaKey('not-published')));
    await refused(signToken({ sub: 'u', tid: 'ws-1', role: 'admin' }, DEV_JWT_SECRET, { issuer: ISSUER, audience: AUDIENCE }));
    // An expired token says so.
    await refused(tokenOf(r1, { ttlSec: -60 }), 'token_expired');
  });

  it('follows a key rotation: a new kid is fetched at once, a retired key stops working once the cache expires', async () => {
    published = [r1, r2, e1];
    expect((await call(tokenOf(r2))).status).toBe(200);
    published = [r2, e1];
    await waitFor('the retired key refused', async () => (await call(tokenOf(r1))).status === 401, 10_000, 100);
    expect((await call(tokenOf(r2))).status).toBe(200);
  });

  it('refuses the dev secret and a missing key on deployed platforms', () => {
    const deployed = { PLATFORM: 'kubernetes', DATABASE_URL: 'postgres://u@db/x', CARVE_ADMIN_TOKEN: 'a'.repeat(32) };
    expect(() => gatewayConfigFromEnv({ ...deployed, CARVE_JWT_SECRET: DEV_JWT_SECRET })).toThrow(/CARVE_JWT_SECRET.*dev secret/);
    expect(() => gatewayConfigFromEnv(deployed)).toThrow(/CARVE_JWT_JWKS_URL/);
    const c = gatewayConfigFromEnv({ ...deployed, CARVE_JWT_JWKS_URL: 'https://idp.example.test/jwks', CARVE_JWT_ISSUER: ISSUER, CARVE_JWT_AUDIENCE: AUDIENCE });
    expect(c.jwt).toEqual({ jwksUrl: 'https://idp.example.test/jwks', issuer: ISSUER, audience: AUDIENCE });
  });
});
