import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { uuidv7 } from './uuidv7';

/**
 * The envelope every event travels in (docs/events.md). `data` is the contract's payload;
 * everything else is the same for every event of every source.
 */
export interface Envelope<T = unknown> {
  /** UUIDv7: unique, and sorts by creation time. Consumers deduplicate on it. */
  id: string;
  /** What happened, e.g. `note.created`. */
  type: string;
  /** Contract version `<major>.<minor>`; the major is part of the topic name. */
  version: string;
  /** The bounded context (or `legacy`) that owns the aggregate and its topic. */
  source: string;
  /**
   * The side where the change was first written (`legacy`, or a service name). An applied,
   * synced change keeps the origin it came with, so reverse sync never echoes it back.
   */
  origin: string;
  /** The workspace the aggregate belongs to. */
  tenantId: string;
  aggregateType: string;
  aggregateId: string;
  /** Grows by one per change of that aggregate; consumers skip anything not newer than what they hold. */
  aggregateVersion: number;
  /** ISO-8601 UTC, when the change was committed by its writer. */
  occurredAt: string;
  /** The request or workflow this event belongs to. */
  correlationId: string;
  /** The id of the event (or request) that caused this one; null for a user's own action. */
  causationId: string | null;
  data: T;
}

/**
 * What an event is: the static half of an envelope, as a contract library declares it (e.g.
 * `NoteCreated` of @carve/legacy-events). A contract that carries its data type in the
 * phantom `__data` makes `createEvent` type-check `data` against it.
 */
export interface EventContractRef<T = unknown> {
  readonly type: string;
  readonly version: string;
  readonly source: string;
  readonly aggregateType: string;
  /** Topic name; defaults to `topicFor(...)`'s convention. */
  readonly topic?: string;
  readonly __data?: T;
}

/** An envelope with the topic it goes to: what `appendToOutbox` stores. */
export interface OutboxEvent<T = unknown> {
  topic: string;
  envelope: Envelope<T>;
}

export interface EnvelopeArgs<T> {
  tenantId: string;
  aggregateId: string;
  aggregateVersion: number;
  data: T;
  origin?: string;
  correlationId?: string;
  causationId?: string | null;
  occurredAt?: Date | string;
  id?: string;
}

export function createEnvelope<T>(contract: EventContractRef<T>, args: EnvelopeArgs<NoInfer<T>>): Envelope<T> {
  const id = args.id ?? uuidv7();
  const occurredAt = args.occurredAt instanceof Date ? args.occurredAt.toISOString() : (args.occurredAt ?? new Date().toISOString());
  return {
    id,
    type: contract.type,
    version: contract.version,
    source: contract.source,
    origin: args.origin ?? contract.source,
    tenantId: args.tenantId,
    aggregateType: contract.aggregateType,
    aggregateId: args.aggregateId,
    aggregateVersion: args.aggregateVersion,
    occurredAt,
    correlationId: args.correlationId ?? id,
    causationId: args.causationId ?? null,
    data: args.data,
  };
}

/** As createEnvelope, plus the topic (the contract's own, or the naming convention's). */
export function createEvent<T>(contract: EventContractRef<T>, args: EnvelopeArgs<NoInfer<T>>): OutboxEvent<T> {
  const envelope = createEnvelope(contract, args);
  return { topic: contract.topic ?? topicFor(envelope), envelope };
}

/**
 * Fields for an event written because another one was applied: same correlation, caused by
 * it, and the same origin, so the side that wrote the change first never gets it back.
 */
export function causedBy(event: Pick<Envelope, 'id' | 'correlationId' | 'origin'>): Pick<EnvelopeArgs<unknown>, 'correlationId' | 'causationId' | 'origin'> {
  return { correlationId: event.correlationId, causationId: event.id, origin: event.origin };
}

// ---- topics ---------------------------------------------------------------------------------

const SEGMENT = /^[a-z][a-z0-9-]*$/;

/** `<source>.<aggregate>.v<major>`, e.g. `legacy.notes.v1`. */
export function topicName(source: string, aggregate: string, major: number): string {
  if (!SEGMENT.test(source)) throw new TypeError(`topic source must be lower-case kebab-case, got ${JSON.stringify(source)}`);
  if (!SEGMENT.test(aggregate)) throw new TypeError(`topic aggregate must be lower-case kebab-case, got ${JSON.stringify(aggregate)}`);
  if (!Number.isInteger(major) || major < 1) throw new TypeError(`topic major version must be a positive integer, got ${major}`);
  return `${source}.${aggregate}.v${major}`;
}

/** The plural an aggregate type gets in its topic name: note → notes, category → categories. */
export function pluralAggregate(aggregateType: string): string {
  if (/s$/.test(aggregateType)) return aggregateType;
  if (/[^aeiou]y$/.test(aggregateType)) return `${aggregateType.slice(0, -1)}ies`;
  return `${aggregateType}s`;
}

export function majorOf(version: string): number {
  const m = /^(\d+)\.(\d+)$/.exec(version);
  if (!m) throw new TypeError(`event version must be "<major>.<minor>", got ${JSON.stringify(version)}`);
  return Number(m[1]);
}

/** The conventional topic of an envelope: `<source>.<plural aggregate type>.v<major>`. */
export function topicFor(e: Pick<Envelope, 'source' | 'aggregateType' | 'version'>): string {
  return topicName(e.source, pluralAggregate(e.aggregateType), majorOf(e.version));
}

export const DLQ_SUFFIX = '.dlq';

export function dlqTopicFor(topic: string): string {
  return `${topic}${DLQ_SUFFIX}`;
}

export function isDlqTopic(topic: string): boolean {
  return topic.endsWith(DLQ_SUFFIX);
}

/** `legacy.notes.v1` → `legacy` (the source, which is also its outbox schema by default). */
export function sourceOfTopic(topic: string): string {
  const source = topic.split('.')[0];
  if (!source || !SEGMENT.test(source)) throw new TypeError(`not a topic name: ${JSON.stringify(topic)}`);
  return source;
}

// ---- parsing --------------------------------------------------------------------------------

export const envelopeJsonSchema = {
  $id: 'https://carve.dev/schemas/envelope.json',
  type: 'object',
  required: [
    'id', 'type', 'version', 'source', 'origin', 'tenantId', 'aggregateType', 'aggregateId',
    'aggregateVersion', 'occurredAt', 'correlationId', 'causationId', 'data',
  ],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' },
    type: { type: 'string', minLength: 1 },
    version: { type: 'string', pattern: '^\\d+\\.\\d+$' },
    source: { type: 'string', minLength: 1 },
    origin: { type: 'string', minLength: 1 },
    tenantId: { type: 'string', minLength: 1 },
    aggregateType: { type: 'string', minLength: 1 },
    aggregateId: { type: 'string', minLength: 1 },
    aggregateVersion: { type: 'integer', minimum: 1 },
    occurredAt: { type: 'string', format: 'date-time' },
    correlationId: { type: 'string', minLength: 1 },
    causationId: { type: ['string', 'null'] },
    data: {},
  },
} as const;

// Compiled on first use: a process that only imports this module (the CLI's help) pays nothing.
let validateEnvelopeFn: ValidateFunction | undefined;
function envelopeValidator(): ValidateFunction {
  // Stryker disable next-line ConditionalExpression: equivalent, compiling again gives the same validator (the cache saves time only)
  if (!validateEnvelopeFn) {
    const ajv = new Ajv({
      allErrors: true,
      // Stryker disable next-line BooleanLiteral: equivalent while the schema has nothing strict mode refuses
      strict: false,
    });
    addFormats(ajv);
    validateEnvelopeFn = ajv.compile(envelopeJsonSchema);
  }
  return validateEnvelopeFn;
}

/** A message that cannot be an event: it goes to the DLQ, never to a handler. */
export class MalformedMessageError extends Error {
  constructor(message: string, readonly reason: 'not-json' | 'invalid-envelope' | 'invalid-data') {
    super(message);
    this.name = 'MalformedMessageError';
  }
}

/** Parses and checks a message body as an Envelope; throws MalformedMessageError saying why not. */
export function parseEnvelope(raw: Buffer | string | null | undefined): Envelope {
  if (raw === null || raw === undefined) throw new MalformedMessageError('empty message (tombstone or null value)', 'not-json');
  let value: unknown;
  try {
    value = JSON.parse(raw.toString()); // a Buffer as UTF-8
  } catch (err) {
    throw new MalformedMessageError(`not JSON: ${(err as Error).message}`, 'not-json');
  }
  const validateEnvelope = envelopeValidator();
  if (!validateEnvelope(value)) {
    // Stryker disable next-line ArrayDeclaration: equivalent, Ajv sets errors whenever validation fails
    const why = (validateEnvelope.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new MalformedMessageError(`not an event envelope: ${why}`, 'invalid-envelope');
  }
  return value as unknown as Envelope;
}
