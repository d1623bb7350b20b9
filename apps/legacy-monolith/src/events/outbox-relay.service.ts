/**
 * The relay of `legacy.outbox`, embedded in the monolith process when CARVE_RELAY=embedded (the
 * default except on kubernetes, where the relay chart runs `carve relay --schema legacy`).
 *
 * - Any number of monolith processes may embed it: one holds the outbox's advisory lock and
 *   ships, the others stand by and take over when it goes (startRelay).
 * - Kafka transport: it publishes rows to `legacy.<aggregate>.v1`, keyed by aggregate id, then
 *   marks them. While the broker is down it retries the same rows with backoff; writes keep
 *   committing to the outbox and /readyz does not look at the broker.
 * - Postgres transport: nothing is shipped (the outbox is the log), but the relay is still
 *   needed: it gives rows their log position, in commit order, as it marks them. Consumers
 *   read by that position (seq values do not follow commit order), so without a relay running
 *   somewhere a Postgres-transport consumer sees nothing.
 * Started when Nest bootstraps (after the platform plugin, whose metrics Registry it reports
 * to) and stopped when the module is destroyed, before the database pool closes.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { LEGACY_TOPICS } from '@carve/legacy-events';
import { ensureTopics, loadTopicDeclarations, type RelayHandle, startRelay, type Transport } from '@carve/shared-messaging';
import type { FastifyInstance } from 'fastify';
import { LEGACY_SCHEMA } from '../database/schema';
import { EVENTS_OPTIONS, type EventsOptions } from './events.options';
import { monolithTransport } from './transport';

@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, OnModuleDestroy {
  private relay: RelayHandle | undefined;
  private transport: Transport | undefined;

  constructor(
    @Inject(EVENTS_OPTIONS) private readonly opts: EventsOptions,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** The running relay, if this process embeds one. */
  get handle(): RelayHandle | undefined {
    return this.relay;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { events, logger } = this.opts;
    if (events.relay !== 'embedded') {
      logger.info({ relay: events.relay }, 'events: no embedded relay (CARVE_RELAY=off): `carve relay --schema legacy` ships legacy.outbox');
      return;
    }
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    this.transport = monolithTransport(this.opts, 'legacy-monolith-relay');
    if (events.transport === 'kafka' && this.opts.platform === 'local') void this.ensureLegacyTopics(this.transport);
    this.relay = await startRelay({
      databaseUrl: this.opts.databaseUrl,
      schema: LEGACY_SCHEMA,
      transport: this.transport,
      registry: fastify?.platform?.metrics,
      logger,
      name: `legacy-monolith-${process.pid}`,
    });
    logger.info({ transport: events.transport }, 'events: embedded relay of legacy.outbox started (active once it holds the outbox lock)');
  }

  async onModuleDestroy(): Promise<void> {
    const relay = this.relay;
    const transport = this.transport;
    this.relay = undefined;
    this.transport = undefined;
    await relay?.stop();
    await transport?.close();
  }

  /**
   * Dev convenience (PLATFORM=local on Kafka): create the monolith's declared topics if the
   * broker lacks them, as `carve kafka ensure-topics` does (the producer never auto-creates).
   * Best effort: until they exist the relay retries, and writes are not affected.
   */
  private async ensureLegacyTopics(transport: Transport): Promise<void> {
    try {
      const legacy = new Set<string>(LEGACY_TOPICS);
      const declarations = loadTopicDeclarations().filter((d) => legacy.has(d.name.replace(/\.dlq$/, '')));
      const report = await ensureTopics(transport, declarations);
      if (report.created.length) this.opts.logger.info({ created: report.created }, 'events: created the legacy topics');
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'events: could not ensure the legacy topics (run `carve kafka ensure-topics`); the relay retries');
    }
  }
}
