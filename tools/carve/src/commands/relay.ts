import * as http from 'node:http';
import type { Command } from 'commander';
import { type RelayHandle, startRelay } from '@carve/shared-messaging';
import { createLogger, startTracing, tracing } from '@carve/shared-http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { CliError } from '../cli-error';
import { openTransport, type TransportFlags, untilSignal, withTransportFlags } from './events';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) throw new CliError(`${flag} must be a duration like 500ms, 30s, 15m, 24h or 7d, got "${value}"`);
  return Number(m[1]) * UNITS[m[2]];
}

/**
 * /healthz (alive), /readyz (503 once stopping) and /metrics (Prometheus) for a relay run as its
 * own process (the relay chart probes them on PORT).
 */
function serveOps(port: number, registry: Registry, relay: () => RelayHandle | undefined, stopping: () => boolean): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return send(200, JSON.stringify({ status: 'ok' }));
    if (path === '/readyz') {
      const r = relay();
      const ready = !!r && !stopping();
      return send(ready ? 200 : 503, JSON.stringify({ status: ready ? 'ready' : 'not ready', active: r?.isActive() ?? false, ...(r ? r.stats() : {}) }));
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(200, text, registry.contentType),
        (err: Error) => send(500, JSON.stringify({ error: err.message })),
      );
      return;
    }
    send(404, JSON.stringify({ error: 'not found' }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
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
      .option('--retention <duration>', 'delete published rows after this long (0s keeps them)', '24h')
      .option('--port <port>', '/healthz, /readyz and /metrics on this port (default: PORT; none if unset)'),
  ).action(async (opts: TransportFlags & { schema: string; batchSize: string; poll: string; retention: string; port?: string }) => {
    const batchSize = Number(opts.batchSize);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new CliError(`--batch-size must be a positive integer, got "${opts.batchSize}"`);
    const portText = opts.port ?? process.env.PORT;
    const port = portText === undefined || portText === '' ? undefined : Number(portText);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new CliError(`--port (or PORT) must be a TCP port, got "${portText}"`);
    // Tracing on with the OTEL_* variables (a `send` span per traced event); before the logger.
    startTracing('carve-relay');
    const log = createLogger('carve-relay');
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const state: { relay?: RelayHandle; stopping: boolean } = { stopping: false };
    const server = port === undefined ? undefined : await serveOps(port, registry, () => state.relay, () => state.stopping);
    const { transport, kind, databaseUrl } = await openTransport(opts, `carve-relay-${opts.schema}`);
    const relay = await startRelay({
      databaseUrl,
      schema: opts.schema,
      transport,
      batchSize,
      pollIntervalMs: parseDuration(opts.poll, '--poll'),
      retentionMs: parseDuration(opts.retention, '--retention'),
      logger: log,
      registry,
      name: `carve-relay-${process.pid}`,
    });
    state.relay = relay;
    log.info({ schema: opts.schema, transport: kind, pid: process.pid, port }, 'relay: started (standby until it holds the outbox lock)');
    const signal = await untilSignal();
    state.stopping = true;
    log.info({ signal }, 'relay: stopping');
    await relay.stop();
    await transport.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await tracing().shutdown();
    log.info(relay.stats(), 'relay: stopped');
  });
}
