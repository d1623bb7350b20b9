/**
 * Identity: JWTs carrying `sub` (user), `tid` (workspace, the tenant) and `role`.
 * HS256 with a shared secret in dev (CARVE_JWT_SECRET), RS256 with a public key in production
 * (CARVE_JWT_PUBLIC_KEY). Verification failures are 401 problems that say why.
 */
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import { problems } from './problem';

export const ROLES = ['admin', 'maker', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Identity {
  userId: string;
  workspaceId: string;
  role: Role;
}

export interface AuthOptions {
  /** HS256 shared secret (dev). */
  secret?: string;
  /** RS256 public key, PEM (production). */
  publicKey?: string;
  /** Accepted clock skew in seconds. */
  clockToleranceSec?: number;
}

export type TokenVerifier = (token: string) => Identity;

export function createTokenVerifier(opts: AuthOptions): TokenVerifier {
  if (!opts.secret && !opts.publicKey) throw new Error('JWT verification needs a secret (HS256) or a public key (RS256)');
  const verify = createVerifier({
    key: opts.publicKey ?? opts.secret!,
    algorithms: opts.publicKey ? ['RS256'] : ['HS256'],
    clockTolerance: (opts.clockToleranceSec ?? 5) * 1000,
    cache: 1000,
  });
  return (token: string): Identity => {
    let claims: Record<string, unknown>;
    try {
      claims = verify(token) as Record<string, unknown>;
    } catch (err) {
      const code = err instanceof TokenError ? err.code : '';
      if (code === TokenError.codes.expired) throw problems.unauthorized('The token has expired.', 'token_expired');
      if (code === TokenError.codes.invalidSignature) throw problems.unauthorized('The token signature is not valid.', 'token_invalid');
      if (code === TokenError.codes.invalidAlgorithm) throw problems.unauthorized('The token is signed with an algorithm this server does not accept.', 'token_invalid');
      if (code === TokenError.codes.inactive) throw problems.unauthorized('The token is not valid yet.', 'token_invalid');
      throw problems.unauthorized('The token is malformed.', 'token_invalid');
    }
    const { sub, tid, role } = claims;
    if (typeof sub !== 'string' || !sub) throw problems.unauthorized('The token has no subject (sub).', 'token_invalid');
    if (typeof tid !== 'string' || !tid) throw problems.unauthorized('The token names no workspace (tid).', 'token_invalid');
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw problems.unauthorized(`The token's role must be one of ${ROLES.join(', ')}.`, 'token_invalid');
    }
    return { userId: sub, workspaceId: tid, role: role as Role };
  };
}

/** Reads `Authorization: Bearer <token>` and verifies it. */
export function identityFromHeader(header: string | undefined, verify: TokenVerifier): Identity {
  if (!header) throw problems.unauthorized('Send a bearer token in the Authorization header.', 'token_missing');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw problems.unauthorized('The Authorization header must be "Bearer <token>".', 'token_missing');
  return verify(m[1]);
}

export interface SignOptions {
  /** Lifetime in seconds (default 12 h). */
  ttlSec?: number;
  /** RS256 private key instead of the HS256 secret. */
  privateKey?: string;
}

/** Signs a token (dev CLI and tests). */
export function signToken(claims: { sub: string; tid: string; role: Role }, secret: string, opts: SignOptions = {}): string {
  const sign = createSigner({
    key: opts.privateKey ?? secret,
    algorithm: opts.privateKey ? 'RS256' : 'HS256',
    expiresIn: (opts.ttlSec ?? 12 * 3600) * 1000,
  });
  return sign({ ...claims });
}

/**
 * The HS256 secret `carve dev` and `carve token` use when CARVE_JWT_SECRET is not set.
 * Only ever accepted with PLATFORM=local; deployed platforms must configure their own.
 */
export const DEV_JWT_SECRET = 'carve-local-development-secret-not-for-production';
