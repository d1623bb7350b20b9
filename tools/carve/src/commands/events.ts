import type { Command } from 'commander';
import { createTransport, type DeadLetter, perMessage, postgresReplayLedger, type Transport, type TransportKind, transportKindFromEnv } from '@carve/shared-messaging';
import { migrateControlPlaneAt } from '@carve/shared-control-plane';
import { resolveDatabaseUrl } from '@carve/shared-persistence';
import { CliError } from '../cli-error';

export interface TransportFlags {
  transport?: string;
  databaseUrl?: string;
  brokers?: string;
}

/** Adds --transport, --database-url and --brokers to a command of the event backbone. */
export function withTransportFlags(cmd: Command): Command {
  return cmd
    .option('--transport <kind>', 'kafka or postgres (default: kafka when KAFKA_BROKERS is set, else postgres)')
    .option('--database-url <url>', 'database of the outboxes (default: DATABASE_URL, else the embedded Postgres)')
    .option('--brokers <list>', 'Kafka bootstrap servers, comma-separated (default: KAFKA_BROKERS)');
}

/** The transport the flags and the environment ask for, and the database URL it uses. */
export async function openTransport(flags: TransportFlags, clientId: string, opts: { deadLetters?: boolean } = {}): Promise<{ transport: Transport; kind: TransportKind; databaseUrl: string }> {
  const kind = (flags.transport ?? transportKindFromEnv()) as TransportKind;
  if (kind !== 'kafka' && kind !== 'postgres') throw new CliError(`--transport must be kafka or postgres, got "${flags.transport}"`);
  const brokers = flags.brokers ?? process.env.KAFKA_BROKERS;
  if (kind === 'kafka' && !brokers) {
    throw new CliError('the kafka transport needs brokers', 'set KAFKA_BROKERS or pass --brokers (a local one: KAFKA_BROKERS=$(carve kafka up))');
  }
  const databaseUrl = flags.databaseUrl ?? (await resolveDatabaseUrl());
  // Kafka dead letters: what was replayed is recorded in the control plane (schema carve of the
  // admin database), migrated first as every carving command does. Only the dlq commands need it.
  const ledger = kind === 'kafka' && opts.deadLetters === true;
  if (ledger) await migrateControlPlaneAt(databaseUrl, 'carve-events-migrate');
  const kafkaReplayLedger = ledger ? postgresReplayLedger({ databaseUrl }) : undefined;
  return { transport: createTransport({ kind, databaseUrl, kafkaBrokers: brokers, clientId, kafkaReplayLedger }), kind, databaseUrl };
}

const ENVELOPE_ORDER = ['id', 'type', 'version', 'source', 'origin', 'tenantId', 'aggregateType', 'aggregateId', 'aggregateVersion', 'occurredAt', 'correlationId', 'causationId', 'data'];

/** An envelope with its fields in the documented order (jsonb storage reorders keys); anything else as is. */
function readable(value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value) || !('aggregateId' in value)) return value;
  const v = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ENVELOPE_ORDER) if (k in v) out[k] = v[k];
  for (const k of Object.keys(v)) if (!(k in out)) out[k] = v[k];
  return out;
}

/** Resolves when SIGINT or SIGTERM arrives. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

function printDeadLetters(letters: DeadLetter[], json: boolean): void {
  if (json) {
    for (const d of letters) process.stdout.write(`${JSON.stringify(d)}\n`);
    return;
  }
  if (letters.length === 0) {
    process.stdout.write('no dead letters\n');
    return;
  }
  for (const d of letters) {
    const state = d.replayedAt ? `replayed ${d.replayedAt}` : 'waiting';
    process.stdout.write(
      `${d.id}  ${d.originalTopic} p${d.partition}@${d.offset}  key=${d.key ?? '-'}  event=${d.eventId ?? '-'}  ${d.reason}  ${state}\n` +
        `    group=${d.group ?? '-'} attempts=${d.attempts} at=${d.failedAt}\n    error: ${d.error.split('\n')[0]}\n`,
    );
  }
}

/**
 * `carve events tail <topic>`: every event of a topic as one JSON line as it arrives (a message
 * that is not JSON prints as `{"malformed": ...}`); `carve events dlq list|replay`: the
 * dead-letter queues. Both transports.
 */
export function registerEvents(program: Command): void {
  const events = program.command('events').description('watch topics and handle dead letters (event backbone)');

  withTransportFlags(
    events
      .command('tail <topic>')
      .description('print each event of <topic> as one JSON line as it arrives')
      .option('--from-beginning', 'start at the oldest retained event instead of the newest')
      .option('--max <n>', 'exit after printing n events'),
  ).action(async (topic: string, opts: TransportFlags & { fromBeginning?: boolean; max?: string }) => {
    const max = opts.max === undefined ? Infinity : Number(opts.max);
    if (!(max > 0)) throw new CliError(`--max must be a positive number, got "${opts.max}"`);
    const { transport, kind } = await openTransport(opts, 'carve-events-tail');
    let printed = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const sub = await transport.subscribe({
      group: 'carve-tail',
      topics: [topic],
      ephemeral: true,
      fromBeginning: !!opts.fromBeginning,
      handler: perMessage(async (m) => {
        if (printed >= max) return false;
        const text = m.value?.toString('utf8') ?? 'null';
        let line: string;
        try {
          line = JSON.stringify(readable(JSON.parse(text)));
        } catch {
          line = JSON.stringify({ malformed: text, topic: m.topic, partition: m.partition, offset: m.offset });
        }
        process.stdout.write(`${line}\n`);
        printed += 1;
        if (printed >= max) done();
        return true;
      }),
    });
    await sub.ready;
    process.stderr.write(`events: tailing ${topic} (${kind}); Ctrl-C to stop\n`);
    await Promise.race([finished, untilSignal()]);
    await sub.stop();
    await transport.close();
  });

  const dlq = events.command('dlq').description('dead-letter queues: <topic>.dlq (kafka) or carve.messaging_dead_letters (postgres)');

  withTransportFlags(
    dlq
      .command('list')
      .description('list dead letters, of one topic or of all')
      .option('--topic <topic>', 'only this topic (or its .dlq)')
      .option('--json', 'one JSON object per line'),
  ).action(async (opts: TransportFlags & { topic?: string; json?: boolean }) => {
    const { transport } = await openTransport(opts, 'carve-events-dlq', { deadLetters: true });
    try {
      const letters = await transport.listDeadLetters({ topic: opts.topic });
      printDeadLetters(letters, !!opts.json);
      const replayed = letters.filter((d) => d.replayedAt).length;
      if (letters.length > 0) process.stderr.write(`events: ${letters.length - replayed} waiting, ${replayed} replayed\n`);
    } finally {
      await transport.close();
    }
  });

  withTransportFlags(
    dlq
      .command('replay <topic>')
      .description(
        'publish the waiting dead letters of <topic> back to it, each at most once (marked replayed before it is sent; ' +
          'one message dead-lettered by several groups is sent once), with its key, headers and value (a tombstone stays one)',
      )
      .option('--id <id>', 'only the dead letter with this id, or the dead letters of the event with this id')
      .option('--all', 'every waiting dead letter of <topic>')
      .option('--dry-run', 'print what would be replayed; send and mark nothing')
      .option('--json', 'one JSON object per line'),
  ).action(async (topic: string, opts: TransportFlags & { id?: string; all?: boolean; dryRun?: boolean; json?: boolean }) => {
    if (!opts.id === !opts.all) throw new CliError('give --id <id> or --all', `see the dead letters with: carve events dlq list --topic ${topic}`);
    const { transport } = await openTransport(opts, 'carve-events-dlq', { deadLetters: true });
    try {
      const replayed = await transport.replayDeadLetters({ topic, id: opts.id, dryRun: !!opts.dryRun });
      if (replayed.length === 0) {
        throw new CliError(`no dead letters waiting for ${topic}${opts.id ? ` with id ${opts.id}` : ''}`, `see them with: carve events dlq list --topic ${topic}`);
      }
      printDeadLetters(replayed, !!opts.json);
      const messages = new Set(replayed.map((d) => `${d.originalTopic}:${d.partition}:${d.offset}`)).size;
      process.stderr.write(`events: ${opts.dryRun ? 'would replay' : 'replayed'} ${replayed.length} dead letter(s) as ${messages} message(s) to ${replayed[0].originalTopic}\n`);
    } finally {
      await transport.close();
    }
  });
}
