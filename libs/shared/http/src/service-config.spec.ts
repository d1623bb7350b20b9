import { ConfigError } from '@carve/shared-config';
import { DEV_JWT_SECRET } from './auth';
import { loadServiceConfig, serviceEnvSchema, sslOption } from './service-config';

const schema = serviceEnvSchema({ port: 3199, syncGroup: 'example-service' });
const load = (env: NodeJS.ProcessEnv) => loadServiceConfig('example service', schema, env);
const problem = (env: NodeJS.ProcessEnv) => {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return [err.variable, err.problem];
    throw err;
  }
  return null;
};

describe('the configuration every carved service shares', () => {
  it('runs locally on nothing: its own port and group, embedded Postgres, dev secret, the postgres transport, migrations at boot', () => {
    expect(load({})).toEqual({
      platform: 'local',
      port: 3199,
      host: '127.0.0.1',
      databaseUrl: undefined,
      databasePoolMax: 10,
      databaseSsl: 'off',
      jwt: { secret: DEV_JWT_SECRET },
      transport: 'postgres',
      kafkaBrokers: [],
      messagingDatabaseUrl: undefined,
      forwardSync: true,
      syncGroup: 'example-service',
      syncFromBeginning: true,
      outboxRelay: true,
      bodyLimitBytes: 256 * 1024,
      migrateOnBoot: true,
      trustProxy: false,
      logLevel: 'info',
    });
    expect(Object.isFrozen(load({}))).toBe(true);
  });

  it('deployed, needs a database and a JWT key, listens on every address and never migrates at boot', () => {
    expect(problem({ PLATFORM: 'kubernetes' })).toEqual(['DATABASE_URL', 'is required with PLATFORM=kubernetes']);
    expect(problem({ PLATFORM: 'kubernetes', DATABASE_URL: 'postgres://app@db/carve' })).toEqual([
      'CARVE_JWT_SECRET',
      'or CARVE_JWT_PUBLIC_KEY or CARVE_JWT_JWKS_URL is required with PLATFORM=kubernetes',
    ]);
    const k8s = load({ PLATFORM: 'kubernetes', DATABASE_URL: 'postgres://app@db/carve', CARVE_JWT_PUBLIC_KEY: 'PEM', KAFKA_BROKERS: 'b1:9094,b2:9094' });
    expect(k8s).toMatchObject({ host: '0.0.0.0', migrateOnBoot: false, jwt: { publicKey: 'PEM' }, transport: 'kafka', kafkaBrokers: ['b1:9094', 'b2:9094'] });
    const heroku = load({ PLATFORM: 'heroku', DATABASE_URL: 'postgres://app@db/carve', CARVE_JWT_SECRET: 'a-secret-of-16-chars' });
    expect(heroku).toMatchObject({ databaseSsl: 'no-verify', trustProxy: true, migrateOnBoot: false });
    // The dev secret is for PLATFORM=local only; an issuer's JWKS with its iss and aud is read as given.
    expect(problem({ PLATFORM: 'heroku', DATABASE_URL: 'postgres://app@db/carve', CARVE_JWT_SECRET: DEV_JWT_SECRET })).toEqual(['CARVE_JWT_SECRET', 'must not be the dev secret with PLATFORM=heroku']);
    const idp = load({ PLATFORM: 'kubernetes', DATABASE_URL: 'postgres://app@db/carve', CARVE_JWT_JWKS_URL: 'https://idp.test/jwks', CARVE_JWT_ISSUER: 'https://idp.test/', CARVE_JWT_AUDIENCE: 'carve-api', CARVE_JWT_MAX_LIFETIME_SEC: '3600' });
    expect(idp.jwt).toEqual({ jwksUrl: 'https://idp.test/jwks', issuer: 'https://idp.test/', audience: 'carve-api', maxLifetimeSec: 3600 });
  });

  it('refuses the legacy schema, and the kafka transport without brokers', () => {
    expect(problem({ LEGACY_DATABASE_URL: 'postgres://x@h/db' })?.[0]).toBe('LEGACY_DATABASE_URL');
    expect(problem({ LEGACY_DATABASE_URL: 'postgres://x@h/db' })?.[1]).toContain('the example service never reads the legacy schema');
    expect(problem({ CARVE_TRANSPORT: 'kafka' })).toEqual(['KAFKA_BROKERS', 'is required with CARVE_TRANSPORT=kafka (host:port,...)']);
    expect(problem({ PORT: 'eighty' })?.[0]).toBe('PORT');
  });

  it('maps the TLS mode to pg\'s ssl option', () => {
    expect([sslOption('off'), sslOption('no-verify'), sslOption('verify')]).toEqual([false, { rejectUnauthorized: false }, { rejectUnauthorized: true }]);
  });
});
