// kafkajs reads this when a producer is created; the broker tooling never wants the warning.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';

/** TLS and SASL options of a kafkajs client (`kafkaClientSecurity` of @carve/shared-messaging makes them from the environment). */
export type KafkaClientSecurity = Pick<KafkaConfig, 'ssl' | 'sasl'>;

/**
 * Resolves true as soon as a kafkajs admin client can describe the cluster at `brokers`
 * (one broker or more answering), false once `timeoutMs` has passed. Never throws.
 * `security`: the listener's TLS and SASL options (default: plaintext).
 */
export async function kafkaAdminReady(brokers: string[], timeoutMs: number, security: KafkaClientSecurity = {}): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const kafka = new Kafka({
    clientId: 'carve-kafka-ready',
    brokers,
    ...security,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
  });
  for (;;) {
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0) return true;
    } catch {
      // not up yet: try again until the deadline
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, left)));
  }
}
