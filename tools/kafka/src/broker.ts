import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { kafkaAdminReady } from './admin';
import { KafkaBrokerError } from './errors';
import { ensureKafkaJars, stderrLog, type Log } from './jars';
import { brokerFiles, defaultDataDir, isKafka4, kafkaVersion, LOG4J2_CONFIG, LOG4J_CONFIG, type BrokerFiles } from './paths';
import { isAlive, isOurBroker, portAnswers, readPid, sleep, tail, waitForExit } from './process';
import { type BrokerTls, ensureBrokerTls } from './tls';

const execFileAsync = promisify(execFile);

export const DEFAULT_KAFKA_PORT = 9092;
const HOST = '127.0.0.1';
const NODE_ID = 1;

export interface StartKafkaOptions {
  /** Client (PLAINTEXT) port on 127.0.0.1; default 9092. */
  port?: number;
  /** KRaft controller port on 127.0.0.1; default `port + 1`. */
  controllerPort?: number;
  /** Where the broker keeps its data, logs, server.properties and PID file; default `<repo>/.carve/kafka`. */
  dataDir?: string;
  /** Stop the broker of this data dir (if running) and wipe its data before starting. */
  fresh?: boolean;
  /** How long to wait for the broker to answer an admin client; default 60 s. */
  timeoutMs?: number;
  /** JVM max heap (-Xmx); default 512m. */
  heap?: string;
  /** Kafka release to run (its jars are fetched once); default kafkaVersion(): CARVE_KAFKA_VERSION, else 3.9.1. */
  version?: string;
  /** Progress lines; default: stderr, prefixed `kafka:`. */
  log?: Log;
  /**
   * A second client listener with TLS and SASL SCRAM-SHA-512 (SASL_SSL) on 127.0.0.1:`port`,
   * beside the plaintext one. Its certificate is signed by a CA made with keytool at the first
   * start (`<dataDir>/tls/ca.pem` for clients); the SCRAM users are written when the storage
   * is formatted, so they are those of the data dir's first start (use `fresh` to change them).
   */
  secure?: { port: number; users: Array<{ name: string; password: string }> };
}

export interface SecureListener {
  /** Bootstrap addresses of the SASL_SSL listener. */
  brokers: string[];
  /** PEM CA bundle that signed the broker's certificate (KAFKA_SSL_CA_FILE). */
  caFile: string;
  mechanism: 'scram-sha-512';
}

export interface RunningKafka {
  /** Bootstrap addresses for clients, e.g. `['127.0.0.1:9092']`. */
  brokers: string[];
  pid: number;
  /** True if a broker of this data dir was already running and was reused. */
  reused: boolean;
  dataDir: string;
  /** The broker's log (log4j); kafka.out beside it holds the JVM's own output. */
  logFile: string;
  /** The SASL_SSL listener, when started with `secure`. */
  secure?: SecureListener;
}

export interface StopKafkaOptions {
  dataDir?: string;
  /** How long to wait after SIGTERM before SIGKILL; default 30 s. */
  timeoutMs?: number;
  log?: Log;
}

export interface StopKafkaResult {
  /** True if a running broker was stopped; false if none was running. */
  stopped: boolean;
  pid?: number;
  /** True if it ignored SIGTERM until the timeout and was killed with SIGKILL. */
  killed?: boolean;
}

/**
 * Starts the single-node KRaft broker of `dataDir` (or reuses it if it already runs) and
 * resolves once a kafkajs admin client can describe the cluster. Formats the storage the first
 * time; afterwards the data survives stops and restarts.
 */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<RunningKafka> {
  const log = opts.log ?? stderrLog;
  const files = brokerFiles(opts.dataDir ?? defaultDataDir());
  const timeoutMs = opts.timeoutMs ?? 60_000;
  fs.mkdirSync(files.dataDir, { recursive: true });

  const release = await acquireLock(files, timeoutMs + 30_000);
  try {
    if (opts.fresh) {
      await stopBroker(files, 30_000, log);
      wipe(files);
      log(`wiped ${files.dataDir}`);
    }

    const running = readPid(files.pidFile);
    if (running !== undefined && isOurBroker(running, files.serverProperties)) {
      return await reuse(files, running, opts, timeoutMs, log);
    }
    if (running !== undefined) fs.rmSync(files.pidFile, { force: true }); // stale

    const port = opts.port ?? DEFAULT_KAFKA_PORT;
    const controllerPort = opts.controllerPort ?? port + 1;
    const ports: Array<readonly [string, number]> = [['client', port], ['controller', controllerPort]];
    if (opts.secure) ports.push(['SASL_SSL', opts.secure.port]);
    for (const [what, p] of ports) {
      if (await portAnswers(p)) {
        throw new KafkaBrokerError(
          `port ${p} (${what}) on ${HOST} is taken by a process that is not the broker of ${files.dataDir}`,
          `stop that process or choose another port (--port); to use a broker already running there, set KAFKA_BROKERS=${HOST}:${port}`,
        );
      }
    }

    const version = opts.version ?? kafkaVersion();
    const libDir = await ensureKafkaJars({ log, version });
    fs.mkdirSync(files.logDirs, { recursive: true });
    fs.mkdirSync(files.logsDir, { recursive: true });
    const tls = opts.secure ? await ensureBrokerTls(tlsDir(files)) : undefined;
    if (tls) log(`TLS material (keytool) in ${tls.dir}`);
    fs.writeFileSync(files.serverProperties, serverProperties(files, port, controllerPort, opts.secure && tls ? { port: opts.secure.port, tls } : undefined));
    if (!fs.existsSync(path.join(files.logDirs, 'meta.properties'))) {
      await formatStorage(files, libDir, version, log, opts.secure?.users ?? []);
    }
    const started = await launch(files, libDir, version, port, opts, timeoutMs, log);
    return { ...started, secure: secureListener(files) };
  } finally {
    release();
  }
}

/** Stops the broker of `dataDir` by the PID in its PID file: SIGTERM, then SIGKILL after the timeout. Keeps its data. */
export async function stopKafka(opts: StopKafkaOptions = {}): Promise<StopKafkaResult> {
  const files = brokerFiles(opts.dataDir ?? defaultDataDir());
  return stopBroker(files, opts.timeoutMs ?? 30_000, opts.log ?? stderrLog);
}

/** Stops the broker of `dataDir` if it runs, then deletes its data, logs and settings. */
export async function resetKafka(opts: StopKafkaOptions = {}): Promise<StopKafkaResult> {
  const files = brokerFiles(opts.dataDir ?? defaultDataDir());
  const result = await stopBroker(files, opts.timeoutMs ?? 30_000, opts.log ?? stderrLog);
  wipe(files);
  return result;
}

// ---------------------------------------------------------------------------------------------

function brokersFor(port: number): string[] {
  return [`${HOST}:${port}`];
}

function tlsDir(files: BrokerFiles): string {
  return path.join(files.dataDir, 'tls');
}

function advertisedPort(files: BrokerFiles, listener: 'PLAINTEXT' | 'SASL_SSL'): number | undefined {
  try {
    const text = fs.readFileSync(files.serverProperties, 'utf8');
    const m = new RegExp(`^advertised\\.listeners=.*\\b${listener}://[^:\\s,]+:(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function runningPort(files: BrokerFiles): number | undefined {
  return advertisedPort(files, 'PLAINTEXT');
}

/** The SASL_SSL listener the broker of `files` was configured with, if any. */
function secureListener(files: BrokerFiles): SecureListener | undefined {
  const port = advertisedPort(files, 'SASL_SSL');
  if (port === undefined) return undefined;
  return { brokers: brokersFor(port), caFile: path.join(tlsDir(files), 'ca.pem'), mechanism: 'scram-sha-512' };
}

async function reuse(files: BrokerFiles, pid: number, opts: StartKafkaOptions, timeoutMs: number, log: Log): Promise<RunningKafka> {
  const port = runningPort(files) ?? opts.port ?? DEFAULT_KAFKA_PORT;
  if (opts.port !== undefined && opts.port !== port) {
    throw new KafkaBrokerError(
      `the broker of ${files.dataDir} already runs on port ${port} (pid ${pid}), not ${opts.port}`,
      'stop it first (carve kafka down), or give another data dir',
    );
  }
  if (opts.secure && advertisedPort(files, 'SASL_SSL') !== opts.secure.port) {
    throw new KafkaBrokerError(
      `the broker of ${files.dataDir} already runs (pid ${pid}) without a SASL_SSL listener on port ${opts.secure.port}`,
      'stop it first (carve kafka down), or start with --fresh',
    );
  }
  const brokers = brokersFor(port);
  if (!(await kafkaAdminReady(brokers, timeoutMs))) {
    throw new KafkaBrokerError(
      `the broker of ${files.dataDir} runs (pid ${pid}) but does not answer on ${brokers[0]} after ${Math.round(timeoutMs / 1000)} s`,
      `look at ${files.serverLog}; stop it with carve kafka down and start again`,
    );
  }
  log(`reused the broker already running on ${brokers[0]} (pid ${pid})`);
  return { brokers, pid, reused: true, dataDir: files.dataDir, logFile: files.serverLog, secure: secureListener(files) };
}

function serverProperties(files: BrokerFiles, port: number, controllerPort: number, secure?: { port: number; tls: BrokerTls }): string {
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': NODE_ID,
    'controller.quorum.voters': `${NODE_ID}@${HOST}:${controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}${secure ? `,SASL_SSL://${HOST}:${secure.port}` : ''}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${port}${secure ? `,SASL_SSL://${HOST}:${secure.port}` : ''}`,
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': `CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${secure ? ',SASL_SSL:SASL_SSL' : ''}`,
    ...(secure
      ? {
          // The SASL_SSL listener: TLS with the keytool-made keystore, SCRAM-SHA-512 users from
          // the storage format (--add-scram). The plaintext listener stays for the broker
          // itself and the readiness check.
          'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
          'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
          'ssl.keystore.type': 'PKCS12',
          'ssl.keystore.location': secure.tls.keystore,
          'ssl.keystore.password': secure.tls.keystorePassword,
          'ssl.key.password': secure.tls.keystorePassword,
        }
      : {}),
    'log.dirs': files.logDirs,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 10,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': true,
    // After a SIGKILL the controller refuses the restarted broker (DUPLICATE_BROKER_REGISTRATION)
    // until the old registration's session expires: 9 s by default, 3 s here.
    'broker.session.timeout.ms': 3000,
    'broker.heartbeat.interval.ms': 1000,
    'num.network.threads': 2,
    'num.io.threads': 4,
    'num.recovery.threads.per.data.dir': 1,
    'log.retention.hours': 168,
  };
  const lines = Object.entries(props).map(([k, v]) => `${k}=${v}`);
  return `# Written by @carve/kafka-broker (tools/kafka/src/broker.ts) at every start: edits are lost.\n${lines.join('\n')}\n`;
}

function jvmArgs(files: BrokerFiles, heap: string, version: string): string[] {
  return [
    `-Xmx${heap}`,
    '-Xms64m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dkafka.logs.dir=${files.logsDir}`,
    isKafka4(version) ? `-Dlog4j2.configurationFile=${LOG4J2_CONFIG}` : `-Dlog4j.configuration=file:${LOG4J_CONFIG}`,
  ];
}

async function formatStorage(files: BrokerFiles, libDir: string, version: string, log: Log, scramUsers: Array<{ name: string; password: string }>): Promise<void> {
  const base = [...jvmArgs(files, '256m', version), '-cp', `${libDir}/*`, 'kafka.tools.StorageTool'];
  try {
    const { stdout: uuid } = await execFileAsync('java', [...base, 'random-uuid'], { timeout: 60_000 });
    const clusterId = uuid.trim().split('\n').pop()!.trim();
    // SCRAM users are written into the metadata log at format time (KIP-900).
    const scram = scramUsers.flatMap((u) => ['--add-scram', `SCRAM-SHA-512=[name=${u.name},password=${u.password}]`]);
    await execFileAsync('java', [...base, 'format', '-t', clusterId, '-c', files.serverProperties, ...scram], {
      timeout: 60_000,
    });
    log(`formatted KRaft storage in ${files.logDirs} (cluster ${clusterId})`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (e.code === 'ENOENT') {
      throw new KafkaBrokerError('java is not installed', 'install Java 17 (apt-get install openjdk-17-jre-headless), then retry');
    }
    const detail = `${e.stderr ?? ''}${e.stdout ?? ''}`.trim().split('\n').slice(-3).join(' | ');
    throw new KafkaBrokerError(
      `formatting the Kafka storage in ${files.logDirs} failed: ${detail || e.message}`,
      `run with --fresh to start from an empty data dir, or look at ${files.serverProperties}`,
    );
  }
}

async function launch(
  files: BrokerFiles,
  libDir: string,
  version: string,
  port: number,
  opts: StartKafkaOptions,
  timeoutMs: number,
  log: Log,
): Promise<RunningKafka> {
  const started = Date.now();
  const out = fs.openSync(files.stdoutLog, 'a');
  let exited: number | null | undefined;
  let spawnError: Error | undefined;
  const child = spawn('java', [...jvmArgs(files, opts.heap ?? '512m', version), '-cp', `${libDir}/*`, 'kafka.Kafka', files.serverProperties], {
    cwd: files.dataDir,
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  child.once('exit', (code) => (exited = code));
  child.once('error', (err) => (spawnError = err));
  child.unref();
  await sleep(0); // let a spawn error (no java) surface
  if (spawnError || child.pid === undefined) {
    const e = spawnError as NodeJS.ErrnoException | undefined;
    throw e?.code === 'ENOENT'
      ? new KafkaBrokerError('java is not installed', 'install Java 17 (apt-get install openjdk-17-jre-headless), then retry')
      : new KafkaBrokerError(`starting java failed: ${e?.message ?? 'no pid'}`, `look at ${files.stdoutLog}`);
  }
  const pid = child.pid;
  fs.writeFileSync(files.pidFile, `${pid}\n`);
  log(`started the Kafka ${version} broker (pid ${pid}); logs in ${files.serverLog}`);

  const brokers = brokersFor(port);
  const deadline = started + timeoutMs;
  for (;;) {
    if (await kafkaAdminReady(brokers, Math.min(1000, Math.max(0, deadline - Date.now())))) break;
    if (exited !== undefined || !isAlive(pid)) {
      fs.rmSync(files.pidFile, { force: true });
      throw new KafkaBrokerError(
        `the Kafka broker exited during start-up (code ${exited ?? 'unknown'}): ${lastError(files)}`,
        `look at ${files.serverLog} and ${files.stdoutLog}`,
      );
    }
    if (Date.now() >= deadline) {
      process.kill(pid, 'SIGKILL');
      await waitForExit(pid, 5000);
      fs.rmSync(files.pidFile, { force: true });
      throw new KafkaBrokerError(
        `the Kafka broker did not answer on ${brokers[0]} within ${Math.round(timeoutMs / 1000)} s and was stopped`,
        `look at ${files.serverLog}`,
      );
    }
  }
  log(`ready on ${brokers[0]} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { brokers, pid, reused: false, dataDir: files.dataDir, logFile: files.serverLog };
}

function lastError(files: BrokerFiles): string {
  const lines = `${tail(files.serverLog, 200)}\n${tail(files.stdoutLog, 50)}`.split('\n');
  const error = lines.filter((l) => /ERROR|Exception|Error:/.test(l)).pop();
  return (error ?? lines.filter(Boolean).pop() ?? 'no log').trim().slice(0, 300);
}

async function stopBroker(files: BrokerFiles, timeoutMs: number, log: Log): Promise<StopKafkaResult> {
  const pid = readPid(files.pidFile);
  if (pid === undefined) return { stopped: false };
  if (!isOurBroker(pid, files.serverProperties)) {
    fs.rmSync(files.pidFile, { force: true }); // stale: that process is gone (or is no broker of ours)
    return { stopped: false };
  }
  log(`stopping the broker (pid ${pid})`);
  const started = Date.now();
  signal(pid, 'SIGTERM');
  let killed = false;
  if (!(await waitForExit(pid, timeoutMs))) {
    log(`pid ${pid} still running after ${Math.round(timeoutMs / 1000)} s: SIGKILL`);
    signal(pid, 'SIGKILL');
    killed = true;
    if (!(await waitForExit(pid, 10_000))) {
      throw new KafkaBrokerError(`the Kafka broker (pid ${pid}) did not exit even after SIGKILL`, `check the process with: ps -p ${pid}`);
    }
  }
  fs.rmSync(files.pidFile, { force: true });
  log(`stopped in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { stopped: true, pid, killed };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Removes what the broker keeps under its data dir, and nothing else that might be there. */
function wipe(files: BrokerFiles): void {
  for (const p of [files.logDirs, files.logsDir, files.serverProperties, files.pidFile, tlsDir(files)]) {
    fs.rmSync(p, { recursive: true, force: true });
  }
}

/**
 * One start at a time per data dir (two test workers, or a CLI and a test): an exclusive lock
 * file holding the owner's PID; a lock whose owner is dead is taken over.
 */
async function acquireLock(files: BrokerFiles, timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = fs.openSync(files.lockFile, 'wx');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return () => fs.rmSync(files.lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readPid(files.lockFile);
    if (lockIsStale(files.lockFile, owner)) {
      fs.rmSync(files.lockFile, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new KafkaBrokerError(
        `another process (pid ${owner ?? '?'}) has been starting the broker of ${files.dataDir} for too long`,
        `wait for it, or remove ${files.lockFile} if no such process runs`,
      );
    }
    await sleep(200);
  }
}

function lockIsStale(lockFile: string, owner: number | undefined): boolean {
  if (owner !== undefined) return owner !== process.pid && !isAlive(owner);
  try {
    // No PID in it yet: stale only if it has stayed empty for a while (its writer died).
    return Date.now() - fs.statSync(lockFile).mtimeMs > 10_000;
  } catch {
    return false;
  }
}
