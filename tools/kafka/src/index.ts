/**
 * @carve/kafka-broker: a real single-node Apache Kafka 3.9 broker (KRaft) for dev and CI.
 * Jars come from Maven Central through tools/kafka/pom.xml (once, cached); the broker runs
 * detached, is found again through its PID file, and is stopped by PID only.
 */
export { kafkaAdminReady, type KafkaClientSecurity } from './admin';
export { ensureBrokerTls, type BrokerTls } from './tls';
export {
  DEFAULT_KAFKA_PORT,
  resetKafka,
  startKafka,
  stopKafka,
  type RunningKafka,
  type SecureListener,
  type StartKafkaOptions,
  type StopKafkaOptions,
  type StopKafkaResult,
} from './broker';
export { KafkaBrokerError } from './errors';
export { ensureKafkaJars, kafkaJarsPresent, type Log } from './jars';
export { brokerFiles, DEFAULT_KAFKA_VERSION, defaultDataDir, findRepoRoot, kafkaVersion, LIB_DIR, libDirOf, type BrokerFiles } from './paths';
