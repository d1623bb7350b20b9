/**
 * Kafka for tests, mirroring the Postgres side: KAFKA_BROKERS when set (CI, a broker of your
 * own), otherwise the local single-node broker of `@carve/kafka-broker` (tools/kafka), started
 * on first use or reused when it already runs.
 *
 * Stopping: a broker this harness started inside a Jest run (under this library's globalSetup,
 * `src/jest/global-setup.ts`) is recorded in the run's scratch folder and stopped by PID in the
 * globalTeardown. A broker that was already running (`carve kafka up`, another run) is reused
 * and never stopped. Outside such a run, a started broker is left running like `carve kafka up`.
 *
 * Topics: suites share a broker, so each suite names its topics uniquely (`testTopics`). Topic
 * creation goes through the messaging port (`transport.ensureTopics`) in the test itself: this
 * library does not depend on @carve/shared-messaging, which depends on it for its own tests.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startKafka, type StartKafkaOptions } from '@carve/kafka-broker';

/** Env var the Jest globalSetup sets: a scratch folder for this run (see src/jest/global-setup.ts). */
export const TEST_RUN_DIR_ENV = 'CARVE_TEST_RUN_DIR';
/** File in the run's scratch folder naming the data dir of a broker this run started. */
export const KAFKA_STARTED_FILE = 'kafka-started.json';

function parseBrokers(list: string): string[] {
  return list.split(',').map((s) => s.trim()).filter(Boolean);
}

let started: Promise<string[]> | undefined;

/**
 * Bootstrap addresses of the test broker: KAFKA_BROKERS when set, else the local broker
 * (started once per process, or reused when running). Sets KAFKA_BROKERS for this process
 * afterwards, so child processes a test starts with `process.env` talk to the same broker.
 */
export async function kafkaBrokers(opts: Pick<StartKafkaOptions, 'timeoutMs'> = {}): Promise<string[]> {
  const fromEnv = process.env.KAFKA_BROKERS;
  if (fromEnv) return parseBrokers(fromEnv);
  started ??= (async () => {
    process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
    const kafka = await startKafka({ log: () => undefined, timeoutMs: opts.timeoutMs });
    const runDir = process.env[TEST_RUN_DIR_ENV];
    if (!kafka.reused && runDir && fs.existsSync(runDir)) {
      fs.writeFileSync(path.join(runDir, KAFKA_STARTED_FILE), JSON.stringify({ dataDir: kafka.dataDir, pid: kafka.pid }));
    }
    process.env.KAFKA_BROKERS = kafka.brokers.join(',');
    return kafka.brokers;
  })().catch((err) => {
    started = undefined;
    throw err;
  });
  return started;
}

/** `suite` as a topic-name segment: lower-case kebab-case, starting with a letter, at most 24 chars. */
function segment(suite: string): string {
  const s = suite.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 24);
  return s || 'suite';
}

/**
 * A source name no other suite (or earlier run) uses: `<suite>-<base36 time><4 hex>`, valid as
 * the `<source>` of a topic name (`<source>.<aggregate>.v<major>`).
 */
export function uniqueTopicSource(suite: string): string {
  return `${segment(suite)}-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

/**
 * Unique topic names for one suite, one per aggregate, all under one fresh source:
 * `testTopics('relay spec', ['notes', 'features'])` →
 * `{ notes: 'relay-spec-m3x9k21a2b.notes.v1', features: 'relay-spec-m3x9k21a2b.features.v1' }`.
 */
export function testTopics<const A extends string>(suite: string, aggregates: readonly A[], major = 1): Record<A, string> {
  const source = uniqueTopicSource(suite);
  const out = {} as Record<A, string>;
  for (const a of aggregates) out[a] = `${source}.${segment(a)}.v${major}`;
  return out;
}
