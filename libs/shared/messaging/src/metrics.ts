import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The backbone's Prometheus metrics, registered once per Registry. */
export interface MessagingMetrics {
  outboxBacklog: Gauge<'schema'>;
  outboxOldestAge: Gauge<'schema'>;
  relayPublished: Counter<'schema'>;
  relayPublishDuration: Histogram<'schema'>;
  relayEventLatency: Histogram<'schema'>;
  relayActive: Gauge<'schema'>;
  consumerLag: Gauge<'group' | 'topic' | 'partition'>;
  consumerApplied: Counter<'group' | 'topic'>;
  consumerSkipped: Counter<'group' | 'topic' | 'reason'>;
  consumerDeadLettered: Counter<'group' | 'topic' | 'reason'>;
  consumerRetries: Counter<'group' | 'topic'>;
  syncConflicts: Counter<'context' | 'consumer'>;
}

const cache = new WeakMap<Registry, MessagingMetrics>();

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function messagingMetrics(registry: Registry): MessagingMetrics {
  const found = cache.get(registry);
  if (found) return found;
  const registers = [registry];
  const m: MessagingMetrics = {
    outboxBacklog: new Gauge({ name: 'carve_outbox_backlog', help: 'Outbox rows not yet published', labelNames: ['schema'], registers }),
    outboxOldestAge: new Gauge({
      name: 'carve_outbox_oldest_unpublished_age_seconds',
      help: 'Age of the oldest unpublished outbox row (0 when none)',
      labelNames: ['schema'],
      registers,
    }),
    relayPublished: new Counter({ name: 'carve_relay_published_total', help: 'Outbox rows published by the relay', labelNames: ['schema'], registers }),
    relayPublishDuration: new Histogram({
      name: 'carve_relay_publish_duration_seconds',
      help: 'Time to publish one batch and have it acknowledged',
      labelNames: ['schema'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    relayEventLatency: new Histogram({
      name: 'carve_relay_event_latency_seconds',
      help: 'From an outbox row being written to its publication being acknowledged',
      labelNames: ['schema'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    relayActive: new Gauge({ name: 'carve_relay_active', help: '1 while this process holds the relay lock of the outbox', labelNames: ['schema'], registers }),
    consumerLag: new Gauge({
      name: 'carve_consumer_lag',
      help: 'Messages between the consumer group position and the end of the partition',
      labelNames: ['group', 'topic', 'partition'],
      registers,
    }),
    consumerApplied: new Counter({ name: 'carve_consumer_applied_total', help: 'Events applied by a consumer', labelNames: ['group', 'topic'], registers }),
    consumerSkipped: new Counter({
      name: 'carve_consumer_skipped_total',
      help: 'Events skipped: duplicate (already in the inbox), stale (aggregateVersion not newer), own-origin',
      labelNames: ['group', 'topic', 'reason'],
      registers,
    }),
    consumerDeadLettered: new Counter({
      name: 'carve_consumer_dead_lettered_total',
      help: 'Messages sent to the dead-letter queue',
      labelNames: ['group', 'topic', 'reason'],
      registers,
    }),
    consumerRetries: new Counter({ name: 'carve_consumer_retries_total', help: 'Handler attempts that failed and were retried', labelNames: ['group', 'topic'], registers }),
    syncConflicts: new Counter({
      name: 'carve_sync_conflicts_total',
      help: 'Events from the other side at a version this side wrote itself: recorded in <schema>.sync_conflicts, neither applied nor skipped',
      labelNames: ['context', 'consumer'],
      registers,
    }),
  };
  cache.set(registry, m);
  return m;
}
