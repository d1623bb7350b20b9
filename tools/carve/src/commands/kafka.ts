import type { Command } from 'commander';
import { KafkaBrokerError, startKafka, stopKafka } from '@carve/kafka-broker';
import { CliError } from '../cli-error';
import { registerKafkaTopics } from './kafka-topics';

/** Turns the broker tooling's errors into the CLI's one line plus a hint. */
async function asCliError<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof KafkaBrokerError) throw new CliError(err.message, err.hint);
    throw err;
  }
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65534) {
    throw new CliError(`--port must be a port number (1-65534), got "${value}"`, 'e.g. carve kafka up --port 19092');
  }
  return port;
}

/**
 * `carve kafka up|down`: the local single-node Kafka broker (KRaft, Apache Kafka 3.9.1, or the
 * release CARVE_KAFKA_VERSION names, e.g. 4.1.1) in `<repo>/.carve/kafka`. Progress goes to stderr; `up` prints the bootstrap address as its last
 * stdout line, so `KAFKA_BROKERS=$(carve kafka up)` works.
 */
export function registerKafka(program: Command): void {
  const kafka = program.command('kafka').description('run the local single-node Kafka broker (dev and CI)');

  kafka
    .command('up')
    .description('start the broker (or reuse the running one) and print its bootstrap address; CARVE_KAFKA_VERSION picks another Kafka release (e.g. 4.1.1; use a --data-dir of its own)')
    .option('-p, --port <port>', 'client port on 127.0.0.1 (the controller takes the next one)', '9092')
    .option('--data-dir <dir>', 'data, logs and PID file (default: <repo>/.carve/kafka)')
    .option('--fresh', 'stop it if running and wipe its data first')
    .option('--json', 'print { brokers, pid, dataDir, reused } as JSON')
    .action(async (opts: { port: string; dataDir?: string; fresh?: boolean; json?: boolean }) => {
      const port = parsePort(opts.port);
      const broker = await asCliError(() => startKafka({ port, dataDir: opts.dataDir, fresh: opts.fresh }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ brokers: broker.brokers, pid: broker.pid, dataDir: broker.dataDir, reused: broker.reused })}\n`);
        return;
      }
      process.stderr.write(
        broker.reused
          ? `kafka: reused (pid ${broker.pid}, data in ${broker.dataDir})\n`
          : `kafka: started (pid ${broker.pid}, data in ${broker.dataDir}; stop with: carve kafka down)\n`,
      );
      process.stdout.write(`${broker.brokers.join(',')}\n`);
    });

  kafka
    .command('down')
    .description('stop the broker by its PID (SIGTERM, then SIGKILL after 30 s); its data is kept')
    .option('--data-dir <dir>', 'the data dir it was started with (default: <repo>/.carve/kafka)')
    .option('--json', 'print { stopped, pid } as JSON')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const result = await asCliError(() => stopKafka({ dataDir: opts.dataDir }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ stopped: result.stopped, pid: result.pid ?? null })}\n`);
        return;
      }
      process.stderr.write(result.stopped ? `kafka: stopped (pid ${result.pid})\n` : 'kafka: not running\n');
    });

  registerKafkaTopics(kafka);
}
