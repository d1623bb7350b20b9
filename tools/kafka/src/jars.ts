import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KafkaBrokerError } from './errors';
import { isKafka4, kafkaVersion, LIB_DIR, libDirOf, PACKAGE_DIR } from './paths';

export type Log = (line: string) => void;

/** Progress lines go to stderr, so stdout stays for what a command prints as its result. */
export const stderrLog: Log = (line) => process.stderr.write(`kafka: ${line}\n`);

/**
 * True if the cache holds a broker classpath (the folder is renamed into place only whole), of
 * `version` when given.
 */
export function kafkaJarsPresent(libDir = LIB_DIR, version?: string): boolean {
  const jar = version ? `kafka_2.13-${version}.jar` : null;
  try {
    return fs.readdirSync(libDir).some((f) => (jar ? f === jar : /^kafka_2\.13-.*\.jar$/.test(f)));
  } catch {
    return false;
  }
}

/**
 * Makes sure the jars of the broker `version` (default: kafkaVersion()) are in its cache
 * folder (`tools/kafka/.cache/lib` for the default version, `.cache/lib-<version>` otherwise),
 * running Maven (`dependency:copy-dependencies` on tools/kafka/pom.xml, profile `kafka4` for
 * 4.x) only if they are not. The jars land
 * in a temporary folder first and are renamed into place, so a run cut short (or two runs at
 * once) never leaves a half-filled cache. Returns the folder.
 */
export async function ensureKafkaJars(opts: { log?: Log; version?: string } = {}): Promise<string> {
  const log = opts.log ?? stderrLog;
  const version = opts.version ?? kafkaVersion();
  const libDir = libDirOf(version);
  if (kafkaJarsPresent(libDir, version)) return libDir;

  // A folder without the broker jar is a leftover of something else: start over.
  fs.rmSync(libDir, { recursive: true, force: true });
  const started = Date.now();
  const tmpDir = `${libDir}.tmp-${process.pid}-${Date.now()}`;
  log(`fetching the Kafka ${version} broker jars from Maven Central (once; cached in ${path.relative(process.cwd(), libDir) || libDir})`);
  const output: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(
      'mvn',
      ['-q', '-B', '-ntp', '-Dstyle.color=never', '-f', path.join(PACKAGE_DIR, 'pom.xml'),
        'dependency:copy-dependencies', `-Dkafka.lib.dir=${tmpDir}`, `-Dkafka.version=${version}`, ...(isKafka4(version) ? ['-P', 'kafka4'] : [])],
      { cwd: PACKAGE_DIR, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n')) {
        if (line.trim()) {
          output.push(line);
          log(`mvn: ${line}`);
        }
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new KafkaBrokerError('Maven (mvn) is not installed', 'install Maven 3.8+ (apt-get install maven) and Java 17, then retry')
          : err,
      ),
    );
    child.once('close', (status) => resolve(status ?? 1));
  }).catch((err) => {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  });

  if (code !== 0 || !kafkaJarsPresent(tmpDir, version)) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    const last = output.slice(-3).join(' | ');
    throw new KafkaBrokerError(
      `fetching the Kafka broker jars failed (mvn exited ${code})${last ? `: ${last}` : ''}`,
      `check that Maven Central is reachable, then run: mvn -f ${path.join(PACKAGE_DIR, 'pom.xml')} dependency:copy-dependencies`,
    );
  }
  try {
    fs.renameSync(tmpDir, libDir);
  } catch (err) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    if (!kafkaJarsPresent(libDir, version)) throw err; // someone else filled the cache meanwhile: fine
  }
  const jars = fs.readdirSync(libDir).filter((f) => f.endsWith('.jar')).length;
  log(`fetched ${jars} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return libDir;
}
