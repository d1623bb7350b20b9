import type { Static, TSchema } from '@sinclair/typebox';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/** The topic source of the insights service's events (and the schema of its outbox). */
export const INSIGHTS_SOURCE = 'insights';
/**
 * The `origin` of every change first written by the insights service. The service's consumer
 * skips events with this origin (no loops); the monolith applies them and keeps the origin on
 * whatever it emits in turn (`causedBy`), so they never come back either.
 */
export const INSIGHTS_ORIGIN = 'insights-service';

/**
 * One event of the insights service: type, version, topic and the JSON Schema of its `data`.
 * Structurally an `EventContractRef` of @carve/shared-messaging (`createEvent(InsightsNoteCreated, ...)`).
 */
export interface InsightsEventContract<S extends TSchema = TSchema> {
  readonly type: string;
  /** `<major>.<minor>`: a minor only adds optional fields; anything else is a new major and topic. */
  readonly version: string;
  readonly source: typeof INSIGHTS_SOURCE;
  readonly aggregateType: string;
  readonly topic: string;
  readonly schema: S;
  readonly __data?: Static<S>;
}

export function majorOf(version: string): number {
  return Number(version.split('.')[0]);
}

export function defineInsightsEvent<S extends TSchema>(def: { aggregateType: string; action: string; version: string; topic: string; schema: S }): InsightsEventContract<S> {
  if (!/^\d+\.\d+$/.test(def.version)) throw new TypeError(`version must be <major>.<minor>, got ${def.version}`);
  if (!def.topic.startsWith(`${INSIGHTS_SOURCE}.`)) throw new TypeError(`topic ${def.topic} must start with ${INSIGHTS_SOURCE}.`);
  if (!def.topic.endsWith(`.v${majorOf(def.version)}`)) throw new TypeError(`topic ${def.topic} does not carry major ${majorOf(def.version)}`);
  return Object.freeze({
    type: `${def.aggregateType}.${def.action}`,
    version: def.version,
    source: INSIGHTS_SOURCE,
    aggregateType: def.aggregateType,
    topic: def.topic,
    schema: def.schema,
  });
}

/** Checks `data` against a contract's schema: null, or what is wrong in one line. */
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const compiled = new WeakMap<object, ValidateFunction>();

export function validateInsightsData(contract: InsightsEventContract, data: unknown): string | null {
  let fn = compiled.get(contract.schema);
  if (!fn) {
    fn = ajv.compile(contract.schema);
    compiled.set(contract.schema, fn);
  }
  if (fn(data)) return null;
  return (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}
