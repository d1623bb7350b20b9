/**
 * ------------------------------------------------------------------------------------------
 * KAFKA HARNESS: PLACEHOLDER, to be filled in by the Kafka work (tools/kafka exports
 * `startKafka`). Intended shape, mirroring the Postgres side:
 *
 *   kafkaBrokers(): Promise<string[]>   KAFKA_BROKERS when set, else startKafka() (reused when
 *                                       running), stopped by PID in the Jest global teardown;
 *   createTestTopics(prefix, names)     unique topic names per suite, deleted afterwards.
 *
 * Until then only KAFKA_BROKERS is honoured; without it this throws, so no test silently runs
 * without a broker.
 * ------------------------------------------------------------------------------------------
 */
export async function kafkaBrokers(): Promise<string[]> {
  const fromEnv = process.env.KAFKA_BROKERS;
  if (fromEnv) return fromEnv.split(',').map((s) => s.trim()).filter(Boolean);
  throw new Error('KAFKA_BROKERS is not set and the embedded Kafka harness is not wired into @carve/shared-testing yet (see src/kafka.ts)');
}
