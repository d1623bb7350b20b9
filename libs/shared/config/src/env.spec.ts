import { ConfigError, env, loadConfig } from './env';

describe('loadConfig', () => {
  const schema = {
    PORT: env.port({ default: 3000 }),
    DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'] }),
    PLATFORM: env.oneOf(['heroku', 'kubernetes', 'local'] as const, { default: 'local' }),
    DEBUG: env.bool({ default: false }),
    SECRET: env.string({ optional: true, minLength: 16 }),
  };

  it('parses, applies defaults and freezes', () => {
    const cfg = loadConfig(schema, { DATABASE_URL: 'postgres://u@h/db', DEBUG: 'yes' });
    expect(cfg).toEqual({ PORT: 3000, DATABASE_URL: 'postgres://u@h/db', PLATFORM: 'local', DEBUG: true, SECRET: undefined });
    expect(Object.isFrozen(cfg)).toBe(true);
  });

  it('names the bad variable in one line', () => {
    expect(() => loadConfig(schema, { DATABASE_URL: 'postgres://h/db', PORT: 'eighty' })).toThrow(
      new ConfigError('PORT', 'must be a TCP port (0-65535), got "eighty"'),
    );
    expect(() => loadConfig(schema, {})).toThrow(/^Invalid configuration: DATABASE_URL is required/);
    expect(() => loadConfig(schema, { DATABASE_URL: 'mysql://h/db' })).toThrow('DATABASE_URL must use postgres or postgresql, got mysql');
    expect(() => loadConfig(schema, { DATABASE_URL: 'postgres://h/db', PLATFORM: 'aws' })).toThrow('PLATFORM must be one of heroku, kubernetes, local, got "aws"');
    expect(() => loadConfig(schema, { DATABASE_URL: 'postgres://h/db', SECRET: 'short' })).toThrow('SECRET must be at least 16 characters long');
  });

  it('does not echo credentials of a malformed URL', () => {
    try {
      loadConfig(schema, { DATABASE_URL: 'not a url:hunter2@x' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});
