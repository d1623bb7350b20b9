/**
 * Identity at the edge: every request under /api/ needs a valid JWT (401 with the reason
 * otherwise: token_missing, token_expired, token_invalid), except the configured public paths.
 * Every path here is the request's canonical path (@carve/shared-routing canonicalPath, made
 * once by the proxy): `/%61pi/...` is under /api/ like `/api/...`, and the workspace of
 * `/api/v1/workspaces/%77s-1` is `ws-1`.
 * The proxy passes the verified identity to the upstreams as x-carve-tenant / x-carve-user /
 * x-carve-role. Verified tokens are remembered by their text until they expire. With a JWKS,
 * a token signed by a key not yet fetched is answered once the keys are (a promise).
 */
import { type AsyncTokenVerifier, createAnyTokenVerifier, type AuthOptions, type Identity, identityFromHeader, problems } from '@carve/shared-http';

export interface IdentityOptions {
  readonly auth: AuthOptions;
  /** Paths under /api/ that need no token: exact, or prefixes ending in `*`. */
  readonly publicPaths?: readonly string[];
}

const API_PREFIX = '/api/';
/** Bound once (a named import of a re-export is a property getter on each use). */
const fromHeader = identityFromHeader;

function isPublic(path: string, publicPaths: readonly string[]): boolean {
  for (const p of publicPaths) {
    if (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : path === p) return true;
  }
  return false;
}

/**
 * `(path, authorization header)` → the verified identity, or undefined for a path that needs
 * none (outside /api/, or public); throws the 401 problem otherwise.
 */
export type Authenticator = (path: string, authorization: string | undefined) => Identity | Promise<Identity> | undefined;

export function authenticator(opts: IdentityOptions): Authenticator {
  const verify = cachedVerifier(createAnyTokenVerifier(opts.auth));
  const publicPaths = opts.publicPaths ?? [];
  return (path, authorization) => {
    if (!path.startsWith(API_PREFIX) || (publicPaths.length > 0 && isPublic(path, publicPaths))) return undefined;
    return fromHeader(authorization, verify);
  };
}

/**
 * Remembers verified tokens by their exact text until they expire, so a client's repeated
 * requests skip the signature check and the verifier's own cache key hashing. A bounded LRU: at
 * most `max` tokens, the least recently used forgotten first. Only tokens that verified are
 * remembered, and each only until its own `exp` (tokens without `exp` for at most 10 minutes);
 * a failure (expired, forged, malformed) is never remembered, so it is checked again each time.
 */
export function cachedVerifier(verify: AsyncTokenVerifier, max = 10_000, now: () => number = Date.now): AsyncTokenVerifier {
  const cache = new Map<string, { identity: Identity; until: number }>();
  const remember = (token: string, identity: Identity) => {
    const until = expiryOf(token) ?? now() + 600_000;
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    cache.set(token, { identity: Object.freeze({ ...identity }), until });
  };
  return (token) => {
    const hit = cache.get(token);
    if (hit !== undefined) {
      cache.delete(token);
      if (hit.until > now()) {
        cache.set(token, hit); // most recently used: last in the map's order
        return hit.identity;
      }
    }
    const identity = verify(token);
    if (identity instanceof Promise) {
      return identity.then((id) => {
        remember(token, id);
        return id;
      });
    }
    remember(token, identity);
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
