import * as fs from 'node:fs';
import * as path from 'node:path';

/** The folder of this package (tools/kafka): holds pom.xml, config/ and the jar cache. */
export const PACKAGE_DIR = path.resolve(__dirname, '..');

/** The broker version of pom.xml (`kafka.version`): what dev, CI and the tests run by default. */
export const DEFAULT_KAFKA_VERSION = '3.9.1';

/**
 * The broker version to run: CARVE_KAFKA_VERSION when set (e.g. `4.1.1`, CI's Kafka 4 lane),
 * else DEFAULT_KAFKA_VERSION. Only a plain x.y.z release is accepted.
 */
export function kafkaVersion(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.CARVE_KAFKA_VERSION?.trim() || DEFAULT_KAFKA_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(v)) throw new Error(`CARVE_KAFKA_VERSION must be a Kafka release such as 3.9.1 or 4.1.1, not "${v}"`);
  return v;
}

/** Kafka 4 logs through log4j2 (its own distribution's choice); 3.x through reload4j. */
export const isKafka4 = (version: string): boolean => Number(version.split('.')[0]) >= 4;

/**
 * The jar cache of a version, filled once by `ensureKafkaJars()` and ignored by git:
 * `.cache/lib` for the default version (the folder earlier checkouts filled), `.cache/lib-<v>`
 * for any other.
 */
export function libDirOf(version: string): string {
  return path.join(PACKAGE_DIR, '.cache', version === DEFAULT_KAFKA_VERSION ? 'lib' : `lib-${version}`);
}

/** The default version's jar cache. */
export const LIB_DIR = libDirOf(DEFAULT_KAFKA_VERSION);

/** The log4j (3.x) and log4j2 (4.x) configurations that send the broker's logs to `<dataDir>/logs/server.log`. */
export const LOG4J_CONFIG = path.join(PACKAGE_DIR, 'config', 'log4j.properties');
export const LOG4J2_CONFIG = path.join(PACKAGE_DIR, 'config', 'log4j2.properties');

function isRepoRoot(dir: string): boolean {
  if (!fs.existsSync(path.join(dir, 'nx.json'))) return false;
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    return Array.isArray(pkg.workspaces);
  } catch {
    return false;
  }
}

/**
 * The monorepo root: the nearest folder above this package (or, failing that, above the
 * working directory) holding both nx.json and a package.json with npm workspaces.
 */
export function findRepoRoot(): string {
  for (const start of [PACKAGE_DIR, process.cwd()]) {
    let dir = path.resolve(start);
    for (;;) {
      if (isRepoRoot(dir)) return dir;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  // tools/kafka sits two levels below the root; this only runs if nx.json has gone missing.
  return path.resolve(PACKAGE_DIR, '..', '..');
}

/** `<repo>/.carve/kafka`, the default home of the dev broker (ignored by git). */
export function defaultDataDir(): string {
  return path.join(findRepoRoot(), '.carve', 'kafka');
}

/** Every file and folder the broker keeps under its data dir. */
export interface BrokerFiles {
  dataDir: string;
  /** `log.dirs`: topic partitions and the KRaft metadata log (meta.properties inside). */
  logDirs: string;
  /** server.log (log4j) and kafka.out (the JVM's own stdout/stderr). */
  logsDir: string;
  serverLog: string;
  stdoutLog: string;
  serverProperties: string;
  pidFile: string;
  lockFile: string;
}

export function brokerFiles(dataDir: string): BrokerFiles {
  const dir = path.resolve(dataDir);
  const logsDir = path.join(dir, 'logs');
  return {
    dataDir: dir,
    logDirs: path.join(dir, 'data'),
    logsDir,
    serverLog: path.join(logsDir, 'server.log'),
    stdoutLog: path.join(logsDir, 'kafka.out'),
    serverProperties: path.join(dir, 'server.properties'),
    pidFile: path.join(dir, 'kafka.pid'),
    lockFile: path.join(dir, 'start.lock'),
  };
}
