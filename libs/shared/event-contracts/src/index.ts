/**
 * @carve/shared-event-contracts: one event contract is what the event is (type, version, topic)
 * and the JSON Schema of its `data`, from which its TypeScript type is derived (`DataOf<typeof X>`).
 * Structurally it is the `EventContractRef` of @carve/shared-messaging, so `createEvent(X, {...})`
 * there builds its envelope (and type-checks `data`). Every side (the monolith, each carved
 * service) defines its events with `eventDefiner(<its source>)`.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export interface EventContract<S extends TSchema = TSchema, Source extends string = string> {
  readonly type: string;
  /** `<major>.<minor>`: a minor only adds optional fields; anything else is a new major and topic. */
  readonly version: string;
  readonly source: Source;
  readonly aggregateType: string;
  readonly topic: string;
  readonly schema: S;
  /** Phantom: the data type, for inference only (never set). */
  readonly __data?: Static<S>;
}

export type DataOf<C> = C extends EventContract<infer S, string> ? Static<S> : never;

export function majorOf(version: string): number {
  return Number(version.split('.')[0]);
}

export interface EventDefinition<S extends TSchema> {
  aggregateType: string;
  action: string;
  version: string;
  topic: string;
  schema: S;
}

/**
 * The function that defines `source`'s events: the version is `<major>.<minor>`, the topic
 * carries the major (`.v<major>`) and, with `topicPrefix` (default), starts with `<source>.`.
 */
export function eventDefiner<Source extends string>(source: Source, opts: { topicPrefix?: boolean } = {}) {
  return function define<S extends TSchema>(def: EventDefinition<S>): EventContract<S, Source> {
    if (!/^\d+\.\d+$/.test(def.version)) throw new TypeError(`version must be <major>.<minor>, got ${def.version}`);
    if (opts.topicPrefix !== false && !def.topic.startsWith(`${source}.`)) throw new TypeError(`topic ${def.topic} must start with ${source}.`);
    if (!def.topic.endsWith(`.v${majorOf(def.version)}`)) throw new TypeError(`topic ${def.topic} does not carry major ${majorOf(def.version)}`);
    return Object.freeze({ type: `${def.aggregateType}.${def.action}`, version: def.version, source, aggregateType: def.aggregateType, topic: def.topic, schema: def.schema });
  };
}

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const compiled = new WeakMap<object, ValidateFunction>();

/** Checks `data` against a contract's schema: null, or what is wrong in one line. */
export function validateData(contract: Pick<EventContract, 'schema'>, data: unknown): string | null {
  let fn = compiled.get(contract.schema);
  if (!fn) {
    fn = ajv.compile(contract.schema);
    compiled.set(contract.schema, fn);
  }
  if (fn(data)) return null;
  return (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}
