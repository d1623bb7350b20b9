/**
 * Jest globalSetup: Postgres as @carve/shared-testing does it (DATABASE_URL, else the embedded
 * server), and a Kafka broker: KAFKA_BROKERS when set, else the local broker of tools/kafka
 * (started, or reused if running), whose address goes to the workers through KAFKA_BROKERS.
 * A broker started here is stopped by PID in global-teardown.ts.
 */
import { startKafka } from '@carve/kafka-broker';
import pgSetup from '@carve/shared-testing/src/jest/global-setup';

export default async function globalSetup(): Promise<void> {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  await pgSetup();
  if (process.env.KAFKA_BROKERS) return;
  const kafka = await startKafka({ log: () => undefined });
  if (!kafka.reused) (globalThis as any).__carveMessagingKafka = kafka;
  process.env.KAFKA_BROKERS = kafka.brokers.join(',');
}
