import { type RunningKafka, stopKafka } from '@carve/kafka-broker';
import pgTeardown from '@carve/shared-testing/src/jest/global-teardown';

export default async function globalTeardown(): Promise<void> {
  const kafka = (globalThis as any).__carveMessagingKafka as RunningKafka | undefined;
  if (kafka) {
    delete (globalThis as any).__carveMessagingKafka;
    delete process.env.KAFKA_BROKERS;
    await stopKafka({ dataDir: kafka.dataDir, log: () => undefined });
  }
  await pgTeardown();
}
