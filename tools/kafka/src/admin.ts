// kafkajs reads this when a producer is created; the broker tooling never wants the warning.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

import { Kafka, logLevel } from 'kafkajs';

/**
 * Resolves true as soon as a kafkajs admin client can describe the cluster at `brokers`
 * (one broker or more answering), false once `timeoutMs` has passed. Never throws.
 */
export async function kafkaAdminReady(brokers: string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const kafka = new Kafka({
    clientId: 'carve-kafka-ready',
    brokers,
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
