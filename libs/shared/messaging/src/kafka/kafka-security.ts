/**
 * How Carve's Kafka clients (relay, consumers, the CLI, the topics Job) authenticate and encrypt:
 * TLS with a CA bundle and an optional client certificate, SASL SCRAM, and AWS IAM for MSK
 * (SASL OAUTHBEARER with a token signed by aws-msk-iam-sasl-signer-js). Read from the
 * environment once (`kafkaSecurityFromEnv`), checked like every other variable (ConfigError
 * naming the variable), and turned into kafkajs's `ssl` and `sasl` options.
 *
 * A failed connection is explained by `describeKafkaError`: TLS (certificate, protocol),
 * SASL authentication, authorization (ACLs), or no broker at the address.
 */
import * as fs from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError, env, loadConfig } from '@carve/shared-config';
import type { SASLOptions } from 'kafkajs';

export const KAFKA_SASL_MECHANISMS = ['scram-sha-512', 'scram-sha-256', 'aws-iam'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

export interface KafkaTlsSettings {
  /** PEM CA bundle the broker's certificate must chain to; absent: Node's default CAs (MSK's public ones). */
  ca?: string;
  /** PEM client certificate and its key (mutual TLS); both or neither. */
  cert?: string;
  key?: string;
  /** Where the PEMs came from (for messages). */
  caFile?: string;
}

export type KafkaSaslSettings =
  | { mechanism: 'scram-sha-512' | 'scram-sha-256'; username: string; password: string }
  | { mechanism: 'aws-iam'; region: string };

export interface KafkaSecurity {
  /** TLS to the brokers; undefined: plaintext. */
  tls?: KafkaTlsSettings;
  /** SASL authentication; undefined: none. */
  sasl?: KafkaSaslSettings;
}

/** The variables `kafkaSecurityFromEnv` reads (docs/events.md, "Kafka security"). */
export function kafkaSecurityEnvSchema() {
  return {
    KAFKA_SSL: env.bool({ optional: true }),
    KAFKA_SSL_CA_FILE: env.string({ optional: true }),
    KAFKA_SSL_CERT_FILE: env.string({ optional: true }),
    KAFKA_SSL_KEY_FILE: env.string({ optional: true }),
    KAFKA_SASL_MECHANISM: env.oneOf(KAFKA_SASL_MECHANISMS, { optional: true }),
    KAFKA_SASL_USERNAME: env.string({ optional: true }),
    KAFKA_SASL_PASSWORD: env.string({ optional: true }),
    KAFKA_AWS_REGION: env.string({ optional: true }),
    AWS_REGION: env.string({ optional: true }),
  };
}

function readPem(variable: string, file: string, marker: RegExp): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(variable, `cannot be read (${file}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!marker.test(text)) throw new ConfigError(variable, `must name a PEM file (${file} has no "-----BEGIN ...-----" block)`);
  return text;
}

/**
 * The Kafka security settings from the environment. TLS is on when KAFKA_SSL is true, or when
 * it is unset and a KAFKA_SSL_* file or the aws-iam mechanism asks for it. Throws ConfigError
 * naming the first bad variable (a file that cannot be read, a mechanism without its
 * credentials, a certificate without its key).
 */
export function kafkaSecurityFromEnv(source: NodeJS.ProcessEnv = process.env): KafkaSecurity {
  const e = loadConfig(kafkaSecurityEnvSchema(), source);
  const mechanism = e.KAFKA_SASL_MECHANISM;
  const wantsTls = Boolean(e.KAFKA_SSL_CA_FILE || e.KAFKA_SSL_CERT_FILE || e.KAFKA_SSL_KEY_FILE || mechanism === 'aws-iam');
  const tlsOn = e.KAFKA_SSL ?? wantsTls;
  if (!tlsOn && wantsTls) {
    const which = e.KAFKA_SSL_CA_FILE ? 'KAFKA_SSL_CA_FILE' : e.KAFKA_SSL_CERT_FILE ? 'KAFKA_SSL_CERT_FILE' : e.KAFKA_SSL_KEY_FILE ? 'KAFKA_SSL_KEY_FILE' : 'KAFKA_SASL_MECHANISM=aws-iam';
    throw new ConfigError('KAFKA_SSL', `is false, but ${which} needs TLS (MSK's IAM and TLS listeners are TLS only)`);
  }
  if (Boolean(e.KAFKA_SSL_CERT_FILE) !== Boolean(e.KAFKA_SSL_KEY_FILE)) {
    throw new ConfigError(e.KAFKA_SSL_CERT_FILE ? 'KAFKA_SSL_KEY_FILE' : 'KAFKA_SSL_CERT_FILE', 'is required with the other one (a client certificate and its key go together)');
  }
  const security: KafkaSecurity = {};
  if (tlsOn) {
    const tls: KafkaTlsSettings = {};
    if (e.KAFKA_SSL_CA_FILE) {
      tls.ca = readPem('KAFKA_SSL_CA_FILE', e.KAFKA_SSL_CA_FILE, /-----BEGIN CERTIFICATE-----/);
      tls.caFile = e.KAFKA_SSL_CA_FILE;
    }
    if (e.KAFKA_SSL_CERT_FILE && e.KAFKA_SSL_KEY_FILE) {
      tls.cert = readPem('KAFKA_SSL_CERT_FILE', e.KAFKA_SSL_CERT_FILE, /-----BEGIN CERTIFICATE-----/);
      tls.key = readPem('KAFKA_SSL_KEY_FILE', e.KAFKA_SSL_KEY_FILE, /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    }
    security.tls = tls;
  }
  if (mechanism === 'aws-iam') {
    const region = e.KAFKA_AWS_REGION ?? e.AWS_REGION;
    if (!region) throw new ConfigError('KAFKA_AWS_REGION', 'is required with KAFKA_SASL_MECHANISM=aws-iam (or AWS_REGION): the region of the MSK cluster');
    security.sasl = { mechanism, region };
  } else if (mechanism) {
    if (!e.KAFKA_SASL_USERNAME) throw new ConfigError('KAFKA_SASL_USERNAME', `is required with KAFKA_SASL_MECHANISM=${mechanism}`);
    if (!e.KAFKA_SASL_PASSWORD) throw new ConfigError('KAFKA_SASL_PASSWORD', `is required with KAFKA_SASL_MECHANISM=${mechanism}`);
    security.sasl = { mechanism, username: e.KAFKA_SASL_USERNAME, password: e.KAFKA_SASL_PASSWORD };
  } else if (e.KAFKA_SASL_USERNAME || e.KAFKA_SASL_PASSWORD) {
    throw new ConfigError('KAFKA_SASL_MECHANISM', `is required with ${e.KAFKA_SASL_USERNAME ? 'KAFKA_SASL_USERNAME' : 'KAFKA_SASL_PASSWORD'} (${KAFKA_SASL_MECHANISMS.join(', ')})`);
  }
  return security;
}

/** Signs an MSK IAM token (the signer package is loaded on first use: only MSK IAM needs the AWS SDK). */
export type MskTokenSigner = (region: string) => Promise<{ token: string; expiryTime: number }>;

const defaultMskSigner: MskTokenSigner = async (region) => {
  const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
  return generateAuthToken({ region });
};

/** kafkajs's `ssl` and `sasl` client options for `security` (none: plaintext, no SASL). */
export function kafkaClientSecurity(security: KafkaSecurity | undefined, signer: MskTokenSigner = defaultMskSigner): { ssl?: ConnectionOptions; sasl?: SASLOptions } {
  const out: { ssl?: ConnectionOptions; sasl?: SASLOptions } = {};
  if (security?.tls) {
    const t = security.tls;
    out.ssl = { rejectUnauthorized: true, ...(t.ca ? { ca: [t.ca] } : {}), ...(t.cert ? { cert: t.cert, key: t.key } : {}) };
  }
  const sasl = security?.sasl;
  if (sasl?.mechanism === 'aws-iam') {
    const region = sasl.region;
    // MSK's IAM listener speaks SASL OAUTHBEARER; the token is a presigned kafka-cluster:Connect
    // request signed with the default AWS credential chain (pod role, env, profile). kafkajs asks
    // for a token at every (re)authentication.
    out.sasl = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: (await signer(region)).token }) };
  } else if (sasl) {
    out.sasl = { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
  }
  return out;
}

/** One line for logs: how the client connects (never a secret). */
export function describeKafkaSecurity(security: KafkaSecurity | undefined): string {
  const tls = security?.tls ? `TLS${security.tls.caFile ? ` (CA ${security.tls.caFile})` : ''}${security.tls.cert ? ' with a client certificate' : ''}` : 'plaintext';
  const sasl = security?.sasl;
  if (!sasl) return tls;
  return sasl.mechanism === 'aws-iam' ? `${tls}, SASL aws-iam (region ${sasl.region})` : `${tls}, SASL ${sasl.mechanism} as ${sasl.username}`;
}

export type KafkaFailureKind = 'tls' | 'sasl' | 'authorization' | 'unreachable' | 'closed' | 'other';

export interface KafkaFailure {
  kind: KafkaFailureKind;
  /** One line: what failed. */
  message: string;
  /** What to check next. */
  hint: string;
}

const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  type?: string;
  originalError?: unknown;
  cause?: unknown;
}

/** The error and the ones it wraps (kafkajs keeps them in originalError; Node in cause). */
function chain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  let cur: unknown = err;
  while (cur && typeof cur === 'object' && out.length < 10 && !out.includes(cur as ErrorLike)) {
    out.push(cur as ErrorLike);
    const e = cur as ErrorLike;
    cur = e.originalError ?? e.cause;
  }
  return out;
}

/**
 * What a failed Kafka call means for the connection: TLS (the certificate or the protocol),
 * SASL authentication, authorization, no broker, or a connection the broker closed (with the
 * likely mismatch between this client's security and the listener's). `other` for the rest.
 */
export function describeKafkaError(err: unknown, security?: KafkaSecurity, brokers?: readonly string[]): KafkaFailure {
  const explained = chain(err).find((e): e is KafkaConnectionError => e instanceof KafkaConnectionError);
  if (explained) return explained.failure;
  const errors = chain(err);
  const where = brokers?.length ? ` (${brokers.join(',')})` : '';
  const first = errors[0]?.message ?? String(err);
  const tlsVars = 'KAFKA_SSL, KAFKA_SSL_CA_FILE';
  const sasl = errors.find((e) => e.name === 'KafkaJSSASLAuthenticationError' || /SASL .*authentication failed|Authentication failed during authentication/i.test(e.message ?? ''));
  if (sasl) {
    return {
      kind: 'sasl',
      message: `SASL authentication failed${where}: ${sasl.message}`,
      hint: security?.sasl?.mechanism === 'aws-iam'
        ? "check the pod's AWS credentials and that its IAM policy allows kafka-cluster:Connect on this cluster"
        : `check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (the broker has the user's SCRAM credentials for that mechanism)`,
    };
  }
  const authz = errors.find((e) => /AUTHORIZATION_FAILED/.test(e.type ?? '') || /not authorized/i.test(e.message ?? ''));
  if (authz) {
    return {
      kind: 'authorization',
      message: `not authorized${where}: ${authz.type ?? authz.message}${authz.type && authz.message ? ` (${authz.message})` : ''}`,
      hint: 'authentication worked; grant this principal the ACLs (or IAM actions) for the topic, group or cluster operation',
    };
  }
  const tls = errors.find((e) => TLS_CODES.has(e.code ?? '') || /certificate|secure TLS connection|SSL routines|wrong version number|TLS/i.test(e.message ?? ''));
  if (tls) {
    const plaintextListener = /wrong version number|packet length too long/i.test(tls.message ?? '');
    return {
      kind: 'tls',
      message: `TLS handshake failed${where}: ${tls.message}${tls.code && !(tls.message ?? '').includes(tls.code) ? ` (${tls.code})` : ''}`,
      hint: plaintextListener
        ? 'that port does not speak TLS: use the broker\'s TLS listener, or unset KAFKA_SSL'
        : `the broker's certificate is not trusted or does not name the host: check KAFKA_SSL_CA_FILE${security?.tls?.caFile ? ` (${security.tls.caFile})` : ''} and the broker address`,
    };
  }
  const unreachable = errors.find((e) => ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EAI_AGAIN'].includes(e.code ?? '') || /ECONNREFUSED|ENOTFOUND|getaddrinfo|Connection timeout/.test(e.message ?? ''));
  if (unreachable) {
    return { kind: 'unreachable', message: `no Kafka broker answers${where}: ${unreachable.message}`, hint: 'is the broker up, and is KAFKA_BROKERS its address? (local: carve kafka up)' };
  }
  const closed = errors.find((e) => e.name === 'KafkaJSConnectionClosedError' || /Closed connection|Connection closed|socket hang up|ECONNRESET/i.test(e.message ?? ''));
  if (closed) {
    const hint = !security?.tls
      ? `the broker closed a plaintext connection: its listener probably expects TLS (set ${tlsVars}) or SASL (KAFKA_SASL_MECHANISM)`
      : !security.sasl
        ? 'the broker closed the connection after TLS: its listener probably expects SASL (KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD) or a client certificate (KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE)'
        : 'the broker closed the connection: check that the listener at this port uses the same security protocol (TLS, SASL mechanism) as this client';
    return { kind: 'closed', message: `the Kafka broker closed the connection${where} (${describeKafkaSecurity(security)}): ${closed.message}`, hint };
  }
  return { kind: 'other', message: first, hint: 'look at the broker log' };
}

/** An error of a Kafka client whose connection failed, with what failed and what to check. */
export class KafkaConnectionError extends Error {
  readonly kind: KafkaFailureKind;
  readonly hint: string;
  constructor(readonly failure: KafkaFailure, cause: unknown) {
    super(`${failure.message} (${failure.hint})`, { cause });
    this.name = 'KafkaConnectionError';
    this.kind = failure.kind;
    this.hint = failure.hint;
  }
}

/**
 * `err` as a KafkaConnectionError when it is a TLS, SASL or authorization failure, or (while
 * `connecting`) a connection the broker closed; else `err` itself. A connection closed later is
 * a broker going away, not a security mismatch: it is left as it is.
 */
export function explainKafkaError(err: unknown, security?: KafkaSecurity, brokers?: readonly string[], opts: { connecting?: boolean } = {}): unknown {
  if (err instanceof KafkaConnectionError) return err;
  const failure = describeKafkaError(err, security, brokers);
  if (failure.kind === 'other' || failure.kind === 'unreachable' || (failure.kind === 'closed' && !opts.connecting)) return err;
  return new KafkaConnectionError(failure, err);
}
