import type { Command } from 'commander';
import { startRelay } from '@carve/shared-messaging';
import { createLogger } from '@carve/shared-http';
import { CliError } from '../cli-error';
import { openTransport, type TransportFlags, untilSignal, withTransportFlags } from './events';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) throw new CliError(`${flag} must be a duration like 500ms, 30s, 15m, 24h or 7d, got "${value}"`);
  return Number(m[1]) * UNITS[m[2]];
}

/**
 * `carve relay --schema legacy`: the outbox relay as its own process. Several may run: one holds
 * the outbox's advisory lock and ships, the others wait as hot standbys. Stops on SIGTERM/SIGINT
 * after the batch in flight.
 */
export function registerRelay(program: Command): void {
  withTransportFlags(
    program
      .command('relay')
      .description('ship a schema\'s outbox to the transport (one active relay per outbox, others stand by)')
      .requiredOption('-s, --schema <schema>', 'schema of the outbox, e.g. legacy')
      .option('--batch-size <n>', 'rows per publish', '1000')
      .option('--poll <duration>', 'fallback poll when no NOTIFY arrives', '1s')
      .option('--retention <duration>', 'delete published rows after this long (0s keeps them)', '24h'),
  ).action(async (opts: TransportFlags & { schema: string; batchSize: string; poll: string; retention: string }) => {
    const batchSize = Number(opts.batchSize);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new CliError(`--batch-size must be a positive integer, got "${opts.batchSize}"`);
    const log = createLogger('carve-relay');
    const { transport, kind, databaseUrl } = await openTransport(opts, `carve-relay-${opts.schema}`);
    const relay = await startRelay({
      databaseUrl,
      schema: opts.schema,
      transport,
      batchSize,
      pollIntervalMs: parseDuration(opts.poll, '--poll'),
      retentionMs: parseDuration(opts.retention, '--retention'),
      logger: log,
      name: `carve-relay-${process.pid}`,
    });
    log.info({ schema: opts.schema, transport: kind, pid: process.pid }, 'relay: started (standby until it holds the outbox lock)');
    const signal = await untilSignal();
    log.info({ signal }, 'relay: stopping');
    await relay.stop();
    await transport.close();
    log.info(relay.stats(), 'relay: stopped');
  });
}
