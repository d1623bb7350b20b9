import { loadMonolithConfig, sslOption } from '../src/config';

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
    expect(() => loadMonolithConfig({ PLATFORM: 'heroku', DATABASE_URL: 'postgres://h/d' })).toThrow(/CARVE_JWT_SECRET or CARVE_JWT_PUBLIC_KEY is required/);
    expect(() => loadMonolithConfig({ PLATFORM: 'aws' })).toThrow('PLATFORM must be one of local, heroku, kubernetes, got "aws"');
    expect(() => loadMonolithConfig({ BODY_LIMIT_BYTES: '12' })).toThrow(/BODY_LIMIT_BYTES must be an integer/);
  });
});
