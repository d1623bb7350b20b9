/**
 * @carve/shared-messaging: the event backbone (docs/events.md). Envelope and topic naming,
 * transactional outbox, relay, idempotent consumer with inbox, the two transports behind one
 * port (Kafka via kafkajs, and Postgres as the embedded default), topic declarations, metrics.
 */
export * from './uuidv7';
export * from './envelope';
export * from './executor';
export * from './outbox';
export * from './inbox';
export * from './transport';
export * from './relay';
export * from './consumer';
export * from './conflicts';
export * from './topics';
export * from './metrics';
export * from './transport-factory';
export { type DeadLetterReplayLedger, DeadLetterLedgerMissingError, postgresReplayLedger } from './dead-letter-replays';
export { KafkaTransport, createKafkaTransport, type KafkaTransportOptions } from './kafka/kafka-transport';
export {
  describeKafkaError,
  describeKafkaSecurity,
  explainKafkaError,
  KAFKA_SASL_MECHANISMS,
  KafkaConnectionError,
  kafkaClientSecurity,
  kafkaSecurityEnvSchema,
  kafkaSecurityFromEnv,
  type KafkaFailure,
  type KafkaFailureKind,
  type KafkaSaslMechanism,
  type KafkaSecurity,
  type MskTokenSigner,
} from './kafka/kafka-security';
export { PostgresTransport, createPostgresTransport, type PostgresTransportOptions } from './postgres/postgres-transport';
export { type Backoff, type MessagingLogger, silentLogger, backoffDelay } from './util';
