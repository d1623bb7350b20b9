/**
 * Identity: JWTs carrying `sub` (user), `tid` (workspace, the tenant) and `role`, checked as an
 * identity provider issues them: a signature by a key of the issuer, `exp` required and no
 * further away than the maximum lifetime, `iss` and `aud` the configured ones.
 *
 * Keys: HS256 with a shared secret (dev: CARVE_JWT_SECRET; the dev secret is refused on
 * deployed platforms), RS256 or ES256 with one public key (CARVE_JWT_PUBLIC_KEY), or the
 * issuer's JWKS (CARVE_JWT_JWKS_URL: RS256/ES256 keys by `kid`, cached, fetched again for a
 * `kid` it does not know (key rotation) at most every `jwksMinRefreshMs`, and every
 * `jwksCacheMs` in the background). Verification failures are 401 problems that say why.
 */
import crypto from 'node:crypto';
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import { problems } from './problem';

export const ROLES = ['admin', 'maker', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Identity {
  userId: string;
  workspaceId: string;
  role: Role;
  /**
   * The token carries the operator claim (`carve_operator: true`): the bearer operates Carve
   * itself (it may force an upstream at the gateway). No customer role implies it.
   */
  operator?: true;
}

/** The JWT claim that marks an operator's token. */
export const OPERATOR_CLAIM = 'carve_operator';

/** `iss` of the tokens `carve token` signs, and what is accepted when CARVE_JWT_ISSUER is unset. */
export const DEFAULT_JWT_ISSUER = 'carve';
/** `aud` of the tokens `carve token` signs, and what is accepted when CARVE_JWT_AUDIENCE is unset. */
export const DEFAULT_JWT_AUDIENCE = 'carve-api';
/** The longest token lifetime accepted when none is configured (`exp` - `iat`, or `exp` - now). */
export const DEFAULT_JWT_MAX_LIFETIME_SEC = 24 * 3600;

export interface AuthOptions {
  /** HS256 shared secret (dev). */
  secret?: string;
  /** RS256 or ES256 public key, PEM. */
  publicKey?: string;
  /** The issuer's JWKS (RS256 and ES256 keys by `kid`). */
  jwksUrl?: string;
  /** Accepted `iss` (default DEFAULT_JWT_ISSUER). */
  issuer?: string;
  /** Accepted `aud` (default DEFAULT_JWT_AUDIENCE): the token's `aud` must be or contain it. */
  audience?: string;
  /** Longest accepted lifetime in seconds (default 24 h). */
  maxLifetimeSec?: number;
  /** Accepted clock skew in seconds. */
  clockToleranceSec?: number;
  /** How long fetched keys are used before the JWKS is fetched again (default 10 min). */
  jwksCacheMs?: number;
  /** Least time between two fetches of the JWKS for an unknown `kid` (default 30 s). */
  jwksMinRefreshMs?: number;
}

export type TokenVerifier = (token: string) => Identity;
/** A verifier that may need to fetch keys first (JWKS): a promise then, else the identity. */
export type AsyncTokenVerifier = (token: string) => Identity | Promise<Identity>;

type RawVerifier = (token: string) => unknown;

function mapVerifyError(err: unknown): never {
  const code = err instanceof TokenError ? err.code : '';
  if (code === TokenError.codes.expired) throw problems.unauthorized('The token has expired.', 'token_expired');
  if (code === TokenError.codes.invalidSignature) throw problems.unauthorized('The token signature is not valid.', 'token_invalid');
  if (code === TokenError.codes.invalidAlgorithm) throw problems.unauthorized('The token is signed with an algorithm this server does not accept.', 'token_invalid');
  if (code === TokenError.codes.inactive) throw problems.unauthorized('The token is not valid yet.', 'token_invalid');
  throw problems.unauthorized('The token is malformed.', 'token_invalid');
}

function rawVerifier(key: string, algorithms: Array<'HS256' | 'RS256' | 'ES256'>, opts: AuthOptions): RawVerifier {
  return createVerifier({ key, algorithms, clockTolerance: (opts.clockToleranceSec ?? 5) * 1000, cache: 1000 });
}

/** The algorithms a PEM public key can verify. */
function algorithmsOfKey(pem: string): Array<'RS256' | 'ES256'> {
  const type = crypto.createPublicKey(pem).asymmetricKeyType;
  if (type === 'ec') return ['ES256'];
  if (type === 'rsa') return ['RS256'];
  throw new Error(`JWT public key: unsupported key type ${type} (RSA for RS256, EC P-256 for ES256)`);
}

/** Verifies with a secret or one public key (synchronous). */
export function createTokenVerifier(opts: AuthOptions): TokenVerifier {
  if (!opts.secret && !opts.publicKey) throw new Error('JWT verification needs a secret (HS256) or a public key (RS256, ES256)');
  const verify = opts.publicKey ? rawVerifier(opts.publicKey, algorithmsOfKey(opts.publicKey), opts) : rawVerifier(opts.secret!, ['HS256'], opts);
  const claimsOf = claimChecker(opts);
  return (token: string): Identity => {
    let claims: Record<string, unknown>;
    try {
      claims = verify(token) as Record<string, unknown>;
    } catch (err) {
      mapVerifyError(err);
    }
    return claimsOf(claims);
  };
}

/** A secret or a public key: synchronous; a JWKS: see JwksKeys. */
export function createAnyTokenVerifier(opts: AuthOptions): AsyncTokenVerifier {
  if (!opts.jwksUrl) return createTokenVerifier(opts);
  const keys = new JwksKeys(opts.jwksUrl, opts);
  const claimsOf = claimChecker(opts);
  return (token) => {
    const header = headerOf(token);
    const now = keys.verifierFor(header.kid, header.alg);
    const finish = (verify: RawVerifier | undefined): Identity => {
      if (!verify) throw problems.unauthorized('The token is signed with a key the issuer does not publish.', 'token_invalid');
      let claims: Record<string, unknown>;
      try {
        claims = verify(token) as Record<string, unknown>;
      } catch (err) {
        mapVerifyError(err);
      }
      return claimsOf(claims);
    };
    if (now !== undefined) return finish(now);
    return keys.refreshFor(header.kid, header.alg).then(finish);
  };
}

function headerOf(token: string): { kid?: string; alg?: string } {
  try {
    const h = JSON.parse(Buffer.from(token.split('.', 1)[0], 'base64url').toString('utf8')) as { kid?: unknown; alg?: unknown };
    return { kid: typeof h.kid === 'string' ? h.kid : undefined, alg: typeof h.alg === 'string' ? h.alg : undefined };
  } catch {
    throw problems.unauthorized('The token is malformed.', 'token_invalid');
  }
}

/**
 * The keys of a JWKS, by `kid`: fetched on first use, again after `jwksCacheMs` (in the
 * background: the keys in hand keep working meanwhile), and at once for an unknown `kid` unless
 * the last fetch was less than `jwksMinRefreshMs` ago (a forged `kid` cannot make the gateway
 * hammer the issuer). A key that left the set stops verifying once the set is fetched again.
 */
export class JwksKeys {
  private keys = new Map<string, { alg: string; verify: RawVerifier }>();
  private fetchedAt = -Infinity;
  private inFlight: Promise<void> | null = null;
  private readonly cacheMs: number;
  private readonly minRefreshMs: number;

  constructor(
    readonly url: string,
    private readonly opts: AuthOptions,
  ) {
    this.cacheMs = opts.jwksCacheMs ?? 600_000;
    this.minRefreshMs = opts.jwksMinRefreshMs ?? 30_000;
  }

  /** The verifier of a known key (undefined: fetch first); starts a background refresh when stale. */
  verifierFor(kid: string | undefined, alg: string | undefined): RawVerifier | undefined {
    if (Date.now() - this.fetchedAt > this.cacheMs) {
      if (this.fetchedAt === -Infinity) return undefined;
      void this.refresh().catch(() => undefined);
    }
    return this.pick(kid, alg);
  }

  /** Fetches the set again when allowed, then picks the key. */
  async refreshFor(kid: string | undefined, alg: string | undefined): Promise<RawVerifier | undefined> {
    if (Date.now() - this.fetchedAt >= this.minRefreshMs || this.fetchedAt === -Infinity) {
      try {
        await this.refresh();
      } catch (err) {
        if (this.keys.size === 0) throw problems.unavailable('jwks_unavailable', `The issuer's keys could not be fetched: ${(err as Error).message}`);
      }
    }
    return this.pick(kid, alg);
  }

  private pick(kid: string | undefined, alg: string | undefined): RawVerifier | undefined {
    const k = kid !== undefined ? this.keys.get(kid) : this.keys.size === 1 ? [...this.keys.values()][0] : undefined;
    if (k === undefined || (alg !== undefined && alg !== k.alg)) return undefined;
    return k.verify;
  }

  private refresh(): Promise<void> {
    return (this.inFlight ??= this.load().finally(() => {
      this.inFlight = null;
    }));
  }

  private async load(): Promise<void> {
    const res = await fetch(this.url, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`JWKS ${this.url} answered ${res.status}`);
    const body = (await res.json()) as { keys?: Array<Record<string, unknown>> };
    const next = new Map<string, { alg: string; verify: RawVerifier }>();
    for (const jwk of body.keys ?? []) {
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      const alg = jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : undefined;
      if (alg === undefined || (jwk.alg !== undefined && jwk.alg !== alg) || typeof jwk.kid !== 'string') continue;
      const pem = crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
      next.set(jwk.kid, { alg, verify: rawVerifier(pem, [alg as 'RS256' | 'ES256'], this.opts) });
    }
    this.keys = next;
    this.fetchedAt = Date.now();
  }
}

/** `exp` (within the maximum lifetime), `iss`, `aud`, then the identity claims. */
function claimChecker(opts: AuthOptions): (claims: Record<string, unknown>) => Identity {
  const issuer = opts.issuer ?? DEFAULT_JWT_ISSUER;
  const audience = opts.audience ?? DEFAULT_JWT_AUDIENCE;
  const maxLifetime = opts.maxLifetimeSec ?? DEFAULT_JWT_MAX_LIFETIME_SEC;
  const tolerance = opts.clockToleranceSec ?? 5;
  return (claims) => {
    const { exp, iat, iss, aud } = claims;
    if (typeof exp !== 'number') throw problems.unauthorized('The token has no expiry (exp).', 'token_invalid');
    const from = typeof iat === 'number' ? iat : Date.now() / 1000;
    if (exp - from > maxLifetime + tolerance) throw problems.unauthorized(`The token lives longer than ${maxLifetime} s.`, 'token_invalid');
    if (iss !== issuer) throw problems.unauthorized('The token is not from an accepted issuer (iss).', 'token_invalid');
    if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) {
      throw problems.unauthorized('The token is not for this audience (aud).', 'token_invalid');
    }
    const { sub, tid, role } = claims;
    if (typeof sub !== 'string' || !sub) throw problems.unauthorized('The token has no subject (sub).', 'token_invalid');
    if (typeof tid !== 'string' || !tid) throw problems.unauthorized('The token names no workspace (tid).', 'token_invalid');
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw problems.unauthorized(`The token's role must be one of ${ROLES.join(', ')}.`, 'token_invalid');
    }
    const identity: Identity = { userId: sub, workspaceId: tid, role: role as Role };
    if (claims[OPERATOR_CLAIM] === true) identity.operator = true;
    return identity;
  };
}

/** Reads `Authorization: Bearer <token>` and verifies it. */
export function identityFromHeader(header: string | undefined, verify: TokenVerifier): Identity;
export function identityFromHeader(header: string | undefined, verify: AsyncTokenVerifier): Identity | Promise<Identity>;
export function identityFromHeader(header: string | undefined, verify: AsyncTokenVerifier): Identity | Promise<Identity> {
  if (!header) throw problems.unauthorized('Send a bearer token in the Authorization header.', 'token_missing');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw problems.unauthorized('The Authorization header must be "Bearer <token>".', 'token_missing');
  return verify(m[1]);
}

export interface SignOptions {
  /** Lifetime in seconds (default 12 h). */
  ttlSec?: number;
  /** RS256 (RSA) or ES256 (EC P-256) private key, PEM, instead of the HS256 secret. */
  privateKey?: string;
  /** `kid` in the header (a JWKS names its keys so). */
  keyId?: string;
  /** `iss` (default DEFAULT_JWT_ISSUER). */
  issuer?: string;
  /** `aud` (default DEFAULT_JWT_AUDIENCE). */
  audience?: string;
}

/** Signs a token (dev CLI and tests): with `exp`, `iat`, `iss` and `aud`. */
export function signToken(claims: { sub: string; tid: string; role: Role; [OPERATOR_CLAIM]?: true }, secret: string, opts: SignOptions = {}): string {
  const algorithm = opts.privateKey ? (crypto.createPrivateKey(opts.privateKey).asymmetricKeyType === 'ec' ? 'ES256' : 'RS256') : 'HS256';
  const sign = createSigner({
    key: opts.privateKey ?? secret,
    algorithm,
    expiresIn: (opts.ttlSec ?? 12 * 3600) * 1000,
    iss: opts.issuer ?? DEFAULT_JWT_ISSUER,
    aud: opts.audience ?? DEFAULT_JWT_AUDIENCE,
    ...(opts.keyId !== undefined ? { kid: opts.keyId } : {}),
  });
  return sign({ ...claims });
}

/**
 * The HS256 secret `carve dev` and `carve token` use when CARVE_JWT_SECRET is not set.
 * Only ever accepted with PLATFORM=local; deployed platforms must configure their own.
 */
export const DEV_JWT_SECRET = 'carve-local-development-secret-not-for-production';
