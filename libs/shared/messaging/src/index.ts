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
export * from './topics';
export * from './metrics';
export * from './transport-factory';
export { KafkaTransport, createKafkaTransport, type KafkaTransportOptions } from './kafka/kafka-transport';
export { PostgresTransport, createPostgresTransport, type PostgresTransportOptions } from './postgres/postgres-transport';
export { type Backoff, type MessagingLogger, silentLogger, backoffDelay } from './util';
