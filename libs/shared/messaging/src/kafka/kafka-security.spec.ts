import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@carve/shared-config';
import { describeKafkaError, describeKafkaSecurity, explainKafkaError, KafkaConnectionError, kafkaClientSecurity, kafkaSecurityFromEnv } from './kafka-security';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('kafkaSecurityFromEnv', () => {
  let dir: string;
  let ca: string;
  let cert: string;
  let key: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-kafka-sec-'));
    ca = path.join(dir, 'ca.pem');
    cert = path.join(dir, 'client.pem');
    key = path.join(dir, 'client.key');
    fs.writeFileSync(ca, PEM);
    fs.writeFileSync(cert, PEM);
    fs.writeFileSync(key, KEY);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is plaintext without SASL when nothing is set', () => {
    expect(kafkaSecurityFromEnv({})).toEqual({});
    expect(kafkaClientSecurity(kafkaSecurityFromEnv({}))).toEqual({});
  });

  it('reads TLS with a CA bundle and a client certificate, and SCRAM credentials', () => {
    const s = kafkaSecurityFromEnv({ KAFKA_SSL_CA_FILE: ca, KAFKA_SSL_CERT_FILE: cert, KAFKA_SSL_KEY_FILE: key, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' });
    expect(s).toEqual({ tls: { ca: PEM, caFile: ca, cert: PEM, key: KEY }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    expect(kafkaClientSecurity(s)).toEqual({ ssl: { rejectUnauthorized: true, ca: [PEM], cert: PEM, key: KEY }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    expect(describeKafkaSecurity(s)).toBe(`TLS (CA ${ca}) with a client certificate, SASL scram-sha-512 as u`);
    expect(kafkaSecurityFromEnv({ KAFKA_SSL: 'true' })).toEqual({ tls: {} });
  });

  it('names the variable that is wrong', () => {
    expect(configError(() => kafkaSecurityFromEnv({ KAFKA_SSL_CA_FILE: path.join(dir, 'missing.pem') })).variable).toBe('KAFKA_SSL_CA_FILE');
    expect(configError(() => kafkaSecurityFromEnv({ KAFKA_SSL_CA_FILE: key })).message).toMatch(/KAFKA_SSL_CA_FILE must name a PEM file/);
    expect(configError(() => kafkaSecurityFromEnv({ KAFKA_SSL_CERT_FILE: cert })).variable).toBe('KAFKA_SSL_KEY_FILE');
    expect(configError(() => kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' })).variable).toBe('KAFKA_SASL_PASSWORD');
    expect(configError(() => kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'plain' })).variable).toBe('KAFKA_SASL_MECHANISM');
    expect(configError(() => kafkaSecurityFromEnv({ KAFKA_SASL_USERNAME: 'u' })).variable).toBe('KAFKA_SASL_MECHANISM');
    expect(configError(() => kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'aws-iam' })).variable).toBe('KAFKA_AWS_REGION');
    expect(configError(() => kafkaSecurityFromEnv({ KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: ca })).variable).toBe('KAFKA_SSL');
    expect(configError(() => kafkaSecurityFromEnv({ KAFKA_SSL: 'false', KAFKA_SASL_MECHANISM: 'aws-iam', AWS_REGION: 'eu-west-1' })).variable).toBe('KAFKA_SSL');
  });

  it('aws-iam: TLS on, SASL OAUTHBEARER with a token from aws-msk-iam-sasl-signer-js for the region', async () => {
    const s = kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'aws-iam', AWS_REGION: 'eu-west-1' });
    expect(s).toEqual({ tls: {}, sasl: { mechanism: 'aws-iam', region: 'eu-west-1' } });
    expect(kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'aws-iam', AWS_REGION: 'eu-west-1', KAFKA_AWS_REGION: 'us-east-2' }).sasl).toEqual({ mechanism: 'aws-iam', region: 'us-east-2' });
    const client = kafkaClientSecurity(s);
    expect(client.ssl).toEqual({ rejectUnauthorized: true });
    expect(client.sasl?.mechanism).toBe('oauthbearer');
    // The real signer, with credentials from the environment (the default AWS chain reads them
    // first): signing is local, so the token is made without AWS. It is a presigned
    // kafka-cluster:Connect request for the region's MSK endpoint.
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', AWS_EC2_METADATA_DISABLED: 'true' });
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;
    try {
      const provider = (client.sasl as { oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider;
      const { value } = await provider();
      const url = new URL(Buffer.from(value, 'base64url').toString('utf8'));
      expect(url.hostname).toBe('kafka.eu-west-1.amazonaws.com');
      expect(url.searchParams.get('Action')).toBe('kafka-cluster:Connect');
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/);
    } finally {
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_EC2_METADATA_DISABLED']) delete process.env[k];
      Object.assign(process.env, saved);
    }
    // A signer given in the options is what kafkajs calls at each authentication.
    const regions: string[] = [];
    const custom = kafkaClientSecurity(s, async (region) => (regions.push(region), { token: 'signed', expiryTime: Date.now() + 900_000 }));
    await expect((custom.sasl as { oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider()).resolves.toEqual({ value: 'signed' });
    expect(regions).toEqual(['eu-west-1']);
  });
});

describe('describeKafkaError', () => {
  it('says an authorization failure is one (kafkajs protocol error types)', () => {
    const err = Object.assign(new Error('Not authorized to access topics: [Topic authorization failed]'), { name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED' });
    const f = describeKafkaError({ name: 'KafkaJSNonRetriableError', message: 'wrapped', originalError: err }, undefined, ['b:9094']);
    expect(f.kind).toBe('authorization');
    expect(f.message).toBe('not authorized (b:9094): TOPIC_AUTHORIZATION_FAILED (Not authorized to access topics: [Topic authorization failed])');
    expect(f.hint).toMatch(/ACLs/);
  });

  it('explains a connection closed while connecting (a security mismatch); one closed later (a broker going away) is left as it is', () => {
    const closed = Object.assign(new Error('Closed connection'), { name: 'KafkaJSConnectionClosedError' });
    const explained = explainKafkaError(closed, undefined, ['b:9094'], { connecting: true });
    expect(explained).toBeInstanceOf(KafkaConnectionError);
    expect((explained as KafkaConnectionError).hint).toMatch(/probably expects TLS/);
    expect(explainKafkaError(closed, undefined, ['b:9094'])).toBe(closed);
    const sasl = Object.assign(new Error('SASL SCRAM SHA512 authentication failed: bad'), { name: 'KafkaJSSASLAuthenticationError' });
    expect((explainKafkaError(sasl) as KafkaConnectionError).kind).toBe('sasl');
    expect(describeKafkaError(explainKafkaError(sasl)).kind).toBe('sasl'); // explained once, not wrapped again
  });

  it('says no broker answers when the connection is refused', () => {
    const f = describeKafkaError(Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' }));
    expect(f.kind).toBe('unreachable');
    expect(f.hint).toMatch(/is the broker up/);
  });

  it('says a TLS client on a plaintext port is talking to a listener without TLS', () => {
    const f = describeKafkaError(Object.assign(new Error('Connection error: 80D8:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), { tls: {} });
    expect(f.kind).toBe('tls');
    expect(f.hint).toMatch(/does not speak TLS/);
  });
});
