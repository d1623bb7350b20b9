/**
 * Identity at the edge: every request under /api/ needs a valid JWT (401 with the reason
 * otherwise: token_missing, token_expired, token_invalid), except the configured public paths.
 * The verified identity lands on `req.identity` (the same field the platform plugin uses), and
 * the proxy passes it to the upstreams as x-carve-tenant / x-carve-user / x-carve-role.
 *
 * Registered with fastify-plugin: the hook must run for the proxy routes of the parent.
 */
import { createTokenVerifier, type AuthOptions, identityFromHeader, problems } from '@carve/shared-http';
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
  const verify = createTokenVerifier(opts.auth);
  const publicPaths = opts.publicPaths ?? [];
  app.addHook('onRequest', async (req) => {
    const url = req.url;
    if (!url.startsWith(API_PREFIX)) return;
    if (publicPaths.length > 0 && isPublic(pathOf(url), publicPaths)) return;
    req.identity = identityFromHeader(req.headers.authorization, verify);
  });
};

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
