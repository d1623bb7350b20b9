import type { DeadLetterReplayLedger } from './dead-letter-replays';
import { kafkaSecurityFromEnv, type KafkaSecurity } from './kafka/kafka-security';
import { createKafkaTransport } from './kafka/kafka-transport';
import { createPostgresTransport } from './postgres/postgres-transport';
import type { Transport } from './transport';
import type { MessagingLogger } from './util';

export type TransportKind = 'kafka' | 'postgres';

export interface TransportFromEnvOptions {
  /** Overrides the choice made from the environment. */
  kind?: TransportKind;
  databaseUrl: string;
  /** Comma-separated bootstrap addresses; default `process.env.KAFKA_BROKERS`. */
  kafkaBrokers?: string;
  clientId?: string;
  /** TLS and SASL for Kafka; default: read from the environment (KAFKA_SSL*, KAFKA_SASL_*). */
  kafkaSecurity?: KafkaSecurity;
  /** Kafka: where dead-letter replays are recorded (postgresReplayLedger on the control plane); needed to replay. */
  kafkaReplayLedger?: DeadLetterReplayLedger;
  logger?: MessagingLogger;
}

/** `kafka` when KAFKA_BROKERS is set, else the embedded `postgres` transport. */
export function transportKindFromEnv(env: NodeJS.ProcessEnv = process.env): TransportKind {
  const forced = env.CARVE_TRANSPORT;
  if (forced === 'kafka' || forced === 'postgres') return forced;
  return env.KAFKA_BROKERS ? 'kafka' : 'postgres';
}

export function createTransport(opts: TransportFromEnvOptions): Transport {
  const brokers = opts.kafkaBrokers ?? process.env.KAFKA_BROKERS ?? '';
  const kind = opts.kind ?? transportKindFromEnv();
  if (kind === 'kafka') {
    const list = brokers.split(',').map((s) => s.trim()).filter(Boolean);
    if (list.length === 0) throw new Error('the kafka transport needs KAFKA_BROKERS (host:port,...)');
    return createKafkaTransport({ brokers: list, clientId: opts.clientId, logger: opts.logger, security: opts.kafkaSecurity ?? kafkaSecurityFromEnv(), replayLedger: opts.kafkaReplayLedger });
  }
  return createPostgresTransport({ databaseUrl: opts.databaseUrl, logger: opts.logger });
}
