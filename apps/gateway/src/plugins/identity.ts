/**
 * Identity at the edge: every request under /api/ needs a valid JWT (401 with the reason
 * otherwise: token_missing, token_expired, token_invalid), except the configured public paths.
 * The verified identity lands on `req.identity` (the same field the platform plugin uses), and
 * the proxy passes it to the upstreams as x-carve-tenant / x-carve-user / x-carve-role.
 *
 * Registered with fastify-plugin: the hook must run for the proxy routes of the parent.
 */
import { createTokenVerifier, type AuthOptions, type Identity, identityFromHeader, problems, type TokenVerifier } from '@carve/shared-http';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

export interface IdentityOptions {
  readonly auth: AuthOptions;
  /** Paths under /api/ that need no token: exact, or prefixes ending in `*`. */
  readonly publicPaths?: readonly string[];
}

const API_PREFIX = '/api/';

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function isPublic(path: string, publicPaths: readonly string[]): boolean {
  for (const p of publicPaths) {
    if (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : path === p) return true;
  }
  return false;
}

const identity: FastifyPluginAsync<IdentityOptions> = async (app, opts) => {
  const verify = cachedVerifier(createTokenVerifier(opts.auth));
  const publicPaths = opts.publicPaths ?? [];
  // A callback hook, not an async one: no promise per request.
  app.addHook('onRequest', (req, _reply, done) => {
    const url = req.url;
    if (!url.startsWith(API_PREFIX) || (publicPaths.length > 0 && isPublic(pathOf(url), publicPaths))) {
      done();
      return;
    }
    try {
      req.identity = identityFromHeader(req.headers.authorization, verify);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });
};

/**
 * Remembers verified tokens by their exact text until they expire (at most `max` of them, the
 * oldest forgotten first), so a client's repeated requests skip the signature check and the
 * verifier's own cache key hashing. Only tokens that verified are remembered, and each only
 * until its own `exp` (tokens without `exp` for at most 10 minutes).
 */
export function cachedVerifier(verify: TokenVerifier, max = 10_000, now: () => number = Date.now): TokenVerifier {
  const cache = new Map<string, { identity: Identity; until: number }>();
  return (token) => {
    const hit = cache.get(token);
    if (hit !== undefined) {
      if (hit.until > now()) return hit.identity;
      cache.delete(token);
    }
    const identity = verify(token);
    const until = expiryOf(token) ?? now() + 600_000;
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    cache.set(token, { identity: Object.freeze({ ...identity }), until });
    return identity;
  };
}

/** `exp` of a JWT (already verified) in ms, if it has one. */
function expiryOf(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export const identityPlugin = fp(identity, { name: 'carve-gateway-identity', fastify: '5.x', dependencies: ['carve-platform'] });

/**
 * The workspace a path names, when a route's `:workspaceId` parameter matched it, or when the
 * path has the conventional `/api/v<n>/workspaces/<id>` prefix (requests no route matched).
 */
export function pathWorkspace(params: Readonly<Record<string, string>> | undefined, path: string): string | undefined {
  const fromRoute = params?.workspaceId;
  if (fromRoute !== undefined) return fromRoute;
  const m = /^\/api\/v\d+\/workspaces\/([^/?#]+)/.exec(path);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** 403 when the path's workspace is not the token's. */
export function assertWorkspace(tokenWorkspace: string, pathWorkspaceId: string | undefined): void {
  if (pathWorkspaceId !== undefined && pathWorkspaceId !== tokenWorkspace) {
    throw problems.forbidden('workspace_mismatch', 'The token is for another workspace than the one in the path.');
  }
}
