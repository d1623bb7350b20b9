import { createTransport, type Transport } from '@carve/shared-messaging';
import type { EventsOptions } from './events.options';

/** A transport of the kind the configuration names (a new one per user: each closes its own). */
export function monolithTransport(opts: EventsOptions, clientId: string): Transport {
  return createTransport({
    kind: opts.events.transport,
    databaseUrl: opts.databaseUrl,
    kafkaBrokers: opts.events.kafkaBrokers.join(','),
    clientId,
    logger: opts.logger,
  });
}
