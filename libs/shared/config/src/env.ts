/**
 * Configuration from the environment (12-factor), checked once at boot against a schema and
 * frozen. A bad or missing variable raises ConfigError whose message is one line naming it;
 * `loadConfigOrExit` prints that line and stops the process.
 */

export class ConfigError extends Error {
  constructor(readonly variable: string, readonly problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export interface Field<T> {
  readonly describe: string;
  parse(raw: string | undefined, name: string): T;
}

type Opts<T> = { default?: T; optional?: boolean };

function field<T>(describe: string, convert: (raw: string, name: string) => T, opts: Opts<T> = {}): Field<any> {
  return {
    describe,
    parse(raw, name) {
      if (raw === undefined || raw === '') {
        if (opts.default !== undefined) return opts.default;
        if (opts.optional) return undefined;
        throw new ConfigError(name, `is required (${describe})`);
      }
      return convert(raw, name);
    },
  };
}

const show = (raw: string) => JSON.stringify(raw.length > 60 ? `${raw.slice(0, 57)}...` : raw);

export const env = {
  string<T extends string = string>(opts: Opts<T> & { minLength?: number } = {}): Field<T> {
    return field('a string', (raw, name) => {
      if (opts.minLength && raw.length < opts.minLength) {
        throw new ConfigError(name, `must be at least ${opts.minLength} characters long`);
      }
      return raw as T;
    }, opts);
  },
  int(opts: Opts<number> & { min?: number; max?: number } = {}): Field<number> {
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = opts;
    return field(`an integer from ${min} to ${max}`, (raw, name) => {
      const n = Number(raw);
      if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) {
        throw new ConfigError(name, `must be an integer from ${min} to ${max}, got ${show(raw)}`);
      }
      return n;
    }, opts);
  },
  port(opts: Opts<number> = {}): Field<number> {
    return field('a TCP port (0-65535)', (raw, name) => {
      const n = Number(raw);
      if (!/^\d+$/.test(raw.trim()) || n > 65535) throw new ConfigError(name, `must be a TCP port (0-65535), got ${show(raw)}`);
      return n;
    }, opts);
  },
  bool(opts: Opts<boolean> = {}): Field<boolean> {
    return field('true or false', (raw, name) => {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ConfigError(name, `must be true or false, got ${show(raw)}`);
    }, opts);
  },
  url(opts: Opts<string> & { protocols?: string[] } = {}): Field<string> {
    const protocols = opts.protocols;
    return field(`a URL${protocols ? ` (${protocols.join(', ')})` : ''}`, (raw, name) => {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new ConfigError(name, `must be a URL, got ${show(raw.replace(/:[^:@/]*@/, ':***@'))}`);
      }
      if (protocols && !protocols.includes(u.protocol.replace(/:$/, ''))) {
        throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${u.protocol.replace(/:$/, '')}`);
      }
      return raw;
    }, opts);
  },
  oneOf<T extends string>(values: readonly T[], opts: Opts<T> = {}): Field<T> {
    return field(`one of ${values.join(', ')}`, (raw, name) => {
      if (!values.includes(raw as T)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got ${show(raw)}`);
      return raw as T;
    }, opts);
  },
  list(opts: Opts<string[]> = {}): Field<string[]> {
    return field('a comma-separated list', (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean), opts);
  },
};

export type ConfigOf<S extends Record<string, Field<any>>> = { readonly [K in keyof S]: ReturnType<S[K]['parse']> };

/** Reads every field of the schema from `source`, throws ConfigError on the first bad one, freezes the result. */
export function loadConfig<S extends Record<string, Field<any>>>(schema: S, source: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(schema)) out[name] = f.parse(source[name], name);
  return Object.freeze(out) as ConfigOf<S>;
}

/** As loadConfig, but a bad variable prints one clear line on stderr and exits with status 78 (EX_CONFIG). */
export function loadConfigOrExit<S extends Record<string, Field<any>>>(schema: S, source: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  try {
    return loadConfig(schema, source);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}
