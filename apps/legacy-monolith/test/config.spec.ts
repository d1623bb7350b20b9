import { loadMonolithConfig, sslOption, urlWithSsl } from '../src/config';

describe('monolith configuration', () => {
  it('local (default): migrates at boot, loopback, dev JWT secret, embedded Postgres allowed', () => {
    const c = loadMonolithConfig({});
    expect(c).toMatchObject({ platform: 'local', port: 3000, host: '127.0.0.1', migrateOnBoot: true, trustProxy: false, databaseSsl: 'off', bodyLimitBytes: 262144 });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.jwt.secret).toBeTruthy();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('heroku: PORT and DATABASE_URL as Heroku sets them, TLS without CA verification, router trusted, release-phase migrations', () => {
    const c = loadMonolithConfig({ PLATFORM: 'heroku', PORT: '43117', DATABASE_URL: 'postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8x', CARVE_JWT_SECRET: 'heroku-config-var-secret' });
    expect(c).toMatchObject({ platform: 'heroku', port: 43117, host: '0.0.0.0', migrateOnBoot: false, trustProxy: true, databaseSsl: 'no-verify' });
    expect(sslOption(c.databaseSsl)).toEqual({ rejectUnauthorized: false });
  });

  it('kubernetes: never migrates at boot, needs DATABASE_URL and a JWT key', () => {
    const c = loadMonolithConfig({ PLATFORM: 'kubernetes', DATABASE_URL: 'postgres://app@db/carve', CARVE_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----' });
    expect(c).toMatchObject({ migrateOnBoot: false, trustProxy: false, databaseSsl: 'off', jwt: { publicKey: '-----BEGIN PUBLIC KEY-----' } });
    expect(() => loadMonolithConfig({ PLATFORM: 'kubernetes', CARVE_JWT_SECRET: 'x'.repeat(20) })).toThrow('DATABASE_URL is required with PLATFORM=kubernetes');
    expect(() => loadMonolithConfig({ PLATFORM: 'heroku', DATABASE_URL: 'postgres://h/d' })).toThrow(/CARVE_JWT_SECRET or CARVE_JWT_PUBLIC_KEY or CARVE_JWT_JWKS_URL is required/);
    expect(() => loadMonolithConfig({ PLATFORM: 'aws' })).toThrow('PLATFORM must be one of local, heroku, kubernetes, got "aws"');
    expect(() => loadMonolithConfig({ BODY_LIMIT_BYTES: '12' })).toThrow(/BODY_LIMIT_BYTES must be an integer/);
  });

  it('events: embedded relay except on kubernetes, postgres transport unless KAFKA_BROKERS, reverse sync off', () => {
    expect(loadMonolithConfig({}).events).toEqual({ relay: 'embedded', transport: 'postgres', kafkaBrokers: [], reverseSync: false });
    const k8s = { PLATFORM: 'kubernetes', DATABASE_URL: 'postgres://app@db/carve', CARVE_JWT_SECRET: 'x'.repeat(20) };
    expect(loadMonolithConfig(k8s).events.relay).toBe('off');
    expect(loadMonolithConfig({ ...k8s, CARVE_RELAY: 'embedded' }).events.relay).toBe('embedded');
    expect(loadMonolithConfig({ KAFKA_BROKERS: 'b1:9092, b2:9092' }).events).toMatchObject({ transport: 'kafka', kafkaBrokers: ['b1:9092', 'b2:9092'] });
    expect(loadMonolithConfig({ KAFKA_BROKERS: 'b1:9092', CARVE_TRANSPORT: 'postgres' }).events.transport).toBe('postgres');
    expect(loadMonolithConfig({ CARVE_REVERSE_SYNC: 'true' }).events.reverseSync).toBe(true);
    expect(() => loadMonolithConfig({ CARVE_TRANSPORT: 'kafka' })).toThrow('Invalid configuration: KAFKA_BROKERS is required with CARVE_TRANSPORT=kafka');
    expect(() => loadMonolithConfig({ CARVE_RELAY: 'sidecar' })).toThrow('CARVE_RELAY must be one of embedded, off, got "sidecar"');
    expect(() => loadMonolithConfig({ CARVE_TRANSPORT: 'rabbit' })).toThrow('CARVE_TRANSPORT must be one of postgres, kafka');
    expect(urlWithSsl('postgres://u:p@h/d', 'no-verify')).toBe('postgres://u:p@h/d?sslmode=no-verify');
    expect(urlWithSsl('postgres://u:p@h/d', 'off')).toBe('postgres://u:p@h/d');
  });
});
