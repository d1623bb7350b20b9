import { type Static, type TSchema } from '@sinclair/typebox';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * One event contract: what the event is (type, version, topic) and the JSON Schema of its
 * `data`, from which its TypeScript type is derived (`DataOf<typeof X>`). Structurally it is
 * the `EventContractRef` of @carve/shared-messaging, so `createEvent(NoteCreated, {...})`
 * there builds its envelope (and type-checks `data`).
 */
export interface EventContract<S extends TSchema = TSchema> {
  readonly type: string;
  /** `<major>.<minor>`: a minor only adds optional fields; anything else is a new major and topic. */
  readonly version: string;
  readonly source: 'legacy';
  readonly aggregateType: string;
  readonly topic: string;
  readonly schema: S;
  /** Phantom: the data type, for inference only (never set). */
  readonly __data?: Static<S>;
}

export type DataOf<C> = C extends EventContract<infer S> ? Static<S> : never;

export const SOURCE = 'legacy';

export function majorOf(version: string): number {
  return Number(version.split('.')[0]);
}

export function defineEvent<S extends TSchema>(def: { aggregateType: string; action: string; version: string; topic: string; schema: S }): EventContract<S> {
  if (!/^\d+\.\d+$/.test(def.version)) throw new TypeError(`version must be <major>.<minor>, got ${def.version}`);
  if (!def.topic.endsWith(`.v${majorOf(def.version)}`)) throw new TypeError(`topic ${def.topic} does not carry major ${majorOf(def.version)}`);
  return Object.freeze({
    type: `${def.aggregateType}.${def.action}`,
    version: def.version,
    source: SOURCE,
    aggregateType: def.aggregateType,
    topic: def.topic,
    schema: def.schema,
  });
}

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const compiled = new WeakMap<object, ValidateFunction>();

/** Checks `data` against a contract's schema; returns null, or what is wrong in one line. */
export function validateData(contract: EventContract, data: unknown): string | null {
  let fn = compiled.get(contract.schema);
  if (!fn) {
    fn = ajv.compile(contract.schema);
    compiled.set(contract.schema, fn);
  }
  if (fn(data)) return null;
  return (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}
