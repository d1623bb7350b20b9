/**
 * Outbox backlog on the monolith's /metrics, whether or not this process runs the relay: the
 * gauges `carve_outbox_backlog{schema="legacy"}` and
 * `carve_outbox_oldest_unpublished_age_seconds{schema="legacy"}` (the messaging library's
 * metrics) are read from the database when /metrics is scraped, so every replica reports the
 * same truth (an active relay also sets them as it works; a standby or CARVE_RELAY=off never
 * would). A slow or failing query leaves the last values and never fails the scrape.
 */
import { messagingMetrics } from '@carve/shared-messaging';
import type { FastifyInstance } from 'fastify';
import type { DataSource } from 'typeorm';
import { LEGACY_SCHEMA } from '../database/schema';

const REFRESH_TIMEOUT_MS = 2000;

export async function readOutboxBacklog(ds: DataSource): Promise<{ backlog: number; oldestAgeSeconds: number }> {
  const [row] = await ds.query(
    `SELECT count(*)::bigint AS n, coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 AS age
       FROM ${LEGACY_SCHEMA}.outbox WHERE published_at IS NULL`,
  );
  return { backlog: Number(row.n), oldestAgeSeconds: Number(row.age) };
}

export function installOutboxMetrics(fastify: FastifyInstance, ds: DataSource): void {
  const metrics = messagingMetrics(fastify.platform.metrics);
  fastify.addHook('onRequest', async (req) => {
    if (req.method !== 'GET' || req.url.split('?', 1)[0] !== '/metrics') return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const { backlog, oldestAgeSeconds } = await Promise.race([
        readOutboxBacklog(ds),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), REFRESH_TIMEOUT_MS))),
      ]);
      metrics.outboxBacklog.set({ schema: LEGACY_SCHEMA }, backlog);
      metrics.outboxOldestAge.set({ schema: LEGACY_SCHEMA }, oldestAgeSeconds);
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, 'metrics: could not read the outbox backlog');
    } finally {
      clearTimeout(timer);
    }
  });
}
